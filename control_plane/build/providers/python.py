"""Python: requirements.txt or pyproject.toml; Debian's python3 (trixie: 3.13), a venv in /opt/venv.

The start command, unless the Procfile gives `web`: a WSGI/ASGI app found in the code, served by
gunicorn/uvicorn when the dependencies list them; else `python3 app.py` (or main.py).
"""
from __future__ import annotations

import re
import tomllib

from ...errors import InvalidInput
from ..settings import BuildSettings
from ..source import SourceTree
from .base import Detection, Provider

REQUIREMENTS = "requirements.txt"
PYPROJECT = "pyproject.toml"
# Looked at first, in this order; then every other top-level .py file.
ENTRY_FILES = ("app.py", "main.py", "wsgi.py", "asgi.py", "server.py", "application.py")
SCRIPTS = ("app.py", "main.py")
ASGI = re.compile(r"^(\w+)\s*=\s*(?:\w+\.)?(FastAPI|Starlette|Quart|Litestar)\(", re.M)
WSGI = re.compile(r"^(\w+)\s*=\s*(?:\w+\.)?(Flask|Bottle|App|API)\(", re.M)
WSGI_FUNCTION = re.compile(r"^def\s+(\w+)\s*\(\s*environ\s*,\s*start_response\b", re.M)
MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
VERSION_FILES = ("runtime.txt", ".python-version")


class PyprojectError(InvalidInput):
    pass


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(lines: list[str]) -> set[str]:
    """Distribution names in requirement lines (options, includes and URLs skipped)."""
    names = set()
    for line in lines:
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-", "git+", "http:", "https:", "file:", ".")):
            continue
        match = REQUIREMENT_NAME.match(line)
        if match:
            names.add(_normalise(match.group(1)))
    return names


def pyproject_dependencies(text: str) -> list[str]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PyprojectError(f"pyproject.toml is not valid TOML ({e}); fix it, or add a "
                             "requirements.txt.") from None
    deps = data.get("project", {}).get("dependencies", [])
    return [d for d in deps if isinstance(d, str)]


def find_entry(tree: SourceTree) -> tuple[str, str, str] | None:
    """(interface "wsgi"|"asgi", "module:variable", file) of the first web app found."""
    # Django: manage.py beside <project>/wsgi.py (and asgi.py).
    if tree.is_file("manage.py"):
        for path in tree.files():
            parts = path.split("/")
            if len(parts) == 2 and parts[1] == "wsgi.py" and MODULE.fullmatch(parts[0]):
                return "wsgi", f"{parts[0]}.wsgi:application", path
    top = [f for f in tree.files() if "/" not in f and f.endswith(".py")]
    ordered = [f for f in ENTRY_FILES if f in top] + [f for f in top if f not in ENTRY_FILES]
    for path in ordered:
        module = path[:-3]
        if not MODULE.fullmatch(module):
            continue
        try:
            text = tree.read_text(path)
        except InvalidInput:
            continue
        for interface, pattern in (("asgi", ASGI), ("wsgi", WSGI), ("wsgi", WSGI_FUNCTION)):
            match = pattern.search(text)
            if match:
                return interface, f"{module}:{match.group(1)}", path
    return None


def start_command(tree: SourceTree, deps: set[str], manifest: str) -> tuple[str | None, list[str]]:
    """(the web command or None, notes)."""
    entry = find_entry(tree)
    script = next((s for s in SCRIPTS if tree.is_file(s)), None)
    if entry:
        interface, target, path = entry
        if interface == "wsgi" and "gunicorn" in deps:
            return (f"gunicorn --bind 0.0.0.0:$PORT {target}",
                    [f"{path} defines the WSGI app {target} and gunicorn is in {manifest}: "
                     "web runs gunicorn on $PORT."])
        if interface == "asgi" and "uvicorn" in deps:
            return (f"uvicorn {target} --host 0.0.0.0 --port $PORT",
                    [f"{path} defines the ASGI app {target} and uvicorn is in {manifest}: "
                     "web runs uvicorn on $PORT."])
        server = "gunicorn" if interface == "wsgi" else "uvicorn"
        note = (f"{path} defines the {interface.upper()} app {target} but {server} is not in "
                f"{manifest}; add it to serve the app with {server}.")
        if script:
            return f"python3 {script}", [note, f"web runs `python3 {script}`, which must listen "
                                               "on $PORT."]
        return None, [note]
    if script:
        return f"python3 {script}", [f"No WSGI/ASGI app found: web runs `python3 {script}`, "
                                     "which must listen on $PORT."]
    return None, []


def detect(tree: SourceTree, settings: BuildSettings) -> Detection | None:
    if tree.is_file(REQUIREMENTS):
        manifest = REQUIREMENTS
        deps = requirement_names(tree.read_text(REQUIREMENTS).splitlines())
    elif tree.is_file(PYPROJECT):
        manifest = PYPROJECT
        deps = requirement_names(pyproject_dependencies(tree.read_text(PYPROJECT)))
    else:
        return None
    notes = [f"{manifest} found: a Python app on Debian's python3 (3.13); its dependencies are "
             "installed into /opt/venv before the code is copied."]
    if manifest == PYPROJECT:
        notes.append("pyproject.toml's [project].dependencies are installed; the project itself "
                     "is not pip-installed: it runs from /app.")
    for path in VERSION_FILES:
        if tree.is_file(path):
            notes.append(f"{path} is not followed: the image has Debian trixie's Python 3.13.")
    web, start_notes = start_command(tree, deps, manifest)
    return Detection(values={"requirements": manifest == REQUIREMENTS, "manifest": manifest},
                     web=web, notes=tuple(notes + start_notes))


PROVIDER = Provider(name="python", looks_for=(REQUIREMENTS, PYPROJECT), detect=detect,
                    template="build/python.Dockerfile.j2", packages=("python3", "python3-venv"))
