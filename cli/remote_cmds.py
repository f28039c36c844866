"""The CLI's side of a remote control plane: create and install its server, trust its
certificate, remove it. Every other command is unchanged: it talks to config.json's URL."""
from __future__ import annotations

import shutil
import sys
import time
from typing import Optional

import typer

from .client import Client, TimedOut, Unreachable, config_path, home, load_config, save_config
from .output import confirm, console, fail

# What config.json may hold for a remote control plane (never cloud credentials).
def is_remote(cfg: dict) -> bool:
    """A remote control plane is configured (or its creation began: name without url)."""
    return cfg.get("url", "").startswith("https://") or ("name" in cfg and "url" not in cfg)


def remote_config(*, url: str | None, fingerprint: str | None, token: str, provider: str,
                  name: str) -> dict:
    cfg = {"url": url, "fingerprint": fingerprint, "token": token, "provider": provider,
           "name": name}
    return {k: v for k, v in cfg.items() if v is not None}


def _log(started: float, json_out: bool):
    con = console()

    def log(message: str) -> None:
        if not json_out:
            con.print(f"[dim]{time.monotonic() - started:6.1f}s[/] {message}")
        else:
            print(message, file=sys.stderr)
    return log


def ensure_remote_server(*, provider: str, name: str, settings: dict,
                         json_out: bool = False) -> Client:
    """Create (or converge) the control plane's server and install the control plane on it;
    record its URL, certificate fingerprint and token; return a client for it."""
    from control_plane.errors import SentinelError
    from control_plane.remote import ControlPlaneServer, new_token

    cfg = load_config()
    if cfg.get("url") and not is_remote(cfg):
        fail("this machine already runs a local control plane: remove it with `sentinel destroy` "
             "first, or leave out --remote-control-plane.")
    if is_remote(cfg) and (cfg.get("name"), cfg.get("provider")) != (name, provider):
        fail(f"this machine already has a control plane for cluster {cfg.get('name')!r} "
             f"({cfg.get('provider')}): run `sentinel destroy` first or use that name.")
    token = cfg.get("token") or new_token()
    # Remember the server before creating it, so `sentinel destroy` can remove a half-made one.
    save_config(remote_config(url=cfg.get("url"), fingerprint=cfg.get("fingerprint"),
                              token=token, provider=provider, name=name))
    started = time.monotonic()
    server = ControlPlaneServer(provider, name, log=_log(started, json_out))
    try:
        info = server.install(token=token, settings={**settings, "existing": bool(cfg)})
    except SentinelError as e:
        fail(f"{e.message} (re-run the same `sentinel init` to retry, or `sentinel destroy`).")
    old = cfg.get("fingerprint")
    if old and info["fingerprint"] and old != info["fingerprint"]:
        console().print(f"[yellow]note:[/] the control plane's certificate is new "
                        f"({info['fingerprint'][:23]}...): now pinned.")
    save_config(remote_config(url=info["url"], fingerprint=info["fingerprint"], token=token,
                              provider=provider, name=name))
    client = Client()
    deadline = time.monotonic() + 60
    while True:
        try:
            client.get("/healthz", timeout=5)
            break
        except (Unreachable, TimedOut):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    if not json_out:
        console().print(f"[green]✓[/] control plane at {info['url']} (certificate SHA-256 "
                        f"{(info['fingerprint'] or 'from ACME')[:23]}...) "
                        f"[dim]({time.monotonic() - started:.1f}s)[/]")
    return client


def destroy_remote(json_out: bool, delete_data: bool = False) -> None:
    """Destroy the cluster through the control plane, then the control plane's server."""
    from control_plane.errors import SentinelError
    from control_plane.remote import ControlPlaneServer
    from control_plane.ssh import control_dir

    from .output import run_operation

    cfg = load_config()
    if cfg.get("url"):
        client = Client()
        run_operation(client, client.delete("/v1/cluster", params={"delete_data": delete_data},
                                            timeout=120), json_out=json_out,
                      done_message="the cluster is gone")
    try:
        ControlPlaneServer(cfg["provider"], cfg["name"], log=_log(time.monotonic(), json_out)).destroy()
    except SentinelError as e:
        fail(f"removing the control plane's server failed: {e.message}")
    shutil.rmtree(control_dir(), ignore_errors=True)
    shutil.rmtree(home(), ignore_errors=True)
    if not json_out:
        console().print("[green]✓[/] the control plane's server is gone")


def server_trust(fingerprint: Optional[str] = typer.Option(
                     None, help="The expected SHA-256 fingerprint (ab:cd:...); "
                                "default: whatever the server shows now, after confirmation."),
                 yes: bool = typer.Option(False, "--yes", "-y")):
    """Pin the remote control plane's current TLS certificate (after it was reinstalled)."""
    from control_plane.remote import fetch_fingerprint

    cfg = load_config()
    if not cfg.get("url", "").startswith("https://"):
        fail("no remote control plane is configured: nothing to trust.")
    try:
        seen = fetch_fingerprint(cfg["url"])
    except OSError as e:
        fail(f"could not reach {cfg['url']}: {e}.")
    if fingerprint and fingerprint.lower() != seen:
        fail(f"the server at {cfg['url']} shows {seen}, not the fingerprint you gave: not trusted.")
    if seen == cfg.get("fingerprint"):
        console().print("the certificate is already the pinned one; nothing changed")
        return
    confirm(f"Trust the certificate with SHA-256 {seen} for {cfg['url']}?", yes or bool(fingerprint))
    save_config({**cfg, "fingerprint": seen})
    console().print(f"pinned {seen} in {config_path()}")
