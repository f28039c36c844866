# The control plane's own "server" for the local provider: the same variables as
# terraform/<cloud>/controlplane, plus `extra` for what only a local container needs.

variable "name" {
  description = "Installation name: the cluster name; prefixes the container and the network."
  type        = string
  default     = "sentinel"
}

variable "ssh_public_key" {
  description = "OpenSSH public key installed for root."
  type        = string
}

variable "size" {
  description = "Server size (unused by the local provider)."
  type        = string
  default     = "local"
}

variable "region" {
  description = "Region (unused by the local provider)."
  type        = string
  default     = "local"
}

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
