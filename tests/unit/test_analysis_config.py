"""Analysis config validation: every bad input gives one exact line with its key path."""

from __future__ import annotations

import json

import pytest

from control_plane.analysis.config import (
    AnalysisConfig,
    AnalysisError,
    analysis_from_dict,
    judge_input_from_dict,
    load_analysis,
    parse_judge_file,
)
from control_plane.analysis.judge import default_analysis


def metrics(*names_and_groups):
    return [{"name": n, "group": g} for n, g in names_and_groups]


GOOD = {
    "metrics": [
        {"name": "error_ratio", "group": "errors", "direction": "increase", "critical": True, "nan_strategy": "replace"},
        {"name": "latency_p99", "group": "latency", "direction": "increase", "allowed_increase": 1.2},
        {"name": "cpu", "group": "resources"},
    ],
    "groups": {"errors": 50, "latency": 30},
    "thresholds": {"pass": 90, "marginal": 70},
}

BAD = [
    # unknown keys
    ({**GOOD, "color": "red"}, "color: unknown key"),
    ({**GOOD, "metrics": [{"name": "a", "treshold": 1}]}, "metrics[0].treshold: unknown key"),
    ({**GOOD, "thresholds": {"pass": 90, "fail": 10}}, "thresholds.fail: unknown key"),
    # wrong types and values
    ({"metrics": [{"name": "a"}, {"name": "b"}, {"name": "c", "direction": "up"}]},
     "metrics[2].direction: must be increase, decrease or either"),
    ({"metrics": [{"name": "a", "nan_strategy": "zero"}]}, "metrics[0].nan_strategy: must be remove or replace"),
    ({"metrics": [{"name": "a", "critical": "yes"}]}, "metrics[0].critical: must be true or false"),
    ({"metrics": [{"name": "a", "must_have_data": 1}]}, "metrics[0].must_have_data: must be true or false"),
    ({"metrics": [{"name": "a", "allowed_increase": "1.2"}]}, "metrics[0].allowed_increase: must be a number"),
    ({"metrics": [{"name": "a", "critical_decrease": True}]}, "metrics[0].critical_decrease: must be a number"),
    ({"metrics": [{"name": 7}]}, "metrics[0].name: must be a string"),
    ({"metrics": [{"name": " "}]}, "metrics[0].name: must not be empty"),
    ({"metrics": [{"group": "g"}]}, "metrics[0].name: required"),
    ({"metrics": "cpu"}, "metrics: must be a list"),
    ({"metrics": ["cpu"]}, "metrics[0]: must be a mapping"),
    ({}, "metrics: required"),
    ([], "(top level): must be a mapping"),
    ({"metrics": []}, "metrics: must list at least one metric"),
    ({"metrics": [{"name": "a", "allowed_increase": 0.9}]},
     "metrics[0].allowed_increase: must be a ratio of at least 1 (e.g. 1.2 for +20%)"),
    ({"metrics": [{"name": "a", "critical_increase": float("inf")}]},
     "metrics[0].critical_increase: must be a ratio of at least 1 (e.g. 1.2 for +20%)"),
    ({"metrics": [{"name": "a", "allowed_decrease": 1.2}]},
     "metrics[0].allowed_decrease: must be a ratio above 0 and at most 1 (e.g. 0.8 for -20%)"),
    ({"metrics": [{"name": "a", "critical_decrease": 0}]},
     "metrics[0].critical_decrease: must be a ratio above 0 and at most 1 (e.g. 0.8 for -20%)"),
    # duplicate metric names
    ({"metrics": [{"name": "cpu"}, {"name": "mem"}, {"name": "cpu"}]},
     "metrics[2].name: duplicate metric name 'cpu' (also metrics[0])"),
    # group weights
    ({"metrics": metrics(("a", "g"), ("b", "h")), "groups": {"g": 60, "h": -5}}, "groups.h: must be a weight of 0 or more"),
    ({"metrics": metrics(("a", "g"), ("b", "h")), "groups": {"g": 0, "h": 0}}, "groups: weights must not all be zero"),
    ({"metrics": metrics(("a", "g"), ("b", "h")), "groups": {"g": 70, "h": 50}}, "groups: weights sum to 120, more than 100"),
    ({"metrics": metrics(("a", "g")), "groups": {"g": "heavy"}}, "groups.g: must be a number"),
    ({"metrics": metrics(("a", "g")), "groups": {"g": 50, "latncy": 50}}, "groups.latncy: no metric is in this group"),
    ({"metrics": metrics(("a", "g")), "groups": {"g": 50, "my group": 10}}, 'groups["my group"]: no metric is in this group'),
    ({"metrics": metrics(("a", "g")), "groups": [50]}, "groups: must be a mapping"),
    # thresholds
    ({"metrics": [{"name": "a"}], "thresholds": {"pass": 70, "marginal": 80}},
     "thresholds.marginal: must not be above pass (80 > 70)"),
    ({"metrics": [{"name": "a"}], "thresholds": {"pass": 101}}, "thresholds.pass: must be between 0 and 100"),
    ({"metrics": [{"name": "a"}], "thresholds": {"marginal": -1}}, "thresholds.marginal: must be between 0 and 100"),
    ({"metrics": [{"name": "a"}], "thresholds": {"pass": "high"}}, "thresholds.pass: must be a number"),
    # several groups, muted metrics, outliers, minimum points
    ({"metrics": [{"name": "a", "group": "g", "groups": ["g", "h"]}]}, "metrics[0].groups: give group or groups, not both"),
    ({"metrics": [{"name": "a", "groups": []}]}, "metrics[0].groups: must list at least one group"),
    ({"metrics": [{"name": "a", "groups": ["g", " "]}]}, "metrics[0].groups[1]: must not be empty"),
    ({"metrics": [{"name": "a", "groups": ["g", "g"]}]}, "metrics[0].groups[1]: group 'g' is listed twice"),
    ({"metrics": [{"name": "a", "groups": "g"}]}, "metrics[0].groups: must be a list"),
    ({"metrics": [{"name": "a", "groups": ["g"]}], "groups": {"h": 10}}, "groups.h: no metric is in this group"),
    ({"metrics": [{"name": "a", "muted": True}]}, "metrics: at least one metric must not be muted"),
    ({"metrics": [{"name": "a", "muted": "no"}]}, "metrics[0].muted: must be true or false"),
    ({"metrics": [{"name": "a", "outliers": "drop"}]}, "metrics[0].outliers: must be keep or remove"),
    ({"metrics": [{"name": "a", "outlier_factor": 0}]},
     "metrics[0].outlier_factor: must be a number above 0 (Kayenta's default is 3)"),
    ({"metrics": [{"name": "a", "min_points": 0}]}, "metrics[0].min_points: must be at least 1"),
    ({"metrics": [{"name": "a", "min_points": 2.5}]}, "metrics[0].min_points: must be an integer"),
    # confidence and the inconclusive policy
    ({"metrics": [{"name": "a"}], "confidence": 98}, "confidence: must be at least 0.5 and below 1 (e.g. 0.98)"),
    ({"metrics": [{"name": "a"}], "confidence": 1.0}, "confidence: must be at least 0.5 and below 1 (e.g. 0.98)"),
    ({"metrics": [{"name": "a"}], "inconclusive": {"min_requests": -1}}, "inconclusive.min_requests: must be 0 or more"),
    ({"metrics": [{"name": "a"}], "inconclusive": {"holds": 1.5}}, "inconclusive.holds: must be an integer"),
    ({"metrics": [{"name": "a"}], "inconclusive": {"then": "promote"}}, "inconclusive.then: must be rollback or wait"),
    ({"metrics": [{"name": "a"}], "inconclusive": {"after": 2}}, "inconclusive.after: unknown key"),
    ({"metrics": [{"name": "a"}], "inconclusive": {"rule_out_ratio": 0.5}},
     "inconclusive.rule_out_ratio: must be a ratio of at least 1 (e.g. 2 to rule out a doubling)"),
    ({"metrics": [{"name": "a"}], "inconclusive": {"rule_out_floor": 0}},
     "inconclusive.rule_out_floor: must be a fraction above 0 and at most 1 (e.g. 0.02 for 2%)"),
]


@pytest.mark.parametrize("raw, message", BAD, ids=[m for _, m in BAD])
def test_bad_analysis_config_gives_one_exact_line(raw, message):
    with pytest.raises(AnalysisError) as err:
        analysis_from_dict(raw)
    assert str(err.value) == message
    assert "\n" not in str(err.value)


def test_good_config_and_defaults():
    cfg = analysis_from_dict(GOOD)
    assert [m.name for m in cfg.metrics] == ["error_ratio", "latency_p99", "cpu"]
    cpu = cfg.metrics[2]
    assert (cpu.direction, cpu.nan_strategy, cpu.critical, cpu.must_have_data) == ("either", "remove", False, False)
    assert (cpu.allowed_increase, cpu.allowed_decrease, cpu.critical_increase, cpu.critical_decrease) == (1, 1, 1, 1)
    plain = analysis_from_dict({"metrics": [{"name": "a"}]})
    a = plain.metrics[0]
    assert a.group_names == ["default"]
    assert (a.outliers, a.outlier_factor, a.muted, a.min_points) == ("keep", 3.0, False, 5)
    t = plain.thresholds
    assert (t.pass_, t.marginal) == (95, 75)
    assert plain.confidence == 0.98
    assert plain.inconclusive.model_dump() == {"min_requests": 50, "holds": 2, "then": "rollback",
                                               "rule_out_ratio": 2.0, "rule_out_floor": 0.02}
    assert cfg.model_dump_config()["thresholds"] == {"pass": 90, "marginal": 70}


def test_a_metric_may_count_in_several_groups():
    cfg = analysis_from_dict({"metrics": [{"name": "a", "groups": ["g", "h"]}, {"name": "b", "group": "h"}],
                              "groups": {"g": 30, "h": 70}})
    assert cfg.metrics[0].group_names == ["g", "h"] and cfg.metrics[1].group_names == ["h"]
    assert AnalysisConfig.model_validate(cfg.model_dump_config()) == cfg


def test_integers_are_numbers_and_weights_may_sum_below_100():
    cfg = analysis_from_dict({"metrics": metrics(("a", "g"), ("b", "h")), "groups": {"g": 1, "h": 0}})
    assert cfg.groups == {"g": 1.0, "h": 0.0}


def test_default_analysis_is_valid_and_round_trips():
    cfg = default_analysis()
    assert [m.name for m in cfg.metrics] == ["error_ratio", "latency_p50", "latency_p99", "cpu", "memory"]
    assert AnalysisConfig.model_validate(cfg.model_dump_config()) == cfg


def test_load_analysis_yaml(tmp_path):
    p = tmp_path / "analysis.yaml"
    p.write_text(
        "metrics:\n"
        "  - name: error_ratio\n"
        "    group: errors\n"
        "    direction: increase\n"
        "    critical: true\n"
        "  - name: latency_p99\n"
        "    group: latency\n"
        "groups: {errors: 60, latency: 40}\n"
        "thresholds: {pass: 90, marginal: 60}\n"
    )
    cfg = load_analysis(p)
    assert cfg.metrics[0].critical is True
    assert cfg.groups == {"errors": 60, "latency": 40}
    assert cfg.thresholds.pass_ == 90


def test_load_analysis_json_by_suffix(tmp_path):
    p = tmp_path / "analysis.json"
    p.write_text(json.dumps(GOOD))
    assert load_analysis(p) == analysis_from_dict(GOOD)


def test_load_analysis_reports_the_key_path(tmp_path):
    p = tmp_path / "analysis.yaml"
    p.write_text("metrics:\n  - name: a\n  - name: b\n  - name: c\n    direction: sideways\n")
    with pytest.raises(AnalysisError, match=r"^metrics\[2\]\.direction: must be increase, decrease or either$"):
        load_analysis(p)


def test_unreadable_and_malformed_files_are_one_line(tmp_path):
    with pytest.raises(AnalysisError) as err:
        load_analysis(tmp_path / "missing.yaml")
    assert str(err.value).startswith(f"{tmp_path / 'missing.yaml'}: cannot read analysis config: ")
    bad = tmp_path / "bad.yaml"
    bad.write_text("metrics: [\n  - name: a\n")
    with pytest.raises(AnalysisError) as err:
        load_analysis(bad)
    assert str(err.value).startswith(f"{bad}: not valid YAML: ")
    assert "\n" not in str(err.value)
    badjson = tmp_path / "bad.json"
    badjson.write_text("{\"config\": ")
    with pytest.raises(AnalysisError, match=r"not valid JSON: "):
        parse_judge_file(badjson)


# --- judge input files -----------------------------------------------------

CONFIG = {"metrics": [{"name": "cpu"}, {"name": "mem"}]}
BAD_INPUT = [
    ({"config": CONFIG, "data": {"disk": {"control": [], "experiment": []}}}, "data.disk: no metric named 'disk' in config"),
    ({"config": CONFIG, "data": {"cpu": {"control": [1, None, "2"], "experiment": []}}}, "data.cpu.control[2]: must be a number"),
    ({"config": CONFIG, "data": {"cpu": {"control": [1]}}}, "data.cpu.experiment: required"),
    ({"config": CONFIG, "data": {"cpu": {"control": [], "experiment": [], "canary": []}}}, "data.cpu.canary: unknown key"),
    ({"config": CONFIG, "data": {"cpu": [1, 2]}}, "data.cpu: must be a mapping"),
    ({"config": {"metrics": [{"name": "cpu", "direction": "up"}]}}, "config.metrics[0].direction: must be increase, decrease or either"),
    ({"data": {}}, "config: required"),
    ({"config": CONFIG, "extra": 1}, "extra: unknown key"),
]


@pytest.mark.parametrize("raw, message", BAD_INPUT, ids=[m for _, m in BAD_INPUT])
def test_bad_judge_input_gives_one_exact_line(raw, message):
    with pytest.raises(AnalysisError) as err:
        judge_input_from_dict(raw)
    assert str(err.value) == message


def test_parse_judge_file(tmp_path):
    p = tmp_path / "run.json"
    p.write_text(json.dumps({"config": CONFIG, "data": {"cpu": {"control": [1, None], "experiment": [2.5]}}}))
    cfg, data, requests = parse_judge_file(p)
    assert [m.name for m in cfg.metrics] == ["cpu", "mem"]
    assert data == {"cpu": {"control": [1.0, None], "experiment": [2.5]}}
    assert requests is None


def test_judge_input_may_carry_request_counts():
    raw = {"config": CONFIG, "data": {}, "requests": {"control": 1200, "experiment": 14.5}}
    assert judge_input_from_dict(raw)[2] == {"control": 1200.0, "experiment": 14.5}
    with pytest.raises(AnalysisError, match=r"^requests\.canary: unknown key$"):
        judge_input_from_dict({**raw, "requests": {"canary": 3}})
    counted = {"control": 1200, "experiment": 140, "control_errors": 6, "experiment_errors": 0}
    assert judge_input_from_dict({**raw, "requests": counted})[2] == {k: float(v) for k, v in counted.items()}
    with pytest.raises(AnalysisError, match=r"^requests\.experiment_errors: must be a number$"):
        judge_input_from_dict({**raw, "requests": {**counted, "experiment_errors": "none"}})
