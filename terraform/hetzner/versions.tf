terraform {
  required_version = ">= 1.5.0"

  required_providers {
    hcloud = {
      source  = "hetznercloud/hcloud"
      version = "~> 1.50"
    }
    # The hcloud provider cannot manage Object Storage; Hetzner's documented way to create
    # buckets with Terraform is this S3 provider. 3.38 is the first release that signs
    # requests with minio_region (Hetzner checks the region).
    minio = {
      source  = "aminueza/minio"
      version = "~> 3.38"
    }
    # Only for the backup bucket's name suffix (bucket names are global).
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
}

# The API token is read from HCLOUD_TOKEN in the environment. Nothing is written to
# Sentinel's configuration.
provider "hcloud" {}

# Hetzner's Object Storage speaks S3 and has keys of its own, which no API can create:
# they are made in the Cloud Console and come in through `extra` (see variables.tf).
provider "minio" {
  minio_server   = local.s3_endpoint
  minio_region   = local.s3_location
  minio_user     = local.s3_access_key_id
  minio_password = local.s3_secret_access_key
  minio_ssl      = true
  s3_compat_mode = true
}
