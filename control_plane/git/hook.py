"""The pre-receive hook of an app's repository (hooks/pre-receive runs it): git has received a
push and not yet moved the branch. A push to the app's branch is sent to the control plane as
a tarball of its tree; the build, the release and the canary come back as lines, printed here for
the pusher (git shows them as `remote: …`), and the last line says whether the push is taken.
Anything else — another branch, a deletion, a failed build, a rolled-back canary — exits
non-zero, so git refuses the push and the branch stays at what runs.

Only the standard library: the hook starts on every push and must start fast."""
from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request

from . import ENV_BRANCH, ENV_TICKET, ENV_URL, TICKET_HEADER, parse_done
from .backend import archive_argv

ZERO = "0" * 40


class Refused(Exception):
    """The push is refused before anything is sent: one sentence for the pusher."""


def deployed_commit(lines: list[str], branch: str) -> str:
    """The commit a push asks to deploy. Its lines are git's `<old> <new> <ref>`: only the app's
    branch may move, and not be deleted."""
    wanted = f"refs/heads/{branch}"
    new = None
    for line in lines:
        parts = line.split()
        if len(parts) != 3:
            continue
        _, sha, ref = parts
        if ref != wanted:
            raise Refused(f"{ref} does not deploy: only {branch} does (push it with "
                          f"`git push <remote> HEAD:{branch}`).")
        if sha == ZERO:
            raise Refused(f"{branch} cannot be deleted: it is what the app runs.")
        new = sha
    if new is None:
        raise Refused(f"the push moves no branch: push {branch} to deploy.")
    return new


def send(url: str, ticket: str, sha: str, archive: bytes, out) -> bool:
    """Send the tree; print what comes back as it comes. True if the control plane took it."""
    request = urllib.request.Request(f"{url}?sha={sha}", data=archive, method="POST", headers={
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
        sha = deployed_commit(sys.stdin.read().splitlines(), os.environ[ENV_BRANCH])
    except Refused as e:
        print(f"error: {e}", file=out, flush=True)
        return 1
    # During pre-receive the pushed objects are in git's quarantine: the variables git gave
    # this hook point `git archive` at them.
    proc = subprocess.run(archive_argv(sha), capture_output=True, timeout=600)
    if proc.returncode != 0:
        print(f"error: the pushed tree could not be read: {proc.stderr.decode()[-300:]}", file=out)
        return 1
    return 0 if send(os.environ[ENV_URL], os.environ[ENV_TICKET], sha, proc.stdout, out) else 1


if __name__ == "__main__":
    sys.exit(main())
