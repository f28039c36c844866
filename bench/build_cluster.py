"""Building from source on the cluster (issue 24's numbers): the demo app built from
examples/todo *without* its Dockerfile, then after a one-line change in app.py, then unchanged;
`git push` of a one-line change until its canary takes traffic; and the build node's CPU once no
build runs.

    .venv/bin/python bench/build_cluster.py [--runs 3]

A throwaway 1-node platform (destroyed at the end). Each run uses a fresh copy of the source
with a marker comment, so its first build misses the image cache (the node's layer cache stays:
the first run of all is the cold one and is printed apart); the one-line change appends a
comment to app.py (dependencies unchanged: their layer is reused); the unchanged build is the same
folder again (the image is reused, nothing is built).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, cli, init, new_home, sjson  # noqa: E402


def todo_without_dockerfile(work: Path, marker: str) -> Path:
    folder = work / f"todo-{marker}"
    shutil.copytree(ROOT / "examples" / "todo", folder,
                    ignore=shutil.ignore_patterns("Dockerfile", "__pycache__"))
    app = folder / "app.py"
    app.write_text(app.read_text() + f"\n# bench run {marker}\n")
    return folder


def build(home: Path, folder: Path) -> tuple[float, dict]:
    t = time.monotonic()
    out = sjson(home, "build", "todo", "--source", str(folder))
    return time.monotonic() - t, out


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_AUTHOR_NAME": "bench",
           "GIT_AUTHOR_EMAIL": "bench@example.com", "GIT_COMMITTER_NAME": "bench",
           "GIT_COMMITTER_EMAIL": "bench@example.com"}
    p = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=env,
                       timeout=900)
    if p.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {p.stdout[-2000:]}{p.stderr[-2000:]}")
    return p.stdout + p.stderr


def push_runs(home: Path, folder: Path, runs: int) -> list[float]:
    """`git push` of a one-line change, from the push to its exit: built, released, and its
    canary taking 10% (manual promotion: the push ends there); then the canary rolled back."""
    (folder / "sentinel.yaml").write_text(json.dumps({
        "app": "todo", "source": ".", "port": 8000, "health": {"path": "/healthz"},
        "database": {"engine": "postgres", "ha": False}, "canary": {"weight": 10}}))
    git(folder, "init", "-q", "-b", "main")
    git(folder, "add", "-A")
    git(folder, "commit", "-qm", "todo")
    git(folder, "remote", "add", "sentinel", sjson(home, "git", "remote", "todo")["url"])
    out = []
    for i in range(runs):
        app = folder / "app.py"
        app.write_text(app.read_text() + f"# push {i}\n")
        git(folder, "commit", "-qam", f"push {i}")
        t = time.monotonic()
        said = git(folder, "push", "sentinel", "main")
        out.append(time.monotonic() - t)
        assert "takes 10% of the traffic" in said, said
        cli(home, "canary", "rollback", "todo", "--yes")
        print(f"push {i + 1}: {out[-1]:.1f} s", flush=True)
    return out


def node_cpu(seconds: float = 10.0, node: str = "bench-node-0") -> float:
    """Cores the build node's processes use over `seconds`, from its container's cgroup as this
    machine sees it (cgroup v1's cpuacct, else v2's cpu.stat)."""
    cid = subprocess.run(["docker", "inspect", "-f", "{{.Id}}", node], capture_output=True,
                         text=True, timeout=30).stdout.strip()
    v1 = Path(f"/sys/fs/cgroup/cpuacct/docker/{cid}/cpuacct.usage")
    v2 = Path(f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/cpu.stat")

    def usage() -> float:
        if v1.exists():
            return int(v1.read_text()) / 1e9
        line = next(x for x in v2.read_text().splitlines() if x.startswith("usage_usec"))
        return int(line.split()[1]) / 1e6
    if not cid or not (v1.exists() or v2.exists()):
        raise SystemExit(f"the CPU time of {node} cannot be read on this machine")
    a = usage()
    time.sleep(seconds)
    return (usage() - a) / seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    home, work = new_home(), Path(tempfile.mkdtemp(prefix="sentinel-bench-src-"))
    try:
        print(f"init (1 node): {init(home, 1):.0f} s", flush=True)
        cold, _ = build(home, todo_without_dockerfile(work, "cold"))
        print(f"first build ever on the node (base sent, cold layer cache): {cold:.1f} s", flush=True)
        first, changed, same = [], [], []
        for i in range(args.runs):
            folder = todo_without_dockerfile(work, f"r{i}")
            t, out = build(home, folder)
            first.append(t)
            assert out["result"] == "built", out
            (folder / "app.py").write_text((folder / "app.py").read_text() + "# one line\n")
            t, out = build(home, folder)
            changed.append(t)
            assert out["result"] == "built", out
            t, out = build(home, folder)
            same.append(t)
            assert out["result"] == "reused", out
            print(f"run {i + 1}: new source {first[-1]:.1f} s, one-line change {changed[-1]:.1f} s, "
                  f"unchanged {same[-1]:.1f} s", flush=True)
        med = statistics.median
        print(f"medians of {args.runs}: new source {med(first):.1f} s (goal < 90), one-line change "
              f"{med(changed):.1f} s (goal < 20), unchanged {med(same):.1f} s (goal < 5)")
        t = time.monotonic()
        cli(home, "deploy", "--name", "todo", "--image", out["image"], "--port", "8000",
            "--db", "postgres", "--no-db-ha", "--db-schema", str(ROOT / "examples/todo/schema.sql"),
            "--health-path", "/healthz", "--yes")
        print(f"deploy of the built image (with its database): {time.monotonic() - t:.1f} s",
              flush=True)
        pushes = push_runs(home, folder, args.runs)
        print(f"git push of a one-line change to its canary taking 10% of the traffic: "
              f"{', '.join(f'{x:.1f}' for x in pushes)} s; median {med(pushes):.1f} s (goal < 60)")
        print(f"build node at rest (no build running): {node_cpu():.3f} cores")
    finally:
        cli(home, "destroy", "--delete-data", "--yes")
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
