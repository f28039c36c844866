# The Terraform variable contract, part 2 of 4: what every CLUSTER module takes besides
# common.tf (terraform/<provider>/, local included), linked there as contract_cluster.tf.
# Its size, region and extra are the provider's own (size_region.tf, variables.tf).

variable "nodes" {
  description = "Number of servers. From 3 on, nodes 0-2 are swarm managers (and carry the edge), else node 0 alone; the others are workers."
  type        = number

  validation {
    condition     = var.nodes >= 1 && floor(var.nodes) == var.nodes
    error_message = "nodes must be a whole number >= 1."
  }
}

variable "admin_cidr" {
  description = "Admin address (CIDR) also allowed to ssh; \"\" for none."
  type        = string
  default     = ""

  validation {
    condition     = var.admin_cidr == "" || (can(cidrhost(var.admin_cidr, 0)) && !endswith(var.admin_cidr, "/0"))
    error_message = "admin_cidr must be \"\" or a CIDR such as 203.0.113.7/32 (never a /0)."
  }
}
