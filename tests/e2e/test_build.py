"""Building from source on the cluster (issue 24), on a platform of its own (one node): a Python
folder without a Dockerfile is built on the node (BuildKit), deployed and answers; the same
source again reuses its image; a new version from a folder goes out as a canary and is promoted;
a build that fails changes nothing that runs; a folder of no known kind is refused at once."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from .conftest import ROOT, Platform, clear_leftovers, leftovers

pytestmark = pytest.mark.e2e

NAME, SUBNET = "bld", "172.25.0.0/24"
HTTP, HTTPS, API = 19280, 19643, 19965
PYTHON = ROOT / "examples" / "build" / "python"
DOMAIN = "shop.localhost"


@pytest.fixture(scope="module")
def built():
    clear_leftovers(NAME)
    home = Path(tempfile.mkdtemp(prefix="sentinel-build-"))
    p = Platform(home, name=NAME, http=HTTP, https=HTTPS, api_port=API)
    try:
        p.cli("init", "--provider", "local", "--name", NAME, "--subnet", SUBNET, "--nodes", "1",
              "--http-port", str(HTTP), "--https-port", str(HTTPS), "--yes", timeout=900)
        first = p.cli("deploy", "--name", "shop", "--source", str(PYTHON), "--port", "8000",
                      "--yes", timeout=1200)
        p.first_output = first.stdout
        yield p
    finally:
        try:
            if (home / "config.json").exists():
                p.cli("destroy", "--delete-data", "--yes", check=False, timeout=600)
        finally:
            shutil.rmtree(home, ignore_errors=True)
        left = leftovers(NAME)
        assert not left, f"destroy left {left}"


def copy_of(folder: Path, tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(folder, target)
    return target


def test_a_python_folder_without_a_dockerfile_is_built_on_the_cluster_and_answers(built):
    out = " ".join(built.first_output.split())  # the CLI wraps its lines at the terminal's width
    assert "with BuildKit" in out  # the first line of the build says which builder
    assert "] RUN " in out and "BEGIN CERTIFICATE" not in out, out  # build steps, as they ran
    r = built.http(DOMAIN)
    assert r.status_code == 200 and r.text == "hello from python v1\n"
    [build] = built.json("builds", "shop")
    assert build["result"] == "built" and build["kind"] == "python" and build["builder"] == "buildkit"
    assert build["image"].split("/", 1)[1].startswith("shop:src-") and build["size_bytes"] > 0
    assert built.json("apps")[0]["image"] == build["image"]


def test_the_same_source_again_reuses_its_image(built):
    again = built.json("build", "shop", "--source", str(PYTHON))
    first = built.json("builds", "shop")[0]
    assert again["result"] == "reused" and again["image"] == first["image"]
    assert again["seconds"] < 30


def test_a_failed_build_changes_nothing_that_runs(built, tmp_path):
    bad = copy_of(PYTHON, tmp_path, "bad")
    (bad / "requirements.txt").write_text("gunicorn==23.0.0\nno-such-package-sentinel-e2e==9.9.9\n")
    proc = built.cli("canary", "deploy", "shop", "--source", str(bad), "--weight", "50", "--yes",
                     check=False, timeout=900)
    said = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in said
    assert "the build failed at" in said and "nothing was deployed" in said
    assert built.json("canary", "status", "shop")["canary"] is None
    assert {built.http(DOMAIN).text for _ in range(10)} == {"hello from python v1\n"}
    assert built.json("builds", "shop")[-1]["result"] == "failed"


def test_a_new_version_from_a_folder_goes_out_as_a_canary_and_is_promoted(built, tmp_path):
    v2 = copy_of(PYTHON, tmp_path, "v2")
    app = v2 / "app.py"
    app.write_text(app.read_text().replace('"python v1"', '"python v2"'))
    built.cli("canary", "deploy", "shop", "--source", str(v2), "--weight", "50", "--no-sticky",
              "--yes", timeout=900)
    seen = {built.http(DOMAIN).text for _ in range(40)}
    assert seen == {"hello from python v1\n", "hello from python v2\n"}
    built.cli("canary", "promote", "shop", "--yes", timeout=600)
    assert {built.http(DOMAIN).text for _ in range(10)} == {"hello from python v2\n"}
    builds = built.json("builds", "shop")
    assert builds[-1]["result"] == "built" and builds[-1]["source"] != builds[0]["source"]


def test_a_folder_of_no_known_kind_is_refused_before_anything_starts(built, tmp_path):
    empty = tmp_path / "notes"
    empty.mkdir()
    (empty / "README.txt").write_text("no code here\n")
    before = len(built.json("builds", "shop"))
    proc = built.cli("build", "shop", "--source", str(empty), check=False)
    assert proc.returncode == 1 and "Dockerfile" in proc.stderr and "Traceback" not in proc.stderr
    assert len(built.json("builds", "shop")) == before
