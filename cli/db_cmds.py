"""sentinel db: status, backups, restores, drills, switchover, HA, psql."""
from __future__ import annotations

import sys
from typing import Optional

import typer

from .client import Client
from .files import read_file
from .output import confirm, console, emit_json, run_operation, table

db_app = typer.Typer(help="An app's database: backups, restores, failover.", no_args_is_help=True)


def _mib(b) -> str:
    return "-" if b is None else f"{b / 2**20:.1f} MiB"


@db_app.command("status")
def status(app: str, json_out: bool = typer.Option(False, "--json")):
    """Primary and standbys (node, state, lag), archiving, recoverable window, backups, last drill."""
    s = Client().get(f"/v1/apps/{app}/db")
    if json_out:
        return emit_json(s)
    import time

    con = console()
    from rich.markup import escape  # with rich, which console() loaded (CLI start time)

    p = s.get("primary")
    con.print(f"[bold]{app}[/] database, {'HA' if s['ha'] else 'single copy'}; primary: "
              + (f"{p['member']} on {p['node']} (timeline {p['timeline']})" if p else "[red]none running[/]"))
    table([{**m, "lag": "-" if m["role"] == "primary" else _mib(m["lag_bytes"]),
            "sync": "yes" if m["sync"] else ""} for m in s["members"]],
          [("member", "MEMBER"), ("node", "NODE"), ("role", "ROLE"), ("state", "STATE"),
           ("lag", "LAG"), ("sync", "SYNC")])
    a = s.get("archive") or {}
    con.print(f"last archived WAL: {a.get('last_archived_wal') or '-'} at "
              f"{a.get('last_archived_at') or '-'}" + (f" ({a['failed_count']} failed attempts)"
                                                        if a.get("failed_count") else ""))
    r = s.get("recoverable")
    con.print("recoverable: " + (f"{r['from']} .. {r['to'] or 'unknown'}" if r else "nothing yet (no backup)"))
    repo = s.get("repository") or {}
    if repo.get("status") != "ok":
        con.print(f"[yellow]backup repository: {repo.get('status')}[/] {repo.get('message', '')}")
    lb = s.get("last_backup")
    con.print("last backup: " + (f"{lb['label']} ({lb['type']}, {_mib(lb['size_bytes'])}) at {lb['stop']}"
                                 if lb else "none"))
    d = s.get("last_drill")
    con.print("last restore drill: " + (f"{'passed' if d['passed'] else 'FAILED'} at {d['at']}: {d['summary']}"
                                        if d else "never"))
    f = s.get("schedule_failure")
    if f:
        what = "backup" if f["kind"] == "db-backup" else "restore drill"
        con.print(f"[red]the scheduled {what} failed[/] at "
                  f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(f['at']))}: {escape(f['error'])} "
                  f"(operation {f['operation']}; the schedule tries again)")
    for tip in s.get("actions") or []:
        con.print(f"[yellow]![/] {tip}")


@db_app.command("backups")
def backups(app: str, json_out: bool = typer.Option(False, "--json")):
    """Backups in the repository and the recoverable window."""
    b = Client().get(f"/v1/apps/{app}/db/backups")
    if json_out:
        return emit_json(b)
    table([{**x, "size": _mib(x["size_bytes"]), "repo": _mib(x["repo_bytes"])} for x in b["backups"]],
          [("label", "LABEL"), ("type", "TYPE"), ("start", "STARTED"), ("stop", "FINISHED"),
           ("size", "SIZE"), ("repo", "IN REPO")])
    r = b.get("recoverable")
    console().print("recoverable: " + (f"{r['from']} .. {r['to'] or 'unknown'}" if r else "nothing yet"))


@db_app.command("backup")
def backup(app: str, type: str = typer.Option("full", "--type", help="full, diff or incr."),
           json_out: bool = typer.Option(False, "--json")):
    """Take a backup now (scheduled ones run by themselves)."""
    client = Client()
    run_operation(client, client.post(f"/v1/apps/{app}/db/backups", {"type": type}),
                  json_out=json_out,
                  done_message=lambda r: f"backup {r['label']} of {app} done in {r['seconds']} s")


@db_app.command("switchover")
def switchover(app: str, to: Optional[str] = typer.Option(None, help="Member to promote (default: the sync standby)."),
               yes: bool = typer.Option(False, "--yes", "-y"), json_out: bool = typer.Option(False, "--json")):
    """Planned: a standby becomes primary (a second of errors for open connections, nothing lost)."""
    confirm(f"Hand {app}'s primary over to {to or 'its synchronous standby'}?", yes)
    client = Client()
    run_operation(client, client.post(f"/v1/apps/{app}/db/switchover", {"to": to}), json_out=json_out,
                  done_message=lambda r: f"{r['primary']} on {r['node']} is {app}'s primary")


@db_app.command("ha")
def ha(app: str, on: bool = typer.Option(..., "--on/--off", help="Add or remove the standby."),
       node: Optional[str] = typer.Option(None, help="With --on: the node for the standby."),
       yes: bool = typer.Option(False, "--yes", "-y"), json_out: bool = typer.Option(False, "--json")):
    """Add a standby on another node (--on) or keep a single copy (--off)."""
    if not on:
        confirm(f"Remove {app}'s standby? Its database then lives on one node only "
                "(plus its backups).", yes)
    client = Client()
    run_operation(client, client.post(f"/v1/apps/{app}/db/ha", {"enabled": on, "node": node}),
                  json_out=json_out,
                  done_message=lambda r: f"{app}'s database: members {', '.join(r['members'])}")


@db_app.command("rebuild")
def rebuild(app: str, json_out: bool = typer.Option(False, "--json")):
    """Rebuild members whose node is gone, on other nodes (from the primary or the repository)."""
    client = Client()
    run_operation(client, client.post(f"/v1/apps/{app}/db/rebuild", {}), json_out=json_out,
                  done_message=lambda r: r.get("message", "done"))


@db_app.command("psql")
def psql(app: str, command: Optional[str] = typer.Option(None, "-c", "--command", help="SQL to run."),
         file: Optional[str] = typer.Option(None, "-f", "--file", help="A file of SQL to run.")):
    """SQL as the app's own role. With neither -c nor -f: SQL from standard input, or a prompt."""
    client = Client()
    if command is not None or file is not None or not sys.stdin.isatty():
        if file is not None:
            sql = read_file(file, "SQL file")
        else:
            sql = command if command is not None else sys.stdin.read()
        raise typer.Exit(_run_sql(client, app, sql))
    con = console()
    con.print(f"[dim]SQL as {app}'s role; end a statement with ';', Ctrl-D to leave.[/]")
    buf: list[str] = []
    while True:
        try:
            line = input(f"{app}{'=' if not buf else '-'}> ")
        except EOFError:
            print()
            return
        buf.append(line)
        if line.rstrip().endswith(";"):
            _run_sql(client, app, "\n".join(buf))
            buf = []


def _run_sql(client: Client, app: str, sql: str) -> int:
    r = client.post(f"/v1/apps/{app}/db/sql", {"sql": sql})
    sys.stdout.write(r["output"])
    if r["error"]:
        sys.stderr.write(r["error"])
    return int(r["exit_code"])


def _span(seconds) -> str:
    if seconds is None:
        return ""
    s = int(seconds)
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    return f"{s // 3600} h {s % 3600 // 60} min"


@db_app.command("restore")
def restore(app: str, to: str = typer.Option(..., "--to", help="A time (ISO 8601, UTC unless it says), `latest`, or a restore point."),
            into: Optional[str] = typer.Option(None, "--into", help="Restore into a new app with this name; production untouched."),
            yes: bool = typer.Option(False, "--yes", "-y"), json_out: bool = typer.Option(False, "--json")):
    """Point-in-time restore: in place (the app answers 503 meanwhile) or --into a new app."""
    client = Client()
    plan = client.get(f"/v1/apps/{app}/db/restore-plan", params={"to": to, **({"into": into} if into else {})})
    con = console()
    if into:
        question = f"Restore {app}'s database as of {plan['target_text']} into a new app {into}?"
    else:
        d = plan.get("discards") or {}
        lost = ""
        if d.get("from"):
            n = d.get("transactions")
            lost = (f" It discards every change since {d['from']} ({_span(d.get('seconds'))}"
                    + (f", {'more than ' if d.get('transactions_at_least') else ''}{n} write transaction(s)"
                       if n is not None else "") + ").")
        kept = (" The current state is kept (a restore point and the old data folder) until the next "
                "full backup." if plan.get("primary_running") else
                " No primary is running, so the state after the last archived change is lost.")
        question = (f"Restore {app}'s database in place to {plan['target_text']}? The app answers 503 "
                    f"while it runs.{lost}{kept}")
    if not json_out:
        con.print(question)
    confirm("Go ahead?" if not yes else question, yes)
    result = run_operation(client, client.post(f"/v1/apps/{app}/db/restore", {"to": to, "into": into}),
                           json_out=json_out,
                           done_message=lambda r: (f"{r['into']} holds {app}'s data as of {r['restored_to']}"
                                                   if r.get("into") else
                                                   f"{app} restored to {r['restored_to']} in {r['seconds']} s"))
    if not json_out and result.get("undo"):
        con.print(f"to undo: {result['undo']}")


@db_app.command("verify")
def verify(app: str, json_out: bool = typer.Option(False, "--json")):
    """Restore drill: restore the latest backup aside, run pg_amcheck, compare every table's rows."""
    client = Client()
    run_operation(client, client.post(f"/v1/apps/{app}/db/verify", {}), json_out=json_out,
                  done_message=lambda r: f"restore drill passed: {r['summary']} ({r['seconds']} s)")
