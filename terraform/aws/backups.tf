# --- backups: object storage for the apps' pgBackRest repositories ----------
# One private, versioned, encrypted bucket per cluster; every app's repository is a path
# in it. The nodes reach it with the instance role below (pgBackRest
# repo1-s3-key-type=auto), so no key is stored anywhere.
#
# force_destroy stays false: `terraform destroy` refuses to delete a bucket that still
# holds backups, so destroying a cluster never deletes them silently (docs/providers.md,
# "Backups in object storage", says how to delete them on purpose).

data "aws_partition" "current" {}

resource "random_id" "backups" {
  byte_length = 4
}

resource "aws_s3_bucket" "backups" {
  # <= 32 + 9 + 8 = 49 characters; the suffix keeps the global name free and lets a
  # cluster re-created under the same name start with a fresh bucket.
  bucket        = "${var.name}-backups-${random_id.backups.hex}"
  force_destroy = false

  tags = {
    Name = "${var.name}-backups"
  }
}

resource "aws_s3_bucket_public_access_block" "backups" {
  bucket                  = aws_s3_bucket.backups.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# ACLs off: the account owns every object and only IAM decides who reads them.
resource "aws_s3_bucket_ownership_controls" "backups" {
  bucket = aws_s3_bucket.backups.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

# A deleted or overwritten backup file stays recoverable as a noncurrent version for 30
# days (pgBackRest can read a repository as it was: --repo-target-time).
resource "aws_s3_bucket_versioning" "backups" {
  bucket = aws_s3_bucket.backups.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "backups" {
  bucket = aws_s3_bucket.backups.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256" # SSE-S3: no KMS key to manage or pay for
    }
  }
}

# Without this, versions of expired backups would be kept (and billed) forever.
resource "aws_s3_bucket_lifecycle_configuration" "backups" {
  bucket = aws_s3_bucket.backups.id

  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = 30
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  rule {
    id     = "remove-expired-delete-markers"
    status = "Enabled"

    filter {}

    expiration {
      expired_object_delete_marker = true
    }
  }

  depends_on = [aws_s3_bucket_versioning.backups]
}

# Refuse plain HTTP, for everyone.
data "aws_iam_policy_document" "backups_bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.backups.arn, "${aws_s3_bucket.backups.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "backups" {
  bucket = aws_s3_bucket.backups.id
  policy = data.aws_iam_policy_document.backups_bucket.json

  depends_on = [aws_s3_bucket_public_access_block.backups]
}

# --- the nodes' role: this bucket's objects, nothing else --------------------

data "aws_iam_policy_document" "nodes_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "nodes" {
  name               = "${var.name}-sentinel-nodes"
  description        = "Sentinel cluster ${var.name}: the nodes' access to the backup bucket"
  assume_role_policy = data.aws_iam_policy_document.nodes_assume.json
}

# What pgBackRest needs (its user guide's sample policy, plus listing versions for
# --repo-target-time). Deliberately absent: s3:DeleteObjectVersion (a node can never
# remove a version, so what it deletes stays recoverable for 30 days) and every
# bucket-level write (policy, versioning, lifecycle, deleting the bucket).
data "aws_iam_policy_document" "backups_access" {
  statement {
    sid       = "ListTheBucket"
    actions   = ["s3:ListBucket", "s3:ListBucketVersions"]
    resources = [aws_s3_bucket.backups.arn]
  }

  statement {
    sid = "ReadWriteObjects"
    actions = [
      "s3:GetObject",
      "s3:GetObjectVersion",
      "s3:PutObject",
      "s3:PutObjectTagging",
      "s3:DeleteObject",
    ]
    resources = ["${aws_s3_bucket.backups.arn}/*"]
  }
}

resource "aws_iam_role_policy" "backups" {
  name   = "backup-bucket"
  role   = aws_iam_role.nodes.id
  policy = data.aws_iam_policy_document.backups_access.json
}

resource "aws_iam_instance_profile" "nodes" {
  name = "${var.name}-sentinel-nodes"
  role = aws_iam_role.nodes.name
}
