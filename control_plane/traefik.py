"""The one Traefik config writer: renders each app's dynamic file and writes it atomically.

Files go to the manager's file-provider folder over the multiplexed SSH connection
(temp file + rename in the same folder, so Traefik never reads half a file), and the writer can
wait until Traefik's API shows the new configuration.
"""
from __future__ import annotations

import shlex
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import httpx

from . import ssh, tunnel
from .errors import CommandFailed
from .names import (SECURE_SUFFIX, TraefikObjects, internal_host, sticky_cookie, traefik_ref,
                    traefik_service)
from .templates import render, token

DYNAMIC_DIR = "/etc/sentinel/traefik/dynamic"
SYNC_DIR = "/etc/sentinel/traefik/.sync"  # beside DYNAMIC_DIR (same filesystem, not watched)
FORCE_HEADER = "X-Sentinel-Version"
WRITE_TIMEOUT = 20  # s, per manager: a dying manager's write gives up, the others' stand




def router_tls(domain: str | list[str], cert_resolver: str | None = None) -> dict:
    """TLS of an app's websecure routers: a certificate from the ACME resolver for each domain
    (one `domains` entry is one certificate), or (no resolver) Traefik's default self-signed one."""
    if not cert_resolver:
        return {}
    domains = [domain] if isinstance(domain, str) else domain
    return {"certResolver": cert_resolver, "domains": [{"main": d} for d in domains]}


MIRRORED_METHODS = ("GET", "HEAD")  # never a write: a shadow must not change data twice


def _any(matchers: list[str]) -> str:
    return matchers[0] if len(matchers) == 1 else "(" + " || ".join(matchers) + ")"


def rules(domains: list[str], versions) -> dict:
    """The routers' rules (Traefik v3 syntax: one value per matcher), from token-checked names:
    main (the app's domains), read (its GET/HEAD requests) and forced[version] (a tester's
    header or cookie)."""
    hosts = _any([f"Host(`{token(d)}`)" for d in domains])
    forced = {}
    for v in versions:
        v = token(v)
        forced[v] = (f"{hosts} && (Header(`{FORCE_HEADER}`, `{v}`) || "
                     f"HeaderRegexp(`Cookie`, `(^|;\\s*)sentinel_version={v}(;|$)`))")
    return {"main": hosts, "forced": forced,
            "read": f"{hosts} && " + _any([f"Method(`{m}`)" for m in MIRRORED_METHODS])}


def app_routes(*, app: str, weights: dict[str, int], domain: str | None = None,
               domains: list[str] | None = None, sticky: bool = True, health: bool = True,
               cert_resolver: str | None = None, https: bool = True, maintenance: bool = False,
               mirror: int = 0) -> str:
    """weights: role -> weight (0..100). Zero-weight children are left out of the round robin.
    domains: every domain of the app (or `domain`, the one), each matched by every router.
    maintenance: every request of the app's domains gets 503 (a restore is running), not 404.
    mirror: a shadow canary: this percent of the GET/HEAD requests production answers is copied
    to the canary (and to the baseline, if there is one), whose answers are thrown away."""
    domains = domains or [domain]
    children = [{"name": traefik_ref(app, role), "weight": w}
                for role, w in weights.items() if w > 0]
    if not children:  # every weight 0 would leave no backend: production keeps the traffic
        children = [{"name": traefik_ref(app, "production"), "weight": 100}]
    entrypoints = [{"name": "web", "suffix": "", "tls": None}]
    if https:
        entrypoints.append({"name": "websecure", "suffix": SECURE_SUFFIX,
                            "tls": router_tls(domains, cert_resolver)})
    has_canary = "canary" in weights
    forced = ({role: traefik_ref(app, role) for role in ("canary", "production")}
              if has_canary else {})
    mirrors = ([{"name": traefik_ref(app, role), "percent": mirror}
                for role in ("canary", "baseline") if role in weights]
               if mirror and has_canary and not maintenance else [])
    return render("traefik_app.yml.j2", app=app, n=TraefikObjects(app), children=children, forced=forced,
                  rules=rules(domains, forced),
                  sticky=sticky_cookie(app) if (sticky and len(children) > 1) else None,
                  health=health, entrypoints=entrypoints, maintenance=maintenance, mirrors=mirrors)


def write_file_argv(name: str) -> list[str]:
    """Remote command: stdin -> hidden temp file -> rename (atomic within one folder)."""
    tmp = f"{DYNAMIC_DIR}/.{name}.tmp"
    return ["sh", "-c", f"cat > {shlex.quote(tmp)} && mv -f {shlex.quote(tmp)} "
                        f"{shlex.quote(DYNAMIC_DIR + '/' + name)}"]


def remove_file_argv(name: str) -> list[str]:
    return ["rm", "-f", f"{DYNAMIC_DIR}/{name}"]


def send_files_argv() -> list[str]:
    """Remote command: every file of the dynamic folder (not the hidden temp files) as a tar on
    stdout, for a manager that is behind (services/edge.py)."""
    d = shlex.quote(DYNAMIC_DIR)
    return ["sh", "-c", f"cd {d} && find . -maxdepth 1 -type f -name '*.yml' -printf '%f\\0' "
                        "| tar --null -T - -cf -"]


def receive_files_argv() -> list[str]:
    """Remote command: stdin's tar becomes the dynamic folder: unpacked beside it, files it does
    not hold removed, then each renamed into place (Traefik never reads half a file)."""
    d, s = shlex.quote(DYNAMIC_DIR), shlex.quote(SYNC_DIR)
    return ["sh", "-c", f"set -e; rm -rf {s}; mkdir -p {s} {d}; tar -C {s} -xf -; "
                        f"for f in {d}/*.yml; do [ -e \"$f\" ] || continue; "
                        f"[ -e {s}/\"${{f##*/}}\" ] || rm -f \"$f\"; done; "
                        f"for f in {s}/*.yml; do [ -e \"$f\" ] && mv -f \"$f\" {d}/; done; "
                        f"rm -rf {s}"]


class Unreachable(Exception):
    """A manager's Traefik did not answer its API."""


class TraefikWriter:
    """Traefik on every manager (the edge on every manager): each write goes to every manager
    that answers, and each check holds on every one that took the write. A manager a write
    missed is handed to `on_missed` (it gets every file again when it is back: services/edge.py)."""

    def __init__(self, managers: list[str], api_auth: tuple[str, str], api_port: int = 8082,
                 on_missed: Callable[[str], None] = lambda address: None,
                 behind: frozenset[str] = frozenset()):
        """Traefik's API is read through an ssh forward to a manager's admin entrypoint
        (control_plane/tunnel.py): it never crosses the network in clear. `behind`: managers
        known to lack earlier writes; they get the new ones, but no check or read relies on them."""
        self.managers = managers
        self.api_port = api_port
        self.auth = api_auth
        self.on_missed = on_missed
        # Only while another manager is up to date: one that is behind is better than none.
        self.missed: set[str] = set(behind) if set(managers) - set(behind) else set()

    @property
    def manager(self) -> str:
        """The manager reads go to when one is enough (the first that answers)."""
        return next((m for m in self.managers if m not in self.missed), self.managers[0])

    def _on_each(self, argv: list[str], what: str, content: str | None = None) -> None:
        """argv on every manager at once (a dying one costs its timeout once, not once per
        manager); it fails only when no manager took it."""
        def one(m: str) -> CommandFailed | None:
            try:
                ssh.run(m, *argv, input=content, timeout=WRITE_TIMEOUT, what=what)
                return None
            except CommandFailed as e:
                return e

        with ThreadPoolExecutor(max_workers=max(1, len(self.managers))) as pool:
            errors = dict(zip(self.managers, pool.map(one, self.managers)))
        failed = {m: e for m, e in errors.items() if e is not None}
        if len(failed) == len(self.managers):
            raise next(iter(failed.values()))
        for m in failed:
            self.missed.add(m)
            self.on_missed(m)

    def write(self, name: str, content: str) -> None:
        self._on_each(write_file_argv(name), "writing Traefik config", content)

    def remove(self, name: str) -> None:
        self._on_each(remove_file_argv(name), "removing Traefik config")

    def get(self, path: str, manager: str | None = None) -> dict | list | None:
        try:
            return self._read(path, manager or self.manager)
        except Unreachable:
            return None

    def _read(self, path: str, manager: str) -> dict | list | None:
        """The API's answer (None for a 404); Unreachable when this Traefik does not answer."""
        for attempt in (1, 2):
            try:
                r = httpx.get(f"{tunnel.url(manager, self.api_port)}/api/{path}", auth=self.auth,
                              timeout=3)
                return r.json() if r.status_code == 200 else None
            except httpx.HTTPError:
                if attempt == 1:
                    tunnel.forget(manager)  # the forward may have gone with its master
            except CommandFailed:  # the manager does not answer ssh
                break
        raise Unreachable(manager)

    def on_every(self, check: Callable[[Callable[[str], dict | list | None]], bool]) -> bool:
        """`check(read)` holds on every manager's Traefik that took the writes and answers, and at
        least one answered. A Traefik that does not answer (its node is starting, or dying) is
        counted as missed: it gets every file again when it is back."""
        answered = False
        for m in self.managers:
            if m in self.missed:
                continue
            try:
                if not check(lambda path, m=m: self._read(path, m)):
                    return False
                answered = True
            except Unreachable:
                self.missed.add(m)
                self.on_missed(m)
        return answered

    def wait_for(self, check, what: str, timeout: float = 30, interval: float = 0.05) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(interval)
        raise CommandFailed(f"Traefik did not pick up {what} within {int(timeout)} s; "
                            "check `sentinel inspect logs` and try again.")

    def has_service(self, name: str) -> bool:
        return self.on_every(lambda read: read(f"http/services/{name}") is not None)

    def answer(self, app: str, role: str, path: str) -> int | None:
        """The status one version of an app gives `path` through Traefik, as visitors reach it
        (same load balancer and health checks), on its admin-only router; None if none came."""
        try:
            r = httpx.get(f"{tunnel.url(self.manager, self.api_port)}{path}", auth=self.auth, timeout=5,
                          headers={"Host": internal_host(app, role)})
            return r.status_code
        except (httpx.HTTPError, CommandFailed):
            return None

    def weights_applied(self, app: str, weights: dict[str, int]) -> bool:
        return self.on_every(lambda read: self._weights_on(read, app, weights))

    @staticmethod
    def _weights_on(read, app: str, weights: dict[str, int]) -> bool:
        svc = read(f"http/services/{TraefikObjects(app).weighted}@file")
        if not svc:
            return False
        got = {c["name"].split("@")[0]: c.get("weight", 1)
               for c in (svc.get("weighted") or {}).get("services", [])}
        want = {traefik_service(app, r): w for r, w in weights.items() if w > 0} or \
               {traefik_service(app, "production"): 100}
        return got == want

    def mirror_applied(self, app: str, percent: int) -> bool:
        """The shadow's mirroring service is there at `percent` (or, at 0, gone)."""
        return self.on_every(lambda read: self._mirror_on(read, app, percent))

    @staticmethod
    def _mirror_on(read, app: str, percent: int) -> bool:
        svc = read(f"http/services/{TraefikObjects(app).mirror}@file")
        if not percent:
            return svc is None
        mirrors = ((svc or {}).get("mirroring") or {}).get("mirrors") or []
        return bool(mirrors) and all(m.get("percent") == percent for m in mirrors)

    def in_maintenance(self, app: str) -> bool:
        """Every manager serves the app's maintenance page (see `on_every`)."""
        return self.on_every(lambda read: self._maintenance_on(read, app))

    def out_of_maintenance(self, app: str) -> bool:
        return self.on_every(lambda read: not self._maintenance_on(read, app))

    @staticmethod
    def _maintenance_on(read, app: str) -> bool:
        n = TraefikObjects(app)
        router = read(f"http/routers/{n.router()}@file")
        return bool(router) and router.get("service") == n.maintenance

