"""`git push` (control_plane/git, services/pushes.py, api/routes/git.py): the pure parts, then
the real control plane app with real git against it, on a platform that is not initialised —
what a pusher sees before anything is built (a wrong token, another branch, a platform not
ready), and that nothing moves. The build and the canary are tests/e2e/test_build.py's."""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from control_plane import names
from control_plane.api.guard import MAX_BODY, body_limit
from control_plane.build.source import SOURCE_LIMIT
from control_plane.git import done_line, parse_done
from control_plane.git.backend import (GitRequest, HookContext, archive_argv, backend_env,
                                       basic_password, init_argv, parse_head, remote_url,
                                       split_head)
from control_plane.git.hook import Refused, pushed_branch
from control_plane.services.pushes import pushed_manifest

from .test_client import free_port

A, B = "a" * 40, "b" * 40
ZERO = "0" * 40


# ---- pure ------------------------------------------------------------------------------------
def test_a_push_moves_one_branch_and_never_deletes_the_apps():
    assert pushed_branch([f"{A} {B} refs/heads/main"], "main") == ("main", B)
    # another branch goes to the control plane, which knows whether it is a preview
    assert pushed_branch([f"{ZERO} {A} refs/heads/feature/x"], "main") == ("feature/x", A)
    assert pushed_branch([f"{A} {ZERO} refs/heads/pr-1"], "main") == ("pr-1", ZERO)  # deleted
    with pytest.raises(Refused, match=r"moves 2 branches \(main, feature\): push one at a time"):
        pushed_branch([f"{A} {B} refs/heads/main", f"{ZERO} {A} refs/heads/feature"], "main")
    with pytest.raises(Refused, match="refs/tags/v1 does not deploy: only branches do"):
        pushed_branch([f"{ZERO} {A} refs/tags/v1"], "main")
    with pytest.raises(Refused, match="main cannot be deleted"):
        pushed_branch([f"{A} {ZERO} refs/heads/main"], "main")
    with pytest.raises(Refused, match="moves no branch"):
        pushed_branch([], "main")


def test_a_branch_becomes_a_preview_named_as_a_dns_label():
    from control_plane import names

    assert [names.preview_of_branch(b) for b in ("pr-42", "feature/Login_2", "42-fix", "a" * 30)] \
        == ["pr-42", "feature-login-2", "b-42-fix", "a" * 20]


def test_the_cgi_environment_of_a_push_gives_the_hook_its_ticket_and_no_stray_config():
    req = GitRequest(app="shop", path="git-receive-pack", method="POST",
                     content_type="application/x-git-receive-pack-request", content_length=None,
                     content_encoding="gzip", remote_addr="127.0.0.1")
    hook = HookContext(url="http://127.0.0.1:8765/git/shop.git/sentinel-push", ticket="t1",
                       branch="main", python="/venv/bin/python")
    env = backend_env(Path("/home/git"), req, "/usr/bin:/bin", hook)
    assert env["PATH_INFO"] == "/shop.git/git-receive-pack" and env["REQUEST_METHOD"] == "POST"
    assert env["GIT_PROJECT_ROOT"] == "/home/git" and env["GIT_CONFIG_NOSYSTEM"] == "1"
    assert "CONTENT_LENGTH" not in env  # chunked: http-backend reads to the end
    assert env["HTTP_CONTENT_ENCODING"] == "gzip" and env["REMOTE_USER"] == "sentinel"
    config = {env[f"GIT_CONFIG_KEY_{i}"]: env[f"GIT_CONFIG_VALUE_{i}"]
              for i in range(int(env["GIT_CONFIG_COUNT"]))}
    # deletions reach the hook: it refuses main's, and another branch's removes its preview
    assert config["receive.denyDeletes"] == "false" and config["http.receivepack"] == "true"
    assert Path(config["core.hooksPath"], "pre-receive").is_file()
    assert os.access(Path(config["core.hooksPath"], "pre-receive"), os.X_OK)
    assert (env["SENTINEL_PUSH_TICKET"], env["SENTINEL_PUSH_BRANCH"]) == ("t1", "main")
    fetch = backend_env(Path("/g"), GitRequest(app="shop", path="info/refs", method="GET",
                                               query="service=git-upload-pack",
                                               content_length=0), "/bin", None)
    assert "SENTINEL_PUSH_TICKET" not in fetch and fetch["CONTENT_LENGTH"] == "0"


def test_only_the_smart_services_are_asked_for():
    assert GitRequest("s", "info/refs", "GET", query="service=git-receive-pack").service == \
        "git-receive-pack"
    assert GitRequest("s", "info/refs", "GET", query="").service is None  # the dumb protocol
    assert GitRequest("s", "info/refs", "GET", query="service=git-shell").service is None
    assert GitRequest("s", "git-upload-pack", "POST").service == "git-upload-pack"


def test_a_cgi_answer_is_split_into_status_headers_and_body():
    assert split_head(b"Content-Type: x\r\n") is None
    head, body = split_head(b"Status: 403 Forbidden\r\nContent-Type: text/plain\r\n\r\nno")
    assert parse_head(head) == (403, [("Content-Type", "text/plain")]) and body == b"no"
    head, body = split_head(b"Expires: Fri\nContent-Type: a/b\n\n0000")
    assert parse_head(head) == (200, [("Expires", "Fri"), ("Content-Type", "a/b")])
    assert body == b"0000"


def test_commands_are_built_whole():
    assert init_argv(Path("/h/git/shop.git"), "main") == [
        "git", "init", "--bare", "--quiet", "--initial-branch=main", "/h/git/shop.git"]
    assert archive_argv(B) == ["git", "archive", "--format=tar.gz", f"{B}^{{tree}}"]


def test_the_push_token_is_the_basic_password_and_the_remote_carries_it():
    header = "Basic " + base64.b64encode(b"sentinel:tok-en_1").decode()
    assert basic_password(header) == "tok-en_1"
    assert basic_password("Bearer x") is None and basic_password(None) is None
    assert basic_password("Basic !!notbase64") is None
    assert basic_password("Basic " + base64.b64encode(b"no-colon").decode()) is None
    assert remote_url("http://127.0.0.1:8765/", "tok", names.git_path("shop")) == \
        "http://sentinel:tok@127.0.0.1:8765/git/shop.git"
    assert remote_url("https://cp.example.com", "tok", "/git/a.git") == \
        "https://sentinel:tok@cp.example.com/git/a.git"


def test_the_last_line_of_a_push_says_how_it_ended():
    assert parse_done(done_line(True, "shop runs\n x.")) == (True, "shop runs x.")
    assert parse_done(done_line(False, "rolled back")) == (False, "rolled back")
    assert parse_done("#7 [deps 2/5] RUN pip install") is None


def test_a_push_without_sentinel_yaml_keeps_the_stored_policy_and_runs_the_procfile_release():
    stored = {"app": "shop", "image": "reg/shop:src-1", "port": 8000,
              "release": {"sql": "migrations/001.sql", "post_promote": "cleanup"},
              "database": {"engine": "postgres", "ha": True, "schema": "schema.sql"},
              "canary": {"steps": [{"weight": 10}], "interval": "60s", "analysis": "judge.yaml"}}
    out = pushed_manifest(stored, "reg/shop:src-2", "python manage.py migrate")
    assert out["image"] == "reg/shop:src-2" and "source" not in out
    assert out["release"] == {"post_promote": "cleanup", "command": "python manage.py migrate"}
    assert out["database"] == {"engine": "postgres", "ha": True}  # the schema: first deploy only
    assert out["canary"] == {"steps": [{"weight": 10}], "interval": "60s"}
    assert "release" not in pushed_manifest({"app": "a", "image": "x", "release": {"sql": "a.sql"}},
                                            "y", None)
    assert stored["release"]["sql"] == "migrations/001.sql"  # the stored data is not changed


def test_a_source_may_be_far_larger_than_any_other_request_body():
    assert body_limit("/v1/apps/shop/builds") == SOURCE_LIMIT
    assert body_limit("/v1/apps/shop/build-plan") == SOURCE_LIMIT
    assert body_limit("/v1/apps/shop/deploy") == MAX_BODY
    assert body_limit("/v1/manifest/apply") == MAX_BODY


# ---- the control plane and real git ------------------------------------------------------------
@pytest.fixture(scope="module")
def control_plane(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    old = os.environ.get("SENTINEL_HOME")
    os.environ["SENTINEL_HOME"] = str(home)
    from control_plane.api.app import create_app

    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port,
                                        log_level="error"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    while not srv.started:
        time.sleep(0.01)
    token = json.loads((home / "secrets.json").read_text())["api_token"]
    yield {"url": f"http://127.0.0.1:{port}", "token": token, "home": home}
    srv.should_exit = True
    t.join(5)
    if old is None:
        os.environ.pop("SENTINEL_HOME", None)
    else:
        os.environ["SENTINEL_HOME"] = old


def sentinel(cp, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SENTINEL_URL": cp["url"], "SENTINEL_TOKEN": cp["token"],
           "SENTINEL_HOME": str(cp["home"])}
    return subprocess.run([str(Path(sys.executable).parent / "sentinel"), *args], capture_output=True, text=True, env=env, timeout=60)


def git(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_AUTHOR_NAME": "t",
           "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True, env=env,
                          timeout=60)


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    work = tmp_path_factory.mktemp("shop")
    (work / "requirements.txt").write_text("gunicorn\n")
    (work / "app.py").write_text("def application(environ, start_response):\n    pass\n")
    for args in (("init", "-q", "-b", "main"), ("add", "-A"), ("commit", "-qm", "one")):
        assert git(work, *args).returncode == 0
    return work


def test_a_push_is_let_in_only_with_the_apps_token_and_refused_before_the_branch_moves(
        control_plane, checkout):
    proc = sentinel(control_plane, "git", "remote", "shop", "--json")
    assert proc.returncode == 0, proc.stderr
    remote = json.loads(proc.stdout)
    assert remote["url"].startswith("http://sentinel:") and remote["url"].endswith("/git/shop.git")
    assert remote["exists"] is False
    url = remote["url"]

    wrong = git(checkout, "push", url.replace(remote["token"], "wrong"), "main")
    assert wrong.returncode != 0 and "push token was not accepted" in wrong.stderr, wrong.stderr

    tag = git(checkout, "push", url, "main:refs/tags/v1")
    assert tag.returncode != 0 and "refs/tags/v1 does not deploy: only branches do" in \
        tag.stderr and "pre-receive hook declined" in tag.stderr, tag.stderr
    other = git(checkout, "push", url, "main:feature")  # a preview, if the app says so: asked
    assert other.returncode != 0 and "Nothing was built; the branch was not moved" in other.stderr

    main = git(checkout, "push", url, "main")
    assert main.returncode != 0 and "the platform is not ready" in main.stderr, main.stderr
    assert "Nothing was built; the branch was not moved" in main.stderr
    assert "Traceback" not in main.stderr

    listed = git(checkout, "ls-remote", url)
    assert listed.returncode == 0 and listed.stdout == ""  # nothing moved: no branch at all


def test_a_new_token_shuts_out_the_old_one_and_plain_files_are_not_served(control_plane, checkout):
    old = json.loads(sentinel(control_plane, "git", "remote", "shop", "--json").stdout)
    new = json.loads(sentinel(control_plane, "git", "remote", "shop", "--rotate", "--json").stdout)
    assert new["token"] != old["token"]
    assert git(checkout, "ls-remote", old["url"]).returncode != 0
    assert git(checkout, "ls-remote", new["url"]).returncode == 0
    import httpx

    r = httpx.get(f"{control_plane['url']}/git/shop.git/HEAD", auth=("sentinel", new["token"]))
    assert r.status_code == 404
    r = httpx.get(f"{control_plane['url']}/git/shop.git/info/refs",
                  auth=("sentinel", new["token"]))  # the dumb protocol's request
    assert r.status_code == 403
    bad = sentinel(control_plane, "git", "remote", "Not_An_App")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr and bad.stderr.count("\n") == 1


# ---- a git URL as a build's source ---------------------------------------------------------------
def test_a_git_source_is_an_https_url_with_an_optional_ref():
    from control_plane.errors import InvalidInput
    from control_plane.git.fetch import GitSource, fetch_argvs, looks_like_git, parse

    assert parse("https://git.example.com/shop.git#v2") == GitSource("https://git.example.com/shop.git", "v2")
    assert parse("https://git.example.com/shop.git").ref == "HEAD"
    assert parse("https://u:secret@h/r.git#main").shown == "https://h/r.git#main"
    for bad, said in [("git@github.com:a/b.git", "HTTPS only"), ("ssh://h/r.git", "HTTPS only"),
                      ("file:///etc", "give a folder, or a git URL"),
                      ("https://h/r.git#--upload-pack=x", "not a branch, tag or commit"),
                      ("https://h/r.git#a..b", "not a branch")]:
        with pytest.raises(InvalidInput, match=said):
            parse(bad)
    assert looks_like_git("https://h/r") and looks_like_git("git@h:r") and not looks_like_git("./shop")
    assert fetch_argvs(GitSource("https://h/r.git", "v2"), Path("/t/repo")) == [
        ["git", "init", "--quiet", "/t/repo"],
        ["git", "-C", "/t/repo", "fetch", "--quiet", "--depth=1", "--no-tags", "--",
         "https://h/r.git", "v2"],
        ["git", "-C", "/t/repo", "checkout", "--quiet", "--detach", "FETCH_HEAD"],
        ["git", "-C", "/t/repo", "rev-parse", "HEAD"]]


# ---- what a pusher sees: the stream's end, from the store's operations and events ---------------
@pytest.fixture
def pushes(tmp_path, monkeypatch):
    from control_plane.jobs import Jobs
    from control_plane.platform import Platform
    from control_plane.services import pushes as mod
    from control_plane.store import Store

    monkeypatch.setattr(mod, "POLL", 0.01)
    store = Store(tmp_path / "state.db")
    return mod.PushService(Platform(store), Jobs(store), None, None, None, tmp_path / "git"), store


def finished_push(store, op_id: str, status: str, result=None, error=None) -> None:
    store.add_operation(op_id, "app:shop", "push", "git")
    store.add_event("app:shop", "push", "building shop", "git", op_id)
    store.finish_operation(op_id, status, error=error, result=result)


def test_a_failed_push_ends_with_its_reason_and_says_nothing_moved(pushes):
    svc, store = pushes
    finished_push(store, "op1", "failed", error="the build failed at #7 [deps 3/5].")
    lines = list(svc.follow("shop", "op1"))
    assert lines[0] == "building shop"
    assert parse_done(lines[-1]) == (False, "the build failed at #7 [deps 3/5]. The branch was not "
                                            "moved: production is as it was.")


def test_a_push_ends_at_a_rolling_update_or_where_its_canary_waits_for_a_person(pushes):
    from control_plane.records import App, Canary, Plan

    svc, store = pushes
    finished_push(store, "op2", "succeeded", result={"image": "reg/shop:src-2"})
    assert parse_done(list(svc.follow("shop", "op2"))[-1]) == (True, "shop runs reg/shop:src-2.")

    store.put_app(App(name="shop", image="reg/shop:src-1"))
    store.put_canary(Canary(app="shop", image="reg/shop:src-3", cluster_image="reg/shop:src-3",
                            weight=40, progressive=Plan(steps=[20, 40], state="awaiting_promotion")))
    finished_push(store, "op3", "succeeded", result={"image": "reg/shop:src-3", "canary": {"weight": 20}})
    ok, said = parse_done(list(svc.follow("shop", "op3"))[-1])
    assert ok and "passed every step at 40% and waits for a promotion" in said


def test_a_rolled_back_canary_fails_the_push_after_its_reason(pushes):
    from control_plane.records import App

    svc, store = pushes
    store.put_app(App(name="shop", image="reg/shop:src-1"))
    finished_push(store, "op4", "succeeded", result={"image": "reg/shop:src-4", "canary": {"weight": 20}})
    store.add_event("canary:shop", "rollback", "rolled back: error_ratio regressed", "sentinel")
    lines = list(svc.follow("shop", "op4"))  # the canary is gone and production is not the push's
    assert "rolled back: error_ratio regressed" in lines
    ok, said = parse_done(lines[-1])
    assert not ok and "was rolled back" in said and "shop runs reg/shop:src-1" in said


def test_a_source_with_nothing_to_route_is_not_deployed():
    from control_plane.build.plan import no_web

    assert no_web("python", {"web": "gunicorn app:app", "worker": "python w.py"}) is None
    assert no_web("dockerfile", {}) is None  # its own CMD serves
    said = no_web("python", {"worker": "python w.py"})
    assert said.startswith("the source has no web process (its Procfile lists worker)")
    assert "web: <command listening on $PORT>" in said


def test_a_branchs_push_ends_at_its_preview_and_a_deleted_branch_at_its_removal(pushes):
    svc, store = pushes
    finished_push(store, "op4", "succeeded", result={
        "app": "shop", "name": "pr-1", "preview_app": "shop-pr-1", "image": "reg/shop:src-4",
        "url": "http://pr-1.shop.localhost", "data": "copy"})
    assert parse_done(list(svc.follow("shop", "op4"))[-1]) == (
        True, "preview pr-1 of shop runs reg/shop:src-4 at http://pr-1.shop.localhost (data: copy).")
    finished_push(store, "op5", "succeeded", result={"deleted": "shop-pr-1"})
    assert parse_done(list(svc.follow("shop", "op5"))[-1]) == (True, "shop-pr-1 removed with its branch.")
