"""Sentinel's control plane: the only component that runs Terraform, Ansible and Docker."""
