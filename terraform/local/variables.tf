# The variables only local's cluster module has. The shared ones are linked from
# terraform/contract/ (contract_*.tf) and size_region.tf.

# Optional here, unlike the clouds' (terraform/contract/cluster_cloud.tf): no firewall stands
# on this host's Docker network, and the local provider has no control plane address to give.
variable "control_plane_cidr" {
  description = "The control plane's address, allowed to ssh to the nodes (unused here: nothing filters ssh)."
  type        = string
  default     = ""
}

variable "extra" {
  description = "Provider-specific settings (local: node_image, subnet, http_port, https_port)."
  type        = map(string)
  default     = {}
}
