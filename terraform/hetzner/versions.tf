terraform {
  required_version = ">= 1.5.0"

  required_providers {
    hcloud = {
      source  = "hetznercloud/hcloud"
      version = "~> 1.50"
    }
  }
}

# The API token is read from HCLOUD_TOKEN in the environment. Nothing is written to
# Sentinel's configuration.
provider "hcloud" {}
