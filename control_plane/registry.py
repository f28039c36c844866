"""The cluster's private registry: push images from this host's Docker engine with skopeo."""
from __future__ import annotations

import time
from pathlib import Path

from . import executor
from .docker_cli import image_inspect_argv
from .errors import CommandFailed, InvalidInput


def skopeo_copy_argv(source: str, dest: str, *, cert_dir: Path, creds_file: Path) -> list[str]:
    """Copy `source` from the local Docker engine to `dest` in the cluster registry.

    Credentials come from an auth file, never the command line; the registry's CA is trusted
    through cert_dir (ca.crt inside), so TLS stays verified.
    """
    return ["skopeo", "copy", "--quiet", "--dest-authfile", str(creds_file),
            "--dest-cert-dir", str(cert_dir), f"docker-daemon:{source}", f"docker://{dest}"]


def skopeo_inspect_argv(image: str) -> list[str]:
    """Whether `image` exists in its (remote) registry: skopeo reads its manifest."""
    return ["skopeo", "inspect", "--raw", f"docker://{image}"]


def local_image_exists(ref: str) -> bool:
    return executor.run(image_inspect_argv(ref),
                        check=False, timeout=30).returncode == 0


def cluster_ref(registry: str, image: str) -> str:
    """Name of a local image inside the cluster registry: host:port/<repo>:<tag>."""
    repo, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "latest")
    repo = repo.split("/", 1)[1] if "/" in repo and ("." in repo.split("/")[0] or ":" in repo.split("/")[0]) else repo
    return f"{registry}/{repo}:{tag or 'latest'}"


class Registry:
    def __init__(self, host: str, cert_dir: Path, creds_file: Path, push_via=None):
        """host: how nodes name the registry; push_via: a function giving the address this
        machine pushes to (an ssh forward to it), else the same host."""
        self.host, self.cert_dir, self.creds_file = host, cert_dir, creds_file
        self.push_via = push_via

    def push(self, image: str) -> str:
        """Push a local image; return its name in the cluster registry (as nodes pull it)."""
        if not local_image_exists(image):
            raise InvalidInput(f"image {image!r} is not in this machine's Docker engine: build or "
                               "pull it first, or give a registry reference nodes can pull.")
        for attempt in (1, 2):
            target = cluster_ref(self.push_via() if self.push_via else self.host, image)
            try:
                executor.run(skopeo_copy_argv(image, target, cert_dir=self.cert_dir,
                                              creds_file=self.creds_file),
                             timeout=600, what=f"pushing {image} to the cluster registry")
                break
            except CommandFailed:
                if attempt == 2:
                    raise
                # The registry may still be starting (or the forward gone): once more.
                time.sleep(3)
        return cluster_ref(self.host, image)
