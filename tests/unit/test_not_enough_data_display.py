""""Not enough data" is shown distinctly, with the points per side: on the report page (headless
Chromium against a fixture server, as test_report_browser) and by the CLI's judgment table."""
from __future__ import annotations

import copy
import json
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from control_plane.api import ui
from tests.browser import dump_dom

REPORT = json.loads((Path(__file__).parent / "fixtures/report.json").read_text())
INCONCLUSIVE = {
    "at": REPORT["judgment"]["at"], "score": 100.0, "verdict": "inconclusive",
    "reason": "not enough data: latency_p99 (3 canary, 30 baseline points)",
    "groups": {"errors": 100.0, "latency": 100.0},
    "requests": {"control": 1800.0, "experiment": 95.0},
    "metrics": [
        {"name": "error_ratio", "classification": "Pass", "critical": False, "estimate": 0.0,
         "ci": [0.0, 0.0], "ratio": 1.0, "p_value": 0.8, "points": [30, 30], "muted": False},
        {"name": "latency_p99", "classification": "NotEnoughData", "critical": False, "estimate": 0.01,
         "ci": [None, None], "ratio": 1.1, "p_value": 0.2, "points": [30, 3], "muted": False},
        {"name": "cpu", "classification": "Pass", "critical": False, "estimate": 0.0,
         "ci": [-0.1, 0.1], "ratio": 1.0, "p_value": 0.9, "points": [30, 30], "muted": True},
    ],
}


@pytest.fixture(scope="module")
def server():
    report = copy.deepcopy(REPORT)
    report["judgment"] = INCONCLUSIVE
    app = FastAPI()
    app.include_router(ui.router)
    app.get("/v1/apps")(lambda: [{"name": "todos", "image": "todo:1", "canary": REPORT["canary"]}])
    app.get("/v1/apps/{name}/report")(lambda name, window=900: report)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "the fixture server did not start"
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    srv.should_exit = True
    thread.join(timeout=10)


def test_report_page_shows_not_enough_data_with_points_per_side(server):
    dom = dump_dom(f"{server}/ui#app=todos&token=t")
    judgment = dom.by_id("judgment")
    assert "inconclusive" in judgment.text
    assert "not enough data: latency_p99 (3 canary, 30 baseline points)" in judgment.text
    rows = {r.attrs["data-metric"]: [td.text for td in r.find_all("td")] for r in judgment.find_all("tr")
            if "data-metric" in r.attrs}
    assert rows["latency_p99"][1] == "not enough data (3 canary / 30 baseline points)"
    assert rows["latency_p99"][4] == "–"  # no interval at this level
    assert rows["error_ratio"][1] == "Pass"
    assert rows["cpu"][1] == "Pass (muted)"
    # Not painted as a pass (nor as a failure): no verdict colour class on the badge.
    badge = next(s for s in judgment.find_all("span") if s.text == "inconclusive")
    assert "verdict-" not in badge.attrs.get("class", "")


def test_cli_prints_not_enough_data_with_points_per_side(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    from cli.canary_cmds import print_judgment

    print_judgment(INCONCLUSIVE)
    out = capsys.readouterr().out
    assert "score 100.0: inconclusive (not enough data: latency_p99 (3 canary, 30 baseline points))" in out
    line = next(l for l in out.splitlines() if "latency_p99" in l and "│" in l)
    assert "not enough data" in line
    assert "3 / 30" in line
    assert "Pass (muted)" in out


def test_cli_judge_exits_non_zero_when_inconclusive(tmp_path):
    from typer.testing import CliRunner

    from cli.canary_cmds import canary_app

    path = tmp_path / "run.json"
    series = {"control": [float(v) for v in range(30)], "experiment": [float(v) for v in range(30)]}
    path.write_text(json.dumps({"config": {"metrics": [{"name": "m"}]}, "data": {"m": series},
                                "requests": {"control": 900, "experiment": 4}}))
    result = CliRunner().invoke(canary_app, ["judge", str(path), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["verdict"] == "inconclusive"
