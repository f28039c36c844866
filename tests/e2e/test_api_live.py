"""The live control plane's own OpenAPI document as the contract, on a real platform: every
read-only route, called with real names (an app with a database, a real operation) and with
inputs schemathesis generates from the document, answers with a status the document lists and a
body of that status's schema, and never with a server error. The routes that change state are
fuzzed live too, on an app that does not exist, so what they answer is the live server's
validation, token check and error bodies, and nothing real is touched. (tests/unit/test_api_fuzz.py
fuzzes every route in process, where nothing real stands behind the answers.)"""
from __future__ import annotations

import json

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (content_type_conformance, response_schema_conformance,
                                 status_code_conformance)

pytestmark = pytest.mark.e2e

CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]
STREAMS = {"/v1/apps/{name}/logs/follow"}  # answers until the client leaves
GHOST = "ghost"  # no app has this name: state-changing routes are fuzzed against it


def live(platform) -> tuple[str, dict]:
    base = f"http://127.0.0.1:{platform.env['SENTINEL_PORT']}"
    token = json.loads((platform.home / "config.json").read_text())["token"]
    return base, {"Authorization": f"Bearer {token}"}


def checker(base: str, auth: dict, failures: list[str]):
    def check(case) -> None:
        resp = case.call(base_url=base, headers=auth, timeout=60)
        where = f"{case.method} {case.formatted_path} {case.query or ''} -> {resp.status_code}"
        if resp.status_code >= 500:
            failures.append(f"{where}: {resp.text[:200]}")
            return
        try:
            case.validate_response(resp, checks=CHECKS)
        except Exception as e:  # schemathesis raises a group of check failures
            failures.append(f"{where}: {str(e)[:300]}")
    return check


def test_read_routes_answer_as_the_document_says(platform, todos):
    base, auth = live(platform)
    assert httpx.get(f"{base}/openapi.json", timeout=10).status_code == 401  # the document needs the token
    doc = httpx.get(f"{base}/openapi.json", headers=auth, timeout=10).json()
    ops = httpx.get(f"{base}/v1/operations", headers=auth, timeout=10).json()
    op_id = ops[0]["id"] if ops else "no-such-operation"
    real = {"name": "todos", "op_id": op_id}
    operations = [r.ok() for r in schemathesis.openapi.from_dict(doc).include(method="GET").get_all_operations()]
    operations = [o for o in operations if o.path not in STREAMS]
    assert len(operations) >= 10
    failures: list[str] = []
    check = checker(base, auth, failures)

    for op in operations:  # the real objects: answers with content, checked against the schemas
        params = {p: real[p] for p in real if "{" + p + "}" in op.path}
        query = {"to": "latest"} if op.path.endswith("/restore-plan") else None
        check(op.Case(path_parameters=params, query=query))

    @given(st.data())
    @settings(max_examples=4 * len(operations), deadline=None, suppress_health_check=list(HealthCheck))
    def generated(data):
        op = data.draw(st.sampled_from(operations))
        check(data.draw(op.as_strategy()))

    generated()
    assert not failures, "\n".join(failures[:10])


def test_state_changing_routes_answer_bad_input_and_unknown_apps_as_the_document_says(platform, todos):
    """Every route that changes state and names an app, with generated bodies and queries, on an
    app that does not exist: an answer the document lists (422 for a body that does not fit,
    404 for the app), never a server error, and the real app is untouched. The manifest's diff
    too, which reads the real apps."""
    base, auth = live(platform)
    doc = httpx.get(f"{base}/openapi.json", headers=auth, timeout=10).json()
    operations = [r.ok() for r in schemathesis.openapi.from_dict(doc).exclude(method="GET").get_all_operations()]
    # Those naming an app, and the manifest's diff (it changes nothing, whatever it names).
    operations = [o for o in operations if "{name}" in o.path or o.path == "/v1/manifest/diff"]
    assert len(operations) >= 16
    failures: list[str] = []
    check = checker(base, auth, failures)
    before = httpx.get(f"{base}/v1/apps/todos/settings", headers=auth, timeout=10).json()

    @given(st.data())
    @settings(max_examples=4 * len(operations), deadline=None, suppress_health_check=list(HealthCheck))
    def generated(data):
        op = data.draw(st.sampled_from(operations))
        case = data.draw(op.as_strategy())
        if "{name}" in op.path:
            case.path_parameters = {**(case.path_parameters or {}), "name": GHOST}
        check(case)

    generated()
    assert not failures, "\n".join(failures[:10])
    assert httpx.get(f"{base}/v1/apps/{GHOST}", headers=auth, timeout=10).status_code == 404
    assert httpx.get(f"{base}/v1/apps/todos/settings", headers=auth, timeout=10).json() == before
