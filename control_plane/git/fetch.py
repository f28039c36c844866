"""A git URL as a build's source (`--source https://host/repo.git#ref`): what it may be, and the
commands that fetch its one commit (no history) into a folder. Pure: services/builds.py runs
them on the control plane's machine."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidInput

SCHEMES = ("https://", "http://")
# A ref as git takes it: a branch, a tag or a commit; no option, no `..`, no space.
_REF = re.compile(r"^(?!-)(?!.*\.\.)[A-Za-z0-9._/@^~-]{1,200}$")


@dataclass(frozen=True)
class GitSource:
    url: str
    ref: str = "HEAD"  # the remote's default branch

    @property
    def shown(self) -> str:
        """The URL without any credentials in it (for steps and errors)."""
        return without_credentials(self.url) + ("" if self.ref == "HEAD" else f"#{self.ref}")


def without_credentials(text: str) -> str:
    """`https://user:secret@host/…` as `https://host/…`, wherever it appears."""
    return re.sub(r"://[^/@\s]*@", "://", text)


def looks_like_git(source: str) -> bool:
    """A --source that names a repository rather than a folder."""
    return "://" in source or source.startswith("git@") or source.endswith(".git")


def parse(source: str) -> GitSource:
    """`URL[#ref]`, refused in one sentence unless the cluster can fetch it as given."""
    url, _, ref = source.strip().partition("#")
    if source.startswith("git@") or url.startswith("ssh://"):
        raise InvalidInput(f"--source {url}: the control plane fetches over HTTPS only (it holds "
                           "no SSH key): give the repository's https:// URL.")
    if not url.startswith(SCHEMES) or len(url) > 2000 or any(c.isspace() for c in url):
        raise InvalidInput(f"--source {url}: give a folder, or a git URL the control plane can "
                           "fetch (https://host/repo.git, with #branch, #tag or #commit).")
    if ref and not _REF.match(ref):
        raise InvalidInput(f"--source …#{ref}: not a branch, tag or commit name.")
    return GitSource(url, ref or "HEAD")


def fetch_argvs(src: GitSource, dest: Path) -> list[list[str]]:
    """Fetch the one commit `src` names into `dest` (made empty) and check it out."""
    d = str(dest)
    return [["git", "init", "--quiet", d],
            ["git", "-C", d, "fetch", "--quiet", "--depth=1", "--no-tags", "--", src.url, src.ref],
            ["git", "-C", d, "checkout", "--quiet", "--detach", "FETCH_HEAD"],
            ["git", "-C", d, "rev-parse", "HEAD"]]


# No prompt for a password (nobody would answer it), no system or user config.
FETCH_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "GIT_ASKPASS": "/bin/true"}
