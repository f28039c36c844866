"""sentinel console: open the web console, signed in with this machine's API token."""
from __future__ import annotations

import sys
from typing import Optional

import typer

from .canary_cmds import _can_open_browser
from .client import Client
from .output import console, fail


def console_url(base: str, token: str, app: Optional[str] = None) -> str:
    """The console with the token (and an app to open) in the fragment, which browsers never
    send: the page trades it at once for a session cookie and drops it from the address bar."""
    from urllib.parse import quote, urlencode

    params = {"token": token, **({"app": app} if app else {})}
    return f"{base.rstrip('/')}/console#" + urlencode(params, quote_via=quote)


def open_console(app: Optional[str] = typer.Argument(None, help="Open this app's page."),
                 no_open: bool = typer.Option(False, "--no-open", help="Do not start a browser."),
                 print_url: bool = typer.Option(False, "--print-url", help="Print the URL (it holds the API token).")):
    """Open the web console (apps, canaries, databases, the cluster) served by the control plane."""
    client = Client()
    if not client.token:
        fail("no API token is configured: run `sentinel init` on this machine or set SENTINEL_TOKEN.")
    # One cheap call first: a stopped control plane or a wrong token fails here in one line.
    client.get("/v1/operations", params={"limit": 1})
    url = console_url(client.url, client.token, app)
    opened = False
    if not no_open and _can_open_browser():
        import webbrowser

        opened = webbrowser.open(url)
    if opened:
        console().print("opened the Sentinel console in your browser")
    if print_url or not opened:
        sys.stdout.write(url + "\n")
