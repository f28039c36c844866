"""`git push` (docs/build.md): an app's repository on the control plane, the token a push is let in
with, and what a push does — build the pushed tree, then apply the tree's sentinel.yaml with the
image built (a canary by its `canary:` section, else a rolling update), as one operation on the
app — and the lines the pusher sees while it runs, until the new version is promoted, rolled back
or waits at a gate.

A push without a sentinel.yaml follows the app's stored settings and policy (what `sentinel
export` prints): the image changes, and the Procfile's `release` process is its release phase."""
from __future__ import annotations

import hmac
import re
import secrets as pysecrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .. import executor, names, secrets, validation
from ..units import format_duration
from .. import manifest as mf
from ..build.plan import besides_web, no_web
from ..build.source import SOURCE_LIMIT, pack, unpack
from ..errors import Conflict, InvalidInput, NotFound, SentinelError
from ..git import ZERO, done_line
from ..git.backend import init_argv
from ..jobs import Jobs, Operation
from ..models import BuildOptions, ManifestApply, PreviewCreate
from ..platform import Platform
from .builds import BuildService
from .manifest import ManifestService
from .previews import PreviewService

MANIFEST = "sentinel.yaml"
POLL = 1.0  # seconds between looks at a running push's events
# The canary states the push stops following at: the new version waits for a person, and what
# to tell them (a timed pause is not one: it goes on by itself).
PERSON = {"awaiting_approval": "waits for approval at {w}%: `sentinel canary approve {app}`",
          "awaiting_promotion": "passed every step at {w}% and waits for a promotion: "
                                "`sentinel canary promote {app}`",
          "awaiting_decision": "has not enough data to be judged at {w}%: promote or roll it "
                               "back (`sentinel canary status {app}`)"}


def pushed_manifest(stored: dict[str, Any], image: str, release: str | None) -> dict[str, Any]:
    """The manifest a push without sentinel.yaml applies: the app as it is stored, the pushed
    image, and the Procfile's release process as the release phase. What named a file of an
    earlier apply is left out (its release SQL belonged to that version; the schema is for a
    first deploy; an analysis file is not in the push): the defaults stand in."""
    data = mf.with_image(stored, image)
    phase = {k: v for k, v in (stored.get("release") or {}).items() if k != "sql"}
    if release:
        phase["command"] = release
    if not phase.get("command"):
        phase.pop("smoke_command", None)
    if phase.get("command") or phase.get("post_promote"):
        data["release"] = phase
    else:
        data.pop("release", None)
    canary = data.get("canary")
    if isinstance(canary, dict) and isinstance(canary.get("analysis"), str) and \
            canary["analysis"] != "default":
        data["canary"] = {k: v for k, v in canary.items() if k != "analysis"}
    if isinstance(data.get("database"), dict):
        data["database"] = {k: v for k, v in data["database"].items() if k != "schema"}
    return data


class PushService:
    def __init__(self, platform: Platform, jobs: Jobs, builds: BuildService,
                 manifests: ManifestService, previews: PreviewService, root: Path):
        self.p = platform
        self.store = platform.store
        self.jobs = jobs
        self.builds = builds
        self.manifests = manifests
        self.previews = previews
        self.root = root  # the folder of every app's bare repository
        self._tickets: dict[str, str] = {}  # one push's ticket -> its app
        self._lock = threading.Lock()

    # ---- the remote -------------------------------------------------------------------------
    def remote(self, app: str, rotate: bool = False) -> dict:
        """The push token of the app's repository (made on first use; `rotate` makes a new one,
        and the old one stops working)."""
        validation.name(app)
        key = names.git_token(app)
        if rotate:
            secrets.forget([key])
        return {"app": app, "path": names.git_path(app), "token": secrets.get(key),
                "branch": names.GIT_BRANCH, "exists": self.store.app(app) is not None}

    def authorized(self, app: str, password: str | None) -> bool:
        """Whether `password` is the app's push token (an app never given one lets nobody in)."""
        try:
            validation.name(app)
        except SentinelError:
            return False
        token = secrets.load().get(names.git_token(app))
        return bool(token and password and hmac.compare_digest(token.encode(), password.encode()))

    def repository(self, app: str) -> Path:
        """The app's bare repository, made on first use."""
        repo = self.root / names.git_repo(app)
        if not (repo / "HEAD").exists():
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            executor.run(init_argv(repo, names.GIT_BRANCH), timeout=60, what="git init")
        return repo

    # ---- one push's ticket: the hook's way back in --------------------------------------------
    def ticket(self, app: str) -> str:
        t = pysecrets.token_urlsafe(24)
        with self._lock:
            self._tickets[t] = app
        return t

    def end_ticket(self, ticket: str) -> None:
        with self._lock:
            self._tickets.pop(ticket, None)

    def redeem(self, app: str, ticket: str | None) -> bool:
        """True once for the push the ticket was made for."""
        with self._lock:
            if ticket and self._tickets.get(ticket) == app:
                del self._tickets[ticket]
                return True
            return False

    # ---- the push -----------------------------------------------------------------------------
    def start(self, app: str, sha: str, source: bytes, branch: str = names.GIT_BRANCH) -> str | None:
        """Check the pushed tree, then build and apply it as one operation on the app (another
        branch: its preview); the operation, or None when there is nothing to do."""
        if not re.fullmatch(r"[0-9a-f]{40}", sha or ""):
            raise InvalidInput("the push names no commit (sha=): push with git.")
        self.p.require_ready()
        if branch != names.GIT_BRANCH:
            return self._start_preview(app, sha, source, branch)
        with tempfile.TemporaryDirectory(prefix="sentinel-push-") as tmp:
            tree = Path(tmp) / "tree"
            unpack(source, tree, SOURCE_LIMIT)
            data, files, build_source = self._manifest(app, tree)
        # The file is checked now, with a stand-in for the image the build will name.
        placeholder = (pushed_manifest(data, f"{app}:pushed", None) if files is None
                       else mf.with_image(data, f"{app}:pushed"))
        self.manifests.read(ManifestApply(manifest=placeholder, files=files or {}, source=MANIFEST))
        canary = self.store.canary(app)
        if canary:
            raise Conflict(f"{app} has a canary of {canary.image} running: promote or roll it "
                           "back (`sentinel canary status " + app + "`), then push again.")
        self.builds.plan(app, build_source)  # a tree of no known kind is refused here
        return self.jobs.start(names.app_target(app), "push",
                               lambda op: self._push(op, app, sha, data, files, build_source))

    def _manifest(self, app: str, tree: Path) -> tuple[dict, dict[str, str] | None, bytes]:
        """What the push applies (the data of its sentinel.yaml, or of the stored app: then no
        files, None), the files it names, and the source to build."""
        path = tree / MANIFEST
        if not path.is_file():
            stored = self.store.app(app)
            if stored is None or not stored.image:
                raise NotFound(f"app {app!r} does not exist: push a {MANIFEST} that describes it "
                               f"(app: {app}, port, database), or deploy it first with "
                               f"`sentinel deploy --name {app} --source .`.")
            archive, _ = pack(tree, SOURCE_LIMIT)
            # As `sentinel export` writes it: applying that changes nothing.
            return mf.load_data(mf.to_yaml(mf.from_records(stored))), None, archive
        data = mf.load_data(path.read_text(errors="replace"), MANIFEST)
        if not isinstance(data, dict):
            raise InvalidInput(f"{MANIFEST}: the file must be a mapping with at least app and "
                               "source.")
        if data.get("app") != app:
            raise InvalidInput(f"{MANIFEST}: app: is {data.get('app')!r}, but this is {app}'s "
                               f"repository: push to {data.get('app')}'s remote, or set app: {app}.")
        folder = (tree / (mf.source_of(data, MANIFEST) or ".")).resolve()
        if not folder.is_relative_to(tree.resolve()) or not folder.is_dir():
            raise InvalidInput(f"{MANIFEST}: source: {data['source']} is not a folder of the "
                               "repository.")

        def read(rel: str) -> str | None:
            p = (tree / rel).resolve()
            return p.read_text(errors="replace") if p.is_relative_to(tree.resolve()) and \
                p.is_file() else None
        files = mf.files_named(mf.parse(mf.with_image(data, f"{app}:pushed"), MANIFEST), read,
                               MANIFEST)
        self.builds.settings(mf.build_of(data, MANIFEST))  # its build: checked before anything runs
        archive, _ = pack(folder, SOURCE_LIMIT)
        return data, files, archive

    def _push(self, op: Operation, app: str, sha: str, data: dict, files: dict[str, str] | None,
              source: bytes) -> dict:
        op.step(f"push of {sha[:12]} to {app}: building")
        built = self.builds.build(op, app, source, label=sha[:12],
                                  options=mf.build_of(data, MANIFEST))
        image = built["image"]
        why = no_web(built["kind"], built.get("processes") or {})
        if why:
            raise InvalidInput(why[0].upper() + why[1:])
        if files is None:  # no sentinel.yaml: the stored app, with the pushed image
            manifest = pushed_manifest(data, image, built.get("release"))
        else:
            manifest = mf.with_image(data, image)
            if built.get("release") and "release" not in data:
                manifest["release"] = {"command": built["release"]}
        op.step(f"releasing {image}")
        processes = besides_web(built.get("processes") or {})
        applied = self.manifests.apply_in(op, ManifestApply(manifest=manifest, files=files or {},
                                                            source=MANIFEST, processes=processes))
        return {"app": app, "sha": sha, "image": image, "build": built["id"], **applied}

    # ---- a branch's preview -----------------------------------------------------------------
    def _start_preview(self, app: str, sha: str, source: bytes, branch: str) -> str | None:
        """A branch other than the app's: built and run as its preview, where the app's
        sentinel.yaml has a `preview:` section whose branches match it; deleted, its preview goes."""
        parent = self.store.app(app)
        if parent is None or not parent.image:
            raise NotFound(f"app {app!r} does not exist: push {names.GIT_BRANCH} first (a "
                           "preview copies the app's data).")
        name = names.preview_of_branch(branch)
        existing = self.store.app(names.preview_app(app, name))
        if existing is not None and (existing.preview is None or existing.preview.parent != app):
            raise Conflict(f"branch {branch} would be preview {name}, but "
                           f"{names.preview_app(app, name)} is an app of its own: rename the branch.")
        if sha == ZERO:
            return self.previews.start_delete(app, name) if existing else None
        with tempfile.TemporaryDirectory(prefix="sentinel-push-") as tmp:
            tree = Path(tmp) / "tree"
            unpack(source, tree, SOURCE_LIMIT)
            data, files, build_source = self._manifest(app, tree)
        m = mf.parse(pushed_manifest(data, f"{app}:pushed", None) if files is None
                     else mf.with_image(data, f"{app}:pushed"), MANIFEST)
        if m.preview is None or not m.preview.matches(branch):
            raise InvalidInput(f"{branch} does not deploy: only {names.GIT_BRANCH} does, and "
                               f"{app}'s {MANIFEST} has no preview: section whose branches match "
                               "it (`preview: {branches: '*'}` makes every other branch a preview).")
        self.builds.plan(app, build_source)  # a tree of no known kind is refused here
        options = mf.build_of(data, MANIFEST) if files is not None else None
        target = names.app_target(names.preview_app(app, name))
        if existing is not None:
            return self.jobs.start(target, "push-preview", lambda op: self._preview_push(
                op, app, sha, build_source, options, lambda image, procs: self.previews.update(
                    op, existing, image, procs)))
        pol = m.preview
        mask = (files or {}).get(pol.mask) if pol.mask else None
        body = PreviewCreate(name=name, image=f"{app}:pushed", data=pol.data, mask=mask,
                             seed=(files or {}).get(pol.seed) if pol.seed else None,
                             mask_name=pol.mask.rsplit("/", 1)[-1] if pol.mask else None,
                             ttl=format_duration(pol.ttl) if pol.ttl else None, max=pol.max,
                             env=mf.env_entries(pol.env))
        parent, preview = self.previews.validate(app, body)
        return self.jobs.start(target, "push-preview", lambda op: self._preview_push(
            op, app, sha, build_source, options, lambda image, procs: self.previews.create(
                op, parent, preview, image, procs)))

    def _preview_push(self, op: Operation, app: str, sha: str, source: bytes,
                      options: BuildOptions | None,
                      run: Callable[[str, dict[str, str]], dict]) -> dict:
        op.step(f"push of {sha[:12]} to a preview of {app}: building")
        built = self.builds.build(op, app, source, label=sha[:12], options=options)
        why = no_web(built["kind"], built.get("processes") or {})
        if why:
            raise InvalidInput(why[0].upper() + why[1:])
        return run(built["image"], besides_web(built.get("processes") or {}))

    # ---- what the pusher sees ---------------------------------------------------------------
    def follow(self, app: str, op_id: str) -> Iterator[str]:
        """The push's steps as they happen, then its canary's, until the new version is promoted,
        rolled back or waits at a gate; the last line says which (git.done_line)."""
        after = 0
        while True:
            # The state first, then the events: an operation's last events are written before
            # it ends, so none is missed.
            op = self.store.operation(op_id) or {}
            for e in self.store.events(op_id=op_id, after=after):
                after = e["id"]
                yield e["message"]
            if op.get("status") != "running":
                break
            time.sleep(POLL)
        if op.get("status") != "succeeded":
            yield done_line(False, f"{op.get('error') or 'the push failed'} The branch was not "
                            "moved: production is as it was.")
            return
        result = op.get("result") or {}
        if result.get("preview_app"):
            yield done_line(True, f"preview {result['name']} of {app} runs {result['image']} at "
                            f"{result['url']} (data: {result['data']}).")
            return
        if result.get("deleted"):
            yield done_line(True, f"{result['deleted']} removed with its branch.")
            return
        if not result.get("canary"):
            yield done_line(True, f"{app} runs {result.get('image')}.")
            return
        yield from self._follow_canary(app, result["image"], after)

    def _events(self, targets: tuple[str, ...], after: int) -> list[dict]:
        return sorted((e for t in targets for e in self.store.events(target=t, after=after)),
                      key=lambda e: e["id"])

    def _follow_canary(self, app: str, image: str, after: int) -> Iterator[str]:
        targets = (names.app_target(app), names.canary_target(app))
        while True:
            canary = self.store.canary(app)  # before the events, as in follow
            for e in self._events(targets, after):
                after = max(after, e["id"])
                yield e["message"]
            if canary is None or canary.image != image:
                break
            plan = canary.progressive
            if plan is None:
                yield done_line(True, f"canary {image} takes {canary.weight}% of the traffic; "
                                f"promote it with `sentinel canary promote {app}`.")
                return
            if plan.state in PERSON:
                said = PERSON[plan.state].format(w=canary.weight, app=app)
                yield done_line(True, f"canary {image} {said}.")
                return
            time.sleep(POLL)
        time.sleep(POLL)  # the end's own events (the promotion, the rollback's reason) come last
        for e in self._events(targets, after):
            yield e["message"]
        prod = self.store.app(app)
        if prod is not None and prod.image == image:
            yield done_line(True, f"{image} was promoted: {app} runs it.")
        else:
            yield done_line(False, f"the canary of {image} was rolled back (see the lines above); "
                            f"{app} runs {prod.image if prod else 'nothing'}.")
