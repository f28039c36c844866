"""`sentinel build`: what a source folder becomes on the platform (docs/build.md)."""
from __future__ import annotations

from pathlib import Path

import typer
from control_plane.git.fetch import looks_like_git  # the standard library only

from .client import Client
from .output import console, emit_json, fail, run_operation, table


def pack_source(source: Path) -> bytes:
    """The folder as the control plane takes it (its rules and limits: one packer for every
    build)."""
    # Imported here: every command would otherwise pay for loading them at start (bench/cli_start.py).
    from control_plane.build.source import SOURCE_LIMIT, pack
    from control_plane.errors import SentinelError

    if not source.is_dir():
        fail(f"--source {source} is not a folder: give the app's folder.")
    try:
        archive, _ = pack(source, SOURCE_LIMIT)
    except (SentinelError, OSError) as e:
        fail(getattr(e, "message", None) or f"the source cannot be read ({e}).")
    return archive


def is_git(source: str) -> bool:
    return looks_like_git(source) and not Path(source).is_dir()


def other_processes(built: dict) -> dict[str, str]:
    """The built source's process types besides web (its Procfile's `worker`, …); a source with
    nothing to route is refused before it is deployed."""
    from control_plane.build.plan import besides_web, no_web  # loads the templates: only after a build

    why = no_web(built.get("kind", ""), built.get("processes") or {})
    if why:
        fail(why[0].upper() + why[1:] + " Nothing was deployed.")
    return besides_web(built.get("processes") or {})


def build_params(options: dict | None) -> dict:
    """sentinel.yaml's `build:` as the query of a folder's build (the tarball is the body)."""
    o = options or {}
    out: dict = {k: o[k] for k in ("context", "dockerfile", "base") if o.get(k)}
    args = [f"{k}={v}" for k, v in sorted((o.get("args") or {}).items())]
    return {**out, "arg": args} if args else out


def build_on_cluster(client: Client, app: str, source: str, json_out: bool = False,
                     options: dict | None = None) -> dict:
    """Build the folder (or the git URL, fetched by the control plane) on the cluster, its steps
    shown as they run; the build's result, whose `image` a deploy or canary then uses. A failed
    build ends here: nothing is deployed. `options`: sentinel.yaml's `build:`."""
    if is_git(source):
        started = client.post(f"/v1/apps/{app}/builds/git",
                              {"source": source, **({"build": options} if options else {})})
    else:
        started = client.request("POST", f"/v1/apps/{app}/builds", content=pack_source(Path(source)),
                                 params=build_params(options), timeout=300)
    return run_operation(client, started, json_out=json_out, emit=False,
                         done_message=lambda r: f"built {r['image']} ({r['kind']}, "
                                                f"{r['result']} in {r['seconds']} s)")


def build(
    name: str = typer.Argument(..., help="The app the source is for."),
    source: str = typer.Option(..., help="The app's folder (its .dockerignore, else .gitignore, "
                               "says what is left out), or a git URL[#ref] the control plane "
                               "fetches."),
    plan: bool = typer.Option(False, "--plan", help="Show what would be built: the kind detected, "
                              "the Dockerfile, the processes."),
    eject: bool = typer.Option(False, "--eject", help="Write the generated Dockerfile into the "
                               "folder, to own it (a Dockerfile in the source always wins)."),
    json_out: bool = typer.Option(False, "--json", help="The plan as JSON."),
    dockerfile: str | None = typer.Option(None, help="A Dockerfile path in the context (default: "
                                          "./Dockerfile, else one generated for its kind)."),
    context: str = typer.Option(".", help="The folder of the source the build runs in."),
    build_arg: list[str] = typer.Option([], "--build-arg", help="NAME=value, a build argument "
                                        "(repeat it)."),
):
    """Build a source folder on the cluster (the image goes to the cluster registry; nothing is
    deployed), show what it builds into (--plan), or take its Dockerfile (--eject)."""
    if plan and eject:
        fail("give --plan (show what would be built) or --eject (write the Dockerfile), not both.")
    options = {"context": context, "dockerfile": dockerfile, "args": {}}
    for a in build_arg:
        key, eq, value = a.partition("=")
        if not eq or not key:
            fail(f"--build-arg {a!r} is not NAME=value.")
        options["args"][key] = value
    if not plan and not eject:
        result = build_on_cluster(Client(), name, source, json_out, options)
        if json_out:
            emit_json(result)
        return
    if is_git(source):
        fail("--plan and --eject read a folder: clone the repository and give its folder.")
    folder = Path(source)
    out = Client().request("POST", f"/v1/apps/{name}/build-plan", content=pack_source(folder),
                           params=build_params(options), timeout=120)
    if eject:
        if out["dockerfile_path"]:
            fail(f"{folder / out['dockerfile_path']} is already the source's Dockerfile: "
                 "there is nothing to eject.")
        target = folder / context / "Dockerfile"
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


def builds(name: str = typer.Argument(..., help="The app."),
           json_out: bool = typer.Option(False, "--json")):
    """The app's builds from source: id, source hash, kind, result, time, size, image."""
    rows = Client().get(f"/v1/apps/{name}/builds")["builds"]
    if json_out:
        return emit_json(rows)
    import time as _time

    table([{**b, "at": _time.strftime("%Y-%m-%d %H:%M:%S", _time.localtime(b["started_at"])),
            "took": f"{b['seconds']:.1f}s", "size": f"{(b['size_bytes'] or 0) / 2**20:.0f} MiB"
            if b["size_bytes"] else "", "result": b["result"] + (f": {b['error']}" if b["error"] else "")}
           for b in reversed(rows)],
          [("id", "ID"), ("source", "SOURCE"), ("kind", "KIND"), ("result", "RESULT"), ("at", "STARTED"),
           ("took", "TOOK"), ("size", "SIZE"), ("image", "IMAGE")])
