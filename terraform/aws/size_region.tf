# aws's own size and region (their defaults are this provider's), for both of its modules:
# terraform/aws/controlplane links this file. The rest of the contract is in terraform/contract/.

variable "size" {
  description = "EC2 instance type (x86_64)."
  type        = string
  default     = "t3.small"
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "eu-central-1"
}
