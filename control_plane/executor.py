"""The one place that runs external commands: timeout, environment, secret masking."""
from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import threading
from collections.abc import AsyncIterator, Callable, Sequence

from .errors import CommandFailed

log = logging.getLogger("sentinel.exec")

_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str) -> None:
    """Values registered here never appear in a log line or an error message."""
    if value and len(value) >= 6:
        with _lock:
            _secrets.add(value)


def mask(text: str) -> str:
    for s in list(_secrets):
        text = text.replace(s, "*****")
    return text


def run(argv: Sequence[str], *, input: str | bytes | None = None, timeout: float = 300,
        env: dict[str, str] | None = None, cwd: str | None = None, check: bool = True,
        what: str | None = None) -> subprocess.CompletedProcess:
    """Run argv; on failure raise CommandFailed naming `what` and the last lines of stderr."""
    full_env = {**os.environ, **(env or {})}
    text = not isinstance(input, bytes)
    log.debug("run: %s", mask(" ".join(argv)))
    try:
        proc = subprocess.run(list(argv), input=input, capture_output=True, timeout=timeout,
                              env=full_env, cwd=cwd, text=text)
    except FileNotFoundError:
        raise CommandFailed(f"{argv[0]} is not installed: run `bash scripts/install.sh` and try again.")
    except subprocess.TimeoutExpired:
        raise CommandFailed(f"{what or argv[0]} did not finish within {int(timeout)} s.")
    if check and proc.returncode != 0:
        err = proc.stderr if text else proc.stderr.decode(errors="replace")
        out = proc.stdout if text else proc.stdout.decode(errors="replace")
        tail = " ".join(((err or "").strip() or (out or "").strip()).splitlines()[-3:])
        raise CommandFailed(mask(f"{what or argv[0]} failed: {tail}"))
    return proc


def pipe(producer: Sequence[str], consumer: Sequence[str], *, timeout: float = 600,
         what: str | None = None) -> None:
    """producer | consumer, e.g. `docker save` into `docker load` on a node over ssh."""
    log.debug("pipe: %s | %s", mask(" ".join(producer)), mask(" ".join(consumer)))
    p1 = subprocess.Popen(list(producer), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        p2 = subprocess.run(list(consumer), stdin=p1.stdout, capture_output=True, timeout=timeout)
    finally:
        p1.stdout.close()
        p1.wait(timeout=60)
    if p1.returncode != 0 or p2.returncode != 0:
        err = (p1.stderr.read() if p1.returncode else p2.stderr).decode(errors="replace")
        raise CommandFailed(mask(f"{what or producer[0]} failed: {' '.join(err.split())[-300:]}"))


def feed(argv: Sequence[str], data: bytes, on_line: Callable[[str], None], *,
         timeout: float = 1800) -> tuple[int, list[str]]:
    """Run `argv` with `data` on its stdin; each line it prints (stdout and stderr, masked)
    goes to `on_line` as it comes. (exit code, its last 40 lines); killed after `timeout`."""
    log.debug("feed: %s (%d bytes in)", mask(" ".join(argv)), len(data))
    proc = subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)

    def write() -> None:
        try:
            proc.stdin.write(data)
        except BrokenPipeError:  # it stopped reading: its exit code says why
            pass
        finally:
            proc.stdin.close()
    threading.Thread(target=write, daemon=True).start()
    killer = threading.Timer(timeout, proc.kill)
    killer.start()
    tail: list[str] = []
    try:
        for raw in proc.stdout:
            line = mask(raw.decode(errors="replace").rstrip("\n"))
            tail = (tail + [line])[-40:]
            on_line(line)
        code = proc.wait()
    finally:
        killer.cancel()
    if code < 0:
        tail.append(f"(stopped after {int(timeout)} s)")
    return code, tail


async def stream(argv: Sequence[str], *, what: str | None = None) -> AsyncIterator[str]:
    """The output lines (stdout and stderr, each ending in a newline) of a long-running command
    as they come, masked; e.g. `docker service logs --follow` on the manager. The command is
    killed when the reader stops (the HTTP client went away); its stdin stays an open pipe until
    then, so a remote command can watch it (see docker_cli.until_stdin_closes)."""
    log.debug("stream: %s", mask(" ".join(argv)))
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            limit=1 << 20)  # longest line
    except FileNotFoundError:
        raise CommandFailed(f"{argv[0]} is not installed: run `bash scripts/install.sh` and try again.")
    try:
        while line := await proc.stdout.readline():
            text = line.decode(errors="replace")
            yield mask(text if text.endswith("\n") else text + "\n")
        await proc.wait()
        if proc.returncode:
            log.info("%s ended with exit code %s", what or argv[0], proc.returncode)
    finally:
        # No await here: the reader's task may be cancelled; the event loop reaps the child.
        if proc.returncode is None:
            proc.stdin.close()
            proc.kill()
