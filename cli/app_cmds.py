"""deploy, apps, inspect app/logs, scale app, delete app."""
from __future__ import annotations

import sys
from typing import List, Optional

import typer

from .build_cmds import build_on_cluster, other_processes
from .client import Client
from .files import read_file
from .output import ask, confirm, emit_json, fail, run_operation, table, console
from .release_opts import options as _release_options, release_body

_R = _release_options()

inspect_app = typer.Typer(help="Look at an app.", no_args_is_help=True)
scale_app = typer.Typer(help="Scale an app.", no_args_is_help=True)
delete_app = typer.Typer(help="Delete an app.", no_args_is_help=True)


def resources_body(cpu: Optional[float], memory: Optional[str]) -> Optional[dict]:
    """--cpu/--memory, checked here so a typo fails before any call."""
    if cpu is None and memory is None:
        return None
    from control_plane.errors import InvalidInput
    from control_plane.validation import resources

    try:
        return resources({"cpu": cpu, "memory": memory})
    except InvalidInput as e:
        fail(f"--{e.message}")


def deploy(
    name: Optional[str] = typer.Option(None, help="App name (a DNS label, at most 40 chars)."),
    image: Optional[str] = typer.Option(None, help="Image: local (pushed to the cluster) or registry reference."),
    source: Optional[str] = typer.Option(None, help="The app's folder (or a git URL[#ref] the "
                                         "control plane fetches) instead of an image: built on the "
                                         "cluster (its Dockerfile, else one generated for its "
                                         "kind; docs/build.md)."),
    port: Optional[int] = typer.Option(None, help="Port the app listens on."),
    domain: List[str] = typer.Option([], help="Domain (default <name>.<cluster domain>); repeat "
                                      "for several, the first being the main one."),
    db: Optional[str] = typer.Option(None, help="'postgres' to give the app a database."),
    db_schema: Optional[str] = typer.Option(None, help="SQL file applied once before the first task starts."),
    db_ha: Optional[bool] = typer.Option(None, "--db-ha/--no-db-ha",
                                         help="A standby on another node that takes over (default: on with 2+ nodes)."),
    env: List[str] = typer.Option([], help="KEY=VALUE, repeatable."),
    replicas: int = typer.Option(1, help="Number of tasks."),
    cpu: Optional[float] = typer.Option(None, help="CPU cores per task, limit and reservation (e.g. 0.5)."),
    memory: Optional[str] = typer.Option(None, help="Memory per task, limit and reservation (e.g. 256Mi)."),
    health_path: Optional[str] = typer.Option(None, help="Health path gating updates ('' for none; "
                                              "default /healthz, or what the build suggests)."),
    release_command: Optional[str] = _R["release_command"],
    release_sql: Optional[str] = _R["release_sql"],
    release_timeout: Optional[str] = _R["release_timeout"],
    allow_destructive: bool = _R["allow_destructive"],
    skip_check: bool = _R["skip_check"],
    smoke_command: Optional[str] = _R["smoke_command"],
    check_path: Optional[str] = _R["check_path"],
    yes: bool = typer.Option(False, "--yes", "-y"),
    json_out: bool = typer.Option(False, "--json"),
):
    """Deploy an app, or update it in place (rolling, start-first, health-gated)."""
    release = release_body(release_command, release_sql, release_timeout, allow_destructive,
                           skip_check, smoke_command, check_path)
    name = ask(name, "App name?", flag="--name")
    if source is not None and image is not None:
        fail("give --image or --source, not both.")
    if source is None:
        image = ask(image, "Image?", flag="--image")
    port = int(ask(port, "Port the app listens on?", default=8000, flag="--port"))
    if db is None and sys.stdin.isatty():
        db = "postgres" if ask(None, "Database?", default="none", choices=["none", "postgres"],
                               flag="--db") == "postgres" else None
    if db not in (None, "postgres"):
        fail(f"--db {db!r} is not supported: use --db postgres or leave it out.")
    schema = read_file(db_schema, "schema file") if db_schema else None
    if schema is not None and not db:
        fail("--db-schema needs --db postgres.")
    confirm(f"Deploy {image or f'{source} (built on the cluster)'} as {name}?", yes)
    client = Client()
    processes = None
    if source is not None:
        built = build_on_cluster(client, name, source, json_out)
        image, processes = built["image"], other_processes(built)
        if health_path is None:
            health_path = built.get("health_path") or "/healthz"
    body = {"name": name, "image": image, "port": port, "domains": list(domain) or None, "db": db,
            "db_schema": schema, "db_ha": db_ha, "env": list(env), "replicas": replicas,
            "health_path": "/healthz" if health_path is None else health_path or None,
            "release": release, "resources": resources_body(cpu, memory), "processes": processes}
    run_operation(client, client.post("/v1/apps", body), json_out=json_out,
                  done_message=lambda r: f"{r['name']} runs {r['image']} at {r['url']}")


def apps(json_out: bool = typer.Option(False, "--json")):
    """List apps: name, domain, image, replicas ready/desired, canary?, db?"""
    rows = Client().get("/v1/apps")
    if json_out:
        return emit_json(rows)
    table(rows, [("name", "NAME"), ("domain", "DOMAIN"), ("image", "IMAGE"), ("ready", "READY"),
                 ("canary", "CANARY"), ("db", "DB")])


@inspect_app.command("app")
def inspect_one(name: str, json_out: bool = typer.Option(False, "--json")):
    """Services, tasks (state, node, age), node CPU/memory/disk."""
    data = Client().get(f"/v1/apps/{name}")
    if json_out:
        return emit_json(data)
    a = data["app"]
    console().print(f"[bold]{a['name']}[/] {a['image']} at {a['url']} (db: {'yes' if a['db'] else 'no'})")
    table(data["services"], [("name", "SERVICE"), ("image", "IMAGE"), ("replicas", "REPLICAS")])
    table(data["tasks"], [("name", "TASK"), ("node", "NODE"), ("state", "STATE"), ("error", "ERROR")])
    gib = lambda b: f"{(b or 0) / 2**30:.1f}"
    table([{**n, "mem": f"{gib(n.get('memory_used_bytes'))}/{gib(n.get('memory_bytes'))} GiB",
            "disk": f"{gib(n.get('disk_used_bytes'))}/{gib(n.get('disk_bytes'))} GiB"}
           for n in data["nodes"]],
          [("name", "NODE"), ("state", "STATE"), ("cpus", "CPUS"), ("load1", "LOAD"),
           ("mem", "MEMORY"), ("disk", "DISK")])


@inspect_app.command("logs")
def logs(name: str, canary: bool = typer.Option(False, "--canary"),
         db: bool = typer.Option(False, "--db"), tail: int = typer.Option(100),
         since: Optional[str] = typer.Option(None, help="e.g. 10m"),
         process: Optional[str] = typer.Option(None, "--process", help="A process type besides "
                                               "web (the Procfile's worker, …)."),
         follow: bool = typer.Option(False, "--follow", "-f")):
    """The app's logs (or its canary's, or its database's, or a process type's); --follow streams
    them until Ctrl-C."""
    role = "db" if db else "canary" if canary else "production"
    if db and process:
        fail("give --db or --process, not both.")
    client = Client()
    params = {k: v for k, v in {"role": role, "tail": tail, "since": since,
                                "process": process}.items() if v is not None}
    if not follow:
        for line in client.get(f"/v1/apps/{name}/logs", params=params)["lines"]:
            print(line, flush=True)
        return
    try:
        for line in client.stream_lines(f"/v1/apps/{name}/logs/follow", params=params):
            print(line, flush=True)
    except KeyboardInterrupt:  # the usual way to stop following: no traceback, no message
        raise typer.Exit(130)


@scale_app.command("process")
def scale_process(name: str = typer.Argument(..., help="The app."),
                  counts: List[str] = typer.Argument(..., help="TYPE=N, e.g. worker=3"),
                  json_out: bool = typer.Option(False, "--json")):
    """Change the replicas of the app's process types besides web (sentinel scale process shop
    worker=3)."""
    replicas = {}
    for item in counts:
        proc, sep, n = item.partition("=")
        if not sep or not n.strip().isdigit():
            fail(f"{item!r}: give TYPE=N, e.g. worker=3.")
        replicas[proc.strip()] = int(n)
    client = Client()
    run_operation(client, client.post(f"/v1/apps/{name}/scale-processes", {"replicas": replicas}),
                  json_out=json_out, done_message=lambda r: f"{r['name']}: " + ", ".join(
                      f"{k} {v['replicas']}" for k, v in sorted(r["processes"].items())))


@scale_app.command("app")
def scale(name: str, replicas: int = typer.Option(..., help="The new number of tasks."),
          json_out: bool = typer.Option(False, "--json")):
    """Change an app's replica count without dropping requests."""
    client = Client()
    run_operation(client, client.post(f"/v1/apps/{name}/scale", {"replicas": replicas}),
                  json_out=json_out, done_message=lambda r: f"{r['name']} has {r['replicas']} replica(s)")


@delete_app.command("app")
def delete(name: str, keep_data: bool = typer.Option(False, "--keep-data", help="Keep the database's volumes and backups."),
           delete_data: bool = typer.Option(False, "--delete-data", help="Delete the database and its backups too."),
           yes: bool = typer.Option(False, "--yes", "-y"),
           json_out: bool = typer.Option(False, "--json")):
    """Remove an app: services, network, secrets; an app with a database needs --keep-data or --delete-data."""
    confirm(f"Delete app {name}" + (" with its database and backups" if delete_data else "") + "?", yes)
    client = Client()
    run_operation(client, client.delete(f"/v1/apps/{name}", params={"keep_data": keep_data,
                                                                    "delete_data": delete_data}),
                  json_out=json_out, done_message=f"{name} deleted")


def run(app: str = typer.Argument(..., help="The app whose environment, secrets and network the command gets."),
        command: List[str] = typer.Argument(..., help="The command, after `--`."),
        image: Optional[str] = typer.Option(None, help="Run from this image (default: production's)."),
        timeout: str = typer.Option("10m", help="Stop the command after this long."),
        json_out: bool = typer.Option(False, "--json")):
    """Run a command once, like `heroku run`: `sentinel run todos -- python migrate.py status`.
    Exits with the command's exit code."""
    from control_plane.metrics import parse_duration

    command = list(command)
    if command and command[0] == "--":  # `sentinel run APP -- CMD`: the separator is not the command
        command = command[1:]
    if not command:
        fail("give the command to run after `--`, e.g. `sentinel run todos -- python migrate.py status`.")
    try:
        seconds = parse_duration(timeout)
    except ValueError:
        fail(f"--timeout {timeout!r} is not a duration like 90s, 10m or 1h.")
    client = Client()
    result = run_operation(client, client.post(f"/v1/apps/{app}/run", {"command": list(command),
                                                                       "image": image,
                                                                       "timeout": seconds}),
                           json_out=json_out,
                           done_message=lambda r: f"exit code {r['exit_code']} ({r['seconds']} s)")
    raise typer.Exit(int(result.get("exit_code", 1)))
