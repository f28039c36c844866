"""The web console in Debian's Chromium (Playwright) against a real control plane process with a
seeded store and no platform (tests/console_server.py): what a user sees and can do, by keyboard
too, at 390 px and at 200 % zoom, and how a swarm that does not answer looks. Screenshots go to
artifacts/console/. Actions reach the API and start real operations; with no swarm behind it
they fail, and the page shows that failure as the CLI would."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from tests.console_pw import fresh_context, pw, screenshot  # noqa: F401 (pw: a fixture)
from tests.console_pw import signed_in as sign_in
from tests.console_server import ROOT, TOKEN, control_plane

SHOTS = ROOT / "artifacts" / "console"
pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def server():
    with control_plane("up") as (base, home):
        yield base, home


@pytest.fixture(scope="module")
def down_server():
    with control_plane("down") as (base, home):
        yield base, home


@pytest.fixture
def browser(pw):
    """A fresh profile per test: no cookie or storage carried over."""
    with fresh_context(pw) as ctx:
        yield ctx
    assert not ctx.errors, ctx.errors  # no script error on any page


def shot(page, name: str) -> None:
    screenshot(page, SHOTS, name)


def signed_in(ctx, base: str, route: str = "#/apps"):
    return sign_in(ctx, base, TOKEN, route)


def posted(page, path: str) -> list:
    """The JSON bodies the page POSTs to `path`, as they are sent (filled as it goes)."""
    bodies: list = []
    page.on("request", lambda r: bodies.append(json.loads(r.post_data))
            if r.url.endswith(path) and r.method == "POST" else None)
    return bodies


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


# ---- sign-in ----------------------------------------------------------------------------------

def test_sign_in_trades_the_fragment_token_for_an_httponly_strict_cookie(server, browser):
    base, _ = server
    page = signed_in(browser, base)
    page.wait_for_selector("table.data")
    assert page.url == f"{base}/console#/apps"  # the token left the address bar
    cookies = {c["name"]: c for c in browser.cookies()}
    c = cookies["sentinel_session"]
    assert c["httpOnly"] and c["sameSite"] == "Strict" and c["path"] == "/"
    assert TOKEN not in c["value"]
    assert page.evaluate("document.cookie") == ""  # no script can read it
    # The token travelled once, in a header of the sign-in; never in a URL.
    assert not any(TOKEN in r.url for r in page.requests)
    signin = [r for r in page.requests if r.url.endswith("/console/session") and r.method == "POST"]
    assert len(signin) == 1 and signin[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert all("authorization" not in r.headers for r in page.requests if "/v1/" in r.url)


def test_the_apps_list(server, browser):
    base, _ = server
    requested = []
    browser.on("request", lambda r: requested.append("/" + r.url.split("/", 3)[3]) if "/v1/apps" in r.url else None)
    page = signed_in(browser, base)
    page.wait_for_selector("td.ready:text('2/2')")
    assert page.locator("#page h1").inner_text() == "Apps"
    assert page.evaluate("document.activeElement.tagName") == "H1"  # the page's heading has the focus
    rows = page.locator("table.data tbody tr")
    assert rows.count() == 4  # a preview is an app too (todos-pr-7)
    todos = [t.strip() for t in rows.nth(2).locator("td").all_inner_texts()]
    assert todos == ["todos", "todos.localhost", "todo:1", "2/2", "todo:2 at 20%", "postgres, 2 members"]
    # The list came from the store first, then the tasks' state from the swarm.
    assert requested == ["/v1/apps?live=false", "/v1/apps"], requested
    long = [t.strip() for t in rows.nth(0).locator("td").all_inner_texts()]
    assert long[0] == "inventory-service-with-a-long-name"
    assert long[2] == "registry.example.com/acme/inventory-service-with-a-long-name:2026.11.27-build.1234"
    assert page.locator("caption").first.inner_text() == "4 apps"
    shot(page, "apps.png")


def test_a_wrong_token_asks_for_one_and_a_pasted_token_signs_in(server, browser):
    base, _ = server
    page = browser.new_page()
    page.goto(f"{base}/console#token=wrong")
    page.wait_for_selector("#sign-in:not([hidden])")
    assert "the API token was not accepted" in page.locator("#notice").inner_text()
    assert page.evaluate("document.activeElement.id") == "token-input"
    assert page.locator("label[for=token-input]").inner_text() == "API token"
    assert not [c for c in browser.cookies() if c["name"] == "sentinel_session"]
    page.keyboard.type(TOKEN)
    page.keyboard.press("Enter")
    page.wait_for_selector("table.data")
    assert page.locator("#sign-in").is_hidden()


def test_a_reload_keeps_the_session_and_sign_out_ends_it(server, browser):
    base, _ = server
    page = signed_in(browser, base)
    page.wait_for_selector("table.data")
    page.reload()
    page.wait_for_selector("table.data")  # the cookie signed the page in again, no token needed
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_selector("#sign-in:not([hidden])")
    assert page.locator("#notice").inner_text() == "Signed out."
    assert not [c for c in browser.cookies() if c["name"] == "sentinel_session"]
    status = page.evaluate("fetch('/v1/apps').then(r => r.status)")
    assert status == 401


def test_an_expired_session_returns_to_sign_in(server, browser):
    base, _ = server
    page = signed_in(browser, base, "#/cluster")
    page.wait_for_selector("table.data")
    browser.clear_cookies()  # what the server sees once a session expired: no live session
    page.evaluate("location.hash = '#/apps'")
    page.wait_for_selector("#sign-in:not([hidden])")
    assert "sentinel console" in page.locator("#notice").inner_text() or \
        "not accepted" in page.locator("#notice").inner_text()


def test_a_write_without_the_csrf_token_is_refused(server, browser):
    base, _ = server
    page = signed_in(browser, base)
    page.wait_for_selector("table.data")
    r = page.evaluate("""fetch('/v1/apps/shop/scale', {method: 'POST', headers: {'Content-Type': 'application/json'},
                         body: JSON.stringify({replicas: 2})}).then(async r => [r.status, await r.json()])""")
    assert r[0] == 403 and r[1]["error"]["code"] == "csrf"


def test_sentinel_console_prints_a_url_that_signs_in(server, browser, tmp_path):
    base, _ = server
    (tmp_path / "config.json").write_text(json.dumps({"url": base, "token": TOKEN}))
    p = subprocess.run([sys.executable, "-c", "from cli.main import run; run()", "console", "todos", "--no-open"],
                       capture_output=True, text=True, timeout=60, cwd=ROOT,
                       env={**os.environ, "SENTINEL_HOME": str(tmp_path)})
    assert p.returncode == 0, p.stderr
    url = p.stdout.strip()
    assert url == f"{base}/console#token={TOKEN}&app=todos"
    page = browser.new_page()
    page.goto(url)
    page.wait_for_selector("h1:text('todos')")
    assert page.url == f"{base}/console#/apps/todos"


# ---- an app -----------------------------------------------------------------------------------

def test_the_app_page_shows_tasks_and_env_names_but_no_values(server, browser):
    base, _ = server
    page = signed_in(browser, base, "#/apps/todos")
    page.wait_for_selector("text=todos_canary.1")
    tasks = page.locator("table.data", has=page.locator("caption", has_text="Tasks"))
    first = [t.strip() for t in tasks.locator("tbody tr").first.locator("td").all_inner_texts()]
    assert first == ["todos_web.1", "sentinel-node-0", "running", "60 min ago", "–"]
    env = page.locator("table.data", has=page.locator("caption", has_text="Variables")).inner_text()
    assert "SECRET_KEY" in env and "DATABASE_URL" in env and "hidden" in env
    content = page.content()
    assert "do-not-show-me" not in content and "pw-todos" not in content
    shot(page, "app.png")


def test_the_app_page_lists_its_previews_with_their_datas_age_and_masking(server, browser):
    base, _ = server
    page = signed_in(browser, base, "#/apps/todos")
    page.wait_for_selector("caption:text('1 preview')")
    previews = page.locator("table.data", has=page.locator("caption", has_text="1 preview"))
    row = [t.strip() for t in previews.locator("tbody tr").first.locator("td").all_inner_texts()]
    assert row == ["pr-7", "http://pr-7.todos.localhost:8080", "todo:2", "copy, 2.0 h ago",
                   "mask.sql", "70.0 h", "Delete…"], row
    previews.get_by_role("link", name="pr-7", exact=True).click()  # the preview's own app page
    page.wait_for_selector("#page h1:text('todos-pr-7')")
    page.wait_for_selector("text=No previews")  # a preview has none of its own


def test_a_preview_is_made_from_the_app_page_with_its_masking_sql(server, browser):
    base, _ = server
    page = signed_in(browser, base, "#/apps/todos")
    bodies = posted(page, "/v1/apps/todos/previews")
    page.get_by_label("Preview name").fill("pr-9")
    assert page.get_by_label("Preview image").input_value() == "todo:1"  # the app's, to start from
    page.get_by_label("Preview image").fill("todo:2")
    page.get_by_label("Preview data").select_option("copy")
    page.get_by_label("Masking SQL").fill("UPDATE todos SET title = 'masked';")
    page.get_by_role("button", name="Create preview").click()
    op = page.locator(".activity li.op").first
    op.locator(".state-bad, .state-ok").wait_for()
    assert bodies == [{"name": "pr-9", "image": "todo:2", "data": "copy",
                       "mask": "UPDATE todos SET title = 'masked';", "mask_name": "console"}]
    # No swarm here: the operation fails and says where, as `sentinel preview create` would.
    assert op.inner_text().startswith("preview pr-9 of todos: failed"), op.inner_text()
    # An empty database takes no masking SQL.
    page.get_by_label("Preview data").select_option("empty")
    assert page.get_by_label("Masking SQL").is_disabled()


def test_deleting_a_preview_asks_for_its_name_first(browser):
    # A control plane of its own: the deletion changes the store the other tests read.
    with control_plane("up") as (base, _):
        deleting_a_preview_asks_for_its_name_first(base, browser)


def deleting_a_preview_asks_for_its_name_first(base, browser):
    page = signed_in(browser, base, "#/apps/todos")
    page.get_by_role("button", name="Delete preview pr-7").click()
    dialog = page.get_by_role("dialog")
    assert "with whatever the preview wrote to it" in dialog.inner_text()
    confirm = dialog.get_by_role("button", name="Delete", exact=True)
    assert confirm.is_disabled()
    dialog.get_by_label("Type pr-7 to confirm").fill("pr-7")
    deletes = []
    page.on("request", lambda r: deletes.append(r.url) if r.method == "DELETE" else None)
    confirm.click()
    # The operation starts and is followed (no swarm here: how it ends is not this test's).
    page.locator(".activity li.op", has_text="delete preview pr-7 of todos").wait_for()
    assert [u.split("/v1/", 1)[1] for u in deletes] == ["apps/todos/previews/pr-7"]


def test_a_previews_own_page_offers_no_preview_of_it(server, browser):
    base, _ = server
    page = signed_in(browser, base, "#/apps/todos-pr-7")
    page.wait_for_selector("text=No previews of todos-pr-7.")
    page.wait_for_selector("h2:text('Environment')")
    assert page.get_by_label("Preview name").count() == 0


def test_live_logs_follow_one_role_until_stopped(server, browser):
    base, _ = server
    page = signed_in(browser, base, "#/apps/todos")
    page.wait_for_selector("select >> text=canary", state="attached")
    page.get_by_label("Role").select_option("canary")
    page.get_by_role("button", name="Follow").click()
    log = page.get_by_role("log")
    page.wait_for_function("() => document.querySelector('pre.log').textContent.includes('live line 2')")
    text = log.inner_text()
    assert "todos_canary.1@sentinel-node-0 | GET /todos 200 (1 of the last lines)" in text
    assert page.get_by_role("status").filter(has_text="Following").inner_text() == "Following the canary logs."
    page.get_by_role("button", name="Stop").click()
    assert page.get_by_text("Stopped.").is_visible()
    lines = log.inner_text().count("\n")
    page.wait_for_timeout(1200)
    assert log.inner_text().count("\n") == lines  # nothing more once stopped


def test_scale_goes_through_the_api_and_shows_its_operation(server, browser):
    base, _ = server
    page = signed_in(browser, base, "#/apps/shop")
    page.wait_for_selector("text=shop_web.1")
    page.get_by_label("Replicas").fill("3")
    page.get_by_role("button", name="Scale", exact=True).click()
    op = page.locator(".activity li.op").first
    op.locator(".state-bad, .state-ok").wait_for()
    text = op.inner_text()
    # No swarm to deploy to: the operation fails, and says where, as `sentinel scale` would.
    assert text.startswith("scale shop to 3: failed")
    assert "scaling shop to 3 replica(s) by console" in text
    assert "docker stack deploy failed" in text
    page.wait_for_selector("#page li.event >> text=scale")
    history = page.locator("section", has=page.locator("h2", has_text="Recent operations")).inner_text()
    assert "scale" in history and "by console" in history


def test_deploying_an_image_asks_first_and_keeps_the_variables(server, browser):
    base, _ = server
    page = signed_in(browser, base, "#/apps/shop")
    page.get_by_label("New image").fill("shop:8")
    bodies = []
    page.on("request", lambda r: bodies.append(r.post_data) if r.url.endswith("/v1/apps") and r.method == "POST" else None)
    page.get_by_role("button", name="Deploy…").click()
    dialog = page.get_by_role("dialog")
    assert dialog.get_by_role("heading").inner_text() == "Deploy shop:8 to shop?"
    dialog.get_by_role("button", name="Deploy").click()
    page.locator(".activity li.op .state-bad").first.wait_for()
    assert json.loads(bodies[0]) == {"name": "shop", "image": "shop:8", "port": 8000, "domain": "shop.localhost",
                                     "replicas": 1, "health_path": "/healthz", "keep_env": True}
    # no swarm: the image cannot be found or pushed, said in one line
    assert "image 'shop:8' was not found" in page.locator(".activity li.op").first.inner_text()


def test_delete_needs_the_typed_name_and_the_data_choice(server, browser):
    base, _ = server
    page = signed_in(browser, base, "#/apps/todos")
    opener = page.get_by_role("button", name="Delete app…")
    opener.click()
    dialog = page.get_by_role("dialog")
    confirm = dialog.get_by_role("button", name="Delete")
    assert dialog.get_by_role("radio", name=re.compile("Keep the data")).is_visible()
    assert dialog.get_by_role("radio", name=re.compile("Delete the data")).is_visible()
    assert confirm.is_disabled()
    typed = dialog.get_by_label("Type todos to confirm")
    assert page.evaluate("document.activeElement.getAttribute('aria-describedby') === null && document.activeElement.type") == "text"
    typed.fill("todo")
    assert confirm.is_disabled()
    typed.fill("todos")
    assert confirm.is_enabled()
    shot(page, "delete-dialog.png")
    page.keyboard.press("Escape")
    assert dialog.count() == 0
    assert page.evaluate("document.activeElement.textContent") == "Delete app…"  # focus back where it was


# ---- canary -----------------------------------------------------------------------------------

def test_the_canary_page_shows_the_split_and_moves_the_weight_on_release(server, browser):
    base, _ = server
    page = signed_in(browser, base, "#/apps/todos/canary")
    page.wait_for_selector("[data-testid=current-split]")
    assert page.locator("[data-testid=current-split]").inner_text() == "production 80% · canary 20%"
    slider = page.get_by_label("Canary weight (%)")
    slider.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    assert page.locator("output.split").inner_text() == "production 75% · canary 25%"
    op = page.locator(".activity li.op").first
    op.wait_for()
    assert op.inner_text().startswith("canary weight of todos to 25% (production 75% · canary 25%)")
    op.locator(".state-bad, .state-ok").wait_for()
    assert len(page.locator(".activity li.op").all()) == 1  # five key presses, one change
    # report of /ui on the same page, in human units
    rows = page.locator("table.judgment tbody tr")
    assert "+74 ms" in rows.nth(1).inner_text() and "-292 KiB" in rows.nth(4).inner_text()
    assert page.locator("figure.chart").count() == 6
    shot(page, "canary.png")


def test_approve_promote_and_rollback_ask_first(server, browser):
    base, _ = server
    page = signed_in(browser, base, "#/apps/todos/canary")
    page.get_by_role("button", name="Approve and promote…").click()
    dialog = page.get_by_role("dialog")
    assert dialog.get_by_role("heading").inner_text() == "Approve todo:2 and promote it?"
    dialog.get_by_role("button", name="Cancel").click()
    page.get_by_role("button", name="Roll back…").click()
    assert "All traffic goes back to production (todo:1)" in page.get_by_role("dialog").inner_text()
    page.keyboard.press("Escape")
    assert page.locator(".activity li.op").count() == 0  # nothing was asked of the API


def test_starting_a_canary_offers_weight_or_steps(server, browser):
    base, _ = server
    page = signed_in(browser, base, "#/apps/shop/canary")
    page.get_by_label("Image").wait_for()
    assert page.get_by_label("Weight (% of requests)").is_visible()
    page.get_by_role("radio", name="Progressive steps, judged at each").check()
    assert page.get_by_label("Steps (% at each)").is_visible() and page.get_by_label("Interval").is_visible()
    assert not page.get_by_label("Weight (% of requests)").is_visible()
    page.get_by_label("Image").fill("shop:8")
    page.get_by_label("Analysis (JSON, optional)").fill("{not json")
    page.get_by_role("button", name="Start canary").click()
    assert "The analysis is not valid JSON" in page.get_by_role("alert").first.inner_text()
    page.get_by_label("Analysis (JSON, optional)").fill("")
    page.get_by_role("button", name="Start canary").click()
    op = page.locator(".activity li.op").first
    op.locator(".state-bad, .state-ok").wait_for()
    assert op.inner_text().startswith("canary shop:8 for shop")


def test_steps_take_gates_and_pauses_as_the_cli_does(server, browser):
    base, _ = server
    page = signed_in(browser, base, "#/apps/shop/canary")
    bodies = posted(page, "/v1/apps/shop/canary")
    page.get_by_label("Image").fill("shop:8")
    page.get_by_role("radio", name="Progressive steps, judged at each").check()
    page.get_by_label("Steps (% at each)").fill("5,20:later")
    page.get_by_role("button", name="Start canary").click()
    assert "each maybe with :approve or a pause like :5m" in page.get_by_role("alert").first.inner_text()
    assert bodies == []
    page.get_by_label("Steps (% at each)").fill("5, 20:approve, 50:2m")
    page.get_by_label("Interval").fill("30s")
    page.get_by_role("button", name="Start canary").click()
    page.locator(".activity li.op .state-bad, .activity li.op .state-ok").first.wait_for()
    assert bodies[0]["steps"] == [5, {"weight": 20, "pause": "approve"}, {"weight": 50, "pause": 120}]
    assert bodies[0]["interval"] == 30 and bodies[0]["auto_promote"] is False


def test_a_canary_at_a_gate_offers_the_approval_and_shows_the_apis_answer(server, browser):
    base, _ = server
    def at_gate(route):  # the report as the control plane would give it while the canary waits
        r = route.fetch()
        report = r.json()
        report["canary"]["progressive"]["state"] = "awaiting_approval"
        route.fulfill(response=r, json=report)

    browser.route("**/v1/apps/todos/report?*", at_gate)
    page = signed_in(browser, base, "#/apps/todos/canary")
    page.get_by_role("button", name="Approve this step…").click()
    dialog = page.get_by_role("dialog")
    assert dialog.get_by_role("heading").inner_text() == "Approve the canary of todos?"
    assert "The steps go on from 20%." in dialog.inner_text()
    assert "waiting for your approval to go on" in page.locator("#page").inner_text()
    dialog.get_by_role("button", name="Approve").click()
    op = page.locator(".activity li.op").first
    op.locator(".alert, [role=alert]").first.wait_for()
    # The store's canary waits for a promotion, not at a gate: the API refuses, in one line.
    assert op.inner_text().startswith("approve the canary of todos: refused")
    assert "waits for no approval (it waits for `sentinel canary promote`)" in op.inner_text()
    browser.unroute_all(behavior="ignoreErrors")  # the page's next refresh may be in flight


# ---- database ---------------------------------------------------------------------------------

PLAN = {"app": "todos", "into": None, "to": "2026-11-27T16:40:00Z", "target_text": "2026-11-27 16:40:00+00",
        "window": {"from": "2026-11-26T10:00:00Z", "to": "2026-11-27T17:00:00Z"}, "primary_running": True,
        "primary": "pg-0", "discards": {"from": "2026-11-27T16:40:00Z", "to": "2026-11-27T17:00:00Z",
                                        "seconds": 1200, "transactions": 42, "transactions_at_least": False}}


def test_the_database_page_says_what_it_knows_and_each_failure_in_one_line(server, browser):
    base, _ = server
    page = signed_in(browser, base, "#/apps/todos/db")
    page.wait_for_selector("text=pg-1")
    status = page.locator("section", has=page.locator("h2", has_text="Status")).inner_text()
    assert "none running" in status and "primary and standby (HA)" in status
    alert = page.locator("section", has=page.locator("h2", has_text="Backups")).get_by_role("alert")
    assert alert.inner_text() == "the database of todos has no running primary now: see `sentinel db status todos`."
    page.get_by_role("textbox", name="Restore to").fill("latest")
    page.get_by_role("button", name="Review the restore…").click()
    err = page.locator("section", has=page.locator("h2", has_text="Restore to a time")).get_by_role("alert")
    assert "unreachable" in err.inner_text() and "\n" not in err.inner_text().strip()
    shot(page, "database.png")


def test_an_in_place_restore_shows_the_loss_first_and_needs_the_name(server, browser):
    base, _ = server
    page = signed_in(browser, base, "#/apps/todos/db")
    asked = []

    def plan(route):
        asked.append(route.request.url)
        route.fulfill(status=200, content_type="application/json", body=json.dumps(PLAN))

    page.route("**/db/restore-plan?*", plan)  # what a platform with backups would answer
    page.get_by_role("textbox", name="Restore to").fill("2026-11-27T16:40:00Z")
    page.get_by_role("radio", name=re.compile("In place")).check()
    assert not page.get_by_label("New app name").is_visible()
    page.get_by_role("button", name="Review the restore…").click()
    dialog = page.get_by_role("dialog")
    loss = dialog.locator(".loss").inner_text()
    assert "Every change since" in loss and "(20 min of changes, 42 write transactions)" in loss
    assert dialog.locator("p").nth(0).inner_text() == loss.split("\n")[0]  # the loss comes first
    assert dialog.get_by_role("button", name="Restore").is_disabled()
    assert asked and "to=2026-11-27T16%3A40%3A00Z" in asked[0] and "into" not in asked[0]
    shot(page, "restore-dialog.png")
    dialog.get_by_role("button", name="Cancel").click()


# ---- cluster ----------------------------------------------------------------------------------

def test_the_cluster_page_shows_nodes_with_load_and_health(server, browser):
    base, _ = server
    page = signed_in(browser, base, "#/cluster")
    page.wait_for_selector("table.data")
    row = [t.strip() for t in page.locator("table.data tbody tr").first.locator("td").all_inner_texts()]
    assert row == ["sentinel-node-0", "manager (leader)", "ready", "172.29.0.11", "2", "0.42",
                   "1.43 GiB of 4 GiB", "12 GiB of 40 GiB"]
    health = page.locator("section", has=page.locator("h2", has_text="Platform health")).inner_text()
    assert "2 of 2" in health and "sentinel (local): ready" in health
    page.get_by_role("spinbutton", name="Nodes").fill("1")
    page.get_by_role("button", name="Scale…").click()
    assert page.get_by_role("dialog").get_by_role("heading").inner_text() == "Scale the cluster to 1 node?"
    page.keyboard.press("Escape")
    shot(page, "cluster.png")


# ---- a swarm that does not answer -------------------------------------------------------------

def test_without_a_swarm_each_read_shows_the_apis_one_line_error(down_server, browser):
    base, _ = down_server
    page = signed_in(browser, base)
    alert = page.locator("section", has=page.locator("h2", has_text="All apps")).get_by_role("alert")
    assert alert.inner_text() == "docker service ls failed: ssh: connect to host 172.29.0.11 port 22: Connection refused"
    # The store's list still shows every app; only the swarm's state is unknown.
    page.wait_for_selector("td.ready:text('unknown')")
    assert page.locator("caption").first.inner_text() == "4 apps"
    assert page.locator("td.ready").all_inner_texts() == ["unknown"] * 4  # the preview todos-pr-7 is an app too
    shot(page, "apps-swarm-down.png")
    page.get_by_label("App name").fill("todos")
    page.keyboard.press("Enter")
    page.wait_for_selector("h1:text('todos')")
    tasks = page.locator("section", has=page.locator("h2", has_text="Services and tasks")).get_by_role("alert")
    assert tasks.inner_text().startswith("docker service ls failed: ssh: connect to host")
    # what the store knows still shows, and the forms are there
    assert "SECRET_KEY" in page.locator("section", has=page.locator("h2", has_text="Environment")).inner_text()
    assert page.get_by_role("button", name="Scale", exact=True).is_visible()
    shot(page, "app-swarm-down.png")
    page.evaluate("location.hash = '#/cluster'")
    page.wait_for_selector("table.data")
    assert "unreachable" in page.locator("table.data").inner_text()
    assert "The swarm did not answer" in page.locator("section", has=page.locator("h2", has_text="Platform health")).inner_text()


# ---- accessibility ----------------------------------------------------------------------------

ROUTES = ["#/apps", "#/apps/todos", "#/apps/todos/canary", "#/apps/todos/db", "#/cluster"]
UNNAMED = """() => [...document.querySelectorAll('a, button, input, select, textarea, [tabindex]')]
  .filter(e => e.offsetParent !== null || e.tagName === 'H1')
  .filter(e => { const name = (e.getAttribute('aria-label') || [...(e.labels || [])].map(l => l.textContent).join(' ')
       || (e.getAttribute('aria-labelledby') || '').split(' ').map(id => document.getElementById(id)?.textContent || '').join(' ')
       || e.textContent || '').trim(); return !name; })
  .map(e => e.outerHTML.slice(0, 120))"""


@pytest.mark.parametrize("route", ROUTES)
def test_every_control_has_a_name(server, browser, route):
    base, _ = server
    page = signed_in(browser, base, route)
    page.wait_for_load_state("networkidle")
    assert page.evaluate(UNNAMED) == []


def test_the_keyboard_reaches_everything_in_reading_order(server, browser):
    base, _ = server
    page = signed_in(browser, base)
    page.wait_for_selector("table.data")
    focused = "(document.activeElement.textContent || document.activeElement.labels?.[0]?.textContent || '').trim()"
    page.evaluate("document.getElementById('skip').focus()")  # the first stop of the page
    order = [page.evaluate(focused)]
    for _ in range(24):
        page.keyboard.press("Tab")
        order.append(page.evaluate(focused))
    assert order[:4] == ["Skip to content", "Apps", "Cluster", "Sign out"]
    # then the table, row by row, link by link, then the form below it
    assert order[4:10] == ["inventory-service-with-a-long-name", "inventory-service-with-a-long-name.internal.example.com",
                           "shop", "shop.localhost", "todos", "todos.localhost"]
    assert order[10:16] == ["todo:2 at 20%", "postgres, 2 members", "todos-pr-7",
                            "pr-7.todos.localhost", "postgres, 1 member", "App name"]
    # Enter on a link opens it; the new page's heading gets the focus
    page.get_by_role("link", name="todos", exact=True).focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("h1:text('todos')")
    assert page.evaluate("document.activeElement.tagName + ':' + document.activeElement.textContent") == "H1:todos"
    # the skip link jumps over the header
    page.keyboard.press("Shift+Tab")
    page.evaluate("document.getElementById('skip').focus()")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.tagName") == "H1"


@pytest.mark.parametrize("width,height,scale,label", [(390, 844, 1, "390px"), (640, 450, 2, "zoom200")])
def test_narrow_windows_and_200_percent_zoom_never_scroll_sideways(server, pw, width, height, scale, label):
    base, _ = server
    # 200 % zoom of a 1280-px window lays out like a 640-px one drawn at twice the density.
    with fresh_context(pw, width, height, scale) as ctx:
        for route in ROUTES:
            page = signed_in(ctx, base, route)
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(300)
            assert no_horizontal_scroll(page), (route, page.evaluate(
                "[...document.querySelectorAll('*')].filter(e => e.getBoundingClientRect().right > innerWidth + 1).map(e => e.tagName + '.' + e.className).slice(0, 8)"))
            name = route.strip("#/").replace("/", "-") or "apps"
            shot(page, f"{name}-{label}.png")
        # names and addresses are whole, wrapped rather than cut
        page = signed_in(ctx, base)
        page.wait_for_selector("table.data")
        assert "registry.example.com/acme/inventory-service-with-a-long-name:2026.11.27-build.1234" in page.locator("table.data").inner_text()
