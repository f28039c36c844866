"""The pre-receive hook of an app's repository (hooks/pre-receive runs it): git has received a
push and not yet moved the branch. The push of one branch (the app's, or another, which may be a
preview) is sent to the control plane as a tarball of its tree, with the branch's name; the
build, the release and the canary come back as lines, printed here for the pusher (git shows
them as `remote: …`), and the last line says whether the push is taken. Anything refused — a
tag, two branches at once, the app's branch deleted, a failed build, a rolled-back canary —
exits non-zero, so git refuses the push and the branch stays at what runs.

Only the standard library: the hook starts on every push and must start fast."""
from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

from . import ENV_BRANCH, ENV_TICKET, ENV_URL, TICKET_HEADER, ZERO, parse_done
from .backend import archive_argv


class Refused(Exception):
    """The push is refused before anything is sent: one sentence for the pusher."""


def pushed_branch(lines: list[str], main: str) -> tuple[str, str]:
    """The branch a push moves and its new commit (ZERO: deleted). Its lines are git's
    `<old> <new> <ref>`: one branch per push; `main` deploys and is never deleted, another
    branch is a preview where the app's sentinel.yaml says so (the control plane decides)."""
    moved = []
    for line in lines:
        parts = line.split()
        if len(parts) != 3:
            continue
        _, sha, ref = parts
        if not ref.startswith("refs/heads/"):
            raise Refused(f"{ref} does not deploy: only branches do ({main} the app, others "
                          "their previews).")
        moved.append((ref.removeprefix("refs/heads/"), sha))
    if not moved:
        raise Refused(f"the push moves no branch: push {main} to deploy.")
    if len(moved) > 1:
        raise Refused(f"the push moves {len(moved)} branches ({', '.join(b for b, _ in moved)}): "
                      "push one at a time, each is a release of its own.")
    branch, sha = moved[0]
    if branch == main and sha == ZERO:
        raise Refused(f"{main} cannot be deleted: it is what the app runs.")
    return branch, sha


def send(url: str, ticket: str, sha: str, archive: bytes, out, branch: str = "") -> bool:
    """Send the tree; print what comes back as it comes. True if the control plane took it."""
    query = urllib.parse.urlencode({"sha": sha, **({"branch": branch} if branch else {})})
    request = urllib.request.Request(f"{url}?{query}", data=archive, method="POST", headers={
        TICKET_HEADER: ticket, "Content-Type": "application/octet-stream"})
    try:
        with urllib.request.urlopen(request, timeout=3600) as answer:
            for raw in answer:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                end = parse_done(line)
                if end is not None:
                    print(("" if end[0] else "error: ") + end[1], file=out, flush=True)
                    return end[0]
                print(line, file=out, flush=True)
    except urllib.error.HTTPError as e:
        body = e.read().decode("utf-8", "replace")
        end = parse_done(body.strip().splitlines()[-1]) if body.strip() else None
        print(f"error: {end[1] if end else f'the control plane answered {e.code}'}", file=out,
              flush=True)
        return False
    except OSError as e:
        print(f"error: the control plane could not be reached ({e}); nothing was deployed.",
              file=out, flush=True)
        return False
    print("error: the control plane stopped answering before the push ended: see "
          "`sentinel operations` for how it went.", file=out, flush=True)
    return False


def main() -> int:
    out = sys.stderr  # git relays the hook's standard error to the pusher as it comes
    try:
        branch, sha = pushed_branch(sys.stdin.read().splitlines(), os.environ[ENV_BRANCH])
    except Refused as e:
        print(f"error: {e}", file=out, flush=True)
        return 1
    if sha == ZERO:  # a branch deleted: its preview goes (no tree to send)
        return 0 if send(os.environ[ENV_URL], os.environ[ENV_TICKET], sha, b"", out, branch) else 1
    # During pre-receive the pushed objects are in git's quarantine: the variables git gave
    # this hook point `git archive` at them.
    proc = subprocess.run(archive_argv(sha), capture_output=True, timeout=600)
    if proc.returncode != 0:
        print(f"error: the pushed tree could not be read: {proc.stderr.decode()[-300:]}", file=out)
        return 1
    return 0 if send(os.environ[ENV_URL], os.environ[ENV_TICKET], sha, proc.stdout, out,
                     branch) else 1


if __name__ == "__main__":
    sys.exit(main())
