"""Building from source on the cluster (issue 24), on the slot's shared platform: a Python
folder without a Dockerfile is built on the node (BuildKit), deployed and answers, and so are a
Node folder without one and a folder with its own Dockerfile; the same
source again reuses its image; a new version from a folder goes out as a canary and is promoted;
a build that fails changes nothing that runs; a folder of no known kind is refused at once.
`git push` of a one-line change is built, canaried by the pushed sentinel.yaml and promoted with
no failed request; a push whose build fails is refused and changes nothing. A Procfile's worker
runs as its own service, canaried beside web and promoted with it."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import ROOT
from .load import Load

pytestmark = pytest.mark.e2e

PYTHON = ROOT / "examples" / "build" / "python"
DOMAIN = "shop.localhost"


@pytest.fixture(scope="module")
def built(platform):
    """The slot's shared platform (a build needs no platform of its own: one fewer on the CI
    machine's two cores), with the shop app deployed from a folder."""
    first = platform.cli("deploy", "--name", "shop", "--source", str(PYTHON), "--port", "8000",
                         "--yes", timeout=1200)
    platform.first_output = first.stdout
    yield platform
    platform.cli("delete", "app", "shop", "--yes", check=False, timeout=600)


def shop(platform) -> dict:
    """The shop app as `sentinel apps` lists it (the platform is shared with other modules)."""
    [app] = [a for a in platform.json("apps") if a["name"] == "shop"]
    return app


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
    assert shop(built)["image"] == build["image"]


def test_a_node_folder_without_a_dockerfile_is_built_and_answers(built):
    built.cli("deploy", "--name", "nodeapp", "--source", str(ROOT / "examples" / "build" / "node"),
              "--port", "8000", "--yes", timeout=1200)
    r = built.http("nodeapp.localhost")
    assert r.status_code == 200 and r.text == "hello from node v1\n"
    [b] = built.json("builds", "nodeapp")
    assert b["kind"] == "node" and b["result"] == "built"


def test_a_folder_with_a_dockerfile_is_built_as_it_is(built, tmp_path):
    # FROM an image the build node has (no public registry is reached here): shop's own.
    shop = built.json("builds", "shop")[0]["image"]
    folder = tmp_path / "own"
    folder.mkdir()
    (folder / "Dockerfile").write_text(f'FROM {shop}\nENV APP_VERSION="dockerfile v1"\n')
    built.cli("deploy", "--name", "ownapp", "--source", str(folder), "--port", "8000",
              "--health-path", "/healthz", "--yes", timeout=900)
    assert built.http("ownapp.localhost").text == "hello from dockerfile v1\n"
    assert built.json("builds", "ownapp")[0]["kind"] == "dockerfile"
    built.cli("delete", "app", "ownapp", "--yes", timeout=300)
    built.cli("delete", "app", "nodeapp", "--yes", timeout=300)


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


def logs_until(platform, text: str, *args: str, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while True:
        out = platform.cli("inspect", "logs", "shop", *args, "--tail", "50").stdout
        if text in out or time.monotonic() > deadline:
            return out
        time.sleep(3)


def test_a_worker_runs_beside_web_is_canaried_with_it_and_promoted_with_it(built, tmp_path):
    w = copy_of(PYTHON, tmp_path, "worker")
    (w / "Procfile").write_text("web: gunicorn --bind 0.0.0.0:$PORT app:application\n"
                                "worker: python3 -u worker.py\n")
    (w / "worker.py").write_text("import time\nwhile True:\n"
                                 "    print('worker of w1: tick', flush=True)\n    time.sleep(2)\n")
    built.cli("canary", "deploy", "shop", "--source", str(w), "--weight", "50", "--yes", timeout=900)
    said = logs_until(built, "worker of w1: tick", "--canary", "--process", "worker")
    assert "worker of w1: tick" in said, said  # the new version's worker runs beside production
    none = built.cli("inspect", "logs", "shop", "--process", "worker", check=False)
    assert none.returncode == 1 and "no process type 'worker'" in none.stderr, none.stderr
    built.cli("canary", "promote", "shop", "--yes", timeout=600)
    said = logs_until(built, "worker of w1: tick", "--process", "worker")
    assert "worker of w1: tick" in said, said  # promoted with web
    app = shop(built)
    assert app["processes"]["worker"] == {"command": "python3 -u worker.py", "replicas": 1,
                                          "resources": None}
    out = built.cli("scale", "process", "shop", "worker=2", timeout=300).stdout
    assert "worker 2" in out, out  # the command returns once two tasks run
    assert shop(built)["processes"]["worker"]["replicas"] == 2

    # The next version's workers follow its share of traffic: 1 of 2 at 10%, 2 at 60%.
    (w / "worker.py").write_text((w / "worker.py").read_text().replace("w1", "w2"))
    built.cli("canary", "deploy", "shop", "--source", str(w), "--weight", "10", "--yes", timeout=900)
    assert built.json("canary", "status", "shop")["canary"]["processes"] == {
        "worker": {"replicas": 1, "healthy": "1/1"}}
    built.cli("canary", "traffic", "shop", "--weight", "60", timeout=300)
    assert built.json("canary", "status", "shop")["canary"]["processes"] == {
        "worker": {"replicas": 2, "healthy": "2/2"}}
    built.cli("canary", "rollback", "shop", "--yes", timeout=300)
    assert shop(built)["processes"]["worker"]["replicas"] == 2  # production's, as it was


def test_a_folder_of_no_known_kind_is_refused_before_anything_starts(built, tmp_path):
    empty = tmp_path / "notes"
    empty.mkdir()
    (empty / "README.txt").write_text("no code here\n")
    before = len(built.json("builds", "shop"))
    proc = built.cli("build", "shop", "--source", str(empty), check=False)
    assert proc.returncode == 1 and "Dockerfile" in proc.stderr and "Traceback" not in proc.stderr
    assert len(built.json("builds", "shop")) == before


# ---- git push ----------------------------------------------------------------------------------
def git(repo: Path, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_AUTHOR_NAME": "e2e",
           "GIT_AUTHOR_EMAIL": "e2e@example.com", "GIT_COMMITTER_NAME": "e2e",
           "GIT_COMMITTER_EMAIL": "e2e@example.com"}
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          env=env, timeout=timeout)
    assert proc.returncode == 0 or not check, proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="module")
def repo(built, tmp_path_factory):
    """The app's code in a git checkout, with a sentinel.yaml whose canary is judged and
    promoted by itself, and the app's remote added."""
    work = tmp_path_factory.mktemp("push") / "shop"
    shutil.copytree(PYTHON, work)
    (work / "sentinel.yaml").write_text(json.dumps({
        "app": "shop", "source": ".", "port": 8000, "health": {"path": "/healthz"},
        "canary": {"steps": [{"weight": 50}], "interval": "20s", "promote": "auto",
                   "analysis": {"metrics": "default", "min_requests": 20,
                                "inconclusive": {"rule_out_floor": 0.05}}}}))
    git(work, "init", "-q", "-b", "main")
    git(work, "add", "-A")
    git(work, "commit", "-qm", "shop")
    remote = built.json("git", "remote", "shop")
    assert remote["exists"] and remote["branch"] == "main"
    git(work, "remote", "add", "sentinel", remote["url"])
    return work


def commit_version(repo: Path, version: str) -> str:
    app = repo / "app.py"
    text = app.read_text()
    app.write_text(text.replace(text.split('"APP_VERSION", "')[1].split('"')[0], version, 1))
    git(repo, "commit", "-qam", version)
    return git(repo, "rev-parse", "HEAD").stdout.strip()


def pushed_sha(repo: Path) -> str:
    out = git(repo, "ls-remote", "sentinel", "refs/heads/main").stdout.split()
    return out[0] if out else ""


def test_git_push_of_a_one_line_change_is_built_canaried_and_promoted_under_load(built, repo):
    sha = commit_version(repo, "python v3")
    with Load(f"http://127.0.0.1:{built.http_port}/", DOMAIN, workers=4, max_seconds=600) as load:
        proc = git(repo, "push", "sentinel", "main", check=False, timeout=900)
    said = proc.stdout + proc.stderr
    assert proc.returncode == 0, said
    assert "remote: " in said and "] RUN " in said  # the build's steps, streamed back
    assert "was promoted" in said and "Traceback" not in said, said
    assert load.errors == [] and load.total > 100, (load.total, load.errors[:5])
    assert {built.http(DOMAIN).text for _ in range(10)} == {"hello from python v3\n"}
    assert pushed_sha(repo) == sha  # the branch moved only once the version was out


def test_a_git_url_is_fetched_by_the_control_plane_and_named_by_its_commit(built, repo):
    url = git(repo, "remote", "get-url", "sentinel").stdout.strip()  # a smart-HTTP git server
    out = built.json("build", "shop", "--source", f"{url}#main")
    assert out["source"] == pushed_sha(repo)[:12]
    assert out["result"] in ("built", "reused")
    token = url.split(":")[2].split("@")[0]
    bad = built.cli("build", "shop", "--source", f"{url}#no-such-branch", check=False)
    assert bad.returncode == 1 and "could not be fetched" in bad.stderr, bad.stderr
    assert token not in bad.stderr + bad.stdout and "Traceback" not in bad.stderr


def test_a_push_whose_build_fails_is_refused_and_production_is_untouched(built, repo):
    before = pushed_sha(repo)
    (repo / "requirements.txt").write_text("gunicorn==23.0.0\nno-such-package-sentinel-e2e==9.9.9\n")
    commit_version(repo, "python broken")
    proc = git(repo, "push", "sentinel", "main", check=False, timeout=900)
    said = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "pre-receive hook declined" in said, said
    assert "the build failed at" in said and "Traceback" not in said
    assert pushed_sha(repo) == before
    assert built.json("canary", "status", "shop")["canary"] is None
    assert {built.http(DOMAIN).text for _ in range(10)} == {"hello from python v3\n"}
    git(repo, "reset", "-q", "--hard", "HEAD~1")


def test_a_push_to_another_branch_or_with_a_wrong_token_builds_nothing(built, repo):
    before = len(built.json("builds", "shop"))
    proc = git(repo, "push", "sentinel", "main:feature", check=False)
    assert proc.returncode != 0 and "only main does" in proc.stderr, proc.stderr
    url = git(repo, "remote", "get-url", "sentinel").stdout.strip()
    wrong = url.replace(url.split(":")[2].split("@")[0], "not-the-token")
    proc = git(repo, "push", wrong, "main", check=False)
    assert proc.returncode != 0 and "push token was not accepted" in proc.stderr, proc.stderr
    assert len(built.json("builds", "shop")) == before


def test_a_branch_whose_sentinel_yaml_says_so_is_a_preview_until_it_is_deleted(built, repo):
    git(repo, "checkout", "-q", "-b", "pr-7")
    manifest = json.loads((repo / "sentinel.yaml").read_text())
    (repo / "sentinel.yaml").write_text(json.dumps({**manifest, "preview": {"branches": "pr-*"}}))
    commit_version(repo, "python pr7")
    proc = git(repo, "push", "sentinel", "pr-7", check=False, timeout=900)
    said = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "preview pr-7 of shop runs" in said, said
    assert built.http("pr-7.shop.localhost").text == "hello from python pr7\n"
    assert {built.http(DOMAIN).text for _ in range(5)} == {"hello from python v3\n"}  # production

    commit_version(repo, "python pr7b")  # the branch's next commit: the same preview, updated
    proc = git(repo, "push", "sentinel", "pr-7", check=False, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert built.http("pr-7.shop.localhost").text == "hello from python pr7b\n"
    assert [r["name"] for r in built.json("preview", "ls", "shop")] == ["pr-7"]

    proc = git(repo, "push", "sentinel", "--delete", "pr-7", check=False, timeout=600)
    assert proc.returncode == 0 and "removed with its branch" in proc.stdout + proc.stderr
    assert built.json("preview", "ls", "shop") == []
    assert built.http("pr-7.shop.localhost").status_code == 404
    git(repo, "checkout", "-q", "main")
