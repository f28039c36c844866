# The Terraform variable contract, part 1 of 4: what EVERY module under terraform/ takes (each
# provider's cluster module and control-plane module). This file is the one definition: the
# modules link it as contract_common.tf, never copy it (see docs/providers.md, "The contract",
# and control_plane/terraform_contract.py, which makes and checks the links).

variable "name" {
  description = "Cluster name (the control plane's server is named after its cluster): a DNS label, used as a prefix for every resource."
  type        = string

  validation {
    condition     = can(regex("^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$", var.name))
    error_message = "name must be 1-32 characters: lowercase letters, digits and '-', starting with a letter and not ending with '-'."
  }
}

variable "ssh_public_key" {
  description = "OpenSSH public key installed for ssh_user (EC2 accepts RSA and ED25519 keys, not ECDSA)."
  type        = string

  validation {
    condition     = can(regex("^(ssh-|ecdsa-|sk-)", trimspace(var.ssh_public_key)))
    error_message = "ssh_public_key must be an OpenSSH public key (\"ssh-ed25519 AAAA...\")."
  }
}
