"""The provider interface, apart from the registry: provider modules import it without a circle."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ...errors import InvalidInput
from ..settings import BuildSettings
from ..source import SourceTree


@dataclass(frozen=True)
class Detection:
    """What a provider found in a source."""
    values: Mapping[str, Any] = field(default_factory=dict)  # what its template reads
    web: str | None = None          # the start command it found (None: none, or the image's CMD)
    notes: tuple[str, ...] = ()     # one line each: what was found and why it matters
    dockerfile_path: str | None = None   # the source's own Dockerfile (then no template)
    health_path: str | None = None  # a health check path worth suggesting (static: "/")


@dataclass(frozen=True)
class Provider:
    name: str
    looks_for: tuple[str, ...]      # the files it recognises, for "nothing recognised" errors
    detect: Callable[[SourceTree, BuildSettings], Detection | None]
    template: str | None = None     # under compose_templates/; None: the source's Dockerfile
    packages: tuple[str, ...] = ()  # Debian packages its image installs


class NoProviderFound(InvalidInput):
    pass


class NoStartCommand(InvalidInput):
    pass
