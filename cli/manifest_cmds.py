"""apply / diff / export: an app described by sentinel.yaml."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from .build_cmds import build_on_cluster, is_git
from .client import Client
from .files import read_file
from .output import confirm, console, emit_json, fail, run_operation

FILE_HELP = "The app's sentinel.yaml."


def load(path: str, client: Client | None = None, quiet: bool = False) -> dict:
    """The API body for a manifest file: parsed and checked here (key paths, before any call),
    with the text of every file it names, read relative to the manifest. A file that gives
    `source:` instead of `image:` has that folder (or git URL) built on the cluster first, and
    the image built stands in its place."""
    from control_plane import manifest as mf

    text = read_file(path, "manifest")
    name, folder = Path(path).name, Path(path).parent
    try:
        data = mf.load_data(text, source=name)
        source = mf.source_of(data, name)
        if source is not None:
            target = source if is_git(source) else str(folder / source)
            app = data.get("app") if isinstance(data.get("app"), str) else ""
            mf.parse(mf.with_image(data, f"{app or 'app'}:source"), name)  # the rest, before a build
            options = mf.build_of(data, name)
            built = build_on_cluster(client or Client(), app, target, json_out=quiet,
                                     options=options.model_dump() if options else None)
            data = mf.with_image(data, built["image"])
        m = mf.parse(data, name)
    except mf.ManifestError as e:
        fail(e.message)

    def read(rel: str) -> str | None:
        p = folder / rel
        return read_file(str(p), rel) if p.is_file() else None
    try:
        files = mf.files_named(m, read, name)
    except mf.ManifestError as e:
        fail(e.message)
    return {"manifest": m.model_dump(mode="json", by_alias=True), "files": files, "source": name}


def _print_changes(lines: list[str]) -> None:
    con = console()
    for line in lines:
        con.print(line, markup=False)


def apply(file: str = typer.Option(..., "--file", "-f", help=FILE_HELP),
          yes: bool = typer.Option(False, "--yes", "-y"),
          json_out: bool = typer.Option(False, "--json")):
    """Create or update the app as sentinel.yaml says.

    Shows the changes first (as `sentinel diff`), then makes them: an image change starts a
    canary by the file's `canary:` section, or a rolling update without one. A file with
    `source:` (a folder relative to it, or a git URL) instead of `image:` is built first."""
    body = load(file, quiet=json_out)  # the file is checked before the control plane is asked
    client = Client()
    plan = client.post("/v1/manifest/diff", body)
    if not plan["changes"]:
        if json_out:
            return emit_json({"app": plan["app"], "changes": [], "operation": None})
        console().print(f"nothing to change: {plan['app']} is as {body['source']} says")
        return
    if not json_out:
        _print_changes(plan["lines"])
    confirm(f"Apply {len(plan['changes'])} change(s) to {plan['app']}?", yes)
    started = client.post("/v1/manifest/apply", body)
    if not started.get("operation"):  # someone else made the same changes meanwhile
        console().print(f"nothing to change: {plan['app']} is as {body['source']} says")
        return

    def done(r):
        if r.get("canary"):
            c = r["canary"]
            return (f"canary {c['image']} " + (f"takes {c['weight']}% of the traffic" if c["weight"]
                                               else f"is mirrored {c.get('mirror')}% of the reads")
                    + f"; follow it with `sentinel canary status {plan['app']}`")
        d = r.get("deployed") or (r if r.get("url") else None)
        if d:
            return f"{d['name']} runs {d['image']} at {d['url']}"
        return f"{plan['app']} is as {body['source']} says"

    run_operation(client, started, json_out=json_out, done_message=done)


def diff(file: str = typer.Option(..., "--file", "-f", help=FILE_HELP),
         json_out: bool = typer.Option(False, "--json")):
    """What `sentinel apply` would change, and nothing else.

    Exit code 0: nothing would change; 1: something would; 2: the file or the control plane
    could not be read (like diff(1), so CI can tell a change from a failure)."""
    from .client import ClientError
    from .output import Failure

    try:
        body = load(file, quiet=True)
        plan = Client().post("/v1/manifest/diff", body)
    except Failure as e:
        raise Failure(str(e), exit_code=2, code=e.code)
    except ClientError as e:
        raise Failure(e.message, exit_code=2, code=e.code)
    if json_out:
        emit_json({"app": plan["app"], "changes": plan["changes"]})
    elif plan["changes"]:
        _print_changes(plan["lines"])
    else:
        console().print(f"no changes: {plan['app']} is as {body['source']} says")
    if plan["changes"]:
        raise typer.Exit(1)


def export(app: str = typer.Argument(..., help="The app to describe."),
           output: Optional[str] = typer.Option(None, "--output", "-o",
                                                help="Write the file here instead of stdout.")):
    """The running app as a sentinel.yaml (YAML on stdout).

    Its production version and release policy: `sentinel apply` of it changes nothing."""
    data = Client().get(f"/v1/apps/{app}/manifest")
    if data.get("canary"):
        sys.stderr.write(f"note: {app} has a canary running; the file describes production.\n")
    if output:
        try:
            Path(output).write_text(data["yaml"])
        except OSError as e:
            fail(f"cannot write {output}: {e.strerror}.")
        return
    sys.stdout.write(data["yaml"])
