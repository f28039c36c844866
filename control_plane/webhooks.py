"""Webhooks, Flagger's model: the app's release policy names URLs the control plane calls at
points of a canary's life, and some of the answers decide what happens next.

  pre_rollout               the canary runs but takes no traffic yet; non-2xx: it is removed
  confirm_traffic_increase  before each step up; non-2xx: hold, asked again next interval
  confirm_promotion         before an automatic promotion; non-2xx: hold, asked again
  post_rollout              after a promotion or a rollback (the answer changes nothing)
  rollback                  asked every interval while the canary runs or waits; 2xx: roll back
  event                     every canary event (the answer changes nothing)

Every call is one JSON POST with `X-Sentinel-Signature: sha256=<hex HMAC-SHA256 of the body>`,
keyed by the hook's secret (`secret_env`: a variable of the control plane's environment, never
the secret itself) or, when it names none, by the platform's signing key (generated once,
`sentinel server signing-key`): no call goes out unsigned. A timeout per attempt and a bounded number of retries with exponential
backoff (on transport errors, 429 and 5xx; any other answer is final). Each call and its answer
is an event of the canary, except the event hook's successes (they would double every event).
A hook never fails an operation by being unreachable: a gate that cannot be asked holds, and
anything else is recorded and let go.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

import httpx

from . import names, secrets
from .manifest import Hooks as HooksModel
from .records import App, Canary

log = logging.getLogger("sentinel.webhooks")
SIGNATURE_HEADER = "X-Sentinel-Signature"
EVENT_HEADER = "X-Sentinel-Event"
USER_AGENT = "sentinel-webhooks/1"
BACKOFF = 0.5  # seconds before the first retry; doubled for each one after
QUIET_KINDS = ("webhook", "notify")  # events about deliveries: never delivered themselves


def sign(secret: str | bytes, body: bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify(secret: str | bytes, body: bytes, header: str | None) -> bool:
    """What a receiver does: recompute the HMAC over the exact bytes received, compare in
    constant time."""
    return bool(header) and hmac.compare_digest(sign(secret, body), header)


def encode(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str).encode()


def shown(url: str) -> str:
    """A URL as events show it: no query or credentials (they may hold tokens)."""
    u = urlsplit(url)
    host = u.hostname or ""
    return f"{u.scheme}://{host}{f':{u.port}' if u.port else ''}{u.path}"


@dataclass
class Answer:
    ok: bool
    status: int | None
    attempts: int
    seconds: float
    error: str | None = None
    text: str = ""

    def describe(self) -> str:
        what = f"answered {self.status}" if self.status is not None else f"failed ({self.error})"
        return (f"{what} in {self.seconds:.2f} s"
                + (f" after {self.attempts} attempts" if self.attempts > 1 else "")
                + (f": {self.text}" if self.text and not self.ok else ""))


def deliver(url: str, payload: dict, *, secret: str | None = None, timeout: float = 5.0,
            retries: int = 2, backoff: float = BACKOFF, event: str = "",
            sleep: Callable[[float], None] = time.sleep) -> Answer:
    """POST the payload; at most (retries + 1) attempts of `timeout` seconds each, with
    backoff, 2**n, in between. Never raises."""
    body = encode(payload)
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    if event:
        headers[EVENT_HEADER] = event
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, body)
    started = time.monotonic()
    answer = Answer(False, None, 0, 0.0, "not sent")
    for attempt in range(1, retries + 2):
        try:
            # No redirects: a signed body must not be replayed to wherever a 30x points.
            r = httpx.post(url, content=body, headers=headers, timeout=timeout,
                           follow_redirects=False)
            text = " ".join(r.text[:200].split())
            answer = Answer(200 <= r.status_code < 300, r.status_code, attempt,
                            time.monotonic() - started, None, text)
            if answer.ok or not (r.status_code >= 500 or r.status_code == 429):
                return answer
        except httpx.HTTPError as e:
            answer = Answer(False, None, attempt, time.monotonic() - started,
                            e.__class__.__name__ + (f": {e}" if str(e) else ""))
        except Exception as e:  # a bad URL and the like: an answer, never a crash of the caller
            return Answer(False, None, attempt, time.monotonic() - started, str(e) or e.__class__.__name__)
        if attempt <= retries:
            sleep(backoff * 2 ** (attempt - 1))
    answer.seconds = time.monotonic() - started
    return answer


def canary_payload(kind: str, app: App | None, canary: Canary | None, **extra) -> dict:
    """What a hook is told (Flagger's fields where they fit: name, phase, metadata)."""
    plan = canary.progressive if canary else None
    out: dict[str, Any] = {
        "type": kind, "app": (app.name if app else None) or (canary.app if canary else None),
        "phase": (plan.state if plan else None) or (canary.state if canary else None),
        "image": canary.image if canary else None, "production_image": app.image if app else None,
        "weight": canary.weight if canary else None, "at": time.time()}
    if plan:
        out["step"] = plan.step_index + 1
        out["steps"] = plan.steps
    out.update({k: v for k, v in extra.items() if v is not None})
    return out


class Hooks:
    """The hooks of each app's policy (`app.policy["hooks"]`, in the file's form)."""

    def __init__(self, store, environ=None, send=deliver):
        self.store = store
        self.environ = os.environ if environ is None else environ
        self.send = send

    def resolved(self, app: str, kind: str) -> dict | None:
        record = self.store.app(app)
        raw = ((record.policy if record else None) or {}).get("hooks")
        if not raw:
            return None
        return HooksModel.model_validate(raw).resolved(kind)

    def _record(self, app: str, message: str, op=None) -> None:
        self.store.add_event(names.canary_target(app), "webhook", message, op.actor if op else "sentinel",
                             op.id if op else None)

    def call(self, app: str, kind: str, payload: dict, op=None, retries: int | None = None,
             record: str = "always") -> Answer | None:
        """Call the app's `kind` hook (None when it has none). record: always | failures."""
        hook = self.resolved(app, kind)
        if hook is None:
            return None
        # Every hook is signed: with its own secret, else with the platform's key.
        secret = secrets.get(names.SIGNING_KEY)
        if hook["secret_env"]:
            secret = self.environ.get(hook["secret_env"])
            if not secret:
                answer = Answer(False, None, 0, 0.0, f"{hook['secret_env']} is not set in the "
                                "control plane's environment, so nothing was sent")
                self._record(app, f"{kind} hook {shown(hook['url'])}: {answer.describe()}", op)
                return answer
        answer = self.send(hook["url"], {**payload, "type": kind}, secret=secret,
                           timeout=hook["timeout"],
                           retries=hook["retries"] if retries is None else retries, event=kind)
        if record == "always" or not answer.ok:
            self._record(app, f"{kind} hook {shown(hook['url'])} {answer.describe()}", op)
        return answer

    def confirm(self, app: str, kind: str, payload: dict, op=None) -> bool:
        """A gate: yes when there is no such hook or it answered 2xx."""
        answer = self.call(app, kind, payload, op)
        return answer is None or answer.ok

    def fire(self, app: str, kind: str, payload: dict, record: str = "always") -> threading.Thread | None:
        """In the background: the answer changes nothing, so nothing waits for it."""
        if self.resolved(app, kind) is None:
            return None
        t = threading.Thread(target=self._quietly, args=(app, kind, payload, record),
                             name=f"hook-{kind}-{app}", daemon=True)
        t.start()
        return t

    def _quietly(self, app: str, kind: str, payload: dict, record: str) -> None:
        try:
            self.call(app, kind, payload, record=record)
        except Exception:  # a hook must never take a thread of the control plane down with it
            log.exception("%s hook of %s failed", kind, app)


def on_event(store, app: str, kind: str, message: str, actor: str) -> threading.Thread | None:
    """The event hook, for one canary event just recorded."""
    if kind in QUIET_KINDS:
        return None
    try:
        return Hooks(store).fire(app, "event", {"app": app, "event": {
            "kind": kind, "message": message, "actor": actor, "at": time.time()}},
            record="failures")
    except Exception:  # a stored policy that no longer parses must not stop an operation
        log.exception("event hook of %s", app)
        return None
