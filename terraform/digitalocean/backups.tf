# --- backups: object storage for the apps' pgBackRest repositories ----------
# One private, versioned Spaces bucket per cluster; every app's repository is a path in
# it. The nodes get a Spaces key of their own that may only read and write this bucket
# (pgBackRest repo1-s3-key-type=shared).
#
# force_destroy stays false: `terraform destroy` refuses to delete a bucket that still
# holds backups, so destroying a cluster never deletes them silently (docs/providers.md,
# "Backups in object storage", says how to delete them on purpose).

locals {
  # Spaces is not offered in every droplet region (nyc1, nyc2 and ric1 have none; ams2
  # and sfo1 are retired): those keep their backups in the nearest region that has it.
  spaces_region = lookup({
    nyc1 = "nyc3"
    nyc2 = "nyc3"
    ric1 = "nyc3"
    ams2 = "ams3"
    sfo1 = "sfo3"
  }, var.region, var.region)
}

resource "random_id" "backups" {
  byte_length = 4
}

resource "digitalocean_spaces_bucket" "backups" {
  # <= 32 + 9 + 8 = 49 characters; the suffix keeps the global name free and lets a
  # cluster re-created under the same name start with a fresh bucket.
  name          = "${var.name}-backups-${random_id.backups.hex}"
  region        = local.spaces_region
  acl           = "private"
  force_destroy = false

  # A deleted or overwritten backup file stays recoverable as a noncurrent version for
  # 30 days (pgBackRest can read a repository as it was: --repo-target-time).
  versioning {
    enabled = true
  }

  # Without this, versions of expired backups would be kept (and billed) forever.
  lifecycle_rule {
    id                                     = "expire-noncurrent-versions"
    enabled                                = true
    abort_incomplete_multipart_upload_days = 7

    noncurrent_version_expiration {
      days = 30
    }
  }
}

# The nodes' key: read and write in this one bucket, nothing else in the account.
resource "digitalocean_spaces_key" "backups" {
  name = "${var.name}-backups"

  grant {
    bucket     = digitalocean_spaces_bucket.backups.name
    permission = "readwrite"
  }
}
