"""Webhooks and notifications against a real HTTP server on 127.0.0.1 (an ephemeral port):
the signature verifies, retries back off, every call and answer is an event, nothing blocks."""
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from control_plane import notify, webhooks
from control_plane.records import App, Canary, Plan
from control_plane.store import Store

SECRET = "s3cret-for-tests"


class Receiver:
    """A webhook receiver: answers each request with the next status of `statuses` (the last
    one repeats), after `delay` seconds, and keeps what it got."""

    def __init__(self, statuses=(200,), delay=0.0):
        self.statuses, self.delay, self.got = list(statuses), delay, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.got.append({"path": self.path, "body": body, "headers": dict(self.headers),
                                  "at": time.monotonic()})
                if outer.delay:
                    time.sleep(outer.delay)
                status = outer.statuses.pop(0) if len(outer.statuses) > 1 else outer.statuses[0]
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(*a, **kw):
        r = Receiver(*a, **kw)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def test_the_signature_is_an_hmac_of_the_exact_body(receiver):
    r = receiver()
    answer = webhooks.deliver(r.url + "/hook", {"app": "todos", "weight": 5}, secret=SECRET,
                              event="pre_rollout")
    assert answer.ok and answer.status == 200 and answer.attempts == 1
    [got] = r.got
    header = got["headers"]["X-Sentinel-Signature"]
    expected = "sha256=" + hmac.new(SECRET.encode(), got["body"], hashlib.sha256).hexdigest()
    assert header == expected and webhooks.verify(SECRET, got["body"], header)
    assert not webhooks.verify("other", got["body"], header)
    assert not webhooks.verify(SECRET, got["body"] + b" ", header)
    assert json.loads(got["body"]) == {"app": "todos", "weight": 5}
    assert got["headers"]["Content-Type"] == "application/json"
    assert got["headers"]["X-Sentinel-Event"] == "pre_rollout"


def test_no_secret_no_signature(receiver):
    r = receiver()
    webhooks.deliver(r.url, {"a": 1})
    assert "X-Sentinel-Signature" not in r.got[0]["headers"]


def test_server_errors_are_retried_with_growing_backoff(receiver):
    r = receiver(statuses=(503, 500, 200))
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # the waits asked for, real ones (the clock on a loaded
        waits.append(seconds)           # machine would only add noise to the gaps seen)
        time.sleep(seconds)
    answer = webhooks.deliver(r.url, {"a": 1}, retries=2, backoff=0.1, sleep=sleep)
    assert answer.ok and answer.attempts == 3 and len(r.got) == 3
    assert waits == [0.1, 0.2]
    gaps = [b["at"] - a["at"] for a, b in zip(r.got, r.got[1:])]
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2  # the receiver saw at least those waits
    assert r.got[0]["body"] == r.got[2]["body"]  # the same signed body each time


def test_a_definite_answer_is_not_retried(receiver):
    r = receiver(statuses=(403,))
    answer = webhooks.deliver(r.url, {"a": 1}, retries=3, backoff=0.01)
    assert not answer.ok and answer.status == 403 and answer.attempts == 1 and len(r.got) == 1


def test_retries_stop_and_the_answer_says_so(receiver):
    r = receiver(statuses=(500,))
    answer = webhooks.deliver(r.url, {"a": 1}, retries=2, backoff=0.01)
    assert not answer.ok and answer.attempts == 3 and len(r.got) == 3
    assert answer.describe().startswith("answered 500 in ") and "after 3 attempts" in answer.describe()


def test_a_slow_hook_times_out_and_never_raises(receiver):
    # The receiver answers after 10 s; two tries of 0.2 s must give up long before, even on a
    # loaded machine (the bound is wide so only a hook that waits for the answer fails it).
    r = receiver(delay=10.0)
    started = time.monotonic()
    answer = webhooks.deliver(r.url, {"a": 1}, timeout=0.2, retries=1, backoff=0.05)
    assert time.monotonic() - started < 5.0
    # Both tries were sent; on a loaded machine the receiver's thread may read the second a
    # moment after the client gave up on it.
    deadline = time.monotonic() + 3
    while len(r.got) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(r.got) == 2
    assert not answer.ok and answer.status is None and "Timeout" in answer.error


def test_nobody_listening_is_an_answer_too():
    answer = webhooks.deliver("http://127.0.0.1:9/", {"a": 1}, retries=0, timeout=0.5)
    assert not answer.ok and answer.status is None and answer.error
    assert webhooks.deliver("not a url", {"a": 1}, retries=0).ok is False


def test_urls_in_events_lose_their_query_and_credentials():
    assert webhooks.shown("https://u:p@h.example.com:8443/x?token=abc") == "https://h.example.com:8443/x"


# ---- hooks of an app's policy -----------------------------------------------------------------------
def store_with(tmp_path, policy: dict) -> Store:
    store = Store(tmp_path / "state.db")
    store.put_app(App(name="todos", image="todo:1", policy=policy))
    return store


def events(store, kind=None):
    return [e for e in store.events(target="canary:todos") if kind is None or e["kind"] == kind]


def test_a_gate_hook_is_signed_asked_and_recorded(tmp_path, receiver):
    r = receiver(statuses=(500,))
    store = store_with(tmp_path, {"hooks": {"secret_env": "HOOK_SECRET", "retries": 1,
                                            "confirm_promotion": r.url + "/gate"}})
    hooks = webhooks.Hooks(store, environ={"HOOK_SECRET": SECRET},
                           send=lambda *a, **kw: webhooks.deliver(*a, **kw, backoff=0.01))
    payload = webhooks.canary_payload("", store.app("todos"), Canary(
        app="todos", image="todo:2", weight=50,
        progressive=Plan(state="running", step_index=2, steps=[5, 20, 50])))
    assert hooks.confirm("todos", "confirm_promotion", payload) is False  # 500: hold
    assert len(r.got) == 2  # one retry
    body = json.loads(r.got[0]["body"])
    assert body["type"] == "confirm_promotion" and body["image"] == "todo:2" and body["step"] == 3
    assert webhooks.verify(SECRET, r.got[0]["body"], r.got[0]["headers"]["X-Sentinel-Signature"])
    [e] = events(store, "webhook")
    assert e["message"].startswith(f"confirm_promotion hook {r.url}/gate answered 500 in ")
    r.statuses = [204]
    assert hooks.confirm("todos", "confirm_promotion", payload) is True
    assert "answered 204" in events(store, "webhook")[-1]["message"]


def test_no_hook_means_yes_and_a_missing_secret_means_no(tmp_path, receiver):
    r = receiver()
    store = store_with(tmp_path, {"hooks": {"pre_rollout": {"url": r.url, "secret_env": "NOPE"}}})
    hooks = webhooks.Hooks(store, environ={})
    assert hooks.confirm("todos", "confirm_traffic_increase", {}) is True
    assert hooks.confirm("todos", "pre_rollout", {}) is False and r.got == []
    assert "NOPE is not set in the control plane's environment" in events(store, "webhook")[0]["message"]


def test_the_event_hook_gets_every_event_but_its_own(tmp_path, receiver):
    r = receiver()
    store = store_with(tmp_path, {"hooks": {"event": r.url, "secret_env": "HOOK_SECRET"}})
    import os

    os.environ["HOOK_SECRET"] = SECRET
    try:
        t = webhooks.on_event(store, "todos", "traffic", "canary weight 5% -> 20%", "sentinel")
        t.join(5)
        assert webhooks.on_event(store, "todos", "webhook", "x", "sentinel") is None
    finally:
        del os.environ["HOOK_SECRET"]
    [got] = r.got
    body = json.loads(got["body"])
    assert body["type"] == "event" and body["event"]["kind"] == "traffic"
    assert webhooks.verify(SECRET, got["body"], got["headers"]["X-Sentinel-Signature"])
    assert events(store, "webhook") == []  # successes of the event hook are not recorded


# ---- notifications ---------------------------------------------------------------------------------
def test_slack_and_generic_notifications(tmp_path, receiver):
    slack, generic = receiver(), receiver()
    store = store_with(tmp_path, {"notify": [
        {"slack": {"webhook_url_env": "SLACK_URL"}},
        {"webhook": {"url": generic.url + "/n", "secret_env": "N_SECRET", "events": ["rollback"]}}]})
    env = {"SLACK_URL": slack.url + "/services/T/B/X", "N_SECRET": SECRET}
    for t in notify.send(store, "todos", "rollback", "rolled back todo:2: judged score 40 (fail)",
                         {"failing_metrics": ["error_ratio"]}, environ=env):
        t.join(5)
    assert json.loads(slack.got[0]["body"])["text"] == "*todos*: rolled back todo:2: judged score 40 (fail)"
    body = json.loads(generic.got[0]["body"])
    assert body["event"] == "rollback" and body["details"] == {"failing_metrics": ["error_ratio"]}
    assert webhooks.verify(SECRET, generic.got[0]["body"], generic.got[0]["headers"]["X-Sentinel-Signature"])
    # The generic one only wants rollbacks.
    for t in notify.send(store, "todos", "deploy", "todos updated", environ=env):
        t.join(5)
    assert len(slack.got) == 2 and len(generic.got) == 1
    assert events(store) == []  # successes are not events


def test_a_failed_notification_is_an_event_and_fails_nothing(tmp_path, receiver):
    down = receiver(statuses=(500,), delay=0.7)  # 3 tries: a caller that waited would wait > 2 s
    store = store_with(tmp_path, {"notify": [{"slack": {"webhook_url_env": "SLACK_URL"}},
                                             {"webhook": {"url_env": "MISSING"}}]})
    started = time.monotonic()
    threads = notify.send(store, "todos", "promote", "promoted todo:2",
                          environ={"SLACK_URL": down.url},
                          post=lambda *a, **kw: webhooks.deliver(*a, **kw, backoff=0.01))
    assert time.monotonic() - started < 1.0  # the caller never waits
    for t in threads:
        t.join(10)
    messages = sorted(e["message"] for e in events(store, "notify"))
    assert messages[0].startswith("promote notification to slack (SLACK_URL) answered 500")
    assert messages[1] == ("promote notification to webhook (MISSING) not sent: MISSING is not set "
                           "in the control plane's environment")


def test_failed_operations_notify_their_app(tmp_path, receiver):
    r = receiver()
    store = store_with(tmp_path, {"notify": [{"webhook": {"url": r.url}}]})
    assert notify.failed_operation(store, "cluster", "scale", "x") == []
    for t in notify.failed_operation(store, "app:todos", "canary-deploy", "image not found"):
        t.join(5)
    body = json.loads(r.got[0]["body"])
    assert body["event"] == "failure" and body["message"] == "canary-deploy failed: image not found"


def test_jobs_notify_a_failed_operation(tmp_path, receiver):
    from control_plane.errors import CommandFailed
    from control_plane.jobs import Jobs

    r = receiver()
    store = store_with(tmp_path, {"notify": [{"webhook": {"url": r.url}}]})

    def boom(op):
        raise CommandFailed("the canary did not start")

    Jobs(store).start("app:todos", "canary-deploy", boom)
    deadline = time.monotonic() + 5
    while not r.got and time.monotonic() < deadline:
        time.sleep(0.02)
    assert json.loads(r.got[0]["body"])["message"] == "canary-deploy failed: the canary did not start"


def test_a_hook_without_a_secret_of_its_own_is_signed_with_the_platforms_key(tmp_path, receiver):
    from control_plane import names, secrets

    r = receiver()
    store = store_with(tmp_path, {"hooks": {"pre_rollout": r.url}})
    assert webhooks.Hooks(store, environ={}).confirm("todos", "pre_rollout", {"app": "todos"})
    key = secrets.get(names.SIGNING_KEY)  # what `sentinel server signing-key` prints
    assert webhooks.verify(key, r.got[0]["body"], r.got[0]["headers"]["X-Sentinel-Signature"])
