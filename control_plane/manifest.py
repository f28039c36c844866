"""sentinel.yaml: how an app runs and how it is released, in one file reviewed like code (pure).

One pydantic model, unknown keys refused everywhere; every error is one line naming the key path
(`canary.steps[1].weight: must be 0..100`). The file maps onto the API bodies the CLI flags
already build (AppDeploy, CanaryDeploy), and back (`from_records`, for `sentinel export`), so an
exported file applied again changes nothing.

Values are normalized as they are read (durations to seconds, sizes to bytes) and written back
in their shortest exact form, so `2m` and `120s` are the same policy.

Files the manifest names (release.sql, database.schema, an analysis file) are paths relative to
the manifest; the CLI reads them and sends their text beside it (`files`), the path stays in
the stored policy so an export names them again.
"""
from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

import yaml
from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer,
                      ValidationError, field_validator, model_validator)
from pydantic_core import PydanticCustomError

from . import validation
from .analysis import default_analysis
from .analysis.config import (AnalysisConfig, AnalysisError, _format_path, analysis_from_dict,
                              first_error)
from .errors import InvalidInput
from .metrics import METRICS
from .models import (AppDeploy, BuildOptions, CanaryDeploy, CanaryStep, DbBackups, ProcessSpec,
                     ReleaseOptions, Resources as ApiResources)
from .units import check_cpu, format_duration, format_memory, parse_duration, parse_memory
from .records import App

HOOK_TYPES = ("pre_rollout", "confirm_traffic_increase", "confirm_promotion", "post_rollout",
              "rollback", "event")
NOTIFY_EVENTS = ("deploy", "canary", "step", "gate", "promote", "rollback", "failure")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ManifestError(InvalidInput):
    """A bad sentinel.yaml: one line, the key path first."""


def _fail(message: str, *path: str | int) -> PydanticCustomError:
    # The path rides in the error's context; analysis.config renders it after pydantic's own.
    return PydanticCustomError("sentinel", "{message}", {"message": message, "path": path})


def _checked(fn, value, *path):
    """Run one of validation.py's checks; its sentence becomes this key's message."""
    try:
        return fn(value)
    except InvalidInput as e:
        raise _fail(e.message.rstrip("."), *path)


def _duration(value: Any) -> float:
    if isinstance(value, bool) or value is None:
        raise _fail("must be a duration like 30s, 5m or 1h")
    try:
        return parse_duration(value)
    except (ValueError, TypeError):
        raise _fail(f"{value!r} is not a duration like 30s, 5m or 1h")


def _memory(value: Any) -> int:
    try:
        return parse_memory(value)
    except (ValueError, TypeError) as e:
        raise _fail(str(e) if isinstance(e, ValueError) else "must be a size like 256Mi or 1Gi")


def _env_name(value: Any) -> str:
    if not isinstance(value, str) or not _ENV_NAME.match(value):
        raise _fail(f"{value!r} is not an environment variable name (letters, digits and _)")
    return value


Duration = Annotated[float, BeforeValidator(_duration), PlainSerializer(format_duration, return_type=str)]
Memory = Annotated[int, BeforeValidator(_memory), PlainSerializer(format_memory, return_type=str)]
EnvName = Annotated[str, BeforeValidator(_env_name)]


def _in_range(value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise _fail(f"must be {low}..{high}")
    return value


class _Strict(BaseModel):
    # strict: YAML already gives real types, so "5" for a number or 1 for a boolean is a mistake.
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


class Resources(_Strict):
    cpu: float | None = None
    memory: Memory | None = None

    @field_validator("cpu")
    @classmethod
    def _cpu(cls, v):
        if v is None:
            return v
        try:
            return check_cpu(v)
        except ValueError as e:
            raise _fail(str(e))

    def api(self) -> ApiResources:
        return ApiResources(cpu=self.cpu, memory=format_memory(self.memory) if self.memory else None)


class ProcessType(_Strict):
    """A process type besides web: its command (else the Procfile's line of the same name),
    its replicas and resources (else web's)."""
    command: str | None = None
    replicas: int = 1
    resources: Resources | None = None

    @field_validator("command")
    @classmethod
    def _command(cls, v):
        if v is not None and (not v.strip() or len(v) > 4096):
            raise _fail("must be a command (at most 4096 characters)")
        return v

    @field_validator("replicas")
    @classmethod
    def _replicas(cls, v):
        return _in_range(v, 0, 100)


class BuildSection(_Strict):
    """`build:`: how `source:` is built (the control plane checks the paths and names)."""
    context: str = "."
    dockerfile: str | None = None
    args: dict[str, str] = {}
    base: str | None = None

    @field_validator("args", mode="before")
    @classmethod
    def _args(cls, v):
        if not isinstance(v, dict):
            raise _fail("must be a mapping of NAME: value")
        out = {}
        for k, val in v.items():
            if isinstance(val, bool) or val is None or not isinstance(val, (str, int, float)):
                raise _fail("must be a string or a number (quote true/false/yes/no)", str(k))
            out[str(k)] = str(val)
        return out


class PreviewPolicy(_Strict):
    """`preview:`: which pushed branches become previews (docs/previews.md), and how."""
    branches: str | list[str] = "*"   # fnmatch patterns of branch names
    data: Literal["copy", "empty", "seed"] | None = None
    mask: str | None = None           # a SQL file, relative to the manifest
    seed: str | None = None           # data seed: a SQL file of schema and rows
    ttl: Duration | None = None
    max: int | None = None
    env: dict[str, str] = {}

    @field_validator("branches")
    @classmethod
    def _branches(cls, v):
        patterns = [v] if isinstance(v, str) else v
        if not patterns or any(not p.strip() or len(p) > 200 for p in patterns):
            raise _fail("must be a branch name pattern such as '*' or 'pr-*' (or a list)")
        return v

    @field_validator("max")
    @classmethod
    def _max(cls, v):
        return v if v is None else _in_range(v, 1, 50)

    @field_validator("ttl")
    @classmethod
    def _ttl(cls, v):
        if v is not None and not 600 <= v <= 30 * 86400:
            raise _fail("a preview lives from 10m to 30d")
        return v

    @field_validator("env", mode="before")
    @classmethod
    def _env(cls, v):
        return Manifest._env(v)

    def matches(self, branch: str) -> bool:
        patterns = [self.branches] if isinstance(self.branches, str) else self.branches
        return any(fnmatch.fnmatchcase(branch, p) for p in patterns)


class Health(_Strict):
    path: str | None = "/healthz"

    @field_validator("path")
    @classmethod
    def _path(cls, v):
        return _checked(validation.health_path, v)


class Backups(_Strict):
    schedule: Literal["daily", "weekly"] = "weekly"
    keep: int = 2

    @field_validator("keep")
    @classmethod
    def _keep(cls, v):
        return _in_range(v, 1, 365)


class Database(_Strict):
    engine: Literal["postgres"]
    ha: bool | None = None
    schema_file: str | None = Field(default=None, alias="schema")
    backups: Backups | None = None


class Release(_Strict):
    command: str | None = Field(default=None, max_length=4096)
    sql: str | None = None  # a file, relative to the manifest
    post_promote: str | None = Field(default=None, max_length=4096)
    timeout: Duration = 600.0
    allow_destructive: bool = False
    skip_check: bool = False
    smoke_command: str | None = Field(default=None, max_length=4096)
    check_path: str | None = None  # default: the app's health path, else /

    @field_validator("command", "post_promote", "smoke_command", "sql")
    @classmethod
    def _not_blank(cls, v):
        if v is not None and not v.strip():
            raise _fail("must not be empty")
        return v

    @model_validator(mode="after")
    def _one_kind(self):
        if self.command and self.sql:
            raise _fail("give command or sql, not both", "sql")
        if not (self.command or self.sql or self.post_promote):
            raise _fail("give command, sql or post_promote")
        if not (self.command or self.sql):
            for key in ("smoke_command",):
                if getattr(self, key):
                    raise _fail("goes with command or sql", key)
        return self


def _pause(value: Any) -> Any:
    if value is None or value == "approve":
        return value
    try:
        return _duration(value)
    except PydanticCustomError:
        raise _fail("must be approve or a duration like 5m")


Pause = Annotated[Literal["approve"] | float | None, BeforeValidator(_pause),
                  PlainSerializer(lambda v: v if v is None or v == "approve" else format_duration(v))]


class Step(_Strict):
    weight: int
    pause: Pause = None
    interval: Duration | None = None

    @field_validator("weight")
    @classmethod
    def _weight(cls, v):
        return _in_range(v, 0, 100)


class Canary(_Strict):
    baseline: bool = False
    replicas: int = 1
    sticky: bool = True
    weight: int | None = None
    steps: list[Step] | None = None
    interval: Duration | None = None
    analysis: str | dict | None = None
    promote: Literal["auto", "manual"] = "manual"
    mirror: int = 0

    @field_validator("replicas")
    @classmethod
    def _replicas(cls, v):
        return _in_range(v, 1, 100)

    @field_validator("weight", "mirror")
    @classmethod
    def _percent(cls, v):
        return v if v is None else _in_range(v, 0, 100)  # a percent of the traffic

    @field_validator("analysis")
    @classmethod
    def _analysis(cls, v):
        if isinstance(v, dict):
            analysis_dict(v)  # raises with the path inside the analysis
        elif isinstance(v, str) and not v.strip():
            raise _fail("must be default, a file, or a mapping")
        return v

    @model_validator(mode="after")
    def _plan(self):
        steps, top = self.steps, validation.max_weight(self.baseline)
        if self.weight is not None and self.weight > top:
            raise _fail(f"must be at most {top} with a baseline (canary and baseline each get "
                        "the weight)", "weight")
        if steps is None:
            if self.interval is not None:
                raise _fail("goes with steps (how long each step runs before it is judged)", "interval")
            if self.promote == "auto":
                raise _fail("auto needs steps: a canary without steps is promoted by a person",
                            "promote")
            if self.mirror and self.weight:
                raise _fail("a shadow canary (mirror) takes no traffic: leave weight out or make "
                            "it 0", "weight")
            return self
        if self.weight is not None:
            raise _fail("give weight or steps, not both (the first step is the first weight)", "weight")
        if not steps:
            raise _fail("must list at least one step", "steps")
        for i, s in enumerate(steps):
            if s.weight > top:
                raise _fail(f"must be at most {top} with a baseline (canary and baseline each get "
                            "the weight)", "steps", i, "weight")
            if i and s.weight <= steps[i - 1].weight:
                raise _fail(f"must be above the step before ({steps[i - 1].weight})", "steps", i, "weight")
            if s.interval is None and self.interval is None:
                raise _fail("required with steps, or give every step an interval", "interval")
        if self.mirror and steps[0].weight != 0:
            raise _fail("a shadow canary (mirror) starts at weight 0: make the first step "
                        "{weight: 0}", "steps", 0, "weight")
        if steps[0].weight == 0 and not self.mirror:
            raise _fail("0 sends the canary nothing: set canary.mirror for a shadow step, or "
                        "start at 1", "steps", 0, "weight")
        return self


class Slack(_Strict):
    webhook_url_env: EnvName
    events: list[Literal[NOTIFY_EVENTS]] | None = None  # type: ignore[valid-type]


class Webhook(_Strict):
    url: str | None = None
    url_env: EnvName | None = None
    secret_env: EnvName | None = None
    events: list[Literal[NOTIFY_EVENTS]] | None = None  # type: ignore[valid-type]

    @field_validator("url")
    @classmethod
    def _url(cls, v):
        return v if v is None else _checked(lambda u: validation.http_url(u, "URL"), v)

    @model_validator(mode="after")
    def _one_url(self):
        if (self.url is None) == (self.url_env is None):
            raise _fail("give url or url_env (a variable of the control plane's environment), "
                        "one of them")
        return self


class NotifyTarget(_Strict):
    slack: Slack | None = None
    webhook: Webhook | None = None

    @model_validator(mode="before")
    @classmethod
    def _slack_url_is_a_secret(cls, v):
        if isinstance(v, dict) and isinstance(v.get("slack"), dict) and "webhook_url" in v["slack"]:
            raise _fail("a Slack webhook URL is a secret: put it in the control plane's "
                        "environment and name the variable with webhook_url_env", "slack", "webhook_url")
        return v

    @model_validator(mode="after")
    def _one(self):
        if (self.slack is None) == (self.webhook is None):
            raise _fail("give one of slack or webhook")
        return self


class Hook(_Strict):
    url: str
    secret_env: EnvName | None = None
    timeout: Duration | None = None
    retries: int | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, v):
        return _checked(lambda u: validation.http_url(u, "URL"), v)

    @field_validator("retries")
    @classmethod
    def _retries(cls, v):
        return v if v is None else _in_range(v, 0, 5)

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, v):
        if v is not None and not 0.1 <= v <= 60:
            raise _fail("must be from 100ms to 60s: a hook never holds an operation for long")
        return v


def _hook_url(v):
    return {"url": v} if isinstance(v, str) else v


HookField = Annotated[Hook | None, BeforeValidator(_hook_url)]


class Hooks(_Strict):
    """Flagger's webhooks. Defaults for every hook first; each hook is a URL or a mapping."""
    secret_env: EnvName | None = None
    timeout: Duration = 5.0
    retries: int = 2
    pre_rollout: HookField = None
    confirm_traffic_increase: HookField = None
    confirm_promotion: HookField = None
    post_rollout: HookField = None
    rollback: HookField = None
    event: HookField = None

    @field_validator("retries")
    @classmethod
    def _retries(cls, v):
        return _in_range(v, 0, 5)

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, v):
        if not 0.1 <= v <= 60:
            raise _fail("must be from 100ms to 60s: a hook never holds an operation for long")
        return v

    def resolved(self, kind: str) -> dict | None:
        """{url, secret_env, timeout, retries} of one hook, defaults filled in."""
        hook = getattr(self, kind)
        if hook is None:
            return None
        return {"url": hook.url, "secret_env": hook.secret_env or self.secret_env,
                "timeout": hook.timeout if hook.timeout is not None else self.timeout,
                "retries": hook.retries if hook.retries is not None else self.retries}


class Manifest(_Strict):
    app: str
    image: str
    port: int = 8000
    domains: list[str] | None = None
    replicas: int = 1
    resources: Resources | None = None
    env: dict[str, str] = {}
    health: Health = Health()
    processes: dict[str, ProcessType] | None = None
    database: Database | None = None
    release: Release | None = None
    canary: Canary | None = None
    notify: list[NotifyTarget] = []
    hooks: Hooks | None = None
    preview: PreviewPolicy | None = None

    @field_validator("app")
    @classmethod
    def _app(cls, v):
        return _checked(validation.name, v)

    @field_validator("image")
    @classmethod
    def _image(cls, v):
        return _checked(validation.image, v)

    @field_validator("port")
    @classmethod
    def _port(cls, v):
        return _in_range(v, 1, 65535)

    @field_validator("replicas")
    @classmethod
    def _replicas(cls, v):
        return _in_range(v, 0, 100)

    @field_validator("domains")
    @classmethod
    def _domains(cls, v):
        if v is None:
            return v
        if not v:
            raise _fail("must list at least one domain (or leave domains out for the default)")
        if len(v) > validation.MAX_DOMAINS:
            raise _fail(f"at most {validation.MAX_DOMAINS} domains per app")
        out = [_checked(validation.domain, d, i) for i, d in enumerate(v)]
        for i, d in enumerate(out):
            if d in out[:i]:
                raise _fail(f"{d} is listed twice", i)
        return out

    @field_validator("processes", mode="before")
    @classmethod
    def _process_names(cls, v):
        if v is None:
            return v
        if not isinstance(v, dict):
            raise _fail("must be a mapping of process type: {command, replicas, resources}")
        for k in v:
            if k == "web":
                raise _fail("web is set by the top-level replicas: and resources: (its command "
                            "is the image's, or the Procfile's web line)", "web")
            _checked(validation.process_name, k, str(k))
        if len(v) > validation.MAX_PROCESSES:
            raise _fail(f"at most {validation.MAX_PROCESSES} process types besides web")
        return v

    @field_validator("env", mode="before")
    @classmethod
    def _env(cls, v):
        # Numbers are written as they read (PORT: 8000); a boolean is refused as Compose does,
        # since yes/no/on/off would reach the app as true/false.
        if not isinstance(v, dict):
            raise _fail("must be a mapping of NAME: value")
        out = {}
        for k, val in v.items():
            if not isinstance(k, str) or not _ENV_NAME.match(k):
                raise _fail("is not an environment variable name (letters, digits and _)", str(k))
            if isinstance(val, bool) or val is None or not isinstance(val, (str, int, float)):
                raise _fail("must be a string or a number (quote true/false/yes/no)", k)
            out[k] = str(val)
        return out

    @field_validator("health", mode="before")
    @classmethod
    def _health(cls, v):
        return {"path": None} if v is False else v  # `health: false`: no health check


# ---- reading ------------------------------------------------------------------------------------
class _UniqueKeyLoader(yaml.SafeLoader):
    """A key given twice is an error, not "the last one wins": one of them is a mistake."""


def _mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} is given twice", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def parse(data: Any, source: str = "") -> Manifest:
    prefix = f"{source}: " if source else ""
    if not isinstance(data, dict):
        raise ManifestError(f"{prefix}the file must be a mapping with at least app and image.")
    for key in ("source", "build"):
        if key in data:
            raise ManifestError(f"{prefix}{key}: is for the build, done before the file is applied "
                                "(`sentinel apply` and `git push` do it): the control plane "
                                "takes image:.")
    try:
        return Manifest.model_validate(data)
    except ValidationError as e:
        loc, message = first_error(e)
        raise ManifestError(f"{prefix}{_format_path(loc) or '(top level)'}: {message}")


def loads(text: str, source: str = "sentinel.yaml") -> Manifest:
    return parse(load_data(text, source), source)


def referenced_files(m: Manifest) -> list[tuple[str, str]]:
    """(key path, relative path) of each file the manifest names."""
    out = []
    if m.release and m.release.sql:
        out.append(("release.sql", m.release.sql))
    if m.database and m.database.schema_file:
        out.append(("database.schema", m.database.schema_file))
    if m.canary and isinstance(m.canary.analysis, str) and m.canary.analysis != "default":
        out.append(("canary.analysis", m.canary.analysis))
    if m.preview and m.preview.mask:
        out.append(("preview.mask", m.preview.mask))
    if m.preview and m.preview.seed:
        out.append(("preview.seed", m.preview.seed))
    return out


def files_named(m: Manifest, read: Callable[[str], str | None], source: str) -> dict[str, str]:
    """The text of every file the manifest names, by its path (`read` gives None for a file
    that is not there)."""
    files = {}
    for key, rel in referenced_files(m):
        text = read(rel)
        if text is None:
            raise ManifestError(f"{source}: {key}: {rel} does not exist (paths are relative to "
                                "the manifest).")
        files[rel] = text
    return files


def load_data(text: str, source: str = "sentinel.yaml") -> Any:
    """The file's data, before it is checked (a key given twice is an error)."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ManifestError(f"{source}: not valid YAML{where}: {' '.join(str(problem).split())}")


def source_of(data: Any, source: str = "sentinel.yaml") -> str | None:
    """`source:` (the folder to build, relative to the file) where a file gives it instead of
    `image:`: the CLI or a push builds it, and the image built stands in its place."""
    if not isinstance(data, dict) or "source" not in data:
        return None
    if "image" in data:
        raise ManifestError(f"{source}: give image: (a built image) or source: (a folder to "
                            "build), not both.")
    if not isinstance(data["source"], str) or not data["source"].strip():
        raise ManifestError(f"{source}: source: must be a folder, relative to the file.")
    return data["source"]


def build_of(data: Any, source: str = "sentinel.yaml") -> BuildOptions | None:
    """`build:` (context, dockerfile, args, base): how the file's `source:` is built."""
    if not isinstance(data, dict) or "build" not in data:
        return None
    if "source" not in data:
        raise ManifestError(f"{source}: build: says how source: is built; give source: (a folder "
                            "or a git URL) instead of image:, or leave build: out.")
    try:
        b = BuildSection.model_validate(data["build"])
    except ValidationError as e:
        loc, message = first_error(e)
        raise ManifestError(f"{source}: {_format_path(('build', *loc))}: {message}")
    return BuildOptions(**b.model_dump())


def with_image(data: dict, image: str) -> dict:
    """The file's data with the image built from its source (or pushed) in place of source:
    and build:."""
    return {**{k: v for k, v in data.items() if k not in ("source", "image", "build")},
            "image": image}


def _file(files: dict[str, str], key: str, path: str) -> str:
    if path not in files:
        raise ManifestError(f"{key}: the text of {path} was not sent with the manifest "
                            "(`sentinel apply -f` sends the files a manifest names).")
    return files[path]


# ---- analysis -----------------------------------------------------------------------------------
def analysis_dict(raw: dict, *path: str | int) -> dict:
    """The manifest's analysis (`metrics: default`, `min_requests: N`, or the full analysis
    format) -> the analysis config the judge takes, checked; errors keep their key path."""
    raw = dict(raw)
    if "min_requests" in raw:  # the one setting people change most, at the top
        inconclusive = dict(raw.get("inconclusive") or {})
        if "min_requests" in inconclusive:
            raise _fail("give min_requests here or under inconclusive, not both", *path, "min_requests")
        inconclusive["min_requests"] = raw.pop("min_requests")
        raw["inconclusive"] = inconclusive
    if raw.get("metrics", "default") == "default":  # the default analysis, what is given on top
        base = default_analysis().model_dump_config()
        raw = {**base, **raw, "metrics": base["metrics"]}
    try:
        config = AnalysisConfig.model_validate(raw)
    except ValidationError as e:
        loc, message = first_error(e)
        raise _fail(message, *path, *loc)
    for i, m in enumerate(config.metrics):
        if m.name not in METRICS:
            raise _fail(f"{m.name!r} is not a metric Sentinel collects (one of {', '.join(METRICS)})",
                        *path, "metrics", i, "name")
    return config.model_dump_config()


def canary_analysis(m: Manifest, files: dict[str, str]) -> dict | None:
    a = m.canary.analysis if m.canary else None
    if a is None or a == "default":
        return None
    if isinstance(a, dict):
        return analysis_dict(a)
    try:
        data = yaml.safe_load(_file(files, "canary.analysis", a))
        return analysis_from_dict(data).model_dump_config()
    except yaml.YAMLError as e:
        raise ManifestError(f"canary.analysis: {a} is not valid YAML: {' '.join(str(e).split())}")
    except AnalysisError as e:
        raise ManifestError(f"canary.analysis: {a}: {e.message}")


# ---- onto the API bodies ------------------------------------------------------------------------
def env_entries(env: dict[str, str]) -> list[str]:
    return [f"{k}={v}" for k, v in env.items()]


def release_options(m: Manifest, files: dict[str, str]) -> ReleaseOptions | None:
    r = m.release
    if not r or not (r.command or r.sql):
        return None
    return ReleaseOptions(command=r.command, sql=_file(files, "release.sql", r.sql) if r.sql else None,
                          sql_name=(r.sql or "release.sql").rsplit("/", 1)[-1], timeout=r.timeout,
                          allow_destructive=r.allow_destructive, skip_check=r.skip_check,
                          smoke_command=r.smoke_command, check_path=r.check_path)


def process_specs(m: Manifest, built: dict[str, str] | None,
                  running: dict[str, str]) -> dict[str, ProcessSpec] | None:
    """The process types besides web the file's version runs; None keeps the app's.

    `built`: those of the source the image was built from (its Procfile, name -> command), None
    for an image; `running`: the app's (name -> command). The file's `processes:` gives each
    type's replicas and resources, and its command where the Procfile (or, for an image, what
    runs) does not; with it, the file lists every type (an image's types it leaves out go)."""
    if m.processes is None:
        return None if built is None else {k: ProcessSpec(command=c) for k, c in built.items()}
    out = {k: ProcessSpec(command=c) for k, c in (built or {}).items()}
    for name, p in m.processes.items():
        command = p.command or (built.get(name) if built is not None else running.get(name))
        if not command:
            raise ManifestError(
                f"processes.{name}: has no command: "
                + ("the source's Procfile has no `" + name + ":` line; add one, or give command:."
                   if built is not None else "give command: (the image runs it as this type)."))
        out[name] = ProcessSpec(command=command, replicas=p.replicas,
                                resources=p.resources.api() if p.resources else None)
    return out


def app_deploy(m: Manifest, files: dict[str, str], *, release: bool = True) -> AppDeploy:
    """The AppDeploy that creates the app, or rolls it to the file's version."""
    db = m.database
    schema = _file(files, "database.schema", db.schema_file) if db and db.schema_file else None
    return AppDeploy(name=m.app, image=m.image, port=m.port, domains=m.domains,
                     replicas=m.replicas, env=env_entries(m.env), health_path=m.health.path,
                     resources=m.resources.api() if m.resources else None,
                     db="postgres" if db else None, db_ha=db.ha if db else None, db_schema=schema,
                     db_backups=DbBackups(**db.backups.model_dump()) if db and db.backups else None,
                     release=release_options(m, files) if release else None)


def canary_deploy(m: Manifest, files: dict[str, str], production_env: dict[str, str]) -> CanaryDeploy:
    """The CanaryDeploy that releases the file's version by its canary section. The canary runs
    the file's whole version (image, env, resources): variables production has and the file
    does not are unset in it, and gone after the promotion."""
    c = m.canary or Canary()
    steps = [CanaryStep(weight=s.weight, pause=s.pause, interval=s.interval) for s in c.steps or []]
    weight = steps[0].weight if steps else (0 if c.mirror else (10 if c.weight is None else c.weight))
    return CanaryDeploy(
        image=m.image, weight=weight, env=env_entries(m.env),
        env_unset=[k for k in production_env if k not in m.env], replicas=c.replicas,
        sticky=c.sticky, baseline=c.baseline, steps=steps or None,
        interval=c.interval if steps else None, analysis=canary_analysis(m, files),
        auto_promote=c.promote == "auto", release=release_options(m, files),
        post_promote_command=m.release.post_promote if m.release else None, mirror=c.mirror,
        resources=m.resources.api() if m.resources else ApiResources())


# ---- what the control plane keeps, and back -----------------------------------------------------
def _dump(model: BaseModel | None, **kw) -> Any:
    if model is None:
        return None
    return model.model_dump(mode="json", by_alias=True, exclude_defaults=True, **kw)


def _hooks_out(h: Hooks) -> dict:
    out = _dump(h)
    for kind in HOOK_TYPES:  # a hook with only a URL is written as the URL
        if isinstance(out.get(kind), dict) and set(out[kind]) == {"url"}:
            out[kind] = out[kind]["url"]
    return out


def policy(m: Manifest) -> dict:
    """The release policy an app keeps between applies: how its versions are released and who
    hears about it. Stored in the file's own form (normalized), so an export gives it back."""
    return {"release": _dump(m.release), "canary": _dump(m.canary),
            "notify": [_dump(n, exclude_none=True) for n in m.notify],
            "hooks": _hooks_out(m.hooks) if m.hooks else None,
            "schema": m.database.schema_file if m.database else None,
            "preview": _dump(m.preview)}


def from_records(app: App) -> Manifest:
    """The manifest of a running app (its production version): what `sentinel export` prints."""
    pol = app.policy or {}
    data: dict[str, Any] = {"app": app.name, "image": app.image, "port": app.port,
                            "domains": app.domains or [app.domain], "replicas": app.replicas}
    if app.resources:
        data["resources"] = {k: v for k, v in app.resources.items() if v is not None}
    data["env"] = dict(app.env)
    data["health"] = {"path": app.health_path} if app.health_path else False
    if app.processes:
        data["processes"] = {
            k: {"command": p.command, "replicas": p.replicas,
                **({"resources": {r: v for r, v in p.resources.items() if v is not None}}
                   if p.resources else {})}
            for k, p in sorted(app.processes.items())}
    if app.db:
        db: dict[str, Any] = {"engine": "postgres", "ha": app.db.ha}
        if pol.get("schema"):
            db["schema"] = pol["schema"]
        if app.backups:
            db["backups"] = app.backups
        data["database"] = db
    for key in ("release", "canary", "hooks", "preview"):
        if pol.get(key) is not None:
            data[key] = pol[key]
    if pol.get("notify"):
        data["notify"] = pol["notify"]
    return parse(data, "the stored app")


def to_yaml(m: Manifest) -> str:
    """The file, keys in the order a person reads them: what runs, then how it is released."""
    out: dict[str, Any] = {"app": m.app, "image": m.image, "port": m.port}
    if m.domains:
        out["domains"] = m.domains
    out["replicas"] = m.replicas
    if m.resources:
        out["resources"] = _dump(m.resources)
    if m.env:
        out["env"] = m.env
    out["health"] = {"path": m.health.path} if m.health.path else False
    if m.processes is not None:
        out["processes"] = {k: _dump(p) for k, p in m.processes.items()}
    for key in ("database", "release", "canary"):
        section = getattr(m, key)
        if section is not None:
            dumped = _dump(section)
            if key == "database":
                dumped = {"engine": "postgres", **dumped}
            out[key] = dumped
    if m.notify:
        out["notify"] = [_dump(n, exclude_none=True) for n in m.notify]
    if m.hooks:
        out["hooks"] = _hooks_out(m.hooks)
    if m.preview is not None:
        out["preview"] = _dump(m.preview)
    return yaml.safe_dump(out, sort_keys=False, default_flow_style=None, width=100,
                          allow_unicode=True)
