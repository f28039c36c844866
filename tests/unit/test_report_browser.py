"""The report page in headless Chromium against a real HTTP server that serves the page and a
fixture report: what a user sees once the page's scripts ran."""
from __future__ import annotations

import copy
import json
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI, Header, HTTPException, Request

from control_plane.api import ui
from tests.browser import dump_dom, screenshot

REPORT = json.loads((Path(__file__).parent / "fixtures/report.json").read_text())
TOKEN = "unit-token-3f9a"


def quiet_report() -> dict:
    """An app with no canary and no metrics (Prometheus did not answer)."""
    r = copy.deepcopy(REPORT)
    r.update(app="quiet", roles=["production"], canary=None, judgment=None, events=[],
             series={m: {"production": []} for m in REPORT["series"]},
             metrics_error="Prometheus did not answer in 5 s")
    return r


def fixture_app(seen: list[str]) -> FastAPI:
    app = FastAPI()
    app.include_router(ui.router)
    reports = {"todos": REPORT, "quiet": quiet_report()}

    @app.middleware("http")
    async def record(request: Request, call_next):
        seen.append(str(request.url))
        return await call_next(request)

    def auth(authorization: str | None):
        if authorization != f"Bearer {TOKEN}":
            raise HTTPException(401, "the API token was not accepted")

    @app.get("/v1/apps")
    def apps(authorization: str | None = Header(None)):
        auth(authorization)
        return [{"name": "quiet", "image": "todo:1", "canary": None},
                {"name": "todos", "image": "todo:1", "canary": REPORT["canary"]}]

    @app.get("/v1/apps/{name}/report")
    def report(name: str, window: int = 900, authorization: str | None = Header(None)):
        auth(authorization)
        return reports[name]

    return app


@pytest.fixture(scope="module")
def server():
    seen: list[str] = []
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    srv = uvicorn.Server(uvicorn.Config(fixture_app(seen), log_level="warning"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "the fixture server did not start"
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", seen
    srv.should_exit = True
    thread.join(timeout=10)


def test_report_shows_every_chart_the_judgment_and_the_events(server):
    base, seen = server
    url = f"{base}/ui#app=todos&token={TOKEN}"
    dom = dump_dom(url)
    assert dom.by_id("report").attrs.get("hidden") is None
    assert dom.by_id("message").attrs.get("hidden") is not None
    assert dom.by_id("app-picker").find("option", value="todos")

    charts = dom.find_all("figure", class_="chart")
    assert [c.attrs["data-metric"] for c in charts] == [
        "request_rate", "error_ratio", "latency_p50", "latency_p99", "cpu", "memory"]
    for chart in charts:
        lines = {p.attrs["data-role"]: p.attrs["d"] for p in chart.find_all("path", class_="line")}
        assert set(lines) == {"production", "baseline", "canary"}, chart.attrs
        assert all(d.startswith("M") and d.count("L") > 20 for d in lines.values())
        # The scrape gap in the fixture breaks the line rather than bridging it.
        assert lines["canary"].count("M") == 2
        legend = chart.find("ul", class_="legend").text
        assert "production" in legend and "canary" in legend and "no data" not in legend
    captions = [c.find("figcaption").text for c in charts]
    assert captions == ["Request rate (req/s)", "5xx error ratio (%)", "Latency p50 (ms)",
                        "Latency p99 (ms)", "CPU (cores)", "Memory (MiB)"]
    assert all(len(c.find_all("text", class_="tick")) >= 6 for c in charts)  # labelled axes

    summary = dom.by_id("summary").text
    assert "todo:2 takes 20% of the traffic" in summary and "todo:1" in summary
    assert "Progressive: 5% → [20%] → 50%, step 2 of 3" in summary

    judgment = dom.by_id("judgment")
    assert "marginal" in judgment.text and "score 75" in judgment.text
    rows = {r.attrs["data-metric"]: [td.text for td in r.find_all("td")] for r in judgment.find_all("tr")
            if "data-metric" in r.attrs}
    # Differences in the chart's units, signed; never a raw number of seconds or bytes.
    assert rows["latency_p99"] == ["latency_p99", "High", "", "+74 ms", "[+61, +89] ms", "×1.93"]
    assert rows["latency_p50"][3:5] == ["-0.11 ms", "[-0.2, +0.01] ms"]
    assert rows["memory"][3:6] == ["-292 KiB", "[-402, -117] KiB", "×0.97"]
    assert rows["error_ratio"] == ["error_ratio", "Pass", "critical", "+0.61 pp", "[-0.04, +0.93] pp", "×4.1"]
    assert rows["cpu"][1] == "Nodata" and rows["cpu"][3:] == ["–", "–", "–"]

    events = [li.text for li in dom.by_id("events").find_all("li")]
    assert len(events) == 4 and "judgment" in events[0] and "rollback" in events[-1]
    # Data is text, never markup: the message's tags show as typed.
    deploy = next(e for e in events if "deploy" in e)
    assert 'NOTE="<b>beta</b> & more"' in deploy
    assert not dom.by_id("events").find_all("b")

    # The token only ever travelled in a header, never in a request line.
    assert seen and not any(TOKEN in u for u in seen)
    assert any(u.endswith("/v1/apps/todos/report?window=900") for u in seen)


def test_screenshot_of_the_report(server):
    base, _ = server
    assert screenshot(f"{base}/ui#app=todos&token={TOKEN}", "report-unit.png").exists()


def test_an_app_without_canary_or_metrics_says_so(server):
    base, _ = server
    dom = dump_dom(f"{base}/ui/#app=quiet&token={TOKEN}")
    assert "No canary running" in dom.by_id("summary").text
    charts = dom.find_all("figure", class_="chart")
    assert len(charts) == 6
    for chart in charts:
        assert not chart.find_all("path", class_="line")
        assert chart.find("text", class_="empty").text == "no data yet"
    assert dom.by_id("judgment").text == "No judgment yet."
    assert dom.by_id("events").text == "No events yet."
    assert dom.by_id("message").text == "Metrics are unavailable: Prometheus did not answer in 5 s"


def test_a_wrong_token_is_reported_and_asked_for_again(server):
    base, _ = server
    dom = dump_dom(f"{base}/ui#app=todos&token=wrong")
    assert "The API token was not accepted (401)" in dom.by_id("message").text
    assert dom.by_id("token-form").attrs.get("hidden") is None
    assert dom.by_id("report").attrs.get("hidden") is not None


def test_without_a_token_the_page_asks_for_one_and_calls_nothing(server):
    base, seen = server
    before = len(seen)
    dom = dump_dom(f"{base}/ui#app=todos")
    assert dom.by_id("token-form").attrs.get("hidden") is None
    assert dom.by_id("message").attrs.get("hidden") is not None
    assert not [u for u in seen[before:] if "/v1/" in u]
