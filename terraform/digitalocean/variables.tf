# The variable set is the contract shared by every module under terraform/ (see
# docs/providers.md); tests/unit/test_terraform_modules.py checks it.

variable "name" {
  description = "Cluster name: a DNS label, used as a prefix for every resource."
  type        = string

  validation {
    condition     = can(regex("^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$", var.name))
    error_message = "name must be 1-32 characters: lowercase letters, digits and '-', starting with a letter and not ending with '-'."
  }
}

variable "nodes" {
  description = "Number of servers. Node 0 is the swarm manager, the others are workers."
  type        = number

  validation {
    condition     = var.nodes >= 1 && floor(var.nodes) == var.nodes
    error_message = "nodes must be a whole number >= 1."
  }
}

variable "ssh_public_key" {
  description = "OpenSSH public key installed for ssh_user."
  type        = string

  validation {
    condition     = can(regex("^(ssh-|ecdsa-|sk-)", trimspace(var.ssh_public_key)))
    error_message = "ssh_public_key must be an OpenSSH public key (\"ssh-ed25519 AAAA...\")."
  }
}

variable "size" {
  description = "Droplet size slug."
  type        = string
  default     = "s-1vcpu-2gb"
}

variable "region" {
  description = "DigitalOcean region slug."
  type        = string
  default     = "fra1"
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

variable "control_plane_cidr" {
  description = "The control plane's address as a CIDR (x.x.x.x/32); the only other source allowed to ssh."
  type        = string

  validation {
    condition     = can(cidrhost(var.control_plane_cidr, 0)) && !endswith(var.control_plane_cidr, "/0")
    error_message = "control_plane_cidr must be a CIDR such as 203.0.113.8/32 (never a /0)."
  }
}

variable "extra" {
  description = "Provider-specific settings. Read here: image (an image slug; default debian-13-x64)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.extra) : contains(["image"], k)])
    error_message = "extra accepts only these keys here: image."
  }
}
