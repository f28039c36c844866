"""`sentinel git remote`: the URL an app's `git push` goes to (docs/build.md)."""
from __future__ import annotations

import typer
from control_plane.git.backend import remote_url  # the standard library only: fast to load

from .client import Client
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
    if json_out:
        return emit_json({**out, "url": url})
    con = console()
    con.print(url, markup=False, highlight=False, soft_wrap=True)
    con.print(f"  git remote add sentinel '{url}'\n  git push sentinel {out['branch']}", markup=False,
              highlight=False, soft_wrap=True)
    if not out["exists"]:
        con.print(f"{app} does not exist yet: the first push must carry a sentinel.yaml that "
                  "describes it.", markup=False)
