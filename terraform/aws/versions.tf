terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
    # Only for the backup bucket's name suffix (bucket names are global).
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
}

# Credentials come from the standard AWS chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
# AWS_PROFILE, instance role, ...). Nothing is written to Sentinel's configuration.
provider "aws" {
  region = var.region

  default_tags {
    tags = {
      "sentinel:cluster" = var.name
    }
  }
}
