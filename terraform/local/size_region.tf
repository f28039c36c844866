# local's own size and region (nothing to choose on this host), for both of its modules:
# terraform/local/controlplane links this file. The rest of the contract is in terraform/contract/.

variable "size" {
  description = "Size (unused by the local provider)."
  type        = string
  default     = "local"
}

variable "region" {
  description = "Region (unused by the local provider)."
  type        = string
  default     = "local"
}
