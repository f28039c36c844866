# The variables only local's control-plane module has, for what only a local container needs.
# The shared ones are linked from terraform/contract/ (contract_common.tf) and ../size_region.tf.

# Optional here, unlike the clouds' (terraform/contract/controlplane_cloud.tf): the container
# is reachable from this host only.
variable "admin_cidr" {
  description = "The admin's address (unused: the container is reachable from this host only)."
  type        = string
  default     = ""
}

variable "extra" {
  description = "Local settings: image, subnet (the cluster network's), api_port (published on this host), docker_socket."
  type        = map(string)
  default     = {}
}
