terraform {
  required_version = ">= 1.5.0"

  required_providers {
    digitalocean = {
      source  = "digitalocean/digitalocean"
      version = "~> 2.40"
    }
  }
}

# The API token is read from DIGITALOCEAN_TOKEN (or DIGITALOCEAN_ACCESS_TOKEN) in the
# environment. Nothing is written to Sentinel's configuration.
provider "digitalocean" {}
