"""Analysis configuration: which metrics to judge, how, and how to score them.

Loaded from YAML (``--analysis FILE.yaml``) or embedded in a judge input file.
Every validation problem is reported as ONE line naming the key path, e.g.
``metrics[2].direction: must be increase, decrease or either``, through the
single exception class :class:`AnalysisError`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

Direction = Literal["increase", "decrease", "either"]
NanStrategy = Literal["remove", "replace"]
OutlierStrategy = Literal["keep", "remove"]
AfterHolds = Literal["rollback", "wait"]


class AnalysisError(Exception):
    """A bad analysis config or judge input; ``str(err)`` is a one-line message."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _fail(message: str, *path: str | int) -> PydanticCustomError:
    # The relative path rides in the error context so the renderer can append it
    # to the location pydantic knows (the model the check runs on).
    return PydanticCustomError("sentinel", "{message}", {"message": message, "path": path})


class _Strict(BaseModel):
    # strict: "1.5" is not a number and 1 is not a boolean here; YAML and JSON
    # already give us real types, so anything else is a mistake worth reporting.
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


class MetricConfig(_Strict):
    name: str
    group: Optional[str] = None  # one group ("default" when neither this nor groups is given)
    groups: Optional[list[str]] = None  # or several: the metric counts in each (as Kayenta)
    direction: Direction = "either"
    nan_strategy: NanStrategy = "remove"
    outliers: OutlierStrategy = "keep"  # remove: drop IQR outliers on each side first (Kayenta)
    outlier_factor: float = 3.0
    critical: bool = False
    must_have_data: bool = False
    muted: bool = False  # judged and shown, but not scored
    min_points: int = 5  # fewer points on either side: NotEnoughData
    allowed_increase: float = 1.0
    allowed_decrease: float = 1.0
    critical_increase: float = 1.0
    critical_decrease: float = 1.0

    @field_validator("name", "group")
    @classmethod
    def _not_blank(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and not v.strip():
            raise _fail("must not be empty")
        return v

    @field_validator("groups")
    @classmethod
    def _group_list(cls, v: Optional[list[str]]) -> Optional[list[str]]:
        if v is None:
            return v
        if not v:
            raise _fail("must list at least one group")
        for i, g in enumerate(v):
            if not g.strip():
                raise _fail("must not be empty", i)
            if g in v[:i]:
                raise _fail(f"group {g!r} is listed twice", i)
        return v

    @field_validator("outlier_factor")
    @classmethod
    def _positive(cls, v: float) -> float:
        if not 0.0 < v < float("inf"):
            raise _fail("must be a number above 0 (Kayenta's default is 3)")
        return v

    @field_validator("min_points")
    @classmethod
    def _at_least_one(cls, v: int) -> int:
        if v < 1:
            raise _fail("must be at least 1")
        return v

    @model_validator(mode="after")
    def _one_way_to_group(self) -> "MetricConfig":
        if self.group is not None and self.groups is not None:
            raise _fail("give group or groups, not both", "groups")
        return self

    @property
    def group_names(self) -> list[str]:
        """The groups this metric counts in."""
        return list(self.groups) if self.groups is not None else [self.group or "default"]

    # Effect sizes are ratios mean(experiment)/mean(control): increases are >= 1,
    # decreases in (0, 1]. Writing 1.2 for "allow a 20% decrease" is an easy slip.
    @field_validator("allowed_increase", "critical_increase")
    @classmethod
    def _increase_ratio(cls, v: float) -> float:
        if not 1.0 <= v < float("inf"):
            raise _fail("must be a ratio of at least 1 (e.g. 1.2 for +20%)")
        return v

    @field_validator("allowed_decrease", "critical_decrease")
    @classmethod
    def _decrease_ratio(cls, v: float) -> float:
        if not 0.0 < v <= 1.0:
            raise _fail("must be a ratio above 0 and at most 1 (e.g. 0.8 for -20%)")
        return v


class Thresholds(_Strict):
    pass_: float = Field(95.0, alias="pass")
    marginal: float = 75.0

    @field_validator("pass_", "marginal")
    @classmethod
    def _percent(cls, v: float) -> float:
        if not 0.0 <= v <= 100.0:
            raise _fail("must be between 0 and 100")
        return v

    @model_validator(mode="after")
    def _ordered(self) -> "Thresholds":
        if self.marginal > self.pass_:
            raise _fail(f"must not be above pass ({self.marginal:g} > {self.pass_:g})", "marginal")
        return self


class Inconclusive(_Strict):
    """When a judgment has not enough data to decide, and what the progressive driver does then."""

    min_requests: int = 50  # canary requests in a live judgment's window; fewer: inconclusive
    holds: int = 2  # inconclusive step judgments to wait through, one more interval each
    then: AfterHolds = "rollback"  # after those holds: roll back, or wait for a person
    # With error counts known, a judgment is only decided when, at the analysis's confidence,
    # the canary's error rate is below max(rule_out_ratio x the lowest rate the baseline's
    # counts allow, rule_out_floor): a window too small to see a doubling of errors is "not
    # enough data", never a pass.
    rule_out_ratio: float = 2.0
    rule_out_floor: float = 0.02

    @field_validator("min_requests", "holds")
    @classmethod
    def _not_negative(cls, v: int) -> int:
        if v < 0:
            raise _fail("must be 0 or more")
        return v

    @field_validator("rule_out_ratio")
    @classmethod
    def _ratio(cls, v: float) -> float:
        if not 1.0 <= v < float("inf"):
            raise _fail("must be a ratio of at least 1 (e.g. 2 to rule out a doubling)")
        return v

    @field_validator("rule_out_floor")
    @classmethod
    def _rate(cls, v: float) -> float:
        if not 0.0 < v <= 1.0:
            raise _fail("must be a fraction above 0 and at most 1 (e.g. 0.02 for 2%)")
        return v


class AnalysisConfig(_Strict):
    metrics: list[MetricConfig]
    groups: dict[str, float] = Field(default_factory=dict)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    confidence: float = 0.98  # of the Mann–Whitney interval; High/Low need significance at this level
    inconclusive: Inconclusive = Field(default_factory=Inconclusive)

    @field_validator("confidence")
    @classmethod
    def _level(cls, v: float) -> float:
        if not 0.5 <= v < 1.0:
            raise _fail("must be at least 0.5 and below 1 (e.g. 0.98)")
        return v

    @field_validator("groups")
    @classmethod
    def _weights(cls, v: dict[str, float]) -> dict[str, float]:
        for name, weight in v.items():
            if not 0.0 <= weight < float("inf"):
                raise _fail("must be a weight of 0 or more", name)
        if v and all(w == 0 for w in v.values()):
            raise _fail("weights must not all be zero")
        total = sum(v.values())
        if total > 100:
            raise _fail(f"weights sum to {total:g}, more than 100")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> "AnalysisConfig":
        if not self.metrics:
            raise _fail("must list at least one metric", "metrics")
        if all(m.muted for m in self.metrics):
            raise _fail("at least one metric must not be muted", "metrics")
        seen: dict[str, int] = {}
        for i, m in enumerate(self.metrics):
            if m.name in seen:
                raise _fail(f"duplicate metric name {m.name!r} (also metrics[{seen[m.name]}])", "metrics", i, "name")
            seen[m.name] = i
        used = {g for m in self.metrics for g in m.group_names}
        for name in self.groups:
            if name not in used:
                # A weight for a group nobody is in is almost surely a typo, and
                # would silently take weight from the real groups.
                raise _fail("no metric is in this group", "groups", name)
        return self

    def model_dump_config(self) -> dict[str, Any]:
        """Plain data in the file format (``pass`` rather than ``pass_``)."""
        return self.model_dump(by_alias=True)


class Series(_Strict):
    control: list[Optional[float]]
    experiment: list[Optional[float]]


class Requests(_Strict):
    """Requests each side served in the judged window, and how many of them failed (5xx);
    live judgments record them."""

    control: Optional[float] = None
    experiment: Optional[float] = None
    control_errors: Optional[float] = None
    experiment_errors: Optional[float] = None


class JudgeInput(_Strict):
    config: AnalysisConfig
    data: dict[str, Series] = Field(default_factory=dict)
    requests: Optional[Requests] = None

    @model_validator(mode="after")
    def _known_metrics(self) -> "JudgeInput":
        names = {m.name for m in self.config.metrics}
        for name in self.data:
            if name not in names:
                raise _fail(f"no metric named {name!r} in config", "data", name)
        return self


# --- error rendering -------------------------------------------------------

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")

_MESSAGES = {
    "missing": "required",
    "extra_forbidden": "unknown key",
    "float_type": "must be a number",
    "int_type": "must be an integer",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "finite_number": "must be a finite number",
}


def _format_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(str(part)):
            out += f".{part}" if out else str(part)
        else:
            out += f"[{json.dumps(str(part))}]"
    return out


def _message(err: dict[str, Any]) -> str:
    kind = err["type"]
    if kind == "sentinel":
        return err["ctx"]["message"]
    if kind == "literal_error":
        # pydantic says "'a', 'b' or 'c'"; we say "must be a, b or c".
        return "must be " + err["ctx"]["expected"].replace("'", "")
    return _MESSAGES.get(kind, err["msg"])


def first_error(exc: ValidationError) -> tuple[tuple[Any, ...], str]:
    """(key path, message) of the first problem pydantic found."""
    err = exc.errors()[0]
    loc = tuple(err["loc"]) + tuple((err.get("ctx") or {}).get("path", ()))
    # pydantic names the alias-less field "pass_"; users write "pass".
    return tuple("pass" if p == "pass_" else p for p in loc), _message(err)


def render_validation_error(exc: ValidationError, prefix: tuple[Any, ...] = ()) -> str:
    """One line for the first problem pydantic found, with its key path."""
    loc, message = first_error(exc)
    path = _format_path(tuple(prefix) + loc)
    return f"{path or '(top level)'}: {message}"


# --- loading ----------------------------------------------------------------


def _read(path: str | Path, kind: str) -> Any:
    import yaml  # lazily: the CLI imports this module on every start

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise AnalysisError(f"{p}: cannot read {kind}: {e.strerror or e}") from None
    try:
        if p.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as e:
        detail = " ".join(str(e).split())  # YAML errors span several lines
        raise AnalysisError(f"{p}: not valid {'JSON' if p.suffix.lower() == '.json' else 'YAML'}: {detail}") from None


def analysis_from_dict(raw: Any) -> AnalysisConfig:
    """Validate already-parsed analysis config data."""
    try:
        return AnalysisConfig.model_validate(raw)
    except ValidationError as e:
        raise AnalysisError(render_validation_error(e)) from None


def load_analysis(path: str | Path) -> AnalysisConfig:
    """Read and validate an analysis config (YAML, or JSON by ``.json`` suffix)."""
    return analysis_from_dict(_read(path, "analysis config"))


JudgeData = dict[str, dict[str, list[Optional[float]]]]


def judge_input_from_dict(raw: Any) -> tuple[AnalysisConfig, JudgeData, Optional[dict[str, Optional[float]]]]:
    """Validate already-parsed judge input ``{"config": ..., "data": ..., "requests": ...}``
    into (config, data, requests); requests is None when the input has none."""
    try:
        parsed = JudgeInput.model_validate(raw)
    except ValidationError as e:
        raise AnalysisError(render_validation_error(e)) from None
    data = {name: {"control": s.control, "experiment": s.experiment} for name, s in parsed.data.items()}
    # The error counts are optional (older judgments have none): absent, not null.
    requests = parsed.requests.model_dump(exclude={k for k in ("control_errors", "experiment_errors")
                                                   if getattr(parsed.requests, k) is None}) \
        if parsed.requests else None
    return parsed.config, data, requests


def parse_judge_file(path: str | Path) -> tuple[AnalysisConfig, JudgeData, Optional[dict[str, Optional[float]]]]:
    """Read a judge input file (JSON; YAML also accepted) into (config, data, requests)."""
    return judge_input_from_dict(_read(path, "judge input"))
