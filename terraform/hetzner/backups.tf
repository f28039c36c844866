# --- backups: object storage for the apps' pgBackRest repositories ----------
# One private, versioned bucket per cluster in Hetzner's Object Storage; every app's
# repository is a path in it. The nodes use the S3 keys given in `extra`
# (pgBackRest repo1-s3-key-type=shared). Hetzner's keys cannot be limited to one bucket:
# they reach every bucket of the Hetzner project (docs/providers.md says what follows).
#
# force_destroy stays false: `terraform destroy` refuses to delete a bucket that still
# holds backups, so destroying a cluster never deletes them silently (docs/providers.md,
# "Backups in object storage", says how to delete them on purpose).

locals {
  # Locations with Object Storage when last checked (2025): the EU ones. A cluster
  # elsewhere names one with extra.s3_location.
  object_storage_locations = ["fsn1", "nbg1", "hel1"]
  s3_location              = lookup(var.extra, "s3_location", var.region)
  s3_endpoint              = "${local.s3_location}.your-objectstorage.com"
  # No default: the variable's validation requires both.
  s3_access_key_id     = var.extra["s3_access_key_id"]
  s3_secret_access_key = var.extra["s3_secret_access_key"]
}

resource "random_id" "backups" {
  byte_length = 4
}

resource "minio_s3_bucket" "backups" {
  # <= 32 + 9 + 8 = 49 characters; the suffix keeps the global name free and lets a
  # cluster re-created under the same name start with a fresh bucket.
  bucket         = "${var.name}-backups-${random_id.backups.hex}"
  acl            = "private"
  force_destroy  = false
  object_locking = false

  lifecycle {
    precondition {
      condition     = contains(local.object_storage_locations, local.s3_location) || contains(keys(var.extra), "s3_location")
      error_message = "Hetzner Object Storage is not offered in this location: set extra s3_location (fsn1, nbg1 or hel1) for the backup bucket."
    }
  }
}

# A deleted or overwritten backup file stays recoverable as a noncurrent version
# (pgBackRest can read a repository as it was: --repo-target-time).
resource "minio_s3_bucket_versioning" "backups" {
  bucket = minio_s3_bucket.backups.bucket

  versioning_configuration {
    status = "Enabled"
  }
}
