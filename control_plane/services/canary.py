"""Canary releases: a canary service beside production, exact weighted routing, promote, rollback.

Ordering is what makes it lossless: a Traefik child is only referenced once Traefik knows it,
and a service is only removed once no route points at it.
"""
from __future__ import annotations

import time
from typing import Any

from .. import names, notify, validation, webhooks
from ..errors import CommandFailed, Conflict, InvalidInput, NotFound
from ..jobs import Jobs, Operation
from ..models import CanaryDeploy
from ..platform import Platform
from ..swarm_state import running_tasks
from .analysis import analysis_config
from .backup import BackupService
from .plan import describe_plan, new_plan, plan_lock, split_steps, validate_plan
from .release import ReleaseService, validate as validate_release
from .routes import PRODUCTION_ONLY, Routes, routing, weights_for
from .stack import Stack, canary_process_counts, deployed_processes, production_counts
from ..records import App, Canary

service_name = names.service  # the swarm service of a web role


def check_mirror(mirror, weight: int, steps: list[int] | None) -> int:
    if isinstance(mirror, bool) or not isinstance(mirror, int) or not 0 <= mirror <= 100:
        raise InvalidInput(f"mirror {mirror!r} is not valid: give a percent from 0 to 100.")
    first = steps[0] if steps else weight
    if mirror and first != 0:
        raise InvalidInput("a shadow canary (--mirror) takes no traffic at first: its weight (or "
                           "first step) must be 0.")
    return mirror


class CanaryService:
    def __init__(self, platform: Platform, jobs: Jobs, *, stack: Stack, routes: Routes,
                 release: ReleaseService, backups: BackupService):
        self.p = platform
        self.store = platform.store
        self.jobs = jobs
        self.stack = stack
        self.routes = routes
        self.release = release
        self.backups = backups
        self.hooks = webhooks.Hooks(platform.store)

    def _event(self, app: str, kind: str, message: str, op: Operation | None = None) -> None:
        actor = op.actor if op else "system"
        self.store.add_event(names.canary_target(app), kind, message, actor, op.id if op else None)
        webhooks.on_event(self.store, app, kind, message, actor)

    def require(self, app: str) -> Canary:
        self.store.require_app(app)
        c = self.store.canary(app)
        if not c:
            raise NotFound(f"app {app!r} has no canary: start one with `sentinel canary deploy {app}`.")
        return c

    # ---- deploy -------------------------------------------------------------------------------
    def start_deploy(self, name: str, body: CanaryDeploy) -> str:
        body = self.validate_deploy(name, body)
        return self.jobs.start(names.app_target(name), "canary-deploy", lambda op: self.deploy(op, name, body))

    def validate_deploy(self, name: str, body: CanaryDeploy) -> CanaryDeploy:
        """Everything checked before anything starts; the body with its first weight set."""
        self.p.require_ready()
        self.store.require_app(name)
        if self.store.canary(name):
            raise Conflict(f"app {name!r} already has a canary: promote or roll it back first.")
        validation.image(body.image)
        validation.weight(body.weight, body.baseline)
        validation.replicas(body.replicas)
        validation.processes(body.processes)
        if body.replicas < 1:
            raise InvalidInput("a canary needs at least 1 replica.")
        validation.env_entries(body.env)
        validation.env_entries([f"{k}=" for k in body.env_unset])
        validation.resources(body.resources)
        weights, pauses, intervals = split_steps(body.steps)
        check_mirror(body.mirror, body.weight, weights)
        validate_plan(weights, body.interval, body.auto_promote, body.baseline,
                      self.p.scrape_seconds, mirror=body.mirror, intervals=intervals)
        analysis_config(body.analysis)  # a bad file is refused before anything starts
        validate_release(name, bool(self.store.require_app(name).db), body.release)
        if body.post_promote_command is not None and not body.post_promote_command.strip():
            raise InvalidInput("--post-promote-command is empty: give the contract command, e.g. "
                               "\"python migrate.py contract\".")
        if weights:
            body = body.model_copy(update={"weight": weights[0]})
        return body

    def deploy(self, op: Operation, name: str, body: CanaryDeploy) -> dict:
        app = self.store.require_app(name)
        cluster_image = self.stack.resolve_image(op, body.image)
        canary = Canary(app=name, image=body.image, cluster_image=cluster_image,
                        weight=body.weight, env=validation.env_entries(body.env),
                        env_unset=list(body.env_unset), mirror=body.mirror,
                        resources=(validation.resources(body.resources) if body.resources is not None
                                   else app.resources),
                        replicas=body.replicas, sticky=body.sticky, baseline=body.baseline,
                        started_at=time.time(), state="starting", analysis=body.analysis,
                        post_promote_command=body.post_promote_command,
                        processes=validation.processes(body.processes)
                        if body.processes is not None else None)
        if body.release:
            canary.release = self._release(op, app, canary, body)
        self.store.put_canary(canary)
        try:
            op.step(f"starting the canary ({body.image}, {body.replicas} replica(s))"
                    + (" and a baseline" if body.baseline else ""))
            self.stack.deploy(app, canary)
            roles = ["canary"] + (["baseline"] if body.baseline else [])
            for role in roles:
                self.stack.wait_running(service_name(name, role), body.replicas)
                self.routes.wait_service(name, role)
            self._wait_processes(op, app, canary)
            if not self.hooks.confirm(name, "pre_rollout",
                                      webhooks.canary_payload("pre_rollout", app, canary), op):
                raise CommandFailed("the pre-rollout hook did not answer 2xx (see `sentinel canary "
                                    f"status {name}`): the canary took no traffic.")
            op.step(f"mirroring {body.mirror}% of production's GET/HEAD requests to the canary "
                    "(its answers are dropped)" if body.mirror and not body.weight
                    else f"routing {body.weight}% of traffic to the canary")
            self.routes.write(app, **routing(canary))
        except Exception as e:
            op.step("the canary did not start: removing it, production is untouched")
            self.routes.write(app, PRODUCTION_ONLY)
            self.stack.deploy(app, None)
            self.store.delete_canary(name)
            self._event(name, "failure", f"canary {body.image} failed to start: {e}", op)
            point = canary.restore_point
            if point:
                op.step(f"the release phase had run: `sentinel db restore {name} --to {point} --yes` "
                        "returns the database to before it")
            raise
        canary.state = "running"
        weights, pauses, intervals = split_steps(body.steps)
        if weights:
            canary.progressive = new_plan(weights, body.interval, body.auto_promote, time.time(),
                                          pauses=pauses, intervals=intervals)
        self.store.put_canary(canary)
        what = (f"canary {body.image} deployed as a shadow ({body.mirror}% of GET/HEAD mirrored)"
                if body.mirror and not body.weight else f"canary {body.image} deployed at {body.weight}%")
        if canary.progressive:
            what += ", " + describe_plan(canary.progressive)
        self._event(name, "deploy", what, op)
        notify.send(self.store, name, "canary", what)
        return self.status(name)

    def _release(self, op: Operation, app: App, canary: Canary, body: CanaryDeploy) -> dict:
        """The release phase, before any canary task exists. The canary's record says
        "releasing" meanwhile (with the restore point once recorded), so a control plane that
        stops here reports it on restart; nothing is routed to the canary until it is over."""
        name, image, opts = app.name, canary.cluster_image, body.release
        assert image is not None and opts is not None  # deploy resolved the image, has a release
        self.store.put_canary(canary.changed(state="releasing", release={}))

        def keep_point(point: dict) -> None:
            c = self.store.canary(name) or canary
            self.store.put_canary(c.changed(release={"restore_point": point["name"]}))

        try:
            info = self.release.release(op, app, image, opts, extra_env=canary.env,
                                        on_point=keep_point)
        except Exception as e:
            self.store.delete_canary(name)
            self._event(name, "failure", f"release phase of {canary.image} failed: {e}", op)
            raise
        self._event(name, "release", f"release phase of {canary.image} done ({info['what']}); "
                    f"restore point {info['restore_point']}"
                    + (f"; schema: {info['schema_diff']}" if info["schema_changed"] else ""), op)
        return info

    # ---- traffic --------------------------------------------------------------------------------
    def start_traffic(self, name: str, weight) -> str:
        c = self.require(name)
        validation.weight(weight, c.baseline)
        return self.jobs.start(names.app_target(name), "canary-traffic",
                               lambda op: self.traffic(op, name, weight))

    def traffic(self, op: Operation, name: str, weight: int) -> dict:
        app, c = self.store.require_app(name), self.require(name)
        self.routes.write(app, **routing(c.changed(weight=weight)))
        if canary_process_counts(app, c, weight) != canary_process_counts(app, c):
            # The new version's workers follow its share of traffic (at least one each).
            scaled = c.changed(weight=weight)
            op.step("scaling the canary's processes: " + ", ".join(
                f"{k} to {v}" for k, v in canary_process_counts(app, scaled).items()))
            self.stack.deploy(app, scaled)
            self._wait_processes(op, app, scaled)
        old, c.weight = c.weight, weight
        plan = c.progressive
        if plan and op.actor != "sentinel" and plan.state in ("running", "awaiting_approval", "pausing"):
            plan.state = "paused"  # a person took the wheel: stop stepping, keep the canary
            self._event(name, "progress", "progressive steps paused by a manual traffic change", op)
        self.store.put_canary(c)
        self._event(name, "traffic", f"canary weight {old}% -> {weight}%", op)
        notify.send(self.store, name, "step", f"canary {c.image}: {old}% -> {weight}% of traffic")
        op.step(f"{weight}% of traffic goes to the canary")
        return self.status(name)

    # ---- promote --------------------------------------------------------------------------------
    def health(self, name: str, role: str, want: int) -> tuple[int, int]:
        # A service removed a moment ago (promote/rollback finishing) has none.
        tasks = running_tasks(self.p.docker, service_name(name, role))
        return sum(1 for t in tasks if t.state == "running"), want

    def _process_health(self, app: App, c: Canary) -> dict[str, dict]:
        """Each of the new version's process types: the tasks it should run and how many do."""
        out = {}
        for proc, want in canary_process_counts(app, c).items():
            tasks = running_tasks(self.p.docker, names.process_service(app.name, "canary", proc))
            out[proc] = {"replicas": want,
                         "healthy": f"{sum(1 for t in tasks if t.state == 'running')}/{want}"}
        return out

    def start_promote(self, name: str, post_promote_command: str | None = None) -> str:
        c = self.require(name)
        if post_promote_command is not None:
            if not post_promote_command.strip():
                raise InvalidInput("--post-promote-command is empty: give the contract command.")
            c.post_promote_command = post_promote_command
            self.store.put_canary(c)
        running, want = self.health(name, "canary", c.replicas)
        if running < want:
            raise Conflict(f"the canary of {name!r} is unhealthy ({running} of {want} task(s) "
                           "running): roll it back or wait until it is healthy.")
        return self.jobs.start(names.app_target(name), "canary-promote", lambda op: self.promote(op, name))

    def _wait_processes(self, op: Operation, app: App, canary: Canary | None) -> None:
        """Until the process types besides web run: the canary's (with `canary`), else
        production's. A worker that cannot start fails the step it is part of."""
        if canary:
            self.stack.wait_processes(op, app.name, "canary", canary_process_counts(app, canary))
        else:
            self.stack.wait_processes(op, app.name, "production", production_counts(app))

    def promote(self, op: Operation, name: str) -> dict:
        app, c = self.store.require_app(name), self.require(name)
        started = time.monotonic()
        kept = {k: v for k, v in app.env.items() if k not in c.env_unset}
        promoted = app.changed(image=c.image, cluster_image=c.cluster_image, env={**kept, **c.env},
                               resources=c.resources_or(app.resources),
                               processes=deployed_processes(app.processes, c.processes))
        op.step(f"rolling production to {c.image} (start-first, health-gated) while traffic flows")
        self.stack.deploy(promoted, c)
        self.stack.wait_running(service_name(name, "production"), app.replicas, timeout=300)
        self._wait_processes(op, promoted, None)
        self.store.put_app(promoted)
        op.step("all traffic to production")
        self.routes.write(promoted, PRODUCTION_ONLY)
        op.step("removing the canary")
        self.stack.deploy(promoted, None)
        self.store.delete_canary(name)
        took = time.monotonic() - started
        self._event(name, "promote", f"promoted {c.image} to production in {took:.1f} s", op)
        notify.send(self.store, name, "promote", f"promoted {c.image} to production "
                    f"(was {app.image})")
        self.hooks.fire(name, "post_rollout", webhooks.canary_payload(
            "post_rollout", app, c, result="promoted"))
        out = {"promoted": c.image, "seconds": round(took, 2)}
        if c.post_promote_command:
            try:
                out["post_promote"] = self.release.post_promote(op, promoted,
                                                                          c.post_promote_command)
            except Exception as e:
                self._event(name, "failure", f"post-promote command failed: {e}", op)
                raise
            self._event(name, "contract", f"post-promote command done: {c.post_promote_command}", op)
        return out

    # ---- rollback -------------------------------------------------------------------------------
    def start_rollback(self, name: str, actor: str | None = None, restore_db: bool = False) -> str:
        c = self.require(name)
        plan = None
        if restore_db:
            point = c.restore_point
            if not point:
                raise InvalidInput(f"the canary of {name!r} ran no release phase, so there is no "
                                   "restore point to return to: roll back without --restore-db.")
            plan = self.backups.plan_restore(name, point, None)

        def run(op: Operation) -> dict:
            out = self.rollback(op, name)
            if plan:
                op.step(f"returning the database to restore point {plan.to}")
                out["restored"] = self.backups.restore(op, name, plan)
            return out

        return self.jobs.start(names.app_target(name), "canary-rollback", run, actor=actor)

    def rollback(self, op: Operation, name: str, reason: str = "",
                 failing: list[str] | None = None) -> dict:
        """failing: the metrics whose regression caused it (the judge's), for notifications."""
        app, c = self.store.require_app(name), self.require(name)
        self.routes.write(app, PRODUCTION_ONLY)
        op.step("all traffic back to production; removing the canary")
        self.stack.deploy(app, None)
        self.store.delete_canary(name)
        said = f"rolled back {c.image}" + (f": {reason}" if reason else "")
        self._event(name, "rollback", said, op)
        notify.send(self.store, name, "rollback", said,
                    {"image": c.image, "reason": reason, "failing_metrics": failing or []})
        self.hooks.fire(name, "post_rollout", webhooks.canary_payload(
            "post_rollout", app, c, result="rolled_back", reason=reason))
        return {"rolled_back": c.image}

    # ---- gates ----------------------------------------------------------------------------------
    def approve(self, name: str, actor: str = "cli") -> dict:
        """Pass the gate the canary waits at (`pause: approve`). The driver takes the next step
        (or promotes) at its next tick, so the gate's state survives a restart in between."""
        with plan_lock:
            c = self.require(name)
            plan = c.progressive
            state = plan.state if plan else None
            if plan is None or state != "awaiting_approval":
                raise Conflict(f"the canary of {name!r} waits for no approval ("
                               + ({"awaiting_promotion": "it waits for `sentinel canary promote`",
                                   "awaiting_decision": "it waits for a promotion or a rollback",
                                   "paused": "its steps are paused by a manual traffic change",
                                   "pausing": "it pauses for a set time, then goes on"}.get(
                                       state, f"it is {state}" if state else "it has no steps"))
                               + ").")
            index = plan.step_index
            c.progressive = plan.changed(state="approved", gate_passed=index)
            self.store.put_canary(c)
        self.store.add_event(names.canary_target(name), "gate", f"step {index + 1}/{len(plan.steps)} at "
                             f"{plan.steps[index]}% approved", actor)
        webhooks.on_event(self.store, name, "gate", "approved", actor)
        return self.status(name)

    # ---- status ---------------------------------------------------------------------------------
    def status(self, name: str) -> dict:
        app = self.store.require_app(name)
        c = self.store.canary(name)
        out: dict[str, Any] = {
            "app": name, "production": {"image": app.image, "replicas": app.replicas}, "canary": None,
            "events": self.store.events(target=names.canary_target(name), limit=20)}
        running, want = self.health(name, "production", app.replicas)
        out["production"]["healthy"] = f"{running}/{want}"
        if c:
            running, want = self.health(name, "canary", c.replicas)
            w = weights_for(c.weight, c.baseline)
            out["canary"] = {"image": c.image, "weight": c.weight, "weights": w,
                             "replicas": c.replicas, "healthy": f"{running}/{want}",
                             "sticky": c.sticky, "baseline": c.baseline,
                             "mirror": c.mirror, "resources": c.resources,
                             "since": c.started_at, "state": c.state,
                             "progressive": c.progressive.model_dump() if c.progressive else None,
                             "release": c.release, "post_promote_command": c.post_promote_command,
                             "processes": self._process_health(app, c)}
        latest = self.store.judgments(name, limit=1)
        out["judgment"] = latest[0]["result"] if latest and c and \
            latest[0]["at"] >= c.started_at else None
        return out
