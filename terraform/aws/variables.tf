# The variables only aws's cluster module has: `extra`, its provider-specific settings. The
# shared ones are linked from terraform/contract/ (contract_*.tf) and size_region.tf.

variable "extra" {
  description = "Provider-specific settings. Read here: image (an AMI id; default the newest Debian 13 AMI)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.extra) : contains(["image"], k)])
    error_message = "extra accepts only these keys here: image."
  }
}
