"""The judge's figures in human units on the CLI, as on the report page (format.js)."""
import pytest

from cli.units import delta


@pytest.mark.parametrize("metric,estimate,ci,shown", [
    ("memory", -298800.0, [-412000.0, -120000.0], ("-292 KiB", "[-402, -117] KiB")),
    ("memory", 5 * 1024 ** 2, None, ("+5 MiB", "-")),
    ("latency_p50", -0.0001092, [-0.0002, 0.00001], ("-0.11 ms", "[-0.2, +0.01] ms")),
    ("latency_p99", 0.074, [0.061, 0.089], ("+74 ms", "[+61, +89] ms")),
    ("latency_p99", 1.5, [1.2, 1.9], ("+1.5 s", "[+1.2, +1.9] s")),
    ("error_ratio", 0.0061, [-0.0004, 0.0093], ("+0.61 pp", "[-0.04, +0.93] pp")),
    ("cpu", 0.0, [0.0, 0.0], ("0 cores", "[0, 0] cores")),
    ("my_metric", 1234.5, [1000.0, 1500.0], ("+1234", "[+1000, +1500]")),
    ("memory", None, None, ("-", "-")),
])
def test_differences_in_human_units(metric, estimate, ci, shown):
    assert delta(metric, estimate, ci) == shown


def test_the_cli_judgment_table_prints_units(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    from cli.canary_cmds import print_judgment

    print_judgment({"score": 100.0, "verdict": "pass", "metrics": [
        {"name": "memory", "classification": "Pass", "critical": False, "estimate": -298800.0,
         "ci": [-412000.0, -120000.0], "ratio": 0.97}]})
    line = next(l for l in capsys.readouterr().out.splitlines() if "memory" in l)
    assert "-292 KiB" in line and "[-402, -117] KiB" in line and "×0.97" in line
    assert "298800" not in line
