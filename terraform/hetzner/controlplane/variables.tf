# The control plane's own server: Sentinel's API/UI (443) and ssh for the admin (22).
# Same variable set for every provider; tests/unit/test_terraform_modules.py checks it.

variable "name" {
  description = "Installation name: a DNS label, used as a prefix for every resource."
  type        = string
  default     = "sentinel"

  validation {
    condition     = can(regex("^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$", var.name))
    error_message = "name must be 1-32 characters: lowercase letters, digits and '-', starting with a letter and not ending with '-'."
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
  description = "Hetzner Cloud server type (cx23: 2 vCPU, 4 GB; EU locations only)."
  type        = string
  default     = "cx23"
}

variable "region" {
  description = "Hetzner Cloud location: fsn1, nbg1, hel1 (EU), ash, hil (US) or sin."
  type        = string
  default     = "fsn1"

  validation {
    condition     = contains(["fsn1", "nbg1", "hel1", "ash", "hil", "sin"], var.region)
    error_message = "region must be a Hetzner Cloud location: fsn1, nbg1, hel1, ash, hil or sin."
  }
}

variable "admin_cidr" {
  description = "The admin's address (CIDR), the only source allowed to ssh."
  type        = string

  validation {
    condition     = can(cidrhost(var.admin_cidr, 0)) && !endswith(var.admin_cidr, "/0")
    error_message = "admin_cidr must be a CIDR such as 203.0.113.7/32 (never a /0)."
  }
}
