# The Terraform variable contract, part 3 of 4: what every CLOUD cluster module takes besides
# common.tf and cluster.tf, linked there as contract_cluster_cloud.tf. Required here because
# the cloud's firewall admits ssh from this address; terraform/local, where no firewall stands,
# defines its own optional control_plane_cidr.

variable "control_plane_cidr" {
  description = "The control plane's address as a CIDR (x.x.x.x/32); the only other source allowed to ssh."
  type        = string

  validation {
    condition     = can(cidrhost(var.control_plane_cidr, 0)) && !endswith(var.control_plane_cidr, "/0")
    error_message = "control_plane_cidr must be a CIDR such as 203.0.113.8/32 (never a /0)."
  }
}
