# The Terraform variable contract, part 4 of 4: what every CLOUD control-plane module takes
# besides common.tf and its provider's size_region.tf, linked there as
# contract_controlplane_cloud.tf. Required here because it is the server's only ssh source;
# terraform/local/controlplane, reachable from its host only, defines its own optional one.

variable "admin_cidr" {
  description = "The admin's address (CIDR), the only source allowed to ssh."
  type        = string

  validation {
    condition     = can(cidrhost(var.admin_cidr, 0)) && !endswith(var.admin_cidr, "/0")
    error_message = "admin_cidr must be a CIDR such as 203.0.113.7/32 (never a /0)."
  }
}
