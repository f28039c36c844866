"""The certificates a build passes in SENTINEL_CA: those this machine trusts that the platform's
base image does not (an HTTPS-inspecting proxy's CA among them), so `pip`/`npm` in a build reach
their registries the way this machine does. Only the difference goes: the whole bundle would be
one build argument over Linux's 128 KB limit (docs/build.md)."""
from __future__ import annotations

import re

HOST_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
PEM = re.compile(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", re.S)


def extra_certificates(host_bundle: str, base_bundle: str) -> str:
    """The PEM blocks of `host_bundle` that `base_bundle` lacks, in the host's order."""
    known = set(PEM.findall(base_bundle))
    return "\n".join(c for c in PEM.findall(host_bundle) if c not in known)


def bundle_argv(image: str) -> list[str]:
    """The CA bundle inside `image`, on stdout."""
    return ["docker", "run", "--rm", "--network", "none", "--entrypoint", "cat", image, HOST_BUNDLE]


def install_argv(path: str) -> list[str]:
    """Write stdin to `path` (on a node), readable by root only."""
    return ["sh", "-c", 'umask 077 && mkdir -p "${1%/*}" && cat > "$1"', "sh", path]
