"""`sentinel build`: what a source folder becomes on the platform (docs/build.md)."""
from __future__ import annotations

from pathlib import Path

import typer

from .client import Client
from .output import console, emit_json, fail


def build(
    name: str = typer.Argument(..., help="The app the source is for."),
    source: Path = typer.Option(..., help="The app's folder (its .dockerignore, else .gitignore, "
                                "says what is left out)."),
    plan: bool = typer.Option(False, "--plan", help="Show what would be built: the kind detected, "
                              "the Dockerfile, the processes."),
    eject: bool = typer.Option(False, "--eject", help="Write the generated Dockerfile into the "
                               "folder, to own it (a Dockerfile in the source always wins)."),
    json_out: bool = typer.Option(False, "--json", help="The plan as JSON."),
):
    """Show what a source folder builds into (--plan), or take its Dockerfile (--eject)."""
    # The source's rules and limits are the control plane's: one packer for every build.
    from control_plane.build.source import SOURCE_LIMIT, pack
    from control_plane.errors import SentinelError

    if plan == eject:
        fail("give --plan (show what would be built) or --eject (write the Dockerfile); building "
             "on the cluster from a folder is not there yet: after --eject, `docker build` and "
             "`sentinel deploy --image` deploy it.")
    if not source.is_dir():
        fail(f"--source {source} is not a folder: give the app's folder.")
    try:
        archive, _ = pack(source, SOURCE_LIMIT)
    except (SentinelError, OSError) as e:
        fail(getattr(e, "message", None) or f"the source cannot be read ({e}).")
    out = Client().request("POST", f"/v1/apps/{name}/build-plan", content=archive, timeout=120)
    if eject:
        if out["dockerfile_path"]:
            fail(f"{source / out['dockerfile_path']} is already the source's Dockerfile: "
                 "there is nothing to eject.")
        target = source / "Dockerfile"
        target.write_text(out["dockerfile"])
        console().print(f"wrote {target} ({out['kind']} app); it is built from now on instead of "
                        "a generated one.")
        return
    if json_out:
        emit_json(out)
        return
    con = console()
    con.print(f"{name}: a {out['kind']} app, {out['files']} file(s)")
    for note in out["notes"]:
        con.print(f"  {note}")
    for proc, command in out["processes"].items():
        con.print(f"  process {proc}: {command}")
    if out["release"]:
        con.print(f"  release: {out['release']}")
    con.print(("Dockerfile (" + (out["dockerfile_path"] or "generated") + "):"))
    con.print(out["dockerfile"], markup=False, highlight=False)
