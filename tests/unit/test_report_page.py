"""The /ui router: the page and its assets are served without auth, self-contained, same-origin."""
from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from control_plane.api import ui


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    app.include_router(ui.router)
    return TestClient(app)


def local_refs(text: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"|from "([^"]+)"|import\("([^"]+)"\)', text)


@pytest.mark.parametrize("path", ["/ui", "/ui/"])
def test_the_page_is_html_without_auth(client, path):
    r = client.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "<title>Sentinel canary report</title>" in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]


def test_the_page_and_its_scripts_reference_only_local_assets(client):
    html = client.get("/ui").text
    refs = [u for groups in local_refs(html) for u in groups if u]
    assert refs == ["/ui/static/report.css", "/ui/static/report.js"]
    seen, todo = set(), ["/ui/static/report.js"]
    while todo:  # follow the module imports: every one served, none off-site
        path = todo.pop()
        seen.add(path)
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript"), path
        for groups in local_refs(r.text):
            for u in filter(None, groups):
                assert u.startswith("./"), f"{path} imports {u}"
                if (full := "/ui/static/" + u[2:]) not in seen:
                    todo.append(full)
    assert seen == {f"/ui/static/{n}.js" for n in ("report", "report_view", "api", "chart", "dom", "format")}
    for path in ["/ui", "/ui/static/report.css", *seen]:
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", client.get(path).text), path


def test_no_script_turns_data_into_markup(client):
    for name in ("report", "report_view", "api", "chart", "dom", "format"):
        js = client.get(f"/ui/static/{name}.js").text
        assert not re.search(r"\.(inner|outer)HTML\s*=|insertAdjacentHTML|document\.write", js), name


@pytest.mark.parametrize("path", ["/ui/static/nope.js", "/ui/static/ui.py", "/ui/static/..%2Fui.py",
                                  "/ui/static/%2e%2e%2fapp.py"])
def test_nothing_but_the_assets_is_served(client, path):
    assert client.get(path).status_code == 404
