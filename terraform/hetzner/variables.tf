# The variables only hetzner's cluster module has: `extra`, its provider-specific settings. The
# shared ones are linked from terraform/contract/ (contract_*.tf) and size_region.tf.

variable "extra" {
  description = "Provider-specific settings. Read here: image (an image name; default debian-13); s3_access_key_id and s3_secret_access_key (required: Object Storage keys of the cluster's Hetzner project, for the backup bucket); s3_location (fsn1, nbg1 or hel1; default the cluster's location)."
  type        = map(string)
  default     = {}
  # It carries the Object Storage secret key.
  sensitive = true

  validation {
    condition     = alltrue([for k in keys(var.extra) : contains(["image", "s3_access_key_id", "s3_secret_access_key", "s3_location"], k)])
    error_message = "extra accepts only these keys here: image, s3_access_key_id, s3_secret_access_key, s3_location."
  }

  validation {
    condition     = alltrue([for k in ["s3_access_key_id", "s3_secret_access_key"] : trimspace(lookup(var.extra, k, "")) != ""])
    error_message = "extra needs s3_access_key_id and s3_secret_access_key: Object Storage keys made in the Hetzner Cloud Console (they hold the backups' bucket)."
  }
}
