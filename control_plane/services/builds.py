"""Builds from source (docs/build.md): a source tarball sent by the CLI becomes a plan, the
Dockerfile the source has or the one generated for its kind, with its processes. The build
itself on a node (BuildKit) and `git push` are the next steps of issue 24; the plan is what they
will build, and `--eject` hands the generated Dockerfile to the user today."""
from __future__ import annotations

import tempfile
from pathlib import Path

from .. import images, validation
from ..build.plan import make_plan
from ..build.settings import BuildSettings
from ..build.source import SOURCE_LIMIT, SourceTree, unpack


class BuildService:
    def settings(self) -> BuildSettings:
        """The platform's defaults: its own Debian base, since it reaches no public registry
        (a `build:` section of sentinel.yaml, with a base of the user's, comes with the builds)."""
        return BuildSettings(base=images.base_ref())

    def plan(self, app: str, source: bytes) -> dict:
        """What building `source` (a gzip tarball of the app's folder) would build."""
        validation.name(app)
        with tempfile.TemporaryDirectory(prefix="sentinel-source-") as tmp:
            files = unpack(source, Path(tmp) / "src", SOURCE_LIMIT)
            plan = make_plan(SourceTree(Path(tmp) / "src"), self.settings())
        return {"app": app, "kind": plan.kind, "dockerfile": plan.dockerfile,
                "dockerfile_path": plan.dockerfile_path, "processes": plan.processes,
                "release": plan.release, "health_path": plan.health_path,
                "notes": list(plan.notes), "files": len(files)}
