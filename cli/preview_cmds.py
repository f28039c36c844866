"""`sentinel preview`: an app's version at its own address with its own copy of the data
(docs/previews.md)."""
from __future__ import annotations

import time
from typing import Optional

import typer

from .build_cmds import build_on_cluster, other_processes
from .client import Client
from .files import read_file
from .output import confirm, emit_json, fail, run_operation, table

preview_app = typer.Typer(no_args_is_help=True, help="Preview apps: a version at its own address "
                          "with its own copy of the app's data (docs/previews.md).")

SOURCE_HELP = "A folder (or a git URL[#ref]) built on the cluster first."


def _version(client: Client, preview_app_name: str, image: Optional[str], source: Optional[str],
             json_out: bool) -> dict:
    """The image (and, built from a source, its process types besides web) the preview runs."""
    if (image is None) == (source is None):
        fail("give --image or --source (one of them).")
    if source is not None:
        built = build_on_cluster(client, preview_app_name, source, json_out)
        return {"image": built["image"], "processes": other_processes(built)}
    return {"image": image or ""}


def _age(seconds: Optional[int]) -> str:
    if seconds is None:
        return ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if abs(seconds) >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@preview_app.command("create")
def create(app: str = typer.Argument(..., help="The app to preview."),
           name: str = typer.Option(..., "--name", help="The preview's name, e.g. pr-42: it "
                                    "answers at <name>.<app's domain>."),
           image: Optional[str] = typer.Option(None, help="The version it runs."),
           source: Optional[str] = typer.Option(None, help=SOURCE_HELP),
           data: Optional[str] = typer.Option(None, help="copy (the default for an app with a "
                                              "database): its data from its backups; empty: an "
                                              "empty database; seed: one made by --seed."),
           seed: Optional[str] = typer.Option(None, help="With --data seed: a SQL file of schema "
                                              "and rows run in the preview's new database."),
           mask: Optional[str] = typer.Option(None, help="A SQL file run on the copy before the "
                                              "preview starts (e.g. replacing emails)."),
           ttl: Optional[str] = typer.Option(None, help="How long it lives (default 72h)."),
           max_previews: Optional[int] = typer.Option(None, "--max", help="Previews the app may "
                                                      "have (default 5)."),
           env: list[str] = typer.Option([], "--env", "-e", help="NAME=value (repeat it)."),
           inherit_env: bool = typer.Option(False, "--inherit-env", help="Production's variables "
                                            "too (they may hold its secrets)."),
           json_out: bool = typer.Option(False, "--json")):
    """Create a preview of an app: one version at its own address, with its own copy of the
    app's data (masked by --mask before any request), removed when its --ttl is up."""
    if data not in (None, "copy", "empty", "seed"):
        fail(f"--data {data!r} is not valid: give copy, empty or seed.")
    client = Client()
    body = {"name": name, "data": data, "ttl": ttl, "max": max_previews, "env": env,
            "inherit_env": inherit_env}
    if mask:
        body["mask"], body["mask_name"] = read_file(mask, "--mask"), mask.rsplit("/", 1)[-1]
    if seed:
        body["seed"] = read_file(seed, "--seed")
    body.update(_version(client, f"{app}-{name}", image, source, json_out))
    run_operation(client, client.post(f"/v1/apps/{app}/previews", body), json_out=json_out,
                  done_message=lambda r: f"preview {name} of {app} answers at {r['url']}")


@preview_app.command("ls")
def ls(app: Optional[str] = typer.Argument(None, help="Only this app's."),
       json_out: bool = typer.Option(False, "--json")):
    """Previews: address, version, data (copied when, masked or not) and time left."""
    rows = Client().get("/v1/previews", params={"app": app})["previews"]
    if json_out:
        return emit_json(rows)
    table([{**r, "data_shown": r["data"] + (f" ({_age(r['data_age_seconds'])} old)"
                                             if r["data_age_seconds"] is not None else ""),
            "masked_shown": r["masked"] or ("NOT MASKED" if r["data"] == "copy" else ""),
            "left": _age(r["expires_in_seconds"]),
            "age": _age(round(time.time() - r["created_at"]))} for r in rows],
          [("app", "APP"), ("name", "PREVIEW"), ("url", "URL"), ("image", "IMAGE"),
           ("data_shown", "DATA"), ("masked_shown", "MASKED"), ("age", "AGE"), ("left", "LEFT")])


@preview_app.command("update")
def update(app: str = typer.Argument(...), name: str = typer.Argument(..., help="The preview."),
           image: Optional[str] = typer.Option(None), source: Optional[str] = typer.Option(None, help=SOURCE_HELP),
           json_out: bool = typer.Option(False, "--json")):
    """A new version of the preview (its branch's next commit); its data stays."""
    client = Client()
    new = _version(client, f"{app}-{name}", image, source, json_out)
    run_operation(client, client.post(f"/v1/apps/{app}/previews/{name}/update", new),
                  json_out=json_out, done_message=f"preview {name} of {app} runs {new['image']}")


@preview_app.command("refresh")
def refresh(app: str = typer.Argument(...), name: str = typer.Argument(..., help="The preview."),
            yes: bool = typer.Option(False, "--yes", "-y"),
            json_out: bool = typer.Option(False, "--json")):
    """Copy the app's data into the preview again (masked again); what the preview wrote is
    replaced, and it is down meanwhile."""
    confirm(f"Replace preview {name}'s data (and what it wrote) with a new copy of {app}'s?", yes)
    client = Client()
    run_operation(client, client.post(f"/v1/apps/{app}/previews/{name}/refresh"),
                  json_out=json_out, done_message=f"preview {name} of {app} has {app}'s data of now")


@preview_app.command("delete")
def delete(app: str = typer.Argument(...), name: str = typer.Argument(..., help="The preview."),
           yes: bool = typer.Option(False, "--yes", "-y"),
           json_out: bool = typer.Option(False, "--json")):
    """Remove a preview and all it has: services, routes, network, its copy of the data. The
    app itself is not touched (this command only removes previews)."""
    confirm(f"Remove preview {name} of {app}, with its copy of the data?", yes)
    client = Client()
    run_operation(client, client.delete(f"/v1/apps/{app}/previews/{name}"), json_out=json_out,
                  done_message=f"preview {name} of {app} removed")
