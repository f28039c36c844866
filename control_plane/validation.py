"""Validation of what users type: names, domains, ports, env entries, weights."""
from __future__ import annotations

import re

from .errors import InvalidInput

_LABEL = re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$")
_DOMAIN_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Registry reference: [host[:port]/]path[:tag][@digest]
_IMAGE = re.compile(
    r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$")


def name(value: str, what: str = "app name", max_len: int = 40) -> str:
    if not value or len(value) > max_len or not _LABEL.match(value):
        raise InvalidInput(
            f"{what} {value!r} is not valid: use 1-{max_len} lowercase letters, digits and '-', "
            "starting with a letter and not ending with '-'.")
    return value


def domain(value: str) -> str:
    v = value.strip().lower().rstrip(".")
    labels = v.split(".")
    if (not v or len(v) > 253 or len(labels) < 2
            or not all(l and len(l) <= 63 and _DOMAIN_LABEL.match(l) for l in labels)):
        raise InvalidInput(f"domain {value!r} is not valid: give a host name such as todos.example.com "
                           "(or todos.localhost on the local provider).")
    return v


def port(value: int, what: str = "port") -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        raise InvalidInput(f"{what} {value!r} is not valid: give a number from 1 to 65535.")
    return value


def env_entries(entries: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in entries:
        key, sep, val = e.partition("=")
        if not sep or not _ENV_KEY.match(key):
            raise InvalidInput(f"environment entry {e!r} is not valid: write it as KEY=VALUE "
                               "(KEY of letters, digits and '_').")
        out[key] = val
    return out


def image(value: str) -> str:
    if not value or not _IMAGE.match(value):
        raise InvalidInput(f"image {value!r} is not a valid image reference: write it as "
                           "name:tag or registry/name:tag.")
    return value


def weight(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise InvalidInput(f"weight {value!r} is not valid: give a whole number from 0 to 100.")
    return value


def replicas(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > 100:
        raise InvalidInput(f"replicas {value!r} is not valid: give a whole number from 0 to 100.")
    return value


def node_count(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 20:
        raise InvalidInput(f"node count {value!r} is not valid: give a whole number from 1 to 20.")
    return value
