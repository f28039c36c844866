"""Gates of a progressive canary (control_plane/services/progressive.py): a step that waits for
`canary approve` (and keeps waiting across a restart), pauses, the confirm hooks that hold, the
rollback hook, and the early check while waiting. The store is real; the swarm is not touched."""
import time

import pytest

from control_plane.errors import CommandFailed, Conflict
from control_plane.models import CanaryStep
from control_plane.records import App, Canary as CanaryRecord
from control_plane.services.canary import CanaryService, check_mirror
from control_plane.services.plan import describe_plan, new_plan, split_steps, validate_plan
from control_plane.services.progressive import ProgressiveDriver
from control_plane.services.routes import routing
from control_plane.store import Store
from control_plane.webhooks import Answer


class Platform:
    state = "ready"
    scrape_seconds = 2.0

    def __init__(self, store):
        self.store = store

    def require_ready(self):
        pass


class Jobs:
    """Runs each job at once, in the caller's thread."""

    def busy(self, target):
        return None

    def start(self, target, kind, fn, actor="cli", also_lock=()):
        class Op:
            id, step = "op", staticmethod(lambda m: None)
        Op.actor = actor
        fn(Op())
        return "op"


class Canary(CanaryService):
    """The real gate (approve) and hooks; traffic, promote and rollback only recorded."""

    def __init__(self, store, answers):
        super().__init__(Platform(store), Jobs(), stack=None, routes=None, release=None, backups=None)
        self.did = []
        self.answers = answers  # hook kind -> list of status codes to answer, in turn
        self.asked = []

        def send(url, payload, **kw):
            self.asked.append(payload["type"])
            status = self.answers[payload["type"]].pop(0)
            return Answer(200 <= status < 300, status, 1, 0.01)

        self.hooks.send = send

    def traffic(self, op, name, weight):
        c = self.store.canary(name)
        self.store.put_canary(c.changed(weight=weight))
        self.did.append(("traffic", weight))

    def promote(self, op, name):
        self.store.delete_canary(name)
        self.did.append(("promote",))

    def rollback(self, op, name, reason="", failing=None):
        self.store.delete_canary(name)
        self.did.append(("rollback", reason))

    def status(self, name):
        return {"canary": self.store.canary(name)}


class Judge:
    def __init__(self):
        self.verdicts, self.early = [], {"metrics": [], "points": {}}

    def judge(self, app, c, config, start, end, kind="step", **kw):
        if kind == "early":
            return self.early
        return {"verdict": self.verdicts.pop(0), "score": 100.0, "metrics": [], "points": {"cpu": 30}}


T0 = time.time()


def setup(tmp_path, steps, auto_promote=False, hooks=None, answers=None, mirror=0):
    store = Store(tmp_path / "state.db")
    store.put_app(App(name="todos", image="todo:1", policy={"hooks": hooks} if hooks else {}))
    weights, pauses, intervals = split_steps(steps)
    store.put_canary(CanaryRecord(app="todos", image="todo:2", weight=weights[0], baseline=False,
                                  sticky=True, state="running", started_at=T0, mirror=mirror,
                                  progressive=new_plan(weights, 60, auto_promote, T0, pauses=pauses,
                                                       intervals=intervals)))
    canary = Canary(store, answers or {})
    driver = ProgressiveDriver(canary, canary.jobs, Judge())
    return store, canary, driver


def plan(store):
    return store.canary("todos").progressive


def kinds(store, kind):
    return [e["message"] for e in store.events(target="canary:todos") if e["kind"] == kind]


def test_an_approve_step_waits_keeps_its_weight_and_survives_a_restart(tmp_path):
    store, canary, driver = setup(tmp_path, [5, CanaryStep(weight=20, pause="approve"), 50])
    driver.analyzer.verdicts = ["pass", "pass"]
    driver.tick(now=T0 + 61)
    assert canary.did == [("traffic", 20)]
    driver.tick(now=time.time() + 61)  # step 2 passes: its gate holds it
    p = plan(store)
    assert p.state == "awaiting_approval" and store.canary("todos").weight == 20
    assert "waiting for approval: `sentinel canary approve todos`" in kinds(store, "gate")[-1]
    # A control plane restarted meanwhile: a new driver on the same store keeps waiting.
    again = ProgressiveDriver(canary, canary.jobs, Judge())
    for later in (120, 600, 3600):
        again.tick(now=time.time() + later)
    assert canary.did == [("traffic", 20)] and plan(store).state == "awaiting_approval"
    # The person approves; the next tick takes the step.
    canary.approve("todos")
    assert plan(store).state == "approved"
    assert kinds(store, "gate")[-1] == "step 2/3 at 20% approved"
    again.tick(now=time.time())
    assert canary.did == [("traffic", 20), ("traffic", 50)]
    assert plan(store).state == "running" and plan(store).step_index == 2


def test_an_approved_last_step_promotes_when_the_file_says_auto(tmp_path):
    store, canary, driver = setup(tmp_path, [CanaryStep(weight=10, pause="approve")], auto_promote=True)
    driver.analyzer.verdicts = ["pass"]
    driver.tick(now=T0 + 61)
    assert plan(store).state == "awaiting_approval" and canary.did == []
    canary.approve("todos")
    driver.tick(now=time.time())
    assert canary.did == [("promote",)]


def test_approve_says_why_when_nothing_waits(tmp_path):
    store, canary, driver = setup(tmp_path, [5, 20])
    with pytest.raises(Conflict, match=r"waits for no approval \(it is running\)"):
        canary.approve("todos")
    c = store.canary("todos")
    store.put_canary(c.changed(progressive=c.progressive.changed(state="awaiting_promotion")))
    with pytest.raises(Conflict, match="it waits for `sentinel canary promote`"):
        canary.approve("todos")


def test_a_pause_waits_its_time_then_goes_on(tmp_path):
    store, canary, driver = setup(tmp_path, [CanaryStep(weight=5, pause=300), 20])
    driver.analyzer.verdicts = ["pass"]
    driver.tick(now=T0 + 61)
    assert plan(store).state == "pausing" and canary.did == []
    driver.tick(now=T0 + 61 + 100)
    assert canary.did == []
    driver.tick(now=T0 + 61 + 301)
    assert canary.did == [("traffic", 20)]


def test_a_refused_traffic_increase_holds_and_is_asked_again(tmp_path):
    store, canary, driver = setup(tmp_path, [5, 20], hooks={"confirm_traffic_increase": "http://gate.test/"},
                                  answers={"confirm_traffic_increase": [500, 200]})
    driver.analyzer.verdicts = ["pass", "pass"]
    driver.tick(now=T0 + 61)
    assert canary.did == [] and store.canary("todos").weight == 5
    p = plan(store)
    assert p.state == "running" and p.next_at > time.time() + 50  # one more interval
    assert "confirm-traffic-increase hook did not answer 2xx: holding at 5%" in kinds(store, "progress")[-1]
    driver.tick(now=p.next_at + 1)  # judged again, asked again, yes this time
    assert canary.did == [("traffic", 20)] and canary.asked == ["confirm_traffic_increase"] * 2


def test_a_refused_promotion_holds(tmp_path):
    store, canary, driver = setup(tmp_path, [5], auto_promote=True,
                                  hooks={"confirm_promotion": "http://gate.test/"},
                                  answers={"confirm_promotion": [500, 204]})
    driver.analyzer.verdicts = ["pass", "pass"]
    driver.tick(now=T0 + 61)
    assert canary.did == [] and plan(store).state == "running"
    driver.tick(now=plan(store).next_at + 1)
    assert canary.did == [("promote",)]


def test_the_rollback_hook_rolls_back_on_2xx(tmp_path):
    store, canary, driver = setup(tmp_path, [5, 20], hooks={"rollback": "http://stop.test/"},
                                  answers={"rollback": [404, 200]})
    driver.analyzer.verdicts = ["pass"]
    driver.tick(now=T0 + 61)  # 404: carry on
    assert canary.did == [("traffic", 20)]
    driver.tick(now=time.time() + 61)
    assert canary.did[-1] == ("rollback", "the rollback hook asked for it")


def test_the_rollback_hook_is_asked_while_waiting_too(tmp_path):
    store, canary, driver = setup(tmp_path, [CanaryStep(weight=5, pause="approve"), 20],
                                  hooks={"rollback": "http://stop.test/"},
                                  answers={"rollback": [404, 404, 200]})
    driver.analyzer.verdicts = ["pass"]
    driver.tick(now=T0 + 61)
    assert plan(store).state == "awaiting_approval"
    driver.tick(now=T0 + 62)  # within the interval: not asked
    assert canary.asked == ["rollback"]
    driver.tick(now=T0 + 61 + 61)
    driver.tick(now=T0 + 61 + 122)
    assert canary.did == [("rollback", "the rollback hook asked for it")]


def test_the_early_check_keeps_watching_at_a_gate(tmp_path):
    store, canary, driver = setup(tmp_path, [CanaryStep(weight=5, pause="approve"), 20])
    driver.analyzer.verdicts = ["pass"]
    driver.tick(now=T0 + 61)
    driver.analyzer.early = {"points": {"error_ratio": 10},
                             "metrics": [{"name": "error_ratio", "critical": True, "classification": "High"}]}
    driver.tick(now=T0 + 70)
    assert canary.did == [("rollback", "early check: critical metric error_ratio regressed")]


def test_not_enough_data_still_holds_before_any_gate(tmp_path):
    store, canary, driver = setup(tmp_path, [CanaryStep(weight=5, pause="approve"), 20])
    driver.analyzer.verdicts = ["inconclusive"]
    driver.tick(now=T0 + 61)
    assert plan(store).state == "running" and plan(store).data_holds == 1


def test_per_step_intervals_and_the_plan_in_words():
    weights, pauses, intervals = split_steps([5, CanaryStep(weight=20, pause="approve", interval=300)])
    assert (weights, pauses, intervals) == ([5, 20], [None, "approve"], [None, 300])
    p = new_plan(weights, 60, True, 1000, pauses=pauses, intervals=intervals)
    assert p.next_at == 1060
    assert describe_plan(p) == "steps 5%, 20% (approve) every 60s then promote"
    assert split_steps([5, 20]) == ([5, 20], None, None)
    validate_plan([5, 20], None, False, False, 2, intervals=[60, 60])
    with pytest.raises(Exception, match="needs --interval"):
        validate_plan([5, 20], None, False, False, 2, intervals=[60, None])


def test_a_shadow_step_at_zero_needs_a_mirror():
    validate_plan([0, 10], 60, False, False, 2, mirror=50)
    with pytest.raises(Exception, match="from 1 to 100"):
        validate_plan([0, 10], 60, False, False, 2)
    assert check_mirror(50, 0, [0, 10]) == 50
    with pytest.raises(Exception, match="its weight \\(or first step\\) must be 0"):
        check_mirror(50, 10, None)


def test_a_shadow_is_mirrored_only_while_it_takes_no_traffic():
    c = CanaryRecord(app="todos", image="todo:2", weight=0, baseline=False, sticky=True, mirror=40)
    assert routing(c) == {"weights": {"production": 100, "canary": 0}, "sticky": True, "mirror": 40}
    assert routing(c.changed(weight=10))["mirror"] == 0
    older = CanaryRecord.model_validate({"app": "todos", "image": "todo:2", "weight": 10,
                                         "baseline": True, "sticky": False})  # no mirror
    assert routing(older)["mirror"] == 0


def test_a_weighted_canary_is_not_mirrored_in_the_routes():
    import yaml

    from control_plane import traefik

    c = CanaryRecord(app="todos", image="todo:2", weight=10, baseline=False, sticky=True, mirror=25)
    http = yaml.safe_load(traefik.app_routes(app="todos", domain="todos.localhost", **routing(c)))["http"]
    assert "todos-mirror" not in http["services"] and "todos-read" not in http["routers"]


class BlindJudge(Judge):
    """Prometheus unreachable until `back` is set."""

    def __init__(self):
        super().__init__()
        self.back = False

    def judge(self, app, c, config, start, end, kind="step", **kw):
        if not self.back:
            raise CommandFailed("Prometheus could not be reached (ConnectError): connection refused")
        return super().judge(app, c, config, start, end, kind, **kw)


def test_a_canary_that_cannot_be_judged_holds_says_so_once_and_goes_on_when_it_can(tmp_path, monkeypatch):
    sent = []
    monkeypatch.setattr("control_plane.notify.send", lambda store, app, event, text, *a, **k: sent.append((event, text)))
    store, canary, driver = setup(tmp_path, [5, 20])
    driver.analyzer = BlindJudge()
    for t in (61, 66, 71):  # three ticks without Prometheus
        driver.tick(now=T0 + t)
    assert canary.did == [] and store.canary("todos").weight == 5  # no step on no data
    p = plan(store)
    assert (p.blind_since, p.state) == (T0 + 61, "running")
    assert "connection refused" in p.blind_error
    [said] = kinds(store, "hold")  # said once, not once a tick
    assert said.startswith("cannot judge the canary at 5%: Prometheus could not be reached")
    assert "rolling back if this lasts 10 min" in said
    assert [e for e, _ in sent] == ["failure"]
    driver.analyzer.back = True
    driver.analyzer.verdicts = ["pass"]
    driver.tick(now=T0 + 76)
    assert canary.did == [("traffic", 20)]
    assert plan(store).blind_since is None
    assert kinds(store, "hold")[-1] == "judging again after 15 s without: the walk goes on"


def test_a_canary_unjudged_past_the_limit_is_rolled_back_never_promoted(tmp_path, monkeypatch):
    monkeypatch.setattr("control_plane.notify.send", lambda *a, **k: [])
    store, canary, driver = setup(tmp_path, [5, 20], auto_promote=True)
    driver.analyzer = BlindJudge()
    driver.tick(now=T0 + 61)
    driver.tick(now=T0 + 61 + 599)
    assert canary.did == []
    driver.tick(now=T0 + 61 + 600)
    [(did, reason)] = canary.did
    assert did == "rollback" and reason.startswith("no judgment was possible for 10 min: Prometheus")
