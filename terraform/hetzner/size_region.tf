# hetzner's own size and region (their defaults are this provider's), for both of its modules:
# terraform/hetzner/controlplane links this file. The rest of the contract is in terraform/contract/.

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
