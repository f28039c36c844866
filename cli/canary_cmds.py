"""canary deploy / status / report / traffic / promote / rollback / judge."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from .build_cmds import build_on_cluster, other_processes
from .client import Client
from .output import ask, confirm, emit_json, fail, run_operation, table, console
from .release_opts import options as _release_options, release_body

_R = _release_options()

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
           source: Optional[str] = typer.Option(None, help="The new version's folder (or a git "
                                                "URL[#ref]) instead of an image: built on the "
                                                "cluster first (docs/build.md)."),
           weight: Optional[int] = typer.Option(None, help="Percent of traffic, 0..100."),
           env: List[str] = typer.Option([], help="KEY=VALUE for the canary, repeatable."),
           replicas: int = typer.Option(1), no_sticky: bool = typer.Option(False, "--no-sticky"),
           baseline: bool = typer.Option(False, "--baseline", help="Also run a fresh baseline of production."),
           steps: Optional[str] = typer.Option(None, help="Progressive weights, e.g. 5,20,50: judged at each step; "
                                               "WEIGHT:approve waits for `canary approve` after it, WEIGHT:5m pauses."),
           interval: Optional[str] = typer.Option(None, help="How long each step runs before it is judged, e.g. 60s."),
           analysis: Optional[str] = typer.Option(None, help="'default' or an analysis YAML file (metrics, groups, thresholds)."),
           auto_promote: bool = typer.Option(False, "--auto-promote", help="Promote when the last step passes."),
           mirror: int = typer.Option(0, help="A shadow canary: copy this percent of production's GET/HEAD "
                                      "requests to it (weight 0; users get production's answers)."),
           cpu: Optional[float] = typer.Option(None, help="CPU cores per canary task (default: production's)."),
           memory: Optional[str] = typer.Option(None, help="Memory per canary task, e.g. 256Mi (default: production's)."),
           release_command: Optional[str] = _R["release_command"],
           release_sql: Optional[str] = _R["release_sql"],
           release_timeout: Optional[str] = _R["release_timeout"],
           allow_destructive: bool = _R["allow_destructive"],
           skip_check: bool = _R["skip_check"],
           smoke_command: Optional[str] = _R["smoke_command"],
           check_path: Optional[str] = _R["check_path"],
           post_promote_command: Optional[str] = typer.Option(
               None, help="The contract step: runs once after all traffic is on the new version."),
           yes: bool = typer.Option(False, "--yes", "-y"),
           json_out: bool = typer.Option(False, "--json")):
    """Start a canary beside production with a slice of the traffic (optionally stepped and judged)."""
    plan = progressive_body(steps, interval, analysis, auto_promote)
    release = release_body(release_command, release_sql, release_timeout, allow_destructive,
                           skip_check, smoke_command, check_path)
    client = Client()
    app = _pick_app(client, app)
    if source is not None and image is not None:
        fail("give --image or --source, not both.")
    if source is None:
        image = ask(image, "Canary image?", flag="--image")
    if plan.get("steps"):
        first = plan["steps"][0]
        weight = first if isinstance(first, int) else first["weight"]
    elif mirror and weight is None:
        weight = 0
    weight = int(ask(weight, "Weight (percent of traffic)?", default=10, flag="--weight"))
    what = (f"steps {steps} every {interval}" + (", then promote" if auto_promote else "")
            if plan.get("steps") else f"{weight}%")
    confirm(f"Send {app}'s traffic to {image or f'{source} (built on the cluster)'} ({what})?", yes)
    from .app_cmds import resources_body

    processes = None
    if source is not None:
        built = build_on_cluster(client, app, source, json_out)
        image, processes = built["image"], other_processes(built)
    body = {"image": image, "weight": weight, "env": list(env), "replicas": replicas,
            "processes": processes,
            "sticky": not no_sticky, "baseline": baseline, **plan, "release": release,
            "post_promote_command": post_promote_command, "mirror": mirror,
            "resources": resources_body(cpu, memory)}

    def done(r):
        msg = f"canary {r['canary']['image']} takes {r['canary']['weight']}% of {app}'s traffic"
        if plan.get("steps"):
            msg += f"; the control plane steps it through {steps} (follow: `sentinel canary status {app}`)"
        return msg

    run_operation(client, client.post(f"/v1/apps/{app}/canary", body), json_out=json_out,
                  done_message=done)


def _step(text: str, steps: str):
    """`20` or `20:approve` or `20:5m` (a pause after the step passes)."""
    from control_plane.metrics import parse_duration

    weight, _, pause = text.strip().partition(":")
    try:
        w = int(weight)
    except ValueError:
        fail(f"--steps {steps!r} must be whole percentages separated by commas, e.g. 5,20,50 "
             "(or 5,20:approve,50).")
    if not pause:
        return w
    if pause == "approve":
        return {"weight": w, "pause": "approve"}
    try:
        return {"weight": w, "pause": parse_duration(pause)}
    except ValueError:
        fail(f"--steps: {text!r}: after ':' give approve or a duration like 5m.")


def progressive_body(steps: Optional[str], interval: Optional[str], analysis: Optional[str],
                     auto_promote: bool) -> dict:
    """The progressive part of a canary deploy, parsed and checked on this side (key paths)."""
    from control_plane.metrics import parse_duration

    body: dict = {"auto_promote": auto_promote}
    if steps is not None:
        body["steps"] = [_step(x, steps) for x in steps.split(",")]
    if interval is not None:
        try:
            body["interval"] = parse_duration(interval)
        except ValueError:
            fail(f"--interval {interval!r} is not a duration like 30s, 5m or 1h.")
    if analysis and analysis != "default":
        from control_plane.analysis import AnalysisError, load_analysis

        try:
            body["analysis"] = load_analysis(analysis).model_dump_config()
        except AnalysisError as e:  # read errors name the file already; key-path errors do not
            fail(e.message if e.message.startswith(analysis) else f"{analysis}: {e.message}")
    return body


@canary_app.command("approve")
def approve(app: Optional[str] = typer.Argument(None), json_out: bool = typer.Option(False, "--json")):
    """Pass the gate a progressive canary waits at (a step with `pause: approve`)."""
    client = Client()
    app = _pick_app(client, app)
    s = client.post(f"/v1/apps/{app}/canary/approve")
    if json_out:
        return emit_json(s)
    plan = (s.get("canary") or {}).get("progressive") or {}
    i = plan.get("step_index", 0)
    after = (f"it goes on to {plan['steps'][i + 1]}%" if i + 1 < len(plan.get("steps", []))
             else "it is promoted" if plan.get("auto_promote") else "it waits for a promotion")
    console().print(f"[green]✓[/] approved: {after} at the control plane's next tick "
                    f"(`sentinel canary status {app}`)")


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
    from rich.markup import escape  # with rich, which console() loaded (CLI start time)

    p = s["production"]
    con.print(f"[bold]{app}[/] production {p['image']} healthy {p['healthy']}")
    c = s["canary"]
    if c:
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(c["since"]))
        con.print(f"canary {c['image']} weight {c['weight']}% healthy {c['healthy']} "
                  f"sticky {'on' if c['sticky'] else 'off'} baseline {'yes' if c['baseline'] else 'no'} since {since}")
        for proc, h in sorted((c.get("processes") or {}).items()):
            con.print(f"canary process {proc}: healthy {h['healthy']}")
        plan = c.get("progressive")
        if plan:
            nxt = time.strftime("%H:%M:%S", time.localtime(plan["next_at"]))
            con.print(f"progressive {','.join(map(str, plan['steps']))}: step "
                      f"{plan['step_index'] + 1}/{len(plan['steps'])}, {plan['state']}"
                      + (f", next judgment at {nxt}" if plan["state"] == "running" else "")
                      + (f" (`sentinel canary approve {app}`)" if plan["state"] == "awaiting_approval" else ""))
            if plan.get("blind_since"):
                since = time.strftime("%H:%M:%S", time.localtime(plan["blind_since"]))
                con.print(f"[red]holding: no judgment possible since {since}[/]: "
                          f"{escape(plan.get('blind_error') or '')}")
        if c.get("mirror") and not c["weight"]:
            con.print(f"shadow: {c['mirror']}% of production's GET/HEAD requests mirrored to it "
                      "(users get production's answers)")
        if s.get("judgment"):
            print_judgment(s["judgment"])
    else:
        con.print("no canary")
    rows = [{**e, "at": time.strftime("%H:%M:%S", time.localtime(e["at"]))} for e in s["events"]]
    if rows:
        table(rows, [("at", "AT"), ("kind", "EVENT"), ("actor", "BY"), ("message", "WHAT")])


def report_url(base: str, token: str, app: Optional[str] = None) -> str:
    """The report page with app and token in the fragment: browsers never send it to a server."""
    from urllib.parse import quote, urlencode

    params = {"app": app} if app else {}
    return f"{base.rstrip('/')}/ui#" + urlencode({**params, "token": token}, quote_via=quote)


def _can_open_browser() -> bool:
    """A terminal user with a graphical browser (a console browser cannot run the page)."""
    import os
    import webbrowser

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return False
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


@canary_app.command("report")
def report(app: Optional[str] = typer.Argument(None, help="Preselect this app; the page has a picker."),
           no_open: bool = typer.Option(False, "--no-open", help="Do not start a browser."),
           print_url: bool = typer.Option(False, "--print-url", help="Print the URL (it holds the API token).")):
    """Open the live canary report (charts, judgment, events) served by the control plane at /ui."""
    client = Client()
    if not client.token:
        fail("no API token is configured: run `sentinel init` on this machine or set SENTINEL_TOKEN.")
    # One cheap call first, so a stopped control plane, a wrong token or a typo fails here in
    # one line rather than in the browser.
    names = [a["name"] for a in client.get("/v1/apps")]
    if app and app not in names:
        fail(f"there is no app {app!r}: `sentinel apps` lists them.")
    url = report_url(client.url, client.token, app)
    opened = False
    if not no_open and _can_open_browser():
        import webbrowser

        opened = webbrowser.open(url)
    if opened:
        console().print(f"opened the canary report{f' of {app}' if app else ''} in your browser")
    if print_url or not opened:
        sys.stdout.write(url + "\n")


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
def promote(app: Optional[str] = typer.Argument(None),
            post_promote_command: Optional[str] = typer.Option(
                None, help="The contract step: runs once after all traffic is on the new version."),
            yes: bool = typer.Option(False, "--yes", "-y"),
            json_out: bool = typer.Option(False, "--json")):
    """Make the canary the new production (rolling, health-gated), then remove it."""
    client = Client()
    app = _pick_app(client, app)
    confirm(f"Promote {app}'s canary to production"
            + (f" and then run `{post_promote_command}`?" if post_promote_command else "?"), yes)
    run_operation(client, client.post(f"/v1/apps/{app}/canary/promote",
                                      {"post_promote_command": post_promote_command}),
                  json_out=json_out,
                  done_message=lambda r: f"{r['promoted']} is production ({r['seconds']} s)"
                  + ("; the post-promote command ran" if r.get("post_promote") else ""))


@canary_app.command("rollback")
def rollback(app: Optional[str] = typer.Argument(None),
             restore_db: bool = typer.Option(False, "--restore-db", help="Also return the database to the restore point taken just before the release."),
             yes: bool = typer.Option(False, "--yes", "-y"),
             json_out: bool = typer.Option(False, "--json")):
    """Send all traffic back to production at once and remove the canary (and, with --restore-db,
    undo the release's database changes)."""
    client = Client()
    app = _pick_app(client, app)
    question = f"Roll back {app}'s canary?"
    if restore_db:
        c = client.get(f"/v1/apps/{app}/canary")["canary"]
        if c is None:
            fail(f"app {app!r} has no canary: start one with `sentinel canary deploy {app}`.")
        point = (c.get("release") or {}).get("restore_point")
        if not point:
            fail(f"the canary of {app!r} ran no release phase, so there is no restore point to "
                 "return to: roll back without --restore-db.")
        plan = client.get(f"/v1/apps/{app}/db/restore-plan", params={"to": point})
        d = plan.get("discards") or {}
        n = d.get("transactions")
        question = (f"Roll back {app}'s canary and return its database to restore point {point}? "
                    f"Every change since {d.get('from')} is discarded"
                    + (f" ({n} write transaction(s))" if n is not None else "")
                    + "; the current state is kept until the next full backup.")
        if not json_out:
            console().print(question)
    confirm(question if yes else "Go ahead?", yes)
    run_operation(client, client.post(f"/v1/apps/{app}/canary/rollback", {"restore_db": restore_db}),
                  json_out=json_out,
                  done_message=lambda r: f"rolled back {r['rolled_back']}; production has all traffic"
                  + ("; the database is back at the restore point" if r.get("restored") else ""))


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
        emit_json(result)
    else:
        print_judgment(result)
    if result["verdict"] in ("fail", "inconclusive"):  # scripts and CI gates read the exit code:
        raise typer.Exit(1)  # not enough data is never a pass


def _class_text(m: dict) -> str:
    """A metric's class; "not enough data" spelled out, as it is not a pass."""
    return "not enough data" if m["classification"] == "NotEnoughData" else m["classification"]


def print_judgment(result: dict) -> None:
    console().print(f"score {result['score']:.1f}: [bold]{result['verdict']}[/]"
                    + (f" ({result['reason']})" if result.get("reason") else ""))
    from .units import delta

    fmt = lambda x: "-" if x is None else f"{x:.4g}"
    # points: canary / baseline values judged (older archived judgments have none)
    pts = lambda m: f"{m['points'][1]} / {m['points'][0]}" if m.get("points") else "-"
    rows = []
    for m in result["metrics"]:
        estimate, ci = delta(m["name"], m.get("estimate"), m.get("ci"))  # ms, KiB, pp, ...
        rows.append({**m, "estimate": estimate, "ci": ci, "points": pts(m),
                     "classification": _class_text(m) + (" (muted)" if m.get("muted") else ""),
                     "ratio": "-" if m.get("ratio") is None else f"×{fmt(m['ratio'])}"})
    table(rows, [("name", "METRIC"), ("classification", "CLASS"), ("critical", "CRITICAL"),
                 ("estimate", "CANARY − CONTROL"), ("ci", "CI"), ("ratio", "RATIO"),
                 ("points", "POINTS C/B")])


@canary_app.command("analyze")
def analyze(app: Optional[str] = typer.Argument(None),
            window: str = typer.Option("5m", help="How far back to look (never before the canary started)."),
            json_out: bool = typer.Option(False, "--json")):
    """Judge the running canary on live Prometheus data (against its baseline, else production)."""
    client = Client()
    app = _pick_app(client, app)
    result = client.post(f"/v1/apps/{app}/canary/analyze", params={"window": window})
    if json_out:
        return emit_json(result)
    requests = result.get("requests") or {}
    console().print(f"{app}: canary vs {result['control']}, "
                    f"{max(result['points'].values(), default=0)} points per series"
                    + (f", {requests['experiment']:.0f} canary / {requests['control']:.0f} "
                       f"{result['control']} requests" if requests.get("experiment") is not None
                       and requests.get("control") is not None else ""))
    print_judgment(result)


@canary_app.command("judgments")
def judgments(app: Optional[str] = typer.Argument(None), limit: int = typer.Option(10),
              save: Optional[str] = typer.Option(None, help="Write the latest judgment's input "
                                                 "here, in `sentinel canary judge` format."),
              json_out: bool = typer.Option(False, "--json")):
    """Archived judgments of an app's canaries (inputs kept, so they can be judged again)."""
    import time

    client = Client()
    app = _pick_app(client, app)
    rows = client.get(f"/v1/apps/{app}/judgments", params={"limit": limit})
    if save:
        if not rows:
            fail(f"{app} has no archived judgment yet.")
        try:
            Path(save).write_text(__import__("json").dumps(rows[0]["input"], indent=1))
        except OSError as e:
            fail(f"cannot write {save}: {e.strerror}.")
    if json_out:
        return emit_json(rows)
    table([{"id": r["id"], "at": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["at"])),
            "kind": r["result"].get("kind", "-"), "score": f"{r['result']['score']:.0f}",
            "verdict": r["result"]["verdict"]} for r in rows],
          [("id", "ID"), ("at", "AT"), ("kind", "KIND"), ("score", "SCORE"), ("verdict", "VERDICT")])
