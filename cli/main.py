"""The `sentinel` command. Heavy modules are imported inside commands so `--help` stays fast."""
from __future__ import annotations

import os
import sys

import typer

from . import (app_cmds, build_cmds, canary_cmds, console_cmd, db_cmds, git_cmds, manifest_cmds,
               platform_cmds, preview_cmds)

app = typer.Typer(name="sentinel", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False,
                  help="Sentinel: a self-hosted PaaS on Docker Swarm with canary releases.")
app.command()(platform_cmds.init)
app.command()(platform_cmds.destroy)
app.add_typer(platform_cmds.cluster_app, name="cluster")
app.add_typer(platform_cmds.server_app, name="server")
app.command()(manifest_cmds.apply)
app.command()(manifest_cmds.diff)
app.command()(manifest_cmds.export)
app.command()(app_cmds.deploy)
app.command()(app_cmds.apps)
app.command(context_settings={"allow_interspersed_args": False})(app_cmds.run)
app.command()(build_cmds.build)
app.command()(build_cmds.builds)
app.add_typer(app_cmds.inspect_app, name="inspect")
app.add_typer(app_cmds.scale_app, name="scale")
app.add_typer(app_cmds.delete_app, name="delete")
app.add_typer(canary_cmds.canary_app, name="canary")
app.add_typer(db_cmds.db_app, name="db")
app.add_typer(git_cmds.git_app, name="git")
app.add_typer(preview_cmds.preview_app, name="preview")
app.command("console")(console_cmd.open_console)


def run() -> None:
    """Entry point: every expected failure ends as one red line and exit code 1."""
    from .client import ClientError
    from .output import Failure

    debug = os.environ.get("SENTINEL_DEBUG") == "1"
    try:
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except (Failure, ClientError) as e:
        if isinstance(e, Failure):
            _error(str(e), e.exit_code, code_name=e.code)
        _error(e.message, code_name=e.code)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        _error("aborted.")
    except KeyboardInterrupt:
        _error("interrupted; running operations continue in the control plane "
               "(`sentinel canary status`, `sentinel cluster inspect`).", 130)
    except Exception as e:  # click usage errors and the unexpected
        # Typer carries its own copy of click: its usage errors are not click's classes.
        if hasattr(e, "show") and hasattr(e, "exit_code"):
            e.show()  # "Usage: …  Try 'sentinel deploy --help' for help.  Error: No such option …"
            sys.exit(e.exit_code)
        if debug:
            raise
        _error(f"unexpected error: {e} (run with SENTINEL_DEBUG=1 for details).")


def _error(message: str, code: int = 1, code_name: str = "error") -> None:
    """One line on stderr and a non-zero exit; with --json, also {"error": {code, message}} on
    stdout, the code being the control plane's (not_found, busy, conflict, invalid_input, ...)."""
    if "--json" in sys.argv[1:]:
        import json

        sys.stdout.write(json.dumps({"error": {"code": code_name, "message": message}}) + "\n")
    sys.stderr.write(f"\x1b[31merror:\x1b[0m {message}\n" if sys.stderr.isatty() else f"error: {message}\n")
    sys.exit(code)
