"""The OpenAPI document is the contract: every JSON route names the model of its answer
(api/responses.py), refusals share one error body, and what the services really return fits
the models (a model that rejected it would turn a good answer into a 500)."""
import time

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from control_plane import records, patroni, pgbackrest
from control_plane.analysis import default_analysis
from control_plane.analysis.judge import judge
from control_plane.api import responses as r
from control_plane.store import Store
from tests.unit.test_api_fuzz import APP, SCHEMA, TOKEN

SUCCESS = ("200", "201", "202")


def json_schema_of(operation: dict) -> tuple[str, dict] | None:
    """(status, schema) of the operation's success answer when it is JSON, else None."""
    for status in SUCCESS:
        content = operation["responses"].get(status, {}).get("content", {})
        if status in operation["responses"]:
            return (status, content["application/json"].get("schema", {})) \
                if "application/json" in content else None
    return ("none", {})


def test_every_json_route_declares_its_answer():
    missing, seen = [], 0
    for path, ops in SCHEMA["paths"].items():
        for method, op in ops.items():
            found = json_schema_of(op)
            if found is None:  # a declared non-JSON answer (the followed logs: text/plain)
                continue
            seen += 1
            status, schema = found
            if status == "none" or not schema:
                missing.append(f"{method.upper()} {path}")
    assert seen > 30
    assert not missing, f"routes without a response_model: {missing}"


def test_the_only_non_json_route_is_the_log_stream():
    text = [f"{m.upper()} {p}" for p, ops in SCHEMA["paths"].items() for m, op in ops.items()
            if json_schema_of(op) is None]
    assert text == ["GET /v1/apps/{name}/logs/follow"]
    follow = SCHEMA["paths"]["/v1/apps/{name}/logs/follow"]["get"]["responses"]["200"]
    assert list(follow["content"]) == ["text/plain"]


def test_every_v1_route_lists_the_uniform_error_body():
    for path, ops in SCHEMA["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, op in ops.items():
            for status in ("401", "404", "409", "422"):
                assert status in op["responses"], (method, path, status)
            ref = op["responses"]["404"]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/ErrorBody"), (method, path)


def test_json_routes_outside_the_document_have_models_too():
    # The console's sign-in is left out of the document (a browser's route), not out of the contract.
    from control_plane.api.console.routes import router
    from control_plane.api.console.sessions import Sessions

    routes = [x for x in router(Sessions()).routes
              if isinstance(x, APIRoute) and x.path == "/console/session"]
    assert {m for x in routes for m in x.methods} == {"GET", "POST", "DELETE"}
    assert all(x.response_model in (r.ConsoleSession, r.SignedOut) for x in routes)


def test_fastapis_own_refusals_come_in_the_uniform_body():
    c = TestClient(APP)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    bad = c.post("/v1/apps/todos/canary/rollback", content=b"\xff\xfe{",
                 headers={**auth, "Content-Type": "application/json"})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "bad_request" and bad.json()["error"]["message"].endswith(".")
    nothing = c.get("/v1/nothing-here", headers=auth)
    assert nothing.status_code == 404 and nothing.json()["error"]["code"] == "not_found"
    op = c.get("/v1/operations/abc", headers=auth)
    assert op.status_code == 404 and op.json() == {"error": {"code": "not_found",
                                                             "message": "no operation abc."}}
    # JSON that does not parse, or does not fit its model: one sentence saying what and where.
    garbled = c.post("/v1/apps/todos/scale", content=b"{not json", headers={
        **auth, "Content-Type": "application/json"})
    assert garbled.status_code == 422 and garbled.json() == {"error": {
        "code": "invalid_input",
        "message": "the request body is not valid JSON: check its quoting and commas."}}
    invalid = c.post("/v1/apps/todos/scale", json={"replicas": "many"}, headers=auth)
    assert invalid.status_code == 422 and invalid.json() == {"error": {
        "code": "invalid_input",
        "message": "body.replicas: input should be a valid integer, unable to parse string as an "
                   "integer."}}
    query = c.get("/v1/apps", params={"live": "maybe"}, headers=auth)
    assert query.status_code == 422 and query.json()["error"]["message"] == (
        "query parameter live: input should be a valid boolean, unable to interpret input.")
    missing = c.post("/v1/apps/todos/scale", json={}, headers=auth)
    assert missing.json()["error"]["message"] == "body.replicas: field required."


def kept(data, out, where="") -> None:
    """Every key of what the service returned is in the answer: a model drops nothing."""
    if isinstance(data, dict):
        assert isinstance(out, dict), where
        for k, v in data.items():
            assert k in out, f"{where}.{k} was dropped"
            kept(v, out[k], f"{where}.{k}")
    elif isinstance(data, (list, tuple)):
        for i, (a, b) in enumerate(zip(data, out)):
            kept(a, b, f"{where}[{i}]")


def dump(model, data):
    """What FastAPI sends for `data` under `model` (validated, then by alias), checked to keep
    every key of `data`."""
    out = model.model_validate(data).model_dump(mode="json", by_alias=True)
    kept(data, out)
    return out


def test_an_answer_off_its_contract_is_one_sentence_not_a_traceback(caplog):
    from fastapi import FastAPI

    from control_plane.api import error_body

    api = FastAPI()
    error_body.install(api)

    @api.get("/x", response_model=r.OperationStarted)
    def broken():
        return {"operation": None, "secret": "hunter2"}

    answer = TestClient(api, raise_server_exceptions=False).get("/x")
    assert answer.status_code == 500
    assert answer.json() == {"error": {"code": "internal", "message": error_body.OFF_CONTRACT}}
    assert "operation" in caplog.text and "hunter2" not in caplog.text


def test_the_judges_fields_are_all_declared():
    from control_plane.analysis.judge import JudgeResult, MetricResult

    assert set(MetricResult.model_fields) <= set(r.MetricJudgment.model_fields)
    assert set(JudgeResult.model_fields) <= set(r.Judgment.model_fields)


def test_operations_of_the_store_fit(tmp_path):
    store = Store(tmp_path / "state.db")
    store.add_operation("ab12", "app:todos", "deploy", "cli")
    store.add_event("app:todos", "deploy", "starting 1 task(s)", "cli", "ab12")
    running = {**store.operation("ab12"), "events": store.events(op_id="ab12")}
    assert dump(r.OperationDetail, running)["events"][0]["message"] == "starting 1 task(s)"
    store.finish_operation("ab12", "failed", "no image", code="invalid_input")
    [done] = store.operations(target="app:todos")
    assert dump(r.Operation, done)["error_code"] == "invalid_input"
    store.finish_operation("ab12", "succeeded", result={"name": "todos", "url": "http://x"})
    # An operation's result differs by kind: it passes through whole.
    assert dump(r.Operation, store.operation("ab12"))["result"] == {"name": "todos", "url": "http://x"}


def test_a_judgment_fits_with_what_the_analyzer_adds(tmp_path):
    config = default_analysis()
    data = {m.name: {"control": [1.0, 1.1, 0.9, 1.0, 1.05, 1.0], "experiment": [1.0, 1.2, 0.95, 1.0, 1.1, 1.0]}
            for m in config.metrics}
    result = judge(config, data, {"control": 300.0, "experiment": 280.0}).model_dump()
    result.update({"at": 2.0, "window": [1.0, 2.0], "control": "production", "kind": "step",
                   "points": {k: 6 for k in data}, "step": 1})  # a key added later passes through
    out = dump(r.Judgment, result)
    assert out["step"] == 1 and out["metrics"][0]["points"] is not None
    store = Store(tmp_path / "state.db")
    store.add_judgment("todos", {"config": config.model_dump_config(), "data": data}, result)
    [row] = store.judgments("todos")
    assert dump(r.JudgmentRecord, row)["input"]["data"] == data


def test_database_status_and_restore_plan_fit():
    cluster = {"members": [{"name": "pg-0", "role": "leader", "state": "running", "timeline": 2},
                           {"name": "pg-1", "role": "sync_standby", "state": "streaming", "lag": 0}]}
    summary = patroni.summarize(cluster, [records.Member(index=0, node="n1"),
                                          records.Member(index=1, node="n2"),
                                          records.Member(index=2, node="n3")], {"n1": "ready", "n2": "ready"})
    info = pgbackrest.parse_info('[{"name": "todos", "status": {"code": 0}, "backup": [{"label": '
                                 '"20250101-000000F", "type": "full", "timestamp": {"start": 1, '
                                 '"stop": 2}, "info": {"size": 10, "repository": {"size": 4}}, '
                                 '"lsn": {"stop": "0/3000100"}, "archive": {"start": '
                                 '"000000010000000000000003"}}], "archive": [{"min": "a", "max": "b"}]}]',
                                 "todos")
    backups = [b.public() for b in info.backups]
    window = pgbackrest.window_from(info.backups, None).public()
    status = {"app": "todos", "ha": True, **summary,
              "repository": {"status": info.status, "message": "", "archive": info.archive},
              "archive": None, "recoverable": window, "backups": backups, "last_backup": backups[-1],
              "last_drill": {"at": "2025-01-01T00:00:00Z", "passed": True, "summary": "1 table(s)"},
              "actions": []}
    out = dump(r.DbStatus, status)
    assert out["recoverable"] == {"from": window["from"], "to": None}  # "from", as clients read it
    assert [m["role"] for m in out["members"]] == ["primary", "standby", "unknown"]
    plan = records.RestorePlan(
        app="todos", to="latest", target=records.RestoreTarget("latest"),
        window=records.Window(window["from"], None), primary="pg-0",
        discards={"from": None, "to": "2025-01-02T00:00:00Z", "transactions": None,
                  "transactions_at_least": False}).public()
    out = dump(r.RestorePlan, plan)
    assert out["discards"]["from"] is None and out["primary_running"] is True
    assert out["target_text"] == "the latest archived change"
    at = records.RestorePlan(app="todos", to="2026-12-06T10:00:00Z", window=records.Window(None, None),
                             target=pgbackrest.time_target(pgbackrest.parse_time("2026-12-06T10:00:00Z")),
                             primary=None, into="todos-copy").public()
    assert dump(r.RestorePlan, at)["target"] == {"kind": "time", "value": "2026-12-06 10:00:00.000000+00",
                                                 "timeline": None, "exclusive": False, "set": None}


def test_app_and_canary_answers_fit():
    summary = {"name": "todos", "image": "todo:1", "domain": "todos.localhost", "port": 8000,
               "replicas": 2, "health_path": "/healthz", "domains": ["todos.localhost"],
               "resources": {"cpu": 0.5, "memory": None}, "db": True, "url": "http://todos.localhost"}
    restored = {**summary, "image": None, "health_path": None, "replicas": 0, "resources": None}
    dump(r.AppListItem, {**restored, "ready": "0/0", "canary": False, "canary_image": None,
                         "canary_weight": None, "db_members": 1})
    plan = {"steps": [5, 20], "step_index": 0, "interval": 60.0, "auto_promote": False,
            "step_started": 1.0, "holds": 0, "state": "running", "next_at": 61.0,
            "pauses": ["approve", None]}
    now = time.time()
    status = {"app": "todos", "production": {"image": "todo:1", "replicas": 2, "healthy": "2/2"},
              "canary": {"image": "todo:2", "weight": 5, "weights": {"production": 95, "canary": 5},
                         "replicas": 1, "healthy": "1/1", "sticky": True, "baseline": False,
                         "mirror": 0, "resources": None, "since": now, "state": "running",
                         "progressive": plan, "release": {"restore_point": "rp1", "what": "sql"},
                         "post_promote_command": None},
              "events": [], "judgment": None}
    out = dump(r.CanaryStatus, status)
    assert out["canary"]["progressive"]["pauses"] == ["approve", None]  # the plan passes whole
    assert out["canary"]["release"]["what"] == "sql"
