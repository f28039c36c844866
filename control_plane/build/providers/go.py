"""Go: go.mod; built with Debian's golang-go (trixie: Go 1.24) in a first stage, the final image
holds only the binary (/app/bin/<name>, on PATH), so assets belong in the binary (go:embed)."""
from __future__ import annotations

import re

from ..settings import BuildSettings
from ..source import SourceTree
from .base import Detection, Provider

GO_MOD = "go.mod"
GO_SUM = "go.sum"
GO_VERSION = (1, 24)
MODULE = re.compile(r"^\s*module\s+(\S+)", re.M)
DIRECTIVE = re.compile(r"^\s*go\s+(\d+)\.(\d+)", re.M)
PACKAGE_MAIN = re.compile(r"^\s*package\s+main\b", re.M)
# A binary name and a package folder are written verbatim into the Dockerfile: no quoting there.
SAFE_DIR = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _has_main(tree: SourceTree, folder: str) -> bool:
    prefix = f"{folder}/" if folder else ""
    return any(f.startswith(prefix) and "/" not in f[len(prefix):] and f.endswith(".go")
               and not f.endswith("_test.go") and PACKAGE_MAIN.search(tree.read_text(f))
               for f in tree.files())


def binary_name(module: str | None) -> str:
    """The module path's last element (`example.com/shop/v2` -> `shop`), or `app`."""
    parts = [p for p in (module or "").split("/") if p]
    if len(parts) > 1 and re.fullmatch(r"v\d+", parts[-1]):
        parts.pop()  # a major-version suffix is not the program's name
    name = re.sub(r"[^a-z0-9_-]", "-", parts[-1].lower()).strip("-") if parts else ""
    return name if SAFE_DIR.fullmatch(name) else "app"


def find_main(tree: SourceTree, binary: str) -> tuple[str | None, list[str]]:
    """(the main package's folder, "" for the root, or None; notes)."""
    if _has_main(tree, ""):
        return "", ["package main at the root: built with `go build .`."]
    commands = sorted({f.split("/")[1] for f in tree.files()
                       if f.startswith("cmd/") and f.count("/") == 2 and f.endswith(".go")})
    commands = [c for c in commands if SAFE_DIR.fullmatch(c) and _has_main(tree, f"cmd/{c}")]
    if not commands:
        return None, ["No package main at the root nor in cmd/<name>/: nothing to build."]
    chosen = binary if binary in commands else commands[0]
    notes = [f"package main in cmd/{chosen}: built with `go build ./cmd/{chosen}`."]
    if len(commands) > 1:
        notes.append(f"Other commands in cmd/ ({', '.join(c for c in commands if c != chosen)}) "
                     "are not built; add a Dockerfile to build them too.")
    return f"cmd/{chosen}", notes


def detect(tree: SourceTree, settings: BuildSettings) -> Detection | None:
    if not tree.is_file(GO_MOD):
        return None
    text = tree.read_text(GO_MOD)
    module = MODULE.search(text)
    binary = binary_name(module.group(1) if module else None)
    notes = [f"go.mod found: a Go app built with Debian's Go 1.24; the image holds only the "
             f"binary /app/bin/{binary}."]
    wanted = DIRECTIVE.search(text)
    if wanted and (int(wanted.group(1)), int(wanted.group(2))) > GO_VERSION:
        notes.append(f"go.mod asks for go {wanted.group(1)}.{wanted.group(2)}, newer than 1.24: "
                     "the build fails unless the directive is lowered.")
    folder, main_notes = find_main(tree, binary)
    manifests = [GO_MOD] + ([GO_SUM] if tree.is_file(GO_SUM) else [])
    package = f"/src/{folder}" if folder else "/src"  # go build takes a rooted folder path
    return Detection(values={"manifests": manifests, "binary": binary, "package": package,
                             "vendor": tree.exists("vendor/modules.txt")},
                     web=binary if folder is not None else None,
                     notes=tuple(notes + main_notes))


PROVIDER = Provider(name="go", looks_for=(GO_MOD,), detect=detect,
                    template="build/go.Dockerfile.j2", packages=("golang-go",))
