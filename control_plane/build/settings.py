"""What a build is told besides its source: the base image, a Dockerfile path, build args."""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import Mapping

from ..errors import InvalidInput
from ..templates import TOKEN

ARG_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Build args the platform passes itself: a user's would shadow them.
RESERVED_ARGS = frozenset({"SENTINEL_CA", "DEBIAN_FRONTEND"})
DEFAULT_PORT = 8000
APP_UID = 10001


class BuildSettingsError(InvalidInput):
    pass


def inside(path: str, what: str, folder_ok: bool = False) -> str:
    """`path` normalized, if it stays inside the source (a folder, `.`, only where allowed)."""
    norm = posixpath.normpath(path or "")
    if not path or norm.startswith(("/", "../")) or norm == ".." or \
            (norm == "." and not folder_ok) or "\0" in path:
        raise BuildSettingsError(f"The {what} {path!r} is not inside the source; give a path "
                                 "relative to the source folder.")
    return norm


@dataclass(frozen=True)
class BuildSettings:
    base: str                                   # the FROM image, as the cluster names it
    dockerfile: str | None = None               # a Dockerfile path in the context, if not ./Dockerfile
    build_args: Mapping[str, str] = field(default_factory=dict)
    context: str = "."                          # the folder of the source the build runs in

    def __post_init__(self):
        if not TOKEN.fullmatch(self.base or ""):
            raise BuildSettingsError(f"The build base image {self.base!r} is not an image name; "
                                     "give one such as 10.0.0.2:5000/sentinel/base-trixie:abc.")
        if self.dockerfile is not None:
            inside(self.dockerfile, "Dockerfile path")
        inside(self.context, "build context", folder_ok=True)
        for name in self.build_args:
            if not ARG_NAME.fullmatch(name):
                raise BuildSettingsError(f"Build arg {name!r} is not a valid name; use letters, "
                                         "digits and _, not starting with a digit.")
            if name in RESERVED_ARGS:
                raise BuildSettingsError(f"Build arg {name} is set by Sentinel itself; "
                                         "give it another name.")
            value = self.build_args[name]
            if not isinstance(value, str) or len(value) > 4096 or "\0" in value:
                raise BuildSettingsError(f"Build arg {name}'s value must be text of at most "
                                         "4096 characters.")
