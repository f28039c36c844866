"""`git push` to the control plane (docs/build.md): git's smart HTTP protocol, served by Git's own
`git http-backend` behind a per-app push token, one bare repository per app; a push runs the
pre-receive hook (hook.py), which hands the pushed tree and its branch to the control plane and
prints the build, the release and the canary (or the branch's preview) back to the pusher as they
happen.

What the hook and the control plane share is here: the names of the variables the control plane
gives the hook, the header its one-push ticket travels in, and how the last line of a push's
stream says how it ended."""
from __future__ import annotations

ENV_URL = "SENTINEL_PUSH_URL"        # where the hook sends the pushed tree
ENV_TICKET = "SENTINEL_PUSH_TICKET"  # lets this one push in, and nothing else
ENV_BRANCH = "SENTINEL_PUSH_BRANCH"  # the branch whose push deploys
ENV_PYTHON = "SENTINEL_PYTHON"       # the interpreter the hook runs with (the control plane's)
TICKET_HEADER = "X-Sentinel-Push-Ticket"
ZERO = "0" * 40  # git's name for "no commit": a branch created from nothing, or deleted
# The stream's last line: how the push ended. A step's text never starts with it.
DONE = "sentinel-push:"
OK, FAILED = "ok", "failed"


def done_line(ok: bool, message: str) -> str:
    return f"{DONE}{OK if ok else FAILED} {' '.join(message.split())}"


def parse_done(line: str) -> tuple[bool, str] | None:
    """(ok, message) when `line` is the stream's last line, else None."""
    if not line.startswith(DONE):
        return None
    status, _, message = line[len(DONE):].partition(" ")
    return status == OK, message.strip()
