"""Runs the control plane (uvicorn) and manages it as a background service on this machine."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .paths import sentinel_home

DEFAULT_PORT = 8765


def pid_file() -> Path:
    return sentinel_home() / "control-plane.pid"


def log_file() -> Path:
    return sentinel_home() / "control-plane.log"


def running_pid() -> int | None:
    try:
        pid = int(pid_file().read_text().split()[0])
        os.kill(pid, 0)
        # A killed server whose parent is gone can linger as a zombie (kill -0 still succeeds),
        # and a recycled pid may be another program: only our live server counts.
        proc = Path(f"/proc/{pid}")
        if proc.exists():
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cmdline = (proc / "cmdline").read_bytes()
            if state in ("Z", "X") or b"control_plane.server" not in cmdline:
                return None
        return pid
    except (OSError, ValueError, IndexError):
        return None


def start(port: int = DEFAULT_PORT) -> int:
    """Start detached; return its pid (the running one if already up)."""
    pid = running_pid()
    if pid:
        return pid
    home = sentinel_home()
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    log = open(log_file(), "ab")
    proc = subprocess.Popen([sys.executable, "-m", "control_plane.server", "--port", str(port)],
                            stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                            start_new_session=True, env={**os.environ, "SENTINEL_HOME": str(home)})
    pid_file().write_text(f"{proc.pid} {port}\n")
    return proc.pid


def stop(timeout: float = 15) -> bool:
    pid = running_pid()
    if not pid:
        pid_file().unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
    pid_file().unlink(missing_ok=True)
    return True


def main() -> None:
    import argparse

    import uvicorn

    from .api.app import create_app

    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=DEFAULT_PORT)
    ap.add_argument("--host", default="127.0.0.1")
    args = ap.parse_args()
    # ansible-playbook, skopeo's helpers and our terraform shim live beside this interpreter.
    os.environ["PATH"] = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
