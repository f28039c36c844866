"""Git's smart HTTP protocol through `git http-backend` (a CGI program): its argv, the CGI
environment a request becomes, and the head of its answer. Pure: api/routes/git.py runs it."""
from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from . import ENV_BRANCH, ENV_PYTHON, ENV_TICKET, ENV_URL

# What a client of the smart protocol asks for; the "dumb" file paths http-backend also serves
# (objects/…, HEAD) are not offered.
SMART_PATHS = ("info/refs", "git-upload-pack", "git-receive-pack")
SERVICES = ("git-upload-pack", "git-receive-pack")
HOOKS_DIR = Path(__file__).parent / "hooks"
PUSH_USER = "sentinel"  # the user name a remote's URL carries; the token is the password


@dataclass(frozen=True)
class GitRequest:
    app: str
    path: str  # one of SMART_PATHS
    method: str
    query: str = ""
    content_type: str = ""
    content_length: int | None = None  # None: chunked, read to the end
    content_encoding: str = ""  # git gzips a large push
    git_protocol: str = ""  # "version=2" from the Git-Protocol header
    remote_addr: str = ""

    @property
    def service(self) -> str | None:
        """The service the request is for: git-upload-pack (fetch) or git-receive-pack (push)."""
        if self.path == "info/refs":
            for part in self.query.split("&"):
                key, _, value = part.partition("=")
                if key == "service" and value in SERVICES:
                    return value
            return None
        return self.path if self.path in SERVICES else None


@dataclass(frozen=True)
class HookContext:
    """What the pre-receive hook of a push is given (by variable: git passes them on)."""
    url: str
    ticket: str
    branch: str
    python: str


def http_backend_argv() -> list[str]:
    return ["git", "http-backend"]


def init_argv(repo: Path, branch: str) -> list[str]:
    return ["git", "init", "--bare", "--quiet", f"--initial-branch={branch}", str(repo)]


def archive_argv(sha: str) -> list[str]:
    """The pushed tree as a gzip tarball. The tree rather than the commit: git writes no pax
    header (the commit id) for a tree, so the archive is plain files the build unpacks."""
    return ["git", "archive", "--format=tar.gz", f"{sha}^{{tree}}"]


# Config every call of http-backend runs with, given by environment (no file to keep in step):
# hooks from this package, pushes allowed (our own auth stands in front), no stray user or
# system config read. Deletions reach the hook: it refuses the deployed branch's, and another
# branch's removes its preview.
CONFIG = (("http.receivepack", "true"), ("http.uploadpack", "true"),
          ("receive.denyDeletes", "false"), ("core.hooksPath", str(HOOKS_DIR)))


def backend_env(root: Path, req: GitRequest, path_env: str, hook: HookContext | None) -> dict[str, str]:
    """The CGI environment of one request (RFC 3875, and the variables http-backend reads)."""
    env = {
        "PATH": path_env, "HOME": str(root), "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_PROJECT_ROOT": str(root), "GIT_HTTP_EXPORT_ALL": "1",
        "GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": req.method,
        "PATH_INFO": f"/{req.app}.git/{req.path}", "QUERY_STRING": req.query,
        "CONTENT_TYPE": req.content_type, "REMOTE_USER": PUSH_USER, "REMOTE_ADDR": req.remote_addr,
        "GIT_CONFIG_COUNT": str(len(CONFIG)),
    }
    for i, (key, value) in enumerate(CONFIG):
        env[f"GIT_CONFIG_KEY_{i}"], env[f"GIT_CONFIG_VALUE_{i}"] = key, value
    if req.content_length is not None:
        env["CONTENT_LENGTH"] = str(req.content_length)
    if req.content_encoding:
        env["HTTP_CONTENT_ENCODING"] = req.content_encoding
    if req.git_protocol:
        env["GIT_PROTOCOL"] = req.git_protocol
    if hook:
        env.update({ENV_URL: hook.url, ENV_TICKET: hook.ticket, ENV_BRANCH: hook.branch,
                    ENV_PYTHON: hook.python})
    return env


def parse_head(raw: bytes) -> tuple[int, list[tuple[str, str]]]:
    """A CGI answer's head: its status (a `Status:` line, else 200) and its other headers."""
    status, headers = 200, []
    for line in raw.decode("latin-1").splitlines():
        if not line.strip():
            continue
        key, _, value = line.partition(":")
        if key.strip().lower() == "status":
            code = value.strip().split(" ", 1)[0]
            status = int(code) if code.isdigit() else 502
        else:
            headers.append((key.strip(), value.strip()))
    return status, headers


def split_head(buffer: bytes) -> tuple[bytes, bytes] | None:
    """(head, the body's start) once the blank line that ends a CGI head has arrived."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        at = buffer.find(sep)
        if at >= 0:
            return buffer[:at], buffer[at + len(sep):]
    return None


def basic_password(authorization: str | None) -> str | None:
    """The password of an HTTP Basic `Authorization` header (git sends the remote URL's)."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        _, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return password if sep else None


def remote_url(base: str, token: str, path: str) -> str:
    """The URL `git remote add` takes: the control plane's, with the push token in it."""
    scheme, sep, rest = base.rstrip("/").partition("://")
    if not sep:
        scheme, rest = "http", base.rstrip("/")
    return f"{scheme}://{PUSH_USER}:{token}@{rest}{path}"


def tls_config_argv(base: str, ca_file: str) -> list[str]:
    """The git setting that makes a repository's pushes to this control plane trust its
    certificate (a self-signed one, pinned by the CLI), and no other server's."""
    u = urlsplit(base)
    return ["git", "config", f"http.{u.scheme}://{u.netloc}/.sslCAInfo", ca_file]
