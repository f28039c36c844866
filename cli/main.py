"""The `sentinel` command.

Every command pays the CLI's start, so only the invoked command's module is imported: the table
below names where each command lives, and `build_app` registers one (or, for the top-level help
or a name that is not a command, all). Heavy modules are imported inside commands."""
from __future__ import annotations

import importlib
import os
import sys

import typer

# name → (module under cli/, attribute, whether it is a group of subcommands, click settings)
COMMANDS: dict[str, tuple[str, str, bool, dict]] = {
    "init": ("platform_cmds", "init", False, {}),
    "destroy": ("platform_cmds", "destroy", False, {}),
    "cluster": ("platform_cmds", "cluster_app", True, {}),
    "server": ("platform_cmds", "server_app", True, {}),
    "apply": ("manifest_cmds", "apply", False, {}),
    "diff": ("manifest_cmds", "diff", False, {}),
    "export": ("manifest_cmds", "export", False, {}),
    "deploy": ("app_cmds", "deploy", False, {}),
    "apps": ("app_cmds", "apps", False, {}),
    "run": ("app_cmds", "run", False, {"allow_interspersed_args": False}),
    "build": ("build_cmds", "build", False, {}),
    "builds": ("build_cmds", "builds", False, {}),
    "inspect": ("app_cmds", "inspect_app", True, {}),
    "scale": ("app_cmds", "scale_app", True, {}),
    "delete": ("app_cmds", "delete_app", True, {}),
    "canary": ("canary_cmds", "canary_app", True, {}),
    "db": ("db_cmds", "db_app", True, {}),
    "git": ("git_cmds", "git_app", True, {}),
    "preview": ("preview_cmds", "preview_app", True, {}),
    "console": ("console_cmd", "open_console", False, {}),
}


def build_app(only: str | None = None) -> typer.Typer:
    """The CLI with command `only` registered, or every command when `only` is None."""
    # Plain help (click's): rich's panels cost every `--help` ~150 ms of imports and layout.
    app = typer.Typer(name="sentinel", no_args_is_help=True, add_completion=False,
                      pretty_exceptions_enable=False, rich_markup_mode=None,
                      context_settings={"max_content_width": 110})

    @app.callback()
    def sentinel() -> None:
        """Sentinel: a self-hosted PaaS on Docker Swarm with canary releases."""

    for name, (module, attr, group, settings) in COMMANDS.items():
        if only is None or name == only:
            target = getattr(importlib.import_module(f"{__package__}.{module}"), attr)
            if group:
                target.rich_markup_mode = None
                app.add_typer(target, name=name)
            else:
                app.command(name, context_settings=settings or None)(target)
    return app


def invoked(argv: list[str]) -> str | None:
    """The command an argv runs, if its first word is one (the root takes no options)."""
    return argv[0] if argv and argv[0] in COMMANDS else None


def run() -> None:
    """Entry point: every expected failure ends as one red line and exit code 1."""
    from .client import ClientError
    from .output import Failure

    debug = os.environ.get("SENTINEL_DEBUG") == "1"
    try:
        code = build_app(invoked(sys.argv[1:]))(standalone_mode=False)
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
