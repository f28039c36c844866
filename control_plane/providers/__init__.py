"""Compute providers: one small class each, registered by name.

Every provider has a Terraform module under terraform/<name>/ with the same variables and
outputs; the class only adds what differs (its module's `extra` settings and its preflight).
"""
from __future__ import annotations

from .base import Provider
from .local import LocalProvider
from .cloud import AWSProvider, DigitalOceanProvider, HetznerProvider

PROVIDERS: dict[str, type[Provider]] = {
    p.name: p for p in (LocalProvider, AWSProvider, DigitalOceanProvider, HetznerProvider)}


def get(name: str) -> Provider:
    return PROVIDERS[name]()
