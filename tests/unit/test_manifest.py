"""sentinel.yaml (control_plane/manifest.py): every key, every error with its key path, and the
mapping onto the API bodies (export -> apply as a no-op: test_manifest_apply.py)."""
import re
import pytest
import yaml

from control_plane import manifest as mf
from control_plane.models import CanaryStep

ISSUE_EXAMPLE = """\
app: todos
image: registry.example.com/todo:3
domains: [todos.example.com, www.todos.example.com]
replicas: 3
resources: {cpu: 0.5, memory: 256Mi}
env: {LOG_LEVEL: info}
health: {path: /healthz}
database: {engine: postgres, ha: true, backups: {schedule: daily, keep: 14}}
release: {command: "python migrate.py up", post_promote: "python migrate.py contract"}
canary:
  baseline: true
  steps: [{weight: 5}, {weight: 20, pause: approve}, {weight: 50, interval: 5m}]
  interval: 2m
  analysis: {metrics: default, min_requests: 200}
  promote: auto
notify:
  - slack: {webhook_url_env: SLACK_URL}
  - webhook: {url: https://ci.example.com/hooks/sentinel, secret_env: HOOK_SECRET}
hooks:
  pre_rollout: https://tests.example.com/smoke      # non-2xx: the canary does not take traffic
  confirm_promotion: https://gate.example.com/ok    # non-2xx: hold, asked again each interval
"""


def load(text: str) -> mf.Manifest:
    return mf.loads(text, source="sentinel.yaml")


def error(extra: str, base: str = "app: todos\nimage: todo:1\n") -> str:
    with pytest.raises(mf.ManifestError) as e:
        load(base + extra)
    return e.value.message


# ---- every key ------------------------------------------------------------------------------------
def test_the_issue_example_reads_every_key():
    m = load(ISSUE_EXAMPLE)
    assert (m.app, m.image, m.port, m.replicas) == ("todos", "registry.example.com/todo:3", 8000, 3)
    assert m.domains == ["todos.example.com", "www.todos.example.com"]
    assert m.resources.cpu == 0.5 and m.resources.memory == 256 * 2**20
    assert m.env == {"LOG_LEVEL": "info"} and m.health.path == "/healthz"
    db = m.database
    assert (db.engine, db.ha, db.backups.schedule, db.backups.keep) == ("postgres", True, "daily", 14)
    assert m.release.command == "python migrate.py up"
    assert m.release.post_promote == "python migrate.py contract" and m.release.timeout == 600
    c = m.canary
    assert c.baseline and c.promote == "auto" and c.interval == 120 and c.mirror == 0
    assert [(s.weight, s.pause, s.interval) for s in c.steps] == [(5, None, None), (20, "approve", None),
                                                                  (50, None, 300)]
    assert c.analysis == {"metrics": "default", "min_requests": 200}
    assert m.notify[0].slack.webhook_url_env == "SLACK_URL"
    assert (m.notify[1].webhook.url, m.notify[1].webhook.secret_env) == (
        "https://ci.example.com/hooks/sentinel", "HOOK_SECRET")
    assert m.hooks.pre_rollout.url == "https://tests.example.com/smoke"
    assert m.hooks.resolved("confirm_promotion") == {"url": "https://gate.example.com/ok",
                                                     "secret_env": None, "timeout": 5.0, "retries": 2}
    assert m.hooks.resolved("rollback") is None


def test_the_smallest_file_takes_the_defaults():
    m = load("app: todos\nimage: todo:1\n")
    assert (m.port, m.replicas, m.domains, m.env, m.health.path) == (8000, 1, None, {}, "/healthz")
    assert m.database is m.release is m.canary is m.hooks is m.resources is None and m.notify == []


def test_the_other_keys():
    m = load("""\
app: todos
image: todo:2
port: 9000
health: false
env: {PORT: 9000, RATIO: 0.5, EMPTY: ""}
database: {engine: postgres, schema: schema.sql}
release: {sql: migrations/3.sql, timeout: 5m, allow_destructive: true, skip_check: true,
          smoke_command: ./smoke, check_path: /todos}
canary: {replicas: 2, sticky: false, weight: 25, analysis: analysis.yaml}
notify:
  - slack: {webhook_url_env: SLACK_URL, events: [promote, rollback]}
  - webhook: {url_env: HOOK_URL}
hooks:
  secret_env: HOOK_SECRET
  timeout: 2s
  retries: 1
  confirm_traffic_increase: {url: "http://127.0.0.1:9/ok", secret_env: OTHER, timeout: 1s, retries: 0}
  post_rollout: https://h.example.com/done
  rollback: https://h.example.com/rollback
  event: https://h.example.com/events
""")
    assert m.port == 9000 and m.health.path is None
    assert m.env == {"PORT": "9000", "RATIO": "0.5", "EMPTY": ""}
    assert m.database.schema_file == "schema.sql" and m.database.ha is None
    r = m.release
    assert (r.sql, r.timeout, r.allow_destructive, r.skip_check, r.smoke_command, r.check_path) == (
        "migrations/3.sql", 300, True, True, "./smoke", "/todos")
    assert (m.canary.replicas, m.canary.sticky, m.canary.weight) == (2, False, 25)
    assert m.notify[0].slack.events == ["promote", "rollback"] and m.notify[1].webhook.url_env == "HOOK_URL"
    assert m.hooks.resolved("confirm_traffic_increase") == {
        "url": "http://127.0.0.1:9/ok", "secret_env": "OTHER", "timeout": 1.0, "retries": 0}
    assert m.hooks.resolved("event") == {"url": "https://h.example.com/events",
                                         "secret_env": "HOOK_SECRET", "timeout": 2.0, "retries": 1}
    assert mf.referenced_files(m) == [("release.sql", "migrations/3.sql"),
                                      ("database.schema", "schema.sql"),
                                      ("canary.analysis", "analysis.yaml")]


def test_a_shadow_canary_starts_at_weight_zero():
    m = load("app: todos\nimage: todo:2\ncanary: {mirror: 100, steps: [{weight: 0}, {weight: 10}], "
             "interval: 1m}\n")
    assert m.canary.mirror == 100
    body = mf.canary_deploy(m, {}, {})
    assert body.weight == 0 and body.mirror == 100
    shadow_only = mf.canary_deploy(load("app: todos\nimage: todo:2\ncanary: {mirror: 50}\n"), {}, {})
    assert shadow_only.weight == 0 and shadow_only.mirror == 50 and shadow_only.steps is None


def test_sizes_and_durations_are_normalized():
    a = load("app: t\nimage: t:1\nresources: {memory: 256M}\ncanary: {steps: [{weight: 5, pause: 90}], interval: 120s}\n")
    b = load("app: t\nimage: t:1\nresources: {memory: 268435456}\ncanary: {steps: [{weight: 5, pause: 1m30s}], interval: 2m}\n")
    assert a == b
    assert mf.policy(a)["canary"] == {"steps": [{"weight": 5, "pause": "90s"}], "interval": "2m"}
    assert yaml.safe_load(mf.to_yaml(a))["resources"] == {"memory": "256Mi"}


# ---- every error, with its key path ----------------------------------------------------------------
@pytest.mark.parametrize("extra,said", [
    ("nope: 1\n", "nope: unknown key"),
    ("port: 0\n", "port: must be 1..65535"),
    ("port: '80'\n", "port: must be an integer"),
    ("replicas: 101\n", "replicas: must be 0..100"),
    ("domains: []\n", "domains: must list at least one domain"),
    ("domains: [todos.example.com, TODOS.example.com]\n", "domains[1]: todos.example.com is listed twice"),
    ("domains: [a.com, 'bad domain']\n", "domains[1]: domain 'bad domain' is not valid"),
    (f"domains: [{', '.join(f'd{i}.example.com' for i in range(11))}]\n", "domains: at most 10"),
    ("resources: {cpu: 0}\n", "resources.cpu: 0.0 is not a share of cores from 0.01"),
    ("resources: {cpu: '1'}\n", "resources.cpu: must be a number"),
    ("resources: {memory: 1Mi}\n", "resources.memory: '1Mi' is too small: at least 16Mi"),
    ("resources: {memory: lots}\n", "resources.memory: 'lots' is not a size like 256Mi or 1Gi"),
    ("resources: {disk: 1Gi}\n", "resources.disk: unknown key"),
    ("env: {LOG LEVEL: info}\n", 'env["LOG LEVEL"]: is not an environment variable name'),
    ("env: {DEBUG: yes}\n", "env.DEBUG: must be a string or a number (quote true/false/yes/no)"),
    ("env: {EMPTY: null}\n", "env.EMPTY: must be a string or a number"),
    ("env: [A=1]\n", "env: must be a mapping of NAME: value"),
    ("health: {path: 'no spaces'}\n", "health.path: health path 'no spaces' is not valid"),
    ("health: {port: 1}\n", "health.port: unknown key"),
    ("database: {ha: true}\n", "database.engine: required"),
    ("database: {engine: mysql}\n", "database.engine: must be postgres"),
    ("database: {engine: postgres, ha: 1}\n", "database.ha: must be true or false"),
    ("database: {engine: postgres, backups: {keep: 0}}\n", "database.backups.keep: must be 1..365"),
    ("database: {engine: postgres, backups: {schedule: hourly}}\n",
     "database.backups.schedule: must be daily or weekly"),
    ("release: {}\n", "release: give command, sql or post_promote"),
    ("release: {command: a, sql: b.sql}\n", "release.sql: give command or sql, not both"),
    ("release: {command: '  '}\n", "release.command: must not be empty"),
    ("release: {post_promote: x, smoke_command: y}\n", "release.smoke_command: goes with command or sql"),
    ("release: {command: a, timeout: soon}\n", "release.timeout: 'soon' is not a duration"),
    ("canary: {steps: [{weight: 5}, {weight: 200}], interval: 1m}\n", "canary.steps[1].weight: must be 0..100"),
    ("canary: {steps: [{weight: 20}, {weight: 10}], interval: 1m}\n",
     "canary.steps[1].weight: must be above the step before (20)"),
    ("canary: {steps: [{weight: 5, pause: later}], interval: 1m}\n",
     "canary.steps[0].pause: must be approve or a duration like 5m"),
    ("canary: {steps: [{weight: 5, interval: nope}]}\n", "canary.steps[0].interval: 'nope' is not a duration"),
    ("canary: {steps: [{weight: 5, setWeight: 5}], interval: 1m}\n", "canary.steps[0].setWeight: unknown key"),
    ("canary: {steps: [{weight: 5}]}\n", "canary.interval: required with steps"),
    ("canary: {steps: [], interval: 1m}\n", "canary.steps: must list at least one step"),
    ("canary: {interval: 1m}\n", "canary.interval: goes with steps"),
    ("canary: {promote: auto}\n", "canary.promote: auto needs steps"),
    ("canary: {promote: later}\n", "canary.promote: must be auto or manual"),
    ("canary: {weight: 5, steps: [{weight: 5}], interval: 1m}\n", "canary.weight: give weight or steps"),
    ("canary: {baseline: true, weight: 60}\n", "canary.weight: must be at most 50 with a baseline"),
    ("canary: {baseline: true, steps: [{weight: 5}, {weight: 60}], interval: 1m}\n",
     "canary.steps[1].weight: must be at most 50 with a baseline"),
    ("canary: {steps: [{weight: 0}, {weight: 5}], interval: 1m}\n",
     "canary.steps[0].weight: 0 sends the canary nothing: set canary.mirror"),
    ("canary: {mirror: 50, steps: [{weight: 5}], interval: 1m}\n",
     "canary.steps[0].weight: a shadow canary (mirror) starts at weight 0"),
    ("canary: {mirror: 50, weight: 10}\n", "canary.weight: a shadow canary (mirror) takes no traffic"),
    ("canary: {mirror: 101}\n", "canary.mirror: must be 0..100"),
    ("canary: {replicas: 0}\n", "canary.replicas: must be 1..100"),
    ("canary: {analysis: ''}\n", "canary.analysis: must be default, a file, or a mapping"),
    ("canary: {analysis: {metrics: [{name: rps}]}}\n",
     "canary.analysis.metrics[0].name: 'rps' is not a metric Sentinel collects"),
    ("canary: {analysis: {metrics: [{name: cpu, direction: up}]}}\n",
     "canary.analysis.metrics[0].direction: must be increase, decrease or either"),
    ("canary: {analysis: {min_requests: 5, inconclusive: {min_requests: 6}}}\n",
     "canary.analysis.min_requests: give min_requests here or under inconclusive, not both"),
    ("canary: {analysis: {confidence: 2}}\n", "canary.analysis.confidence: must be at least 0.5"),
    ("notify: [{}]\n", "notify[0]: give one of slack or webhook"),
    ("notify: [{slack: {webhook_url_env: A}, webhook: {url_env: B}}]\n", "notify[0]: give one of slack or webhook"),
    ("notify: [{slack: {webhook_url: 'https://hooks.slack.com/x'}}]\n",
     "notify[0].slack.webhook_url: a Slack webhook URL is a secret"),
    ("notify: [{slack: {webhook_url_env: 'not-a-name'}}]\n",
     "notify[0].slack.webhook_url_env: 'not-a-name' is not an environment variable name"),
    ("notify: [{slack: {webhook_url_env: A, events: [deploys]}}]\n", "notify[0].slack.events[0]: must be deploy, canary"),
    ("notify: [{webhook: {secret_env: S}}]\n", "notify[0].webhook: give url or url_env"),
    ("notify: [{webhook: {url: 'ftp://x'}}]\n", "notify[0].webhook.url: URL 'ftp://x' is not an http"),
    ("notify: [{email: {to: a@b.c}}]\n", "notify[0].email: unknown key"),
    ("hooks: {pre_rollout: ftp://x}\n", "hooks.pre_rollout.url: URL 'ftp://x' is not an http"),
    ("hooks: {pre_rollout: {url: 'https://x', timeout: 2h}}\n", "hooks.pre_rollout.timeout: must be from 100ms to 60s"),
    ("hooks: {pre_rollout: {url: 'https://x', retries: 9}}\n", "hooks.pre_rollout.retries: must be 0..5"),
    ("hooks: {timeout: 50ms}\n", "hooks.timeout: must be from 100ms to 60s"),
    ("hooks: {timeout: 0}\n", "hooks.timeout: 0 is not a duration like 30s"),
    ("hooks: {confirm_rollout: 'https://x'}\n", "hooks.confirm_rollout: unknown key"),
    ("hooks: {secret_env: '1X'}\n", "hooks.secret_env: '1X' is not an environment variable name"),
])
def test_every_error_names_its_key_path(extra, said):
    message = error(extra)
    assert message.startswith("sentinel.yaml: ") and said in message, message
    assert "\n" not in message


@pytest.mark.parametrize("base,said", [
    ("image: todo:1\n", "sentinel.yaml: app: required"),
    ("app: todos\n", "sentinel.yaml: image: required"),
    ("app: Todos\nimage: todo:1\n", "sentinel.yaml: app: app name 'Todos' is not valid"),
    ("app: todos\nimage: 'Todo:1'\n", "sentinel.yaml: image: image 'Todo:1' is not a valid image reference"),
    ("app: todos\napp: other\nimage: todo:1\n", "not valid YAML (line 2): key 'app' is given twice"),
    ("app: [unclosed\n", "sentinel.yaml: not valid YAML"),
    ("- app: todos\n", "sentinel.yaml: the file must be a mapping"),
    ("", "sentinel.yaml: the file must be a mapping"),
])
def test_the_top_level_errors(base, said):
    assert said in error("", base)


def test_files_named_but_not_sent_are_an_error_with_their_key():
    m = load("app: t\nimage: t:1\nrelease: {sql: up.sql}\n")
    with pytest.raises(mf.ManifestError, match=r"release\.sql: the text of up\.sql was not sent"):
        mf.app_deploy(m, {})
    assert mf.app_deploy(m, {"up.sql": "select 1;"}).release.sql == "select 1;"


def test_an_analysis_file_is_read_and_checked():
    m = load("app: t\nimage: t:1\ncanary: {analysis: a.yaml}\n")
    got = mf.canary_deploy(m, {"a.yaml": "metrics: [{name: cpu}]\n"}, {})
    assert [x["name"] for x in got.analysis["metrics"]] == ["cpu"]
    with pytest.raises(mf.ManifestError, match=r"canary\.analysis: a\.yaml: metrics\[0\]\.direction"):
        mf.canary_deploy(m, {"a.yaml": "metrics: [{name: cpu, direction: up}]\n"}, {})


# ---- onto the API bodies ---------------------------------------------------------------------------
def test_the_file_maps_onto_app_deploy():
    body = mf.app_deploy(load(ISSUE_EXAMPLE), {})
    assert body.name == "todos" and body.domains == ["todos.example.com", "www.todos.example.com"]
    assert body.env == ["LOG_LEVEL=info"] and body.replicas == 3 and body.health_path == "/healthz"
    assert body.db == "postgres" and body.db_ha is True
    assert body.db_backups.model_dump() == {"schedule": "daily", "keep": 14}
    assert body.resources.model_dump() == {"cpu": 0.5, "memory": "256Mi"}
    assert body.release.command == "python migrate.py up"


def test_the_file_maps_onto_canary_deploy():
    body = mf.canary_deploy(load(ISSUE_EXAMPLE), {}, production_env={"LOG_LEVEL": "debug", "OLD": "1"})
    assert body.image == "registry.example.com/todo:3" and body.weight == 5
    assert body.steps == [CanaryStep(weight=5), CanaryStep(weight=20, pause="approve"),
                          CanaryStep(weight=50, interval=300)]
    assert body.interval == 120 and body.auto_promote and body.baseline and body.replicas == 1
    assert body.env == ["LOG_LEVEL=info"] and body.env_unset == ["OLD"]
    assert body.post_promote_command == "python migrate.py contract"
    assert body.analysis["inconclusive"]["min_requests"] == 200
    assert body.analysis["groups"] == {"errors": 50.0, "latency": 30.0, "resources": 20.0}
    assert body.resources.model_dump() == {"cpu": 0.5, "memory": "256Mi"}
    # No resources in the file: the canary runs without limits (not production's).
    plain = mf.canary_deploy(load("app: t\nimage: t:2\ncanary: {}\n"), {}, {})
    assert plain.resources.model_dump() == {"cpu": None, "memory": None} and plain.weight == 10


def test_the_demo_file_reads():
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "examples" / "todo" / "sentinel.yaml"
    m = load(path.read_text())
    assert m.app == "todos" and m.canary.steps[1].pause == "approve" and m.canary.promote == "auto"
    assert [f for _, f in mf.referenced_files(m)] == ["schema.sql"]
    assert (path.parent / "schema.sql").is_file()


def test_a_file_may_give_a_source_to_build_instead_of_an_image():
    data = mf.load_data("app: shop\nsource: ./web\nport: 8000\n")
    assert mf.source_of(data) == "./web"
    m = mf.parse(mf.with_image(data, "reg/shop:src-1"))
    assert m.image == "reg/shop:src-1" and m.port == 8000
    assert mf.source_of(mf.load_data("app: shop\nimage: a:1\n")) is None
    with pytest.raises(mf.ManifestError, match="give image: .* or source: .*, not both"):
        mf.source_of(mf.load_data("app: shop\nimage: a:1\nsource: .\n"))
    with pytest.raises(mf.ManifestError, match="source: must be a folder"):
        mf.source_of({"app": "shop", "source": 3})
    with pytest.raises(mf.ManifestError, match="source: is for the build, done before"):  # the API takes images
        mf.parse(data)


def test_the_files_a_file_names_are_read_by_their_path_and_a_missing_one_is_named():
    m = mf.parse({"app": "shop", "image": "a:1", "release": {"sql": "db/001.sql"}})
    assert mf.files_named(m, {"db/001.sql": "select 1;"}.get, "sentinel.yaml") == \
        {"db/001.sql": "select 1;"}
    with pytest.raises(mf.ManifestError, match="release.sql: db/001.sql does not exist"):
        mf.files_named(m, {}.get, "sentinel.yaml")


def test_build_section_says_how_source_is_built_and_goes_only_with_source():
    data = mf.load_data("app: shop\nsource: .\nbuild:\n  context: services/api\n"
                        "  dockerfile: Dockerfile.prod\n  args: {NODE_ENV: production, N: 2}\n")
    b = mf.build_of(data)
    assert (b.context, b.dockerfile, b.args, b.base) == (
        "services/api", "Dockerfile.prod", {"NODE_ENV": "production", "N": "2"}, None)
    assert "build" not in mf.with_image(data, "reg/shop:1")  # what the control plane applies
    assert mf.build_of(mf.load_data("app: shop\nsource: .\n")) is None
    for text, said in [("app: shop\nimage: s:1\nbuild: {dockerfile: D}\n", "build: says how source: is built"),
                       ("app: shop\nsource: .\nbuild: {dockerfile: D, cache: no}\n", "build.cache: unknown key"),
                       ("app: shop\nsource: .\nbuild: {args: {A: true}}\n", "build.args.A: must be a string or a number")]:
        with pytest.raises(mf.ManifestError, match=re.escape(said)):
            mf.build_of(mf.load_data(text))
    with pytest.raises(mf.ManifestError, match="build: is for the build, done before the file is applied"):
        mf.parse({"app": "shop", "image": "s:1", "build": {}})


def test_preview_section_says_which_branches_are_previews_and_comes_back_in_an_export():
    m = mf.loads("app: shop\nimage: s:1\npreview:\n  branches: ['pr-*', 'feature/*']\n"
                 "  data: copy\n  mask: sql/mask.sql\n  ttl: 2d\n  max: 3\n  env: {FLAGS: beta}\n")
    p = m.preview
    assert (p.matches("pr-42"), p.matches("feature/login"), p.matches("main")) == (True, True, False)
    assert (p.ttl, p.max, p.env) == (2 * 86400, 3, {"FLAGS": "beta"})
    assert ("preview.mask", "sql/mask.sql") in mf.referenced_files(m)
    assert mf.loads(mf.to_yaml(m)).preview == p
    assert mf.loads("app: shop\nimage: s:1\npreview: {}\n").preview.matches("anything")
    for text, said in [("preview: {ttl: 1m}\n", "preview.ttl: a preview lives from 10m to 30d"),
                       ("preview: {max: 0}\n", "preview.max: must be 1..50"),
                       ("preview: {data: all}\n", "preview.data"),
                       ("preview: {branches: []}\n", "preview.branches: must be a branch name pattern")]:
        with pytest.raises(mf.ManifestError, match=re.escape(said)):
            mf.loads("app: shop\nimage: s:1\n" + text)
