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
  description = "The admin's address (CIDR), the only source allowed to ssh."
  type        = string

  validation {
    condition     = can(cidrhost(var.admin_cidr, 0)) && !endswith(var.admin_cidr, "/0")
    error_message = "admin_cidr must be a CIDR such as 203.0.113.7/32 (never a /0)."
  }
}
