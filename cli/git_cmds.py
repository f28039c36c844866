"""`sentinel git remote`: the URL an app's `git push` goes to (docs/build.md)."""
from __future__ import annotations

import typer
import os
import shlex
from urllib.parse import urlsplit

from control_plane.git.backend import remote_url, tls_config_argv  # the standard library only

from .client import Client, home
from .output import console, emit_json

git_app = typer.Typer(no_args_is_help=True, help="Deploy by `git push` (docs/build.md).")


@git_app.command("remote")
def remote(app: str = typer.Argument(..., help="The app the repository is for."),
           rotate: bool = typer.Option(False, "--rotate", help="Make a new push token: remotes "
                                       "holding the old one are refused from now on."),
           json_out: bool = typer.Option(False, "--json")):
    """Print the app's git remote: a push to its branch builds the code and releases it."""
    client = Client()
    out = client.request("POST", f"/v1/apps/{app}/git-remote",
                         params={"rotate": "true"} if rotate else None, timeout=30)
    url = remote_url(client.url, out["token"], out["path"])
    tls = git_tls(client)
    if json_out:
        return emit_json({**out, "url": url, "git_config": tls})
    con = console()
    con.print(url, markup=False, highlight=False, soft_wrap=True)
    steps = [f"git remote add sentinel '{url}'"] + ([shlex.join(tls)] if tls else []) + \
        [f"git push sentinel {out['branch']}"]
    con.print("\n".join("  " + s for s in steps), markup=False, highlight=False, soft_wrap=True)
    if not out["exists"]:
        con.print(f"{app} does not exist yet: the first push must carry a sentinel.yaml that "
                  "describes it.", markup=False)


def git_tls(client: Client) -> list[str] | None:
    """The git setting a push over HTTPS needs: the control plane's certificate, pinned by the
    CLI, as the CA file git trusts for that URL (git cannot pin); SENTINEL_CA where one is set.
    None for plain HTTP or a certificate a public CA signed."""
    pem = client.pinned_certificate()
    if pem is None:
        ca = os.environ.get("SENTINEL_CA")
        return tls_config_argv(client.url, os.path.abspath(ca)) if ca and \
            client.url.startswith("https://") else None
    u = urlsplit(client.url)
    path = home() / f"git-ca-{u.hostname}-{u.port or 443}.pem"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(pem)
    return tls_config_argv(client.url, str(path))
