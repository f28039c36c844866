"""Builds from source (docs/build.md): a source tarball sent by the CLI becomes a plan (the
Dockerfile the source has, or the one generated for its kind, and its processes) and then an
image, built on the build node with its own Docker engine (BuildKit where the node has buildx,
else the classic builder), tagged by what it was built from and pushed to the cluster registry.
From there the image is deployed like any other (`sentinel deploy --source` = a build, then a
deploy of its image)."""
from __future__ import annotations

import hashlib
import re
import tempfile
import threading
import time
from pathlib import Path

from .. import executor, images, names, ssh, validation
from ..build import ca
from ..build.plan import BuildPlan, make_plan
from ..build.settings import BuildSettings
from ..build.source import SOURCE_LIMIT, SourceError, SourceTree, pack, unpack
from ..docker_cli import (Docker, buildx_version_argv, image_build_argv, image_inspect_argv,
                          image_load_argv, image_push_argv, image_save_argv, image_size_argv)
from ..errors import CommandFailed, InvalidInput
from ..git import fetch
from ..jobs import Jobs, Operation
from ..models import BuildOptions
from ..platform import Platform
from ..records import Build

HISTORY = 20  # builds kept per app
# A line that starts a step: BuildKit's plain progress ("#7 [deps 3/5] RUN ...") or the classic
# builder's ("Step 3/9 : RUN ...").
STEP = re.compile(r"^(#\d+ \[[^\]]+\] \S.*|Step \d+/\d+ : .*)$", re.S)


def build_digest(source_digest: str, base: str, build_args: dict[str, str],
                 dockerfile: str | None = None) -> str:
    """What an image is named by: its source, its base, its build arguments and the Dockerfile
    path it was told (the same give the same image, so a second build reuses the first)."""
    h = hashlib.sha256()
    named = [f"dockerfile={dockerfile}"] if dockerfile else []
    for part in (source_digest, base, *(f"{k}={build_args[k]}" for k in sorted(build_args)),
                 *named):
        h.update(part.encode() + b"\0")
    return h.hexdigest()


def step_of(line: str) -> str | None:
    """The build step a progress line starts, if it starts one. BuildKit shows a RUN with its
    build arguments filled in: the certificates of SENTINEL_CA are cut from what is shown."""
    if not STEP.match(line):
        return None
    head, cut, _ = line.partition("-----BEGIN CERTIFICATE-----")
    return head + ("(SENTINEL_CA)…" if cut else "")


class BuildService:
    def __init__(self, platform: Platform, jobs: Jobs, limit: int = 2):
        self.p = platform
        self.store = platform.store
        self.jobs = jobs
        # Builds of different apps run side by side up to `limit`; one app's are serialised by
        # their operation's target (names.build_target).
        self._slots = threading.BoundedSemaphore(limit)
        self._ca_lock = threading.Lock()

    def settings(self, options: BuildOptions | None = None) -> BuildSettings:
        """sentinel.yaml's `build:` (or the flags), over the platform's defaults: its own Debian
        base, since it reaches no public registry."""
        o = options or BuildOptions()
        return BuildSettings(base=o.base or images.base_ref(), dockerfile=o.dockerfile,
                             build_args=dict(o.args), context=o.context)

    # ---- the plan ---------------------------------------------------------------------------
    def _planned(self, source: bytes, folder: Path,
                 settings: BuildSettings) -> tuple[BuildPlan, int, Path]:
        """The plan, the source's file count and the folder the build runs in (the context)."""
        files = unpack(source, folder, SOURCE_LIMIT)
        context = (folder / settings.context).resolve()
        if not context.is_relative_to(folder.resolve()) or not context.is_dir():
            raise SourceError(f"the build context {settings.context} is not a folder of the "
                              "source; give a folder relative to it (build.context).")
        return make_plan(SourceTree(context), settings), len(files), context

    def plan(self, app: str, source: bytes, options: BuildOptions | None = None) -> dict:
        """What building `source` (a gzip tarball of the app's folder) would build."""
        validation.name(app)
        with tempfile.TemporaryDirectory(prefix="sentinel-source-") as tmp:
            plan, files, _ = self._planned(source, Path(tmp) / "src", self.settings(options))
        return {"app": app, "kind": plan.kind, "dockerfile": plan.dockerfile,
                "dockerfile_path": plan.dockerfile_path, "processes": plan.processes,
                "release": plan.release, "health_path": plan.health_path,
                "notes": list(plan.notes), "files": files}

    # ---- building ---------------------------------------------------------------------------
    def start(self, app: str, source: bytes, options: BuildOptions | None = None) -> str:
        """Check the source now (a folder of no known kind is refused before anything starts),
        then build it as an operation of its own."""
        self.p.require_ready()
        validation.name(app)
        self.plan(app, source, options)
        return self.jobs.start(names.build_target(app), "build",
                               lambda op: self.build(op, app, source, options=options))

    def start_git(self, app: str, source: str, options: BuildOptions | None = None) -> str:
        """Build a commit of a git repository the control plane fetches (`URL#ref`)."""
        self.p.require_ready()
        validation.name(app)
        self.settings(options)  # bad build settings: said before the fetch
        src = fetch.parse(source)
        return self.jobs.start(names.build_target(app), "build",
                               lambda op: self.build_git(op, app, src, options))

    def build_git(self, op: Operation, app: str, src: fetch.GitSource,
                  options: BuildOptions | None = None) -> dict:
        archive, sha = self.fetch(op, src)
        self.plan(app, archive, options)  # a repository of no known kind: said before any build
        return self.build(op, app, archive, label=sha[:12], options=options)

    def fetch(self, op: Operation, src: fetch.GitSource) -> tuple[bytes, str]:
        """The commit `src` names, packed as a folder source is; and its sha."""
        op.step(f"fetching {src.shown}")
        with tempfile.TemporaryDirectory(prefix="sentinel-git-") as tmp:
            dest = Path(tmp) / "repo"
            for argv in fetch.fetch_argvs(src, dest):
                proc = executor.run(argv, env=fetch.FETCH_ENV, timeout=600, check=False)
                if proc.returncode != 0:
                    lines = (proc.stderr or "").strip().splitlines()
                    said = fetch.without_credentials(lines[-1].strip()[:300] if lines else "")
                    raise InvalidInput(f"{src.shown} could not be fetched: {said or 'no answer'} "
                                       "(check the URL and the branch, tag or commit after #).")
            sha = proc.stdout.strip()
            archive, _ = pack(dest, SOURCE_LIMIT)
        op.step(f"fetched {sha[:12]}")
        return archive, sha

    def history(self, app: str) -> list[Build]:
        return [Build.model_validate(b) for b in self.store.get(names.builds_key(app)) or []]

    def _record(self, build: Build) -> None:
        kept = [b for b in self.history(build.app) if b.id != build.id] + [build]
        self.store.put(names.builds_key(build.app), [b.model_dump() for b in kept[-HISTORY:]])

    def build(self, op: Operation, app: str, source: bytes, label: str | None = None,
              options: BuildOptions | None = None) -> dict:
        """Build `source` (a gzip tarball); `label` names it in the history (a git commit),
        else its content hash does (of the build context: a monorepo's other folders do not
        make a new image)."""
        settings = self.settings(options)
        with tempfile.TemporaryDirectory(prefix="sentinel-build-") as tmp:
            plan, _, folder = self._planned(source, Path(tmp) / "src", settings)
            dockerfile = plan.dockerfile_path or names.BUILD_DOCKERFILE
            if plan.dockerfile_path is None:
                if (folder / names.BUILD_DOCKERFILE).exists():
                    raise SourceError(f"the source has a file named {names.BUILD_DOCKERFILE}, the "
                                      "name of the generated Dockerfile: rename it.")
                (folder / names.BUILD_DOCKERFILE).write_text(plan.dockerfile)
            context, digest = pack(folder, SOURCE_LIMIT + (1 << 20))
        tag = names.build_tag(self.p.registry_host, app,
                              build_digest(digest, settings.base, plan.build_args,
                                           settings.dockerfile))
        record = Build(id=op.id, app=app, source=label or digest[:12], kind=plan.kind, image=tag,
                       started_at=time.time())
        self._record(record)
        started = time.monotonic()
        try:
            if not self._slots.acquire(blocking=False):
                op.step("waiting for a build slot (other apps are building)")
                self._slots.acquire()
            try:
                record = self._run(op, record, plan, dockerfile, context, settings.base)
            finally:
                self._slots.release()
        except Exception as e:
            record = record.changed(result="failed", seconds=round(time.monotonic() - started, 1),
                                    error=getattr(e, "message", None) or str(e))
            self._record(record)
            raise
        record = record.changed(seconds=round(time.monotonic() - started, 1))
        self._record(record)
        op.step(f"{tag} {'reused' if record.result == 'reused' else 'built'} in {record.seconds} s")
        return {**record.model_dump(), "processes": plan.processes, "release": plan.release,
                "health_path": plan.health_path}

    def _run(self, op: Operation, record: Build, plan: BuildPlan, dockerfile: str,
             context: bytes, base: str) -> Build:
        """On the build node (the manager, which holds the registry's login): reuse the image
        when the node already built this source, else build it there; push it."""
        node = self.p.manager
        d = Docker(node)
        tag = record.image or ""
        if d.run(image_inspect_argv(tag), check=False, timeout=30).returncode == 0:
            op.step(f"source {record.source} was built before on the build node: reusing {tag}")
            record = record.changed(result="reused")
        else:
            buildkit = d.run(buildx_version_argv(), check=False, timeout=30).returncode == 0
            record = record.changed(builder="buildkit" if buildkit else "classic")
            op.step(f"building {record.app} ({plan.kind}, source {record.source}) on the build node "
                    + ("with BuildKit" if buildkit else
                       "with the classic builder (the node's Docker has no buildx)"))
            if plan.dockerfile_path is None and base == images.base_ref():
                self._ensure_base(op, node, d)  # a base of the user's is pulled by the build
            ca_file = self._install_ca(node)
            self._docker_build(op, d, tag, dockerfile, plan, context, buildkit, ca_file)
            record = record.changed(result="built")
        op.step(f"pushing {tag} to the cluster registry")
        d.run(image_push_argv(tag), timeout=900, what=f"pushing {tag}")
        size = d.out(image_size_argv(tag), check=False, timeout=30).strip()
        return record.changed(size_bytes=int(size) if size.isdigit() else None)

    def _docker_build(self, op: Operation, d: Docker, tag: str, dockerfile: str, plan: BuildPlan,
                      context: bytes, buildkit: bool, ca_file: str | None) -> None:
        last_step = ["(before the first step)"]

        def on_line(line: str) -> None:
            step = step_of(line)
            if step:
                last_step[0] = step
                op.step(step[:200])
        argv = d.argv(image_build_argv(tag, dockerfile, buildkit=buildkit,
                                       build_args=plan.build_args, ca_file=ca_file))
        code, tail = executor.feed(argv, context, on_line, timeout=1800)
        if code != 0:
            said = " | ".join(line.strip() for line in tail[-8:] if line.strip())
            raise CommandFailed(f"the build failed at {last_step[0][:160]}: {said[-600:]}; nothing "
                                "was deployed (`sentinel build --plan` shows the Dockerfile).")

    def _ensure_base(self, op: Operation, node: str, d: Docker) -> None:
        """A generated Dockerfile starts FROM the platform's own base: the node gets it from this
        machine once (no public registry is reached)."""
        base = self.settings().base
        if d.run(image_inspect_argv(base), check=False, timeout=30).returncode == 0:
            return
        op.step(f"sending the platform's base image {base} to the build node (once)")
        executor.pipe(image_save_argv(base), ssh.ssh_argv(node, *image_load_argv()), timeout=900,
                      what="copying the base image to the build node")

    def _install_ca(self, node: str) -> str | None:
        """SENTINEL_CA for the build (build/ca.py), on the node as a file; None when this
        machine trusts nothing the base does not."""
        with self._ca_lock:
            cached = self.p.dir / "build-ca.pem"
            if not cached.exists():
                base = self.settings().base
                proc = executor.run(ca.bundle_argv(base), check=False, timeout=120)
                host = Path(ca.HOST_BUNDLE)
                text = ca.extra_certificates(host.read_text() if host.exists() else "",
                                             proc.stdout if proc.returncode == 0 else "")
                cached.write_text(text)
            text = cached.read_text()
        if not text:
            return None
        ssh.run(node, *ca.install_argv(names.BUILD_CA_FILE), input=text, timeout=60,
                what="installing the build's CA certificates on the build node")
        return names.BUILD_CA_FILE
