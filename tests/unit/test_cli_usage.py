"""Mistyped commands and options are usage errors with a hint (exit 2), not 'unexpected errors'."""
import os
import subprocess
import sys

import pytest


def sentinel(*args, home):
    return subprocess.run([sys.executable, "-c", "from cli.main import run; run()", *args],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "SENTINEL_HOME": str(home)},
                          cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))


@pytest.mark.parametrize("args,said", [
    (("deploy", "--nosuch"), "No such option: --nosuch"),
    (("deplyo",), "Did you mean 'deploy'"),
    (("canary", "deploy", "todos", "--release-comand", "x"), "No such option"),
])
def test_usage_errors_exit_2_with_a_hint(args, said, tmp_path):
    p = sentinel(*args, home=tmp_path)
    assert p.returncode == 2, p.stderr
    assert said in p.stderr and "--help" in p.stderr and "unexpected error" not in p.stderr


def test_errors_carry_their_code_in_json(tmp_path):
    p = sentinel("apps", "--json", home=tmp_path)
    assert p.returncode == 1
    import json

    err = json.loads(p.stdout)["error"]
    assert err["code"] and "sentinel init" in err["message"]
    assert p.stderr.startswith("error: ") and len(p.stderr.splitlines()) == 1
