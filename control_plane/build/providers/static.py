"""A static site: index.html at the root, in public/ or dist/, served by busybox httpd on $PORT."""
from __future__ import annotations

from ..settings import BuildSettings
from ..source import SourceTree
from .base import Detection, Provider

FOLDERS = ("", "public", "dist")
INDEX = "index.html"
SITE = "/srv/www"
# busybox httpd sets no SIGTERM handler, and as PID 1 it would ignore the signal (a stop would
# wait for its timeout): sh stays PID 1 and exits on TERM, which ends the container.
WEB = f"trap 'exit 0' TERM INT; busybox httpd -f -v -p $PORT -h {SITE} & wait"


def detect(tree: SourceTree, settings: BuildSettings) -> Detection | None:
    folder = next((f for f in FOLDERS if tree.is_file(f"{f}/{INDEX}" if f else INDEX)), None)
    if folder is None:
        return None
    where = f"{folder}/{INDEX}" if folder else INDEX
    served = f"{folder}/" if folder else "the source"
    return Detection(values={"folder": folder, "site": SITE}, web=WEB,
                     notes=(f"{where} found: a static site, {served} served by "
                            "busybox httpd on $PORT.",),
                     health_path="/")


PROVIDER = Provider(name="static", looks_for=("index.html (at the root, in public/ or dist/)",),
                    detect=detect, template="build/static.Dockerfile.j2", packages=("busybox",))
