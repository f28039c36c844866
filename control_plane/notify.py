"""Notifications: tell people where they work about an app's releases.

Targets come from the app's policy (`notify:` in sentinel.yaml): a Slack-compatible incoming
webhook (Slack, Mattermost, Rocket.Chat and Discord's /slack endpoint take `{"text": ...}`) or
a generic JSON webhook, signed like the hooks when it has a secret. URLs that are secrets and
every secret come from the control plane's environment (`*_env`), never from the file.

Events: deploy, canary (a canary starts), step (its weight changes), gate (it waits for a
person), promote, rollback (with the judgment's failing metrics), failure (an operation on the
app failed). A notification is sent in the background with a timeout and a few retries; it
never holds or fails an operation, and a failed one is recorded as an event of the app.
"""
from __future__ import annotations

import logging
import os
import threading
import time

from . import names, secrets
from .webhooks import deliver, shown

log = logging.getLogger("sentinel.notify")
EVENTS = ("deploy", "canary", "step", "gate", "promote", "rollback", "failure")
TIMEOUT = 5.0
RETRIES = 2


def targets(store, app: str) -> list[dict]:
    """The app's notification targets, in the file's form ([{slack: {...}} | {webhook: {...}}])."""
    record = store.app(app)
    return list(((record.policy if record else None) or {}).get("notify") or [])


def wanted(target: dict, event: str) -> bool:
    spec = next(iter(target.values()))
    return event in (spec.get("events") or EVENTS)


def message(target: dict, app: str, event: str, text: str, details: dict | None) -> tuple[str, dict]:
    """(URL key, payload) of one notification: Slack's text or Sentinel's JSON."""
    if "slack" in target:
        return "slack", {"text": f"*{app}*: {text}", "username": "Sentinel"}
    return "webhook", {"app": app, "event": event, "message": text, "details": details or {},
                       "at": time.time()}


def send(store, app: str, event: str, text: str, details: dict | None = None,
         environ=None, post=deliver) -> list[threading.Thread]:
    """Notify every target of `app` that wants `event`, each in its own background thread."""
    try:
        chosen = [t for t in targets(store, app) if wanted(t, event)]
    except Exception:  # a policy that no longer reads must not fail the operation
        log.exception("notification targets of %s", app)
        return []
    threads = []
    for t in chosen:
        th = threading.Thread(target=_deliver, args=(store, app, t, event, text, details,
                                                     os.environ if environ is None else environ, post),
                              name=f"notify-{event}-{app}", daemon=True)
        th.start()
        threads.append(th)
    return threads


def _deliver(store, app: str, target: dict, event: str, text: str, details: dict | None,
             environ, post) -> None:
    kind, payload = message(target, app, event, text, details)
    spec = target[kind]
    url_env = spec.get("webhook_url_env") or spec.get("url_env")
    url = environ.get(url_env) if url_env else spec.get("url")
    what = f"{event} notification to {kind} ({url_env or shown(url)})"
    try:
        if not url:
            raise LookupError(f"{url_env} is not set in the control plane's environment")
        # A JSON webhook is signed like the hooks: its own secret, else the platform's key.
        secret = secrets.get(names.SIGNING_KEY) if kind == "webhook" else None
        if spec.get("secret_env"):
            secret = environ.get(spec["secret_env"])
            if not secret:
                raise LookupError(f"{spec['secret_env']} is not set in the control plane's environment")
        answer = post(url, payload, secret=secret, timeout=TIMEOUT, retries=RETRIES, event=event)
        if not answer.ok:
            store.add_event(names.canary_target(app), "notify", f"{what} {answer.describe()}", "sentinel")
    except LookupError as e:
        store.add_event(names.canary_target(app), "notify", f"{what} not sent: {e}", "sentinel")
    except Exception as e:  # never let a notification take a thread down
        log.exception("notification of %s", app)
        store.add_event(names.canary_target(app), "notify", f"{what} failed: {e}", "sentinel")


def failed_operation(store, target: str, kind: str, error: str) -> list[threading.Thread]:
    """An operation on an app failed (Jobs calls this for every failed operation)."""
    if not target.startswith("app:"):
        return []
    app = target.split(":", 1)[1]
    return send(store, app, "failure", f"{kind} failed: {error}", {"operation": kind, "error": error})
