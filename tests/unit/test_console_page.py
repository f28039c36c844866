"""The console's files: served without auth, same-origin only, no script turns data into markup;
`sentinel console` puts the token in the fragment only."""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cli.console_cmd import console_url
from control_plane.api import ui
from control_plane.api.console.routes import STATIC, router
from control_plane.api.console.sessions import Sessions

SCRIPTS = sorted(p.name for p in STATIC.glob("*.js"))


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    app.include_router(ui.router)
    app.include_router(router(Sessions()))
    return TestClient(app)


def test_the_page_is_html_with_a_strict_policy(client):
    r = client.get("/console")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["referrer-policy"] == "no-referrer"


def test_every_asset_and_import_is_served_from_this_origin(client):
    html = client.get("/console").text
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert refs and all(u.startswith("/console/static/") or u.startswith("/ui/static/") or u.startswith("#")
                        for u in refs), refs
    seen, todo = set(), ["/console/static/console.js"]
    while todo:
        path = todo.pop()
        seen.add(path)
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript"), path
        for imp in re.findall(r'from "([^"]+)"', r.text):
            full = imp if imp.startswith("/") else path.rsplit("/", 1)[0] + "/" + imp[2:]
            assert full.startswith(("/console/static/", "/ui/static/")), f"{path} imports {imp}"
            if full not in seen:
                todo.append(full)
    assert {f"/console/static/{n}" for n in SCRIPTS} <= seen  # no dead file
    # ... and the page asks for every module at once, not level by level as imports are found.
    assert set(re.findall(r'<link rel="modulepreload" href="([^"]+)">', html)) == seen
    for path in ["/console", "/console/static/console.css", *seen]:
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", client.get(path).text), path


@pytest.mark.parametrize("name", SCRIPTS)
def test_no_script_turns_data_into_markup(name):
    js = (STATIC / name).read_text()
    assert not re.search(r"\.(inner|outer)HTML\s*=|insertAdjacentHTML|document\.write|eval\(|new Function", js)


def test_no_script_keeps_the_token():
    for name in SCRIPTS:
        js = (STATIC / name).read_text()
        assert "localStorage" not in js and "sessionStorage" not in js, name


@pytest.mark.parametrize("path", ["/console/static/nope.js", "/console/static/routes.py",
                                  "/console/static/..%2Froutes.py"])
def test_nothing_but_the_assets_is_served(client, path):
    assert client.get(path).status_code == 404


def test_the_url_carries_token_and_app_in_the_fragment_only():
    url = console_url("http://127.0.0.1:8765/", "a+b/c=d&e f", "todos")
    parts = urlsplit(url)
    assert parts.path == "/console" and parts.query == ""
    assert parse_qs(parts.fragment) == {"token": ["a+b/c=d&e f"], "app": ["todos"]}
    assert console_url("https://cp.example", "t") == "https://cp.example/console#token=t"
