# The interface every provider module shares (see docs/providers.md).

variable "name" {
  description = "Cluster name (a DNS label); prefixes every resource."
  type        = string
}

variable "nodes" {
  description = "Number of nodes; node 0 is the swarm manager."
  type        = number
  validation {
    condition     = var.nodes >= 1
    error_message = "nodes must be at least 1."
  }
}

variable "ssh_public_key" {
  description = "Public key installed for the ssh user on every node."
  type        = string
}

variable "size" {
  description = "Node size (unused by the local provider)."
  type        = string
  default     = "local"
}

variable "region" {
  description = "Region (unused by the local provider)."
  type        = string
  default     = "local"
}

variable "admin_cidr" {
  description = "Address allowed to ssh at init, besides the control plane (\"\" for none)."
  type        = string
  default     = ""
}

variable "control_plane_cidr" {
  description = "The control plane's address, allowed to ssh to the nodes."
  type        = string
  default     = ""
}

variable "extra" {
  description = "Provider-specific settings (local: node_image, subnet, http_port, https_port)."
  type        = map(string)
  default     = {}
}
