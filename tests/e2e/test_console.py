"""The web console against the live platform, in Debian's Chromium (Playwright): a user signs in
with the platform's token and, from the console only, starts a canary, moves its weight, rolls
it back; starts one with an approval gate, approves it, promotes it; and restores the database to
a time into a copy. Each step is checked by what the page says and by its real effect: the split
of cookie-less requests through the edge, the version production answers, the copy's rows.
Screenshots go to artifacts/console-e2e/. Its own app (consoleapp) is deleted with its data at
the end."""
from __future__ import annotations

import datetime as dt
import json
import re
import time

import httpx
import pytest
from playwright.sync_api import expect

from tests.console_pw import fresh_context, pw, screenshot, signed_in  # noqa: F401 (pw: a fixture)

from .conftest import HTTP, ROOT
from .load import Load
from .test_platform import count_versions

pytestmark = pytest.mark.e2e

APP, DOMAIN, COPY = "consoleapp", "consoleapp.localhost", "consoleapp-copy"
SHOTS = ROOT / "artifacts" / "console-e2e"


@pytest.fixture(scope="module")
def app(platform):
    platform.cli("deploy", "--name", APP, "--image", "todo:1", "--port", "8000", "--db", "postgres",
                 "--db-schema", str(ROOT / "examples/todo/schema.sql"), "--no-db-ha", "--replicas", "1",
                 "--yes")
    yield DOMAIN
    for name in (COPY, APP):
        platform.cli("delete", "app", name, "--delete-data", "--yes", check=False)


@pytest.fixture(scope="module")
def console(platform, app, pw):
    """(base URL, token, browser context) for the platform's control plane, signed in once."""
    cfg = json.loads((platform.home / "config.json").read_text())
    base, token = cfg["url"], cfg["token"]
    # The control plane the CLI started serves this checkout's console (PYTHONPATH), not another.
    assert "parseSteps" in httpx.get(f"{base}/console/static/page_canary.js", timeout=10).text
    with fresh_context(pw, timeout_ms=20000) as ctx:
        page = signed_in(ctx, base, token)
        page.wait_for_selector("table.data")
        assert APP in page.locator("table.data").inner_text()
        yield base, token, ctx
    assert not ctx.errors, ctx.errors  # no script error on any page


def go(console, route: str):
    base, token, ctx = console
    return signed_in(ctx, base, token, route)


def shot(page, name: str) -> None:
    screenshot(page, SHOTS, name)


def finished(page, label: str, timeout: float = 240) -> str:
    """The text of the activity panel's newest action starting with `label`, once it ended; it
    must have succeeded (or, for a call that runs no operation, be done)."""
    op = page.locator(".activity li.op").filter(has_text=label).first
    expect(op.locator("strong").first).not_to_have_text(re.compile(r"^(starting…|running)$"),
                                                        timeout=timeout * 1000)
    text = op.inner_text()
    assert text.startswith(f"{label}: succeeded") or text.startswith(f"{label}: done"), text
    return text


def split_text(page) -> str:
    return page.locator("[data-testid=current-split]").inner_text()


def wait_split(page, text: str, timeout: float = 20) -> None:
    """The canary page refreshes every 5 s; the split it shows is the control plane's."""
    page.wait_for_function("t => document.querySelector('[data-testid=current-split]')?.textContent === t",
                           arg=text, timeout=timeout * 1000)


def wait_event(page, text: str, timeout: float = 20) -> None:
    """An event of the canary, in the live report's Events list (refreshed every 5 s)."""
    events = page.locator("section", has=page.locator("h3", has_text="Events"))
    events.locator("li.event", has_text=text).first.wait_for(timeout=timeout * 1000)


def canary_share(platform, n: int = 400) -> float:
    seen = count_versions(platform, DOMAIN, n)
    assert set(seen) <= {"1", "2"}, seen
    return 100 * seen.get("2", 0) / n


def canary(platform) -> dict | None:
    return platform.json("canary", "status", APP)["canary"]


def test_start_a_canary_move_its_weight_and_roll_it_back(platform, console):
    page = go(console, f"#/apps/{APP}/canary")
    page.get_by_text("No canary is running. Start one:").wait_for()
    page.get_by_label("Image").fill("todo:2")
    page.get_by_label("Weight (% of requests)").fill("10")
    page.get_by_role("button", name="Start canary").click()
    finished(page, f"canary todo:2 for {APP}")
    wait_split(page, "production 90% · canary 10%")
    assert abs(canary_share(platform) - 10) <= 3
    shot(page, "canary-10.png")

    # The exact field: typed, then applied when it is left (one change).
    page.get_by_label("Canary weight, exact (%)").fill("40")
    assert page.locator("output.split").inner_text() == "production 60% · canary 40%"
    page.keyboard.press("Tab")
    finished(page, f"canary weight of {APP} to 40% (production 60% · canary 40%)")
    wait_split(page, "production 60% · canary 40%")
    assert canary(platform)["weight"] == 40
    assert abs(canary_share(platform) - 40) <= 3  # Traefik's weighted round robin: near exact
    wait_event(page, "canary weight 10% -> 40%")
    shot(page, "canary-40.png")

    page.get_by_role("button", name="Roll back…").click()
    dialog = page.get_by_role("dialog")
    assert dialog.get_by_role("heading").inner_text() == f"Roll back the canary of {APP}?"
    assert "All traffic goes back to production (todo:1); then todo:2 is removed." in dialog.inner_text()
    dialog.get_by_role("button", name="Roll back").click()
    finished(page, f"roll back todo:2 of {APP}")
    page.get_by_text("No canary is running. Start one:").wait_for()
    assert canary(platform) is None
    assert count_versions(platform, DOMAIN, 100) == {"1": 100}
    assert platform.http(DOMAIN, "/version").json()["version"] == "1"
    shot(page, "rolled-back.png")


def test_a_gate_is_approved_from_the_console_and_the_canary_promoted(platform, console):
    page = go(console, f"#/apps/{APP}/canary")
    page.get_by_text("No canary is running. Start one:").wait_for()
    # Load for the judgments: each step needs enough canary requests to be judged.
    with Load(f"http://127.0.0.1:{HTTP}/api/todos", DOMAIN, workers=4, pause=0.01, max_seconds=240):
        page.get_by_label("Image").fill("todo:2")
        page.get_by_role("radio", name="Progressive steps, judged at each").check()
        page.get_by_label("Steps (% at each)").fill("20:approve,60")
        page.get_by_label("Interval").fill("15s")
        page.get_by_role("button", name="Start canary").click()
        finished(page, f"canary todo:2 for {APP}")
        deadline = time.monotonic() + 150
        while (plan := (canary(platform) or {}).get("progressive") or {}).get("state") != "awaiting_approval":
            assert plan.get("state") in ("running", "awaiting_approval"), plan  # not rolled back
            assert time.monotonic() < deadline, plan
            time.sleep(3)
        gate = page.get_by_role("button", name="Approve this step…")
        gate.wait_for(timeout=20000)
        assert "a step with a gate passed: waiting for your approval to go on" in page.locator("#page").inner_text()
        assert split_text(page) == "production 80% · canary 20%"
        wait_event(page, "at 20% passed; waiting for approval")
        shot(page, "gate.png")
        time.sleep(6)  # the gate holds: nothing moves until a person approves
        assert canary(platform)["progressive"]["state"] == "awaiting_approval"
        # Under the load's own requests the sample is interleaved with theirs in Traefik's round
        # robin: near the weight, not exact (20 vs 60 is what matters here).
        assert abs(canary_share(platform) - 20) <= 6

        gate.click()
        dialog = page.get_by_role("dialog")
        assert dialog.get_by_role("heading").inner_text() == f"Approve the canary of {APP}?"
        assert "The steps go on from 20%." in dialog.inner_text()
        dialog.get_by_role("button", name="Approve").click()
        finished(page, f"approve the canary of {APP}")
        # The canary moved on: the next step's weight, in the page and in real requests.
        wait_split(page, "production 40% · canary 60%", timeout=60)
        c = canary(platform)
        assert c["weight"] == 60 and c["progressive"]["step_index"] == 1, c
        wait_event(page, "step 1/2 at 20% approved")
        assert abs(canary_share(platform) - 60) <= 6
        shot(page, "approved.png")

        # exact: once the last step is judged, "Approve and promote…" may stand beside it
        page.get_by_role("button", name="Promote…", exact=True).click()
        dialog = page.get_by_role("dialog")
        assert dialog.get_by_role("heading").inner_text() == f"Promote the canary of {APP}?"
        dialog.get_by_role("button", name="Promote").click()
        finished(page, f"promote todo:2 of {APP}", timeout=300)
        page.get_by_text("No canary is running. Start one:").wait_for()
    assert canary(platform) is None
    assert platform.json("canary", "status", APP)["production"]["image"] == "todo:2"
    assert count_versions(platform, DOMAIN, 100) == {"2": 100}
    r = platform.http(DOMAIN, "/version")
    assert r.json()["version"] == "2" and r.headers["x-app-version"] == "2"
    page = go(console, "#/apps")
    page.wait_for_selector("table.data")
    row = page.locator("table.data tbody tr", has=page.get_by_role("link", name=APP, exact=True))
    assert "todo:2" in row.inner_text()
    shot(page, "promoted.png")


def add(platform, title: str) -> None:
    r = platform.http(DOMAIN, "/api/todos", method="POST", json={"title": title})
    assert r.status_code == 201, r.text


def titles(platform, app: str) -> list[str]:
    return platform.psql(app, "select title from todos order by id").splitlines()


def test_restore_the_database_to_a_time_into_a_copy(platform, console):
    # A first backup, from the page (the e2e platform's schedule is off).
    page = go(console, f"#/apps/{APP}/db")
    page.get_by_text(re.compile("pg-0 on ")).wait_for()
    assert page.get_by_label("Backup type").input_value() == "full"
    page.get_by_role("button", name="Start a backup").click()
    finished(page, f"full backup of {APP}", timeout=180)
    backups = page.locator("table.data", has=page.locator("caption", has_text="Backups in the repository"))
    backups.locator("tbody tr", has_text="full").first.wait_for()
    assert platform.json("db", "status", APP)["last_backup"]["type"] == "full"

    before, after = [f"before-{i}" for i in range(3)], [f"after-{i}" for i in range(3)]
    for t in before:
        add(platform, t)
    time.sleep(1.5)
    target = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    time.sleep(1.5)
    for t in after:
        add(platform, t)

    page.get_by_role("textbox", name="Restore to").fill(target)
    assert page.get_by_role("radio", name=re.compile("Into a new app")).is_checked()
    assert page.get_by_label("New app name").input_value() == COPY
    page.get_by_role("button", name="Review the restore…").click()
    dialog = page.get_by_role("dialog")
    assert dialog.get_by_role("heading").inner_text() == f"Restore into {COPY}?"
    assert f"A new app {COPY} gets {APP}'s data as of" in dialog.inner_text()
    assert "Production is untouched." in dialog.inner_text()
    shot(page, "restore-dialog.png")
    dialog.get_by_role("button", name="Restore").click()
    finished(page, f"restore {APP} to {target} into {COPY}", timeout=420)
    shot(page, "restored.png")

    # Rows written before the time are in the copy, those after it are not; production keeps all.
    copied = titles(platform, COPY)
    assert set(before) <= set(copied) and not set(after) & set(copied), copied
    assert titles(platform, APP)[-6:] == before + after
    page = go(console, f"#/apps/{COPY}/db")
    status = page.locator("section", has=page.locator("h2", has_text="Status"))
    status.get_by_text(re.compile("pg-0 on ")).wait_for()
    page = go(console, "#/apps")
    page.wait_for_selector(f"table.data >> text={COPY}")
    shot(page, "apps-with-copy.png")
