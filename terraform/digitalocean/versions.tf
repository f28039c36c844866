terraform {
  required_version = ">= 1.5.0"

  required_providers {
    digitalocean = {
      source = "digitalocean/digitalocean"
      # 2.50 is the first release with digitalocean_spaces_key (the backup bucket's key).
      version = "~> 2.50"
    }
    # Only for the backup bucket's name suffix (bucket names are global).
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
}

# The API token is read from DIGITALOCEAN_TOKEN (or DIGITALOCEAN_ACCESS_TOKEN) in the
# environment. Creating the Spaces bucket goes through the S3-compatible Spaces API, which
# takes a Spaces access key instead: SPACES_ACCESS_KEY_ID and SPACES_SECRET_ACCESS_KEY.
# Nothing is written to Sentinel's configuration.
provider "digitalocean" {}
