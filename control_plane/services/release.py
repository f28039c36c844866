"""Releases that change the schema: the release phase, its compatibility check, restore points,
the contract step after promote, and one-off commands (`sentinel run`).

- The release phase runs once, before any task of the new version takes traffic: a command as a
  one-off task from the new image (the app's environment, secrets and network), or SQL applied in
  one transaction as the app's role. A restore point is recorded just before it.
- The compatibility check asks "would production survive this migration?" before anything real
  changes: the release runs on a copy of the database restored from the repository, then the
  current production image must come up healthy on the migrated copy and answer its check path
  (and an optional smoke command must pass). The copy is removed afterwards.
- SQL given as a file is linted first (control_plane/migration_lint.py): destructive and locking
  statements belong in the contract step unless --allow-destructive.
"""
from __future__ import annotations

import hashlib
import logging
import shlex
import threading
import time
from dataclasses import dataclass
from typing import Literal

from .. import names
from ..docker_cli import service_rm_argv, task_ids_argv, task_inspect_argv
from ..errors import CommandFailed, InvalidInput
from ..jobs import Operation
from ..models import ReleaseOptions
from ..platform import Platform
from .backup import BackupService
from .database import DatabaseService, psql_argv
from .oneoff import OneOffResult, run_one_off, telling_lines
from .stack import Stack
from .teardown import Teardown
from ..records import App

# One lock per scratch copy: its removal runs after a passed check, beside the release, and the
# next check of the same app waits for it.
_SCRATCH_LOCKS: dict[str, threading.Lock] = {}
MAX_EVENT_LINES = 2000  # output lines kept as events; the rest is counted
# The schema as data: what a migration changes (columns, indexes, constraints), read from the
# catalogs of the app's database in a stable order.
SCHEMA_SQL = """SELECT string_agg(x, E'\\n' ORDER BY x) FROM (
  SELECT format('column %I.%I.%I %s %s', table_schema, table_name, column_name, data_type,
                is_nullable) AS x
    FROM information_schema.columns WHERE table_schema NOT IN ('pg_catalog', 'information_schema')
  UNION ALL
  SELECT format('index %I.%I %s', schemaname, indexname, indexdef) FROM pg_indexes
    WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
  UNION ALL
  SELECT format('constraint %s %s', conname, pg_get_constraintdef(c.oid)) FROM pg_constraint c
    JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
) s"""


class ReleaseRefused(InvalidInput):
    """The release cannot go ahead (lint, check, failed command); nothing real changed, or the
    message says what did."""


def shell(command: str) -> list[str]:
    """A release or contract command as the container runs it: through the image's shell, as
    Heroku's release phase does, so `python migrate.py up && echo done` works."""
    return ["sh", "-c", command]


def validate(app: str, has_db: bool, opts: ReleaseOptions | None) -> None:
    """Refuse a release of `app` (`has_db`: it has a database, or its deploy makes one) that
    cannot run, before anything starts (one sentence each)."""
    if opts is None:
        return
    if not (opts.command or opts.sql):
        raise InvalidInput("a release needs --release-command or --release-sql.")
    if opts.command and opts.sql:
        raise InvalidInput("give --release-command or --release-sql, not both.")
    if not has_db:
        raise InvalidInput(f"app {app!r} has no database, so a release phase has nothing to "
                           "migrate: leave out --release-command/--release-sql.")
    if not 1 <= opts.timeout <= 24 * 3600:
        raise InvalidInput("--release-timeout must be between 1s and 24h.")
    for text, flag in ((opts.command, "--release-command"), (opts.smoke_command, "--smoke-command")):
        if text is not None and (not text.strip() or "\x00" in text):
            raise InvalidInput(f"{flag} is empty: give the command to run, e.g. \"python migrate.py up\".")
    if opts.smoke_command and opts.skip_check:
        raise InvalidInput("--smoke-command runs in the compatibility check: it cannot go with --skip-check.")
    if opts.check_path is not None and (not opts.check_path.startswith("/")
                                        or len(opts.check_path) > 200):
        raise InvalidInput(f"--check-path {opts.check_path!r} must be a path starting with '/'.")
    if opts.sql is not None:
        lint_or_refuse(opts.sql, opts.sql_name, opts.allow_destructive)


def lint_or_refuse(sql: str, filename: str, allow_destructive: bool) -> None:
    # pglast's parser loads in ~0.3 s: only a release with SQL pays for it.
    from ..migration_lint import lint

    refused = lint(sql, filename).refused(allow_destructive)
    if not refused:
        return
    f = refused[0]
    more = f" (and {len(refused) - 1} more: {', '.join(sorted({x.rule for x in refused[1:]}))})" \
        if len(refused) > 1 else ""
    allow = " or add --allow-destructive to run it in the release phase anyway" \
        if f.severity != "error" else ""
    raise ReleaseRefused(f"{filename} line {f.line}: {f.rule} ({f.severity}): {f.excerpt}{more}: "
                         f"{f.reason.rstrip('.')}; {f.safe_alternative.rstrip('.')}{allow}.")


# ---- the compatibility check's probe (pure) ----------------------------------------------------
PROBE_TRIES = 5  # answers asked for, a second apart, until one comes
PROBE_SECONDS = 5  # how long one answer may take


def probe_paths(app: App, opts: ReleaseOptions) -> list[str]:
    """What the check asks production for: --check-path; else the app's health path (the app
    itself says it needs it working) and / (a health check often reads no table; a home page
    often does). Each must answer below 500."""
    if opts.check_path:
        return [opts.check_path]
    return list(dict.fromkeys(p for p in (app.health_path, "/") if p))


def probe_argv(url: str) -> list[str]:
    """sh's arguments: curl from inside the copy's network until an answer comes (at most
    PROBE_TRIES), then `status CODE`; 000 is curl's "no answer" (refused, reset, timed out)."""
    return ["-c", f"for i in $(seq 1 {PROBE_TRIES}); do code=$(curl -s -o /dev/null -w '%{{http_code}}' "
                  f"-m {PROBE_SECONDS} {shlex.quote(url)}); [ \"$code\" != 000 ] && break; sleep 1; done; "
                  "echo \"status $code\""]


@dataclass(frozen=True)
class ProbeVerdict:
    outcome: Literal["answered", "redirect", "server_error", "no_answer"]
    code: str  # the HTTP status as curl printed it (000: none)

    @property
    def refuses(self) -> bool:
        return self.outcome in ("server_error", "no_answer")


def probe_verdict(output: str) -> ProbeVerdict:
    """What the probe's output means. No answer is a failure, never a pass; a redirect reads no
    table, so it proves nothing either way ("not checked"); 5xx is a failure; the rest answered."""
    code = next((l.split()[1] for l in output.splitlines()
                 if l.startswith("status ") and len(l.split()) == 2), "000")
    if not code.isdigit() or int(code) < 100:
        return ProbeVerdict("no_answer", "000")
    n = int(code)
    if 300 <= n < 400:
        return ProbeVerdict("redirect", code)
    if n >= 500:
        return ProbeVerdict("server_error", code)
    return ProbeVerdict("answered", code)


class ReleaseService:
    def __init__(self, platform: Platform, db: DatabaseService, backups: BackupService,
                 stack: Stack, teardown: Teardown):
        self.p = platform
        self.store = platform.store
        self.db = db
        self.backups = backups
        self.stack = stack
        self.teardown = teardown

    # ---- one-off tasks with an app's environment ---------------------------------------------
    def task_env(self, app: App, extra_env: dict | None = None) -> dict[str, str]:
        return {**app.env, **(extra_env or {}), **self.stack.db_env(app)}

    def run_task(self, op: Operation, app: App, image: str, argv: list[str], *, task: str,
                 role: str, timeout: float, extra_env: dict | None = None) -> OneOffResult:
        """`argv` once from `image` with the app's environment, database secret and network;
        each output line becomes an event of the operation (the first MAX_EVENT_LINES)."""
        shown = {"n": 0}

        def line(text: str) -> None:
            shown["n"] += 1
            if shown["n"] <= MAX_EVENT_LINES:
                op.step(f"| {text}")
            elif shown["n"] == MAX_EVENT_LINES + 1:
                op.step("| … (more output is not kept as events)")

        secrets_ = []
        if app.db:
            url = self.db.objects.ensure(app)["database_url"]
            secrets_ = [(app.db.secret, "db_password"), (url, "database_url")]
        return run_one_off(self.p, task, image, argv, networks=[names.network(app.name)],
                           secrets=secrets_, secret_mode="0444",  # as in the app's own tasks
                           env={**self.task_env(app, extra_env),
                                                  "SENTINEL_VERSION_ROLE": role},
                           constraints=[f"node.labels.{names.BACKUP_LABEL} != true"],
                           labels={"sentinel.app": app.name, "sentinel.role": role},
                           timeout=timeout, on_line=line)

    def run(self, op: Operation, name: str, argv: list[str], image: str | None, timeout: float) -> dict:
        """`sentinel run`: a one-off task like `heroku run`; the result carries the exit code."""
        app = self.store.require_app(name)
        cluster_image = self.stack.resolve_image(op, image) if image else app.cluster_image
        if not cluster_image:
            raise InvalidInput(f"app {name!r} runs no image yet: give one with --image.")
        op.step(f"running {shlex.join(argv)} once from {image or app.image}")
        started = time.monotonic()
        result = self.run_task(op, app, cluster_image, argv, task=names.stack_object(name, f"run-{op.id[:6]}"), role="run",
                               timeout=timeout)
        if result.state == "timeout":
            raise CommandFailed(f"the command did not finish within {int(timeout)} s and was stopped.")
        if result.exit_code is None:
            raise CommandFailed(f"the command could not start ({result.error or result.state}).")
        return {"exit_code": result.exit_code, "seconds": round(time.monotonic() - started, 1),
                "output_tail": result.output.splitlines()[-20:]}

    # ---- the schema as data ---------------------------------------------------------------------
    def schema(self, app: App) -> str:
        return self.db.sql(app, SCHEMA_SQL, user=app.db.user)

    @staticmethod
    def schema_diff(before: str, after: str) -> str:
        b, a = set(before.splitlines()), set(after.splitlines())
        parts = [f"+ {x}" for x in sorted(a - b)] + [f"- {x}" for x in sorted(b - a)]
        return "; ".join(parts[:6]) + (f"; … {len(parts) - 6} more" if len(parts) > 6 else "")

    # ---- the release phase --------------------------------------------------------------------
    def apply(self, op: Operation, app: App, image: str, opts: ReleaseOptions, *, task: str,
              extra_env: dict | None = None) -> OneOffResult | None:
        """The release itself on `app`'s database: the command from `image`, or the SQL in one
        transaction as the app's role. Raises ReleaseRefused with the output when it fails."""
        if opts.sql is not None:
            db = app.db
            proc = self.db.member_exec(app.name, self.db.primary(app),
                                       psql_argv(db.user, db.name, script=True) +
                                       ["--single-transaction"], input=opts.sql, check=False,
                                       timeout=opts.timeout)
            for l in (proc.stdout or "").splitlines()[:MAX_EVENT_LINES]:
                op.step(f"| {l}")
            if proc.returncode != 0:
                why = " ".join((proc.stderr or "").split())[-300:]
                raise ReleaseRefused(f"{opts.sql_name} failed in Postgres ({why})")
            return None
        result = self.run_task(op, app, image, shell(opts.command), task=task, role="release",
                               timeout=opts.timeout, extra_env=extra_env)
        if not result.ok:
            why = ("it did not finish within " f"{int(opts.timeout)} s and was stopped"
                   if result.state == "timeout" else
                   f"exit code {result.exit_code}" if result.exit_code is not None else
                   result.error or result.state)
            tail = " | ".join(telling_lines(result.output, 3))
            raise ReleaseRefused(f"the release command failed ({why})" + (f": {tail}" if tail else ""))
        return result

    def check(self, op: Operation, app: App, image: str, opts: ReleaseOptions,
              extra_env: dict | None = None) -> dict:
        """Would production survive this migration? On a copy restored from the repository: the
        release, then the production image healthy and answering, then the smoke command."""
        if opts.skip_check:
            op.step("compatibility check skipped (--skip-check)")
            return {"skipped": True}
        started = time.monotonic()
        name = app.name
        scratch = f"sentinel-check-{hashlib.sha256(name.encode()).hexdigest()[:8]}"
        lock = _SCRATCH_LOCKS.setdefault(scratch, threading.Lock())
        with lock:
            leftover = self.store.app(scratch)
            if leftover:  # a leftover of an interrupted check
                self.teardown.remove(leftover, keep_data=False)
                self.store.delete_app(scratch)
        self.backups.ensure_backup(op, app, "the compatibility check restores a copy from the backups")
        op.step("compatibility check: a copy of the database as of now")
        self.backups.copy_now(op, app, scratch, internal=True)
        copy = self.store.require_app(scratch)
        passed = False
        try:
            op.step("compatibility check: the release on the copy")
            try:
                self.apply(op, copy, image, opts, task=names.stack_object(scratch, "release"), extra_env=extra_env)
            except ReleaseRefused as e:
                raise ReleaseRefused(f"{e.message} on a copy of the database; nothing real was "
                                     "changed: fix it and try again")
            op.step(f"compatibility check: production ({app.image}) on the migrated copy")
            prod = copy.changed(image=app.image, cluster_image=app.cluster_image, port=app.port,
                                replicas=1, health_path=app.health_path, env=dict(app.env))
            self.store.put_app(prod)
            self.stack.deploy(prod)
            service = names.service(scratch, "production")
            try:
                # Refused as soon as swarm marks a task failed (it crashed, or its health check
                # failed), not after the whole wait.
                self.stack.wait_running(service, 1, timeout=120, fail_fast=True)
            except CommandFailed:
                logs = self.stack.logs(service, tail=20)
                raise ReleaseRefused(
                    f"production ({app.image}) does not stay healthy on the migrated copy, so "
                    f"this release would break it: {' | '.join(l[-160:] for l in logs[-3:])}; nothing "
                    "real was changed: keep the old schema working until the contract step "
                    "(--post-promote-command), or --skip-check")
            self._probe(op, scratch, app, opts)
            if opts.smoke_command:
                op.step("compatibility check: the smoke command against production on the copy")
                smoke = self.run_task(op, prod, app.cluster_image, shell(opts.smoke_command),
                                      task=names.stack_object(scratch, "smoke"), role="smoke", timeout=opts.timeout)
                if not smoke.ok:
                    raise ReleaseRefused(
                        f"the smoke command failed against production on the migrated copy "
                        f"(exit code {smoke.exit_code}): {' | '.join(telling_lines(smoke.output, 3))}; "
                        "this release would break production; nothing real was changed")
            passed = True
        finally:
            def remove() -> None:
                with lock:
                    current = self.store.app(scratch)
                    if current:
                        self.teardown.remove(current, keep_data=False)
                        self.store.delete_app(scratch)

            if passed:  # nothing waits on the copy any more: it goes while the release goes on
                threading.Thread(target=remove, name=f"remove {scratch}", daemon=True).start()
            else:  # a refused release leaves the platform exactly as it was before returning
                remove()
        took = round(time.monotonic() - started, 1)
        op.step(f"compatibility check passed in {took} s: production works on the migrated schema")
        return {"skipped": False, "passed": True, "seconds": took}

    def _probe(self, op: Operation, scratch: str, app: App, opts: ReleaseOptions) -> None:
        """The production task on the copy must answer each probe path below 500."""
        verdicts = [(path, self._probe_one(scratch, app, path)) for path in probe_paths(app, opts)]
        if all(v.outcome == "redirect" for _, v in verdicts):
            path, verdict = verdicts[-1]
            op.step(f"compatibility check: WARNING: production answers {verdict.code} (a redirect) on "
                    f"{path}, which reads no table, so the migrated schema was not checked there: give "
                    "--check-path a page that reads the database (or set the app's health path)")
            return
        op.step("compatibility check: production answers " +
                ", ".join(f"{v.code} on {path}" for path, v in verdicts))

    def _probe_one(self, scratch: str, app: App, path: str) -> ProbeVerdict:
        url = f"http://{names.service(scratch, 'production')}:{app.port}{path}"
        result = run_one_off(self.p, names.stack_object(scratch, "probe"), self.p.stack_image("postgres"), probe_argv(url),
                             entrypoint="sh", networks=[names.network(scratch)],
                             constraints=[f"node.labels.{names.BACKUP_LABEL} != true"], timeout=120)
        if result.exit_code is None:
            raise CommandFailed(f"the compatibility check's probe could not run ({result.error or result.state}); "
                                "nothing real was changed: try again, or --skip-check")
        verdict = probe_verdict(result.output)
        if verdict.outcome == "no_answer":
            raise ReleaseRefused(
                f"production ({app.image}) gave no answer on {path} within {PROBE_SECONDS} s "
                f"({PROBE_TRIES} tries) on the migrated copy, so this release would break it; nothing "
                "real was changed: keep the old schema working until the contract step "
                "(--post-promote-command), or --skip-check")
        if verdict.refuses:
            raise ReleaseRefused(
                f"production ({app.image}) answers {verdict.code} on {path} on the migrated "
                "copy, so this release would break it; nothing real was changed: keep the old "
                "schema working until the contract step (--post-promote-command), or --skip-check")
        return verdict

    def release(self, op: Operation, app: App, image: str, opts: ReleaseOptions, *,
                extra_env: dict | None = None, on_point=None) -> dict:
        """The checked release on the real database: a restore point, then the release; on
        failure the message says whether the schema changed and how to go back."""
        check = self.check(op, app, image, opts, extra_env)
        stamp = time.strftime("%Y%m%dt%H%M%S", time.gmtime())
        point = self.backups.restore_point(app, f"release-{stamp}", op.actor, op.id)
        op.step(f"restore point {point['name']} recorded just before the release")
        if on_point:
            on_point(point)
        before = self.schema(app)
        started = time.monotonic()
        try:
            self.apply(op, app, image, opts, task=names.stack_object(app.name, "release"), extra_env=extra_env)
        except ReleaseRefused as e:
            after = self.schema(app)
            changed = (f"the schema changed ({self.schema_diff(before, after)}): return to before the "
                       f"release with `sentinel db restore {app.name} --to {point['name']} --yes`"
                       if after != before else
                       "the schema did not change (data the command may have written cannot be "
                       f"told apart from the app's; `sentinel db restore {app.name} --to "
                       f"{point['name']} --yes` returns to before it)")
            raise ReleaseRefused(f"{e.message}; nothing was deployed and production is untouched; "
                                 f"{changed}.")
        after = self.schema(app)
        took = round(time.monotonic() - started, 1)
        op.step(f"release phase done in {took} s" + (f": {self.schema_diff(before, after)}"
                                                     if after != before else ""))
        return {"restore_point": point["name"], "seconds": took, "check": check,
                "schema_changed": after != before, "schema_diff": self.schema_diff(before, after),
                "what": opts.command or opts.sql_name}

    def post_promote(self, op: Operation, app: App, command: str) -> dict:
        """The contract step: once, from the (now production) image, after all traffic moved."""
        op.step(f"contract step: {command}")
        result = self.run_task(op, app, app.cluster_image, shell(command),
                               task=names.stack_object(app.name, "contract"), role="contract", timeout=3600)
        if not result.ok:
            raise CommandFailed(
                f"the promotion is done, but the post-promote command failed (exit code "
                f"{result.exit_code}): {' | '.join(telling_lines(result.output, 2))}; run it again "
                f"with `sentinel run {app.name} -- {command}`")
        return {"command": command, "exit_code": 0}

    # ---- after a restart ------------------------------------------------------------------------
    def report_interrupted(self) -> None:
        """A canary whose release phase was cut off by a control-plane stop: say so, name the
        restore point, and leave routing as it was (production only)."""
        try:
            self._report_interrupted()
        except Exception:  # never let a report stop the control plane
            logging.getLogger("sentinel.release").exception("reporting interrupted releases failed")

    def _report_interrupted(self) -> None:
        for c in self.store.canaries():
            if c.state != "releasing":
                continue
            point = c.restore_point
            c.state = "interrupted"
            self.store.put_canary(c)
            self.store.add_event(
                names.canary_target(c.app), "release",
                "the control plane stopped during the release phase: no traffic went to the "
                "canary; " + (f"restore point {point} was recorded just before the release "
                              f"(`sentinel canary rollback {c.app} --restore-db --yes` returns "
                              "there)" if point else "no restore point had been recorded yet")
                + "; " + self._stop_leftover(c.app), "system")

    def _stop_leftover(self, app: str) -> str:
        """The release command's task, if it outlived the control plane: what became of it, and
        it is removed (a transactional migration cut off rolls back)."""
        task = names.stack_object(app, "release")
        try:
            ids = self.p.docker.out(task_ids_argv(task), check=False, timeout=20).split()
            if not ids:
                return "its release command is not running"
            status = (self.p.docker.inspect(task_inspect_argv(ids[:1]), timeout=20) or [{}])[0] \
                .get("Status") or {}
            self.p.docker.run(service_rm_argv([task]), check=False)
        except CommandFailed:
            return "whether its release command finished is unknown"
        state = status.get("State", "unknown")
        code = (status.get("ContainerStatus") or {}).get("ExitCode")
        if state == "running":
            return "its release command was still running and has been stopped"
        return f"its release command ended {state}" + (f" (exit code {code})" if code is not None else "")
