"""Build each example of examples/build/ from its generated Dockerfile with this host's Docker
engine, run it, and print build and rebuild times and image sizes (issue 24's numbers, locally).

    .venv/bin/python bench/build_examples.py [python node go static]

Per example: pack the folder (control_plane.build.source.pack) and unpack it as the build
context, as a build node would; `make_plan` writes the Dockerfile; the classic builder
(`DOCKER_BUILDKIT=0`) builds it with `--build-arg SENTINEL_CA` only; the container answers `/`
on PORT=8000; then a rebuild after a comment line appended to the main source file, a rebuild
with no change, the image's size, and checks that no CA certificate stays in the image or its
history. Everything this script builds or starts is removed at the end.

SENTINEL_CA holds the certificates of this host's bundle that the base image's bundle lacks (the
HTTPS-inspecting proxy's CA among them), not the whole host bundle: at 215 KB, that would be one
argument over Linux's 128 KB limit (MAX_ARG_STRLEN), and `docker build` fails with E2BIG.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from control_plane.build import ca  # noqa: E402
from control_plane.build.plan import BuildSettings, make_plan  # noqa: E402
from control_plane.build.source import SourceTree, pack, unpack  # noqa: E402

EXAMPLES = ROOT / "examples" / "build"
HOST_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
PEM = re.compile(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", re.S)
LIMIT = 50 << 20
PREFIX = "sentinel-bench-build"
# The file a one-line change goes into, and the comment that makes it.
MAIN = {"python": ("app.py", "# a one-line change\n"), "node": ("server.js", "// a one-line change\n"),
        "go": ("main.go", "// a one-line change\n"), "static": ("index.html", "<!-- a one-line change -->\n")}
EXPECTED = {"python": "hello from python v1", "node": "hello from node v1", "go": "hello from go v1",
            "static": "hello from static v1"}


@dataclass
class Result:
    example: str
    first: float = 0.0
    rebuild_changed: float = 0.0
    rebuild_same: float = 0.0
    size_mb: float = 0.0
    answer: str = ""
    stop_s: float = 0.0
    uid: str = ""
    ca_in_tmp: str = ""
    history_private: bool = False
    history_cert: bool = False


def sh(*argv: str, timeout: float = 1800, check: bool = True, env: dict | None = None) -> str:
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, **(env or {})})
    if check and p.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])}… failed ({p.returncode}):\n{p.stdout[-3000:]}\n"
                         f"{p.stderr[-3000:]}")
    return p.stdout


def wait_for_engine(deadline_s: float = 900) -> None:
    end = time.monotonic() + deadline_s
    while subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        if time.monotonic() > end:
            raise SystemExit("The Docker engine did not answer `docker info` within 15 minutes.")
        time.sleep(5)


def base_image() -> str:
    names = sh("docker", "images", "sentinel/base-trixie", "--format", "{{.Repository}}:{{.Tag}}").split()
    if not names:
        python = ROOT / ".venv" / "bin" / "python"
        end = time.monotonic() + 900
        while not python.exists() and time.monotonic() < end:
            time.sleep(5)
        sh(str(python), "-m", "control_plane.images", "build", "node", timeout=3600)
        names = sh("docker", "images", "sentinel/base-trixie", "--format",
                   "{{.Repository}}:{{.Tag}}").split()
    return names[0]  # `docker images` lists the newest first


def extra_certificates(base: str) -> str:
    """The host's CA certificates the base image does not trust yet (the proxy's among them)."""
    return ca.extra_certificates(HOST_BUNDLE.read_text(), sh(*ca.bundle_argv(base)))


class Bench:
    def __init__(self, base: str, ca: str, work: Path):
        self.base, self.ca, self.work = base, ca, work
        self.built_ids: set[str] = set()
        self.tags: list[str] = []
        self.containers: list[str] = []

    def build(self, example: str, source: Path, tag: str) -> float:
        """Pack, unpack, plan, build; seconds the `docker build` took."""
        tarball, digest = pack(source, LIMIT)
        context = Path(tempfile.mkdtemp(prefix=f"{example}-ctx-", dir=self.work))
        unpack(tarball, context, LIMIT)
        plan = make_plan(SourceTree(context), BuildSettings(base=self.base))
        dockerfile = context.parent / f"{context.name}.Dockerfile"
        dockerfile.write_text(plan.dockerfile)
        t = time.monotonic()
        p = subprocess.run(["docker", "build", "-f", str(dockerfile), "-t", tag, "--build-arg",
                            f"SENTINEL_CA={self.ca}", str(context)], capture_output=True, text=True,
                           timeout=1800, env={**os.environ, "DOCKER_BUILDKIT": "0"})
        took, out = time.monotonic() - t, p.stdout
        # Every layer this build made or reused, even when it failed: only dangling ones are
        # removed at the end.
        self.built_ids.update(re.findall(r"^ ---> ([0-9a-f]{12})$", out, re.M))
        if p.returncode != 0:
            raise SystemExit(f"building {tag} failed:\n{out[-3000:]}\n{p.stderr[-3000:]}")
        self.tags.append(tag)
        print(f"  {tag}: {took:.1f} s (source {digest[:12]}, "
              f"{out.count('Using cache')} cached steps)", flush=True)
        return took

    def serve(self, image: str) -> tuple[str, str]:
        cid = sh("docker", "run", "-d", "-e", "PORT=8000", "-p", "127.0.0.1::8000", image).strip()
        self.containers.append(cid)
        port = sh("docker", "port", cid, "8000/tcp").split()[0].rsplit(":", 1)[1]
        end, answer = time.monotonic() + 60, ""
        while time.monotonic() < end:
            p = subprocess.run(["curl", "-fsS", "--max-time", "2", f"http://127.0.0.1:{port}/"],
                               capture_output=True, text=True)
            if p.returncode == 0:
                answer = p.stdout
                break
            time.sleep(0.5)
        if not answer:
            logs = subprocess.run(["docker", "logs", cid], capture_output=True, text=True)
            raise SystemExit(f"{image} did not answer on / within 60 s:\n{logs.stdout}{logs.stderr}")
        health = sh("curl", "-fsS", "--max-time", "2", f"http://127.0.0.1:{port}/healthz")
        return answer, health

    def stop(self, cid: str) -> float:
        t = time.monotonic()
        sh("docker", "stop", "-t", "10", cid)
        return time.monotonic() - t

    def run_example(self, example: str) -> Result:
        r = Result(example)
        source = self.work / example
        shutil.copytree(EXAMPLES / example, source)
        print(f"{example}:", flush=True)
        r.first = self.build(example, source, f"{PREFIX}/{example}:1")
        answer, health = self.serve(f"{PREFIX}/{example}:1")
        r.answer = answer.strip().splitlines()[0] if "<" not in answer else \
            re.sub(r"<[^>]+>", "", re.search(r"<h1>.*?</h1>", answer).group(0))
        if EXPECTED[example] not in answer or health.strip() != "ok":
            raise SystemExit(f"{example} answered {answer!r} and /healthz {health!r}")
        r.stop_s = self.stop(self.containers[-1])
        name, comment = MAIN[example]
        with open(source / name, "a") as f:
            f.write(comment)
        r.rebuild_changed = self.build(example, source, f"{PREFIX}/{example}:2")
        r.rebuild_same = self.build(example, source, f"{PREFIX}/{example}:3")
        image = f"{PREFIX}/{example}:3"
        r.size_mb = int(sh("docker", "image", "inspect", "-f", "{{.Size}}", image)) / 1e6
        r.uid = sh("docker", "run", "--rm", image, "id", "-u").strip()
        r.ca_in_tmp = sh("docker", "run", "--rm", image, "sh", "-c",
                         'grep -rl "BEGIN CERT" /tmp 2>/dev/null', check=False).strip()
        history = sh("docker", "history", "--no-trunc", image)
        r.history_private = "PRIVATE" in history
        r.history_cert = "BEGIN CERT" in history
        return r

    def clean(self) -> None:
        for cid in self.containers:
            subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
        for tag in self.tags:
            subprocess.run(["docker", "rmi", tag], capture_output=True)
        # The first stages' images are untagged leaves: remove those of ours that are dangling.
        for _ in range(3):
            dangling = set(sh("docker", "images", "-q", "-f", "dangling=true").split())
            mine = sorted(dangling & self.built_ids)
            if not mine:
                break
            subprocess.run(["docker", "rmi", *mine], capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("examples", nargs="*", default=list(MAIN))
    args = parser.parse_args()
    wait_for_engine()
    base = base_image()
    ca = extra_certificates(base)
    print(f"base {base}; SENTINEL_CA: {ca.count('BEGIN CERT')} certificates, {len(ca)} bytes; "
          f"docker {sh('docker', 'version', '-f', '{{.Server.Version}}').strip()}, classic builder",
          flush=True)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="sentinel-build-bench-") as tmp:
        bench = Bench(base, ca, Path(tmp))
        try:
            for example in args.examples:
                results.append(bench.run_example(example))
        finally:
            bench.clean()
    print()
    print(f"{'example':8} {'first':>8} {'1-line':>8} {'same':>7} {'size':>8} {'stop':>6} uid   "
          "CA in /tmp  history: PRIVATE/CERT  answer")
    failed = False
    for r in results:
        ok = not r.ca_in_tmp and not r.history_private and r.uid == "10001"
        failed |= not ok
        print(f"{r.example:8} {r.first:7.1f}s {r.rebuild_changed:7.1f}s {r.rebuild_same:6.1f}s "
              f"{r.size_mb:6.1f}MB {r.stop_s:5.1f}s {r.uid:5} {r.ca_in_tmp or 'none':11} "
              f"{'yes' if r.history_private else 'no'}/{'yes' if r.history_cert else 'no'}"
              f"{'':14}{r.answer}")
    if failed:
        raise SystemExit("A check failed: a CA left in /tmp, PRIVATE in the history or not uid 10001.")


if __name__ == "__main__":
    main()
