"""Node: package.json; Debian's nodejs (trixie: Node 20), and npm in the stages that install.

`npm ci` when a lockfile exists (else `npm install`), `npm run build` when a build script exists.
The start command, unless the Procfile gives `web`: the `start` script (run by sh with
node_modules/.bin on PATH, as npm would run it, but without npm in between: node is then PID 1
and gets SIGTERM), else `node <main>`, else index.js, server.js or app.js.
"""
from __future__ import annotations

import json
import re
import shlex

from ...errors import InvalidInput
from ..procfile import parse_procfile
from ..settings import BuildSettings
from ..source import SourceTree
from .base import Detection, Provider

PACKAGE = "package.json"
LOCKFILES = ("package-lock.json", "npm-shrinkwrap.json")
OTHER_LOCKFILES = ("yarn.lock", "pnpm-lock.yaml", "bun.lockb")
ENTRY_FILES = ("index.js", "server.js", "app.js", "main.js")
# npm (and its 300-odd Debian dependencies) is in the final image only when a command needs it.
CALLS_NPM = re.compile(r"(?<![\w./-])(npm|npx)(?![\w.-])")


class PackageJsonError(InvalidInput):
    pass


def read_package(tree: SourceTree) -> dict:
    try:
        data = json.loads(tree.read_text(PACKAGE))
    except ValueError as e:
        raise PackageJsonError(f"package.json is not valid JSON ({e}); fix it.") from None
    if not isinstance(data, dict):
        raise PackageJsonError("package.json is not a JSON object; fix it.")
    return data


def start_command(tree: SourceTree, package: dict) -> tuple[str | None, str]:
    """(the web command or None, a note saying where it came from)."""
    scripts = package.get("scripts") if isinstance(package.get("scripts"), dict) else {}
    start = scripts.get("start")
    if isinstance(start, str) and start.strip():
        return start.strip(), "web runs package.json's start script (node_modules/.bin on PATH)."
    main = package.get("main")
    if isinstance(main, str) and tree.is_file(main):
        return f"node {shlex.quote(main)}", f"No start script: web runs `node {main}` (main)."
    entry = next((f for f in ENTRY_FILES if tree.is_file(f)), None)
    if entry:
        return f"node {entry}", f"No start script nor main: web runs `node {entry}`."
    return None, "No start script, main or index.js/server.js/app.js: nothing to start."


def detect(tree: SourceTree, settings: BuildSettings) -> Detection | None:
    if not tree.is_file(PACKAGE):
        return None
    package = read_package(tree)
    scripts = package.get("scripts") if isinstance(package.get("scripts"), dict) else {}
    lockfile = next((f for f in LOCKFILES if tree.is_file(f)), None)
    build = isinstance(scripts.get("build"), str) and bool(scripts["build"].strip())
    notes = ["package.json found: a Node app on Debian's nodejs (20)."]
    if lockfile:
        notes.append(f"{lockfile} found: `npm ci` installs exactly the locked dependencies.")
    else:
        notes.append("No package-lock.json: `npm install` (add the lockfile for repeatable builds).")
        for other in OTHER_LOCKFILES:
            if tree.is_file(other):
                notes.append(f"{other} is not used: only npm is installed.")
    if build:
        notes.append("A build script: `npm run build` runs after the code is copied, "
                     "with the devDependencies, which are then pruned.")
    else:
        notes.append("No build script: devDependencies are not installed.")
    engines = package.get("engines") if isinstance(package.get("engines"), dict) else {}
    if isinstance(engines.get("node"), str):
        notes.append(f"engines.node ({engines['node']}) is not followed: the image has Node 20.")
    web, note = start_command(tree, package)
    notes.append(note)
    commands = [web or ""]
    if tree.is_file("Procfile"):
        commands += parse_procfile(tree.read_text("Procfile")).values()
    npm_at_runtime = any(CALLS_NPM.search(c) for c in commands)
    if npm_at_runtime:
        notes.append("A command calls npm or npx: npm stays in the image (about 300 packages).")
    manifests = [PACKAGE] + ([lockfile] if lockfile else [])
    return Detection(values={"manifests": manifests, "ci": lockfile is not None, "build": build,
                             "tools": ["npm"], "npm_at_runtime": npm_at_runtime},
                     web=web, notes=tuple(notes))


PROVIDER = Provider(name="node", looks_for=(PACKAGE,), detect=detect,
                    template="build/node.Dockerfile.j2", packages=("nodejs",))
