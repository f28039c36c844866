"""A Dockerfile in the source (or at the path the settings name) wins: it is built as it is."""
from __future__ import annotations

from ..settings import BuildSettings
from ..source import SourceTree
from .base import Detection, NoProviderFound, Provider

DEFAULT = "Dockerfile"


class DockerfileNotFound(NoProviderFound):
    pass


def detect(tree: SourceTree, settings: BuildSettings) -> Detection | None:
    path = settings.dockerfile
    if path is not None and not tree.is_file(path):
        raise DockerfileNotFound(f"The Dockerfile {path} named by the build settings is not in the "
                                 "source (or is ignored); fix the path or add the file.")
    path = path or (DEFAULT if tree.is_file(DEFAULT) else None)
    if path is None:
        return None
    return Detection(dockerfile_path=path,
                     notes=(f"{path} found: built as it is (a Dockerfile always wins).",))


PROVIDER = Provider(name="dockerfile", looks_for=(DEFAULT,), detect=detect)
