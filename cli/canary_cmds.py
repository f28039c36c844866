"""canary deploy / status / traffic / promote / rollback / judge."""
from __future__ import annotations

import sys
from typing import List, Optional

import typer

from .client import Client
from .output import ask, confirm, emit_json, fail, run_operation, table, console

canary_app = typer.Typer(help="Canary releases.", no_args_is_help=True)


def _pick_app(client: Client, app: Optional[str]) -> str:
    if app:
        return app
    names = [a["name"] for a in client.get("/v1/apps")]
    if not names:
        fail("there are no apps yet: deploy one with `sentinel deploy`.")
    return ask(None, "Which app?", choices=names, flag="APP")


@canary_app.command("deploy")
def deploy(app: Optional[str] = typer.Argument(None), image: Optional[str] = typer.Option(None),
           weight: Optional[int] = typer.Option(None, help="Percent of traffic, 0..100."),
           env: List[str] = typer.Option([], help="KEY=VALUE for the canary, repeatable."),
           replicas: int = typer.Option(1), no_sticky: bool = typer.Option(False, "--no-sticky"),
           baseline: bool = typer.Option(False, "--baseline", help="Also run a fresh baseline of production."),
           yes: bool = typer.Option(False, "--yes", "-y"),
           json_out: bool = typer.Option(False, "--json")):
    """Start a canary beside production with a slice of the traffic."""
    client = Client()
    app = _pick_app(client, app)
    image = ask(image, "Canary image?", flag="--image")
    weight = int(ask(weight, "Weight (percent of traffic)?", default=10, flag="--weight"))
    confirm(f"Send {weight}% of {app}'s traffic to {image}?", yes)
    body = {"image": image, "weight": weight, "env": list(env), "replicas": replicas,
            "sticky": not no_sticky, "baseline": baseline}
    run_operation(client, client.post(f"/v1/apps/{app}/canary", body), json_out=json_out,
                  done_message=lambda r: f"canary {r['canary']['image']} takes {r['canary']['weight']}% of {app}'s traffic")


@canary_app.command("status")
def status(app: Optional[str] = typer.Argument(None), json_out: bool = typer.Option(False, "--json")):
    """Images, weights, replicas, health, since when, recent events."""
    client = Client()
    app = _pick_app(client, app)
    s = client.get(f"/v1/apps/{app}/canary")
    if json_out:
        return emit_json(s)
    import time

    con = console()
    p = s["production"]
    con.print(f"[bold]{app}[/] production {p['image']} healthy {p['healthy']}")
    c = s["canary"]
    if c:
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(c["since"]))
        con.print(f"canary {c['image']} weight {c['weight']}% healthy {c['healthy']} "
                  f"sticky {'on' if c['sticky'] else 'off'} baseline {'yes' if c['baseline'] else 'no'} since {since}")
    else:
        con.print("no canary")
    rows = [{**e, "at": time.strftime("%H:%M:%S", time.localtime(e["at"]))} for e in s["events"]]
    if rows:
        table(rows, [("at", "AT"), ("kind", "EVENT"), ("actor", "BY"), ("message", "WHAT")])


@canary_app.command("traffic")
def traffic(app: Optional[str] = typer.Argument(None),
            weight: Optional[int] = typer.Option(None, help="Percent of traffic, 0..100."),
            json_out: bool = typer.Option(False, "--json")):
    """Change the canary's share of traffic."""
    client = Client()
    app = _pick_app(client, app)
    weight = int(ask(weight, "New weight?", flag="--weight"))
    run_operation(client, client.post(f"/v1/apps/{app}/canary/traffic", {"weight": weight}),
                  json_out=json_out, done_message=f"{weight}% of {app}'s traffic goes to the canary")


@canary_app.command("promote")
def promote(app: Optional[str] = typer.Argument(None), yes: bool = typer.Option(False, "--yes", "-y"),
            json_out: bool = typer.Option(False, "--json")):
    """Make the canary the new production (rolling, health-gated), then remove it."""
    client = Client()
    app = _pick_app(client, app)
    confirm(f"Promote {app}'s canary to production?", yes)
    run_operation(client, client.post(f"/v1/apps/{app}/canary/promote"), json_out=json_out,
                  done_message=lambda r: f"{r['promoted']} is production ({r['seconds']} s)")


@canary_app.command("rollback")
def rollback(app: Optional[str] = typer.Argument(None), yes: bool = typer.Option(False, "--yes", "-y"),
             json_out: bool = typer.Option(False, "--json")):
    """Send all traffic back to production at once and remove the canary."""
    client = Client()
    app = _pick_app(client, app)
    confirm(f"Roll back {app}'s canary?", yes)
    run_operation(client, client.post(f"/v1/apps/{app}/canary/rollback"), json_out=json_out,
                  done_message=lambda r: f"rolled back {r['rolled_back']}; production has all traffic")


@canary_app.command("judge")
def judge(file: str, json_out: bool = typer.Option(False, "--json")):
    """Re-judge archived metric data (Kayenta-style Mann-Whitney judge) from a JSON file."""
    from control_plane.analysis.config import AnalysisError
    from control_plane.analysis.judge import judge_file

    try:
        result = judge_file(file)
    except AnalysisError as e:
        fail(str(e))
    except FileNotFoundError:
        fail(f"file {file} does not exist: give the path of a judge input JSON file.")
    if json_out:
        return emit_json(result)
    console().print(f"score {result['score']:.1f}: [bold]{result['verdict']}[/]")
    fmt = lambda x: "-" if x is None else f"{x:.4g}"
    table([{**m, "ci": f"[{fmt(m['ci'][0])}, {fmt(m['ci'][1])}]" if m.get("ci") else "-",
            "estimate": fmt(m.get("estimate")), "ratio": fmt(m.get("ratio"))}
           for m in result["metrics"]],
          [("name", "METRIC"), ("classification", "CLASS"), ("critical", "CRITICAL"),
           ("estimate", "ESTIMATE"), ("ci", "CI"), ("ratio", "RATIO")])
    if result["verdict"] == "fail":
        raise typer.Exit(1)
