"""The canary report page of the real control plane, in headless Chromium, with a canary under load."""
from __future__ import annotations

import json
import time

import httpx
import pytest

from cli.canary_cmds import report_url
from tests.browser import dump_dom, screenshot

from .conftest import HTTP
from .load import Load

pytestmark = pytest.mark.e2e


def wait_for_canary_traffic(cfg: dict, timeout: float = 90) -> dict:
    """The report once Prometheus has request rates for the canary (scrapes lag the load)."""
    deadline = time.monotonic() + timeout
    while True:
        r = httpx.get(f"{cfg['url']}/v1/apps/todos/report", params={"window": 900}, timeout=30,
                      headers={"Authorization": f"Bearer {cfg['token']}"})
        assert r.status_code == 200, r.text
        report = r.json()
        if any(v for _, v in report["series"]["request_rate"].get("canary", [])):
            return report
        assert time.monotonic() < deadline, f"no canary request rate after {timeout} s: {report['series']}"
        time.sleep(3)


def test_the_report_page_shows_the_canary_beside_production(platform, todos):
    cfg = json.loads((platform.home / "config.json").read_text())
    platform.cli("canary", "deploy", "todos", "--image", "todo:2", "--weight", "20", "--yes")
    try:
        with Load(f"http://127.0.0.1:{HTTP}/api/todos", todos, workers=2, pause=0.02, max_seconds=180):
            time.sleep(15)
            wait_for_canary_traffic(cfg)
            url = platform.cli("canary", "report", "todos", "--no-open", "--print-url").stdout.strip()
            assert url == report_url(cfg["url"], cfg["token"], "todos")
            screenshot(url, "report-e2e.png")
            dom = dump_dom(url)

        message = dom.by_id("message")
        assert message.attrs.get("hidden") is not None, message.text
        assert "todo:2 takes 20% of the traffic" in dom.by_id("summary").text
        rate = dom.find("figure", data_metric="request_rate")
        roles = {p.attrs["data-role"] for p in rate.find_all("path", class_="line")}
        assert {"production", "canary"} <= roles, roles
        assert len(dom.find_all("figure", class_="chart")) == 6
        assert dom.by_id("judgment").text.strip()  # a judgment, or "No judgment yet."
        events = [li.text for li in dom.by_id("events").find_all("li")]
        assert any("canary todo:2 deployed at 20%" in e for e in events), events
    finally:
        platform.cli("canary", "rollback", "todos", "--yes", check=False)
