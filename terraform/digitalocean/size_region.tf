# digitalocean's own size and region (their defaults are this provider's), for both of its modules:
# terraform/digitalocean/controlplane links this file. The rest of the contract is in terraform/contract/.

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
