"""apply / diff (control_plane/services/manifest.py): what changes and how, what is refused while
a canary runs, export then apply changing nothing, and the order apply does things in."""
import pytest
import yaml

from control_plane import manifest as mf
from control_plane.errors import Conflict, InvalidInput
from control_plane.records import App, Canary
from control_plane.services.manifest import Change, ManifestService, changes

from tests.unit.test_manifest import ISSUE_EXAMPLE

BASE = "app: todos\nimage: todo:1\nreplicas: 2\nenv: {A: '1', SECRET: hunter2}\n"


def load(text):
    return mf.loads(text)


def running(text=BASE, **more):
    """The record of an app applied from `text`."""
    return record_after_apply(load(text), **more)


def how(found):
    return {c.path: c.how for c in found}


def test_a_new_app_is_created():
    [c] = changes(load(BASE), None, None, "localhost")
    assert c.how == "create" and c.line() == "+ app todos (todo:1, 2 replica(s))"


def test_an_image_change_is_a_canary_by_the_file_else_a_rolling_update():
    app = running()
    assert how(changes(load(BASE.replace("todo:1", "todo:2")), app, None, "localhost")) == {"image": "rolling"}
    with_canary = BASE.replace("todo:1", "todo:2") + "canary: {steps: [{weight: 5}], interval: 1m}\n"
    found = changes(load(with_canary), app, None, "localhost")
    assert how(found) == {"image": "canary", "canary": "policy"}
    assert found[0].line() == "~ image: todo:1 -> todo:2 (a canary, by the file's strategy)"


def test_env_and_resources_are_part_of_the_version():
    app = running()
    text = "app: todos\nimage: todo:1\nreplicas: 2\nenv: {A: '2', NEW: x}\nresources: {cpu: 0.5}\ncanary: {}\n"
    found = changes(load(text), app, None, "localhost")
    assert how(found) == {"env": "canary", "resources": "canary", "canary": "policy"}
    env = next(c for c in found if c.path == "env")
    # Values may be secrets: the diff names variables only.
    assert env.line() == "~ env: 2 variable(s) -> set NEW; changed A; unset SECRET (a canary, by the file's strategy)"
    assert "hunter2" not in str(env.public()) and "hunter2" not in env.line()


def test_platform_settings_roll_the_running_version():
    app = running()
    text = BASE.replace("replicas: 2", "replicas: 3") + "domains: [todos.example.com, www.todos.example.com]\n"
    found = changes(load(text), app, None, "localhost")
    assert how(found) == {"domains": "rolling", "replicas": "rolling"}
    assert "~ replicas: 2 -> 3 (a rolling update)" in [c.line() for c in found]


def test_the_default_domain_is_no_change():
    assert changes(load(BASE), running(), None, "localhost") == []


def test_policy_changes_are_stored_only():
    app = running()
    text = BASE + "notify: [{slack: {webhook_url_env: SLACK_URL}}]\nhooks: {pre_rollout: 'https://x.example.com/'}\n"
    assert how(changes(load(text), app, None, "localhost")) == {"notify": "policy", "hooks": "policy"}


def test_database_changes():
    db = BASE + "database: {engine: postgres, ha: false}\n"
    app = running(db)
    assert changes(load(db), app, None, "localhost") == []
    found = changes(load(db.replace("ha: false", "ha: true, backups: {schedule: daily, keep: 7}")),
                    app, None, "localhost")
    assert how(found) == {"database.ha": "database", "database.backups": "settings"}
    # Leaving ha out keeps what runs; the default schedule is no schedule.
    assert changes(load(BASE + "database: {engine: postgres, backups: {schedule: weekly, keep: 2}}\n"),
                   app, None, "localhost") == []
    with pytest.raises(InvalidInput, match="database: app 'todos' has a database, and leaving"):
        changes(load(BASE), app, None, "localhost")
    with pytest.raises(InvalidInput, match="database: app 'todos' was deployed without a database"):
        changes(load(db), running(), None, "localhost")


def test_port_with_a_canary_version_is_refused():
    text = BASE.replace("todo:1", "todo:2") + "port: 9000\ncanary: {}\n"
    with pytest.raises(InvalidInput, match="port and health.path change with the version"):
        changes(load(text), running(BASE + "canary: {}\n"), None, "localhost")


CANARY = Canary(app="todos", image="todo:2", env={"A": "1", "SECRET": "hunter2"}, env_unset=[],
                resources=None, weight=5, baseline=False, sticky=True)


def test_while_a_canary_runs_only_the_policy_changes():
    app = running()
    # The file names production's version, or the canary's: nothing to do either way.
    assert changes(load(BASE), app, CANARY, "localhost") == []
    assert changes(load(BASE.replace("todo:1", "todo:2")), app, CANARY, "localhost") == []
    with pytest.raises(Conflict, match="has a canary of todo:2 running and the file names another version"):
        changes(load(BASE.replace("todo:1", "todo:3")), app, CANARY, "localhost")
    with pytest.raises(Conflict, match="only the release policy changes while it does"):
        changes(load(BASE.replace("replicas: 2", "replicas: 4")), app, CANARY, "localhost")
    assert how(changes(load(BASE + "hooks: {confirm_promotion: 'https://x.example.com/'}\n"),
                       app, CANARY, "localhost")) == {"hooks": "policy"}


# ---- export -> apply is a no-op -------------------------------------------------------------------
def record_after_apply(m: mf.Manifest, **more) -> App:
    """The app record AppService.deploy stores for the file (what `apply` creates)."""
    from control_plane import validation

    body = mf.app_deploy(m, {})
    domains = body.domains or [f"{m.app}.localhost"]
    return App.model_validate({"name": m.app, "image": m.image, "cluster_image": "reg/" + m.image, "port": m.port,
            "domain": domains[0], "domains": domains, "replicas": m.replicas,
            "resources": validation.resources(body.resources), "env": validation.env_entries(body.env),
            "health_path": m.health.path,
            "db": {"user": "todos", "name": "todos", "secret": "todos-db-password", "ha": bool(m.database.ha)} if m.database else None,
            "backups": body.db_backups.model_dump() if body.db_backups else None,
            "policy": mf.policy(m), **more})


@pytest.mark.parametrize("text", [ISSUE_EXAMPLE, "app: todos\nimage: todo:1\n",
                                  "app: todos\nimage: todo:1\nhealth: false\ncanary: {}\n",
                                  "app: t\nimage: t:1\ncanary: {mirror: 20}\nrelease: {post_promote: x}\n"])
def test_export_then_apply_changes_nothing(text):
    m = load(text)
    app = record_after_apply(m)
    exported = mf.to_yaml(mf.from_records(app))
    again = load(exported)
    assert changes(again, app, None, "localhost") == []
    assert mf.to_yaml(again) == exported  # and exporting again gives the same file


def test_a_flag_driven_app_exports_and_reapplies_with_no_change():
    app = App.model_validate({  # a record from before domains
        "name": "todos", "image": "todo:1", "cluster_image": "reg/todo:1", "port": 8000,
        "domain": "todos.localhost", "replicas": 2, "env": {"A": "1"}, "health_path": "/healthz",
        "db": {"user": "todos", "name": "todos", "secret": "todos-db-password", "ha": False, "members": []}, "created_at": 0})
    text = mf.to_yaml(mf.from_records(app))
    assert yaml.safe_load(text) == {"app": "todos", "image": "todo:1", "port": 8000,
                                    "domains": ["todos.localhost"], "replicas": 2, "env": {"A": "1"},
                                    "health": {"path": "/healthz"},
                                    "database": {"engine": "postgres", "ha": False}}
    assert changes(load(text), app, None, "localhost") == []


def test_export_of_the_issue_example_reads_like_the_file():
    m = load(ISSUE_EXAMPLE)
    out = yaml.safe_load(mf.to_yaml(mf.from_records(record_after_apply(m))))
    assert out == yaml.safe_load(ISSUE_EXAMPLE) | {"port": 8000}


# ---- the service around it -------------------------------------------------------------------------
class FakeStore(dict):
    def app(self, name):
        return self.get(name)

    def put_app(self, rec):
        self[rec.name] = rec

    def require_app(self, name):
        return self[name]

    def canary(self, name):
        return None


class FakeSpec:
    domain = "localhost"


class FakePlatform:
    state = "ready"
    scrape_seconds = 2.0
    spec = FakeSpec()

    def __init__(self, store):
        self.store = store

    def require_ready(self):
        pass


class Recorder:
    """Stands for AppService and CanaryService: records what apply asks of them, in order."""

    def __init__(self, store, log):
        self.store, self.log = store, log

    def validate(self, body):
        return body.model_copy(update={"domains": body.domains or [f"{body.name}.localhost"]})

    def validate_deploy(self, name, body):
        return body

    def roll(self, op, app):
        self.log.append(("roll", app.image, app.replicas, bool(self.store[app.name].policy)))
        return {}

    def deploy(self, op, name_or_body, body=None, policy=None):
        if body is None:  # AppService.deploy(op, body, policy)
            self.log.append(("deploy", name_or_body.image, policy))
            return {}
        policy = self.store[name_or_body].policy or {}
        self.log.append(("canary", body.image, bool(policy.get("hooks"))))
        return {"canary": {"image": body.image}}


class Op:
    id, actor = "op1", "cli"

    def __init__(self):
        self.steps = []

    def step(self, m):
        self.steps.append(m)


def service(store, log):
    rec = Recorder(store, log)
    return ManifestService(FakePlatform(store), jobs=None, canary=rec, apps=rec, db_ops=None)


def run_apply(store, text, log, environ=None):
    svc = service(store, log)
    m = load(text)
    svc.check_environment(m, environ or {"HOOK_SECRET": "s"})
    found = changes(m, store.app(m.app), None, "localhost")
    op = Op()
    svc._apply(op, m, found, svc._prepare(m, {}, found))
    return op


def test_apply_rolls_settings_first_then_starts_the_canary_under_the_new_policy():
    store, log = FakeStore(todos=running()), []
    text = (BASE.replace("todo:1", "todo:2").replace("replicas: 2", "replicas: 3")
            + "canary: {steps: [{weight: 5}], interval: 1m}\n"
            + "hooks: {secret_env: HOOK_SECRET, pre_rollout: 'https://x.example.com/'}\n")
    op = run_apply(store, text, log)
    # production keeps todo:1 while it scales; the canary then follows the file's hooks
    assert log == [("roll", "todo:1", 3, True), ("canary", "todo:2", True)]
    assert op.steps[0].startswith("~ image: todo:1 -> todo:2")
    assert store["todos"].policy["hooks"]["pre_rollout"] == "https://x.example.com/"


def test_apply_without_a_canary_section_is_one_rolling_update():
    store, log = FakeStore(todos=running()), []
    run_apply(store, BASE.replace("todo:1", "todo:2").replace("replicas: 2", "replicas: 3"), log)
    assert log == [("deploy", "todo:2", None)]


def test_apply_creates_with_the_policy_kept():
    store, log = FakeStore(), []
    run_apply(store, BASE + "notify: [{webhook: {url: 'https://n.example.com/'}}]\n", log)
    [(kind, image, policy)] = log
    assert (kind, image) == ("deploy", "todo:1")
    assert policy["notify"] == [{"webhook": {"url": "https://n.example.com/"}}]


def test_secrets_named_by_the_file_must_be_in_the_control_planes_environment():
    svc = service(FakeStore(), [])
    m = load(BASE + "notify: [{slack: {webhook_url_env: SLACK_URL}}]\n")
    with pytest.raises(InvalidInput, match=r"^notify\[0\]\.slack\.webhook_url_env: SLACK_URL is not set in "
                                           "the control plane's environment"):
        svc.check_environment(m, {})
    svc.check_environment(m, {"SLACK_URL": "https://hooks.slack.com/x"})
    m = load(BASE + "hooks: {confirm_promotion: {url: 'https://x.example.com/', secret_env: GATE}}\n")
    with pytest.raises(InvalidInput, match=r"^hooks\.confirm_promotion\.secret_env: GATE is not set"):
        svc.check_environment(m, {})


def test_intervals_too_short_to_judge_name_their_key():
    svc = service(FakeStore(), [])
    with pytest.raises(InvalidInput, match=r"^canary\.steps\[1\]\.interval: 2s is too short to judge: "
                                           r"at least 6s"):
        svc.check_intervals(load(BASE + "canary: {steps: [{weight: 5}, {weight: 9, interval: 2s}], interval: 1m}\n"))


def test_change_public_form_hides_env_values():
    c = Change("env", {"K": "v1"}, {"K": "v2"}, "rolling")
    assert c.public() == {"path": "env", "before": "1 variable(s)", "after": "changed K", "how": "rolling"}


# ---- processes: --------------------------------------------------------------------------------
PROCS = BASE + ("processes:\n  worker: {command: python worker.py, replicas: 3,"
                " resources: {cpu: 0.5, memory: 256Mi}}\n  mailer: {command: python mail.py}\n")


def specs(m, built=None, app=None):
    return mf.process_specs(m, built, {k: p.command for k, p in app.processes.items()} if app else {})


def test_processes_give_each_type_its_replicas_and_resources():
    from control_plane.records import Process

    m = load(PROCS)
    s = specs(m)
    assert s["worker"].replicas == 3 and s["worker"].resources.cpu == 0.5
    assert s["worker"].resources.memory == "256Mi" and s["mailer"].replicas == 1
    app = running()
    found = changes(m, app, None, "localhost", s)
    assert how(found) == {"processes": "rolling"}  # the running version, its new process types
    ran = app.changed(processes={"worker": Process(command="python worker.py", replicas=3,
                                                   resources={"cpu": 0.5, "memory": "256Mi"}),
                                 "mailer": Process(command="python mail.py")})
    assert changes(m, ran, None, "localhost", s) == []
    again = load(mf.to_yaml(mf.from_records(ran)))  # export, then apply: nothing changes
    assert changes(again, ran, None, "localhost", specs(again, app=ran)) == []
    scaled = load(PROCS.replace("replicas: 3", "replicas: 5"))
    [c] = changes(scaled, ran, None, "localhost", specs(scaled, app=ran))
    assert (c.path, c.how, c.after["worker"]["replicas"]) == ("processes", "rolling", 5)
    # with a new image the process types go out with the version (by canary when the file says)
    v2 = load(PROCS.replace("todo:1", "todo:2").replace("replicas: 3", "replicas: 5") + "canary: {}\n")
    assert how(changes(v2, ran, None, "localhost", specs(v2, app=ran))) == {
        "image": "canary", "processes": "canary", "canary": "policy"}


def test_a_process_takes_its_command_from_the_procfile_and_the_file_its_settings():
    m = load(BASE + "processes:\n  worker: {replicas: 2}\n")
    s = specs(m, built={"worker": "python w.py", "beat": "python beat.py"})
    assert (s["worker"].command, s["worker"].replicas) == ("python w.py", 2)
    assert (s["beat"].command, s["beat"].replicas) == ("python beat.py", None)  # keeps its own
    with pytest.raises(mf.ManifestError, match=r"processes.worker: has no command: the source's "
                                               r"Procfile has no `worker:` line"):
        specs(m, built={"beat": "python beat.py"})
    with pytest.raises(mf.ManifestError, match=r"processes.worker: has no command: give command:"):
        specs(m)
    assert specs(load(BASE)) is None  # no processes: and no build: the app's own are kept
    assert set(specs(load(BASE), built={"w": "x"})) == {"w"}


@pytest.mark.parametrize("text,said", [
    ("processes:\n  web: {replicas: 2}\n", "processes.web: web is set by the top-level replicas:"),
    ("processes:\n  Worker: {command: x}\n", "processes.Worker: process 'Worker': a process type is"),
    ("processes:\n  release: {command: x}\n", "processes.release: process 'release': that name is taken"),
    ("processes:\n  worker: {command: x, replicas: 101}\n", "processes.worker.replicas: must be 0..100"),
    ("processes:\n  worker: {command: ' '}\n", "processes.worker.command: must be a command"),
    ("processes:\n  worker: {command: x, size: 2}\n", "processes.worker.size"),
    ("processes: [worker]\n", "processes: must be a mapping of process type"),
])
def test_bad_processes_are_one_line_naming_the_key(text, said):
    with pytest.raises(mf.ManifestError) as e:
        load(BASE + text)
    assert said in e.value.message, e.value.message


def test_a_canary_running_refuses_other_process_settings():
    from control_plane.records import Process

    app = running().changed(processes={"worker": Process(command="w", replicas=2)})
    canary = Canary(app="todos", image="todo:2", weight=10)
    same = load(BASE + "processes:\n  worker: {command: w, replicas: 2}\n")
    assert changes(same, app, canary, "localhost", specs(same, app=app)) == []
    more = load(BASE + "processes:\n  worker: {command: w, replicas: 4}\n")
    with pytest.raises(Conflict, match="has a canary running"):
        changes(more, app, canary, "localhost", specs(more, app=app))


def test_process_types_that_change_with_a_canary_version_wait_for_its_promotion():
    """A push whose Procfile drops a worker, released by canary: production keeps its worker
    until the canary is promoted (it was removed at once by a rolling update before the canary,
    found in the build module's end-to-end run)."""
    from types import SimpleNamespace

    from control_plane.records import Process

    app = running(BASE + "canary: {}\n").changed(
        processes={"worker": Process(command="python3 -u worker.py")})
    m = load(BASE.replace("todo:1", "todo:2") + "canary: {}\n")
    specs = mf.process_specs(m, {}, {"worker": "python3 -u worker.py"})  # built: no worker
    found = changes(m, app, None, "localhost", specs)
    assert how(found) == {"image": "canary", "processes": "canary"}
    store = SimpleNamespace(require_app=lambda name: app)
    svc = ManifestService(SimpleNamespace(store=store), None,
                          SimpleNamespace(validate_deploy=lambda name, body: body),
                          SimpleNamespace(validate=lambda body: body.model_copy(
                              update={"domains": body.domains or ["todos.localhost"]})), None)
    work = svc._prepare(m, {}, found, specs)
    assert work.platform is None and work.deploy is None  # production is not touched now
    assert work.canary.processes == {}  # the canary runs without the worker; the promotion drops it
    alone = load(BASE + "canary: {}\nprocesses:\n  worker: {command: python3 -u worker.py, replicas: 3}\n")
    specs = mf.process_specs(alone, None, {"worker": "python3 -u worker.py"})
    found = changes(alone, app, None, "localhost", specs)
    work = svc._prepare(alone, {}, found, specs)
    assert work.canary is None and work.platform["processes"]["worker"].replicas == 3  # rolls now
