"""`sentinel build --plan/--eject` against the real route: the CLI's packer, the control plane's
unpacker and planner (no swarm needed)."""
import io
import os
import subprocess
from types import SimpleNamespace
import sys
import tarfile

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from control_plane.api.routes import builds
from control_plane.build.source import SOURCE_LIMIT, pack
from control_plane.errors import SentinelError
from control_plane.services.builds import BuildService

EXAMPLES = __import__("pathlib").Path(__file__).resolve().parents[2] / "examples" / "build"


def client():
    api = FastAPI()

    @api.exception_handler(SentinelError)
    async def _err(_: Request, e: SentinelError):
        return JSONResponse({"error": {"code": e.code, "message": e.message}}, status_code=e.status)

    # Planning needs no platform: nothing is built or stored.
    api.include_router(builds.router(BuildService(SimpleNamespace(store=None), jobs=None),
                                     auth=lambda: None))
    return TestClient(api)


def post(c, name, body):
    return c.post(f"/v1/apps/{name}/build-plan", content=body,
                  headers={"Content-Type": "application/octet-stream"})


def test_a_python_folder_without_a_dockerfile_gets_one_generated_from_the_platforms_base():
    archive, _ = pack(EXAMPLES / "python", SOURCE_LIMIT)
    r = post(client(), "shop", archive)
    assert r.status_code == 200, r.text
    plan = r.json()
    assert plan["kind"] == "python" and plan["dockerfile_path"] is None
    assert "\nFROM sentinel/base-trixie:" in plan["dockerfile"]  # the platform's own base
    assert plan["processes"]["web"].startswith("gunicorn") and plan["files"] >= 2


def test_a_node_folder_is_planned_with_its_lockfile():
    archive, _ = pack(EXAMPLES / "node", SOURCE_LIMIT)
    plan = post(client(), "web", archive).json()
    assert plan["kind"] == "node" and "npm ci" in plan["dockerfile"]


def test_a_folder_of_no_known_kind_is_told_what_was_looked_for(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    archive, _ = pack(tmp_path, SOURCE_LIMIT)
    r = post(client(), "x", archive)
    assert r.status_code == 422
    msg = r.json()["error"]["message"]
    assert "requirements.txt" in msg and "add a Dockerfile, which always works" in msg


def test_an_archive_that_is_not_one_or_leaves_its_folder_is_refused():
    c = client()
    r = post(c, "x", b"not a tarball")
    assert r.status_code == 422 and "cannot be read" in r.json()["error"]["message"]
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    r = post(c, "x", raw.getvalue())
    assert r.status_code == 422 and "escape.txt" in r.json()["error"]["message"]


def test_the_cli_takes_plan_or_eject_not_both_and_a_build_needs_the_control_plane(tmp_path):
    def sentinel(*args):
        proc = subprocess.run([sys.executable, "-c", "from cli.main import run; run()", *args],
                              capture_output=True, text=True, timeout=60,
                              env={**os.environ, "SENTINEL_URL": "http://127.0.0.1:9"})
        assert proc.returncode == 1 and "Traceback" not in proc.stdout + proc.stderr
        return proc.stderr
    assert "not both" in sentinel("build", "todos", "--source", str(tmp_path), "--plan", "--eject")
    assert "is not running" in sentinel("build", "todos", "--source", str(tmp_path))
    assert "not a folder" in sentinel("build", "todos", "--source", str(tmp_path / "nope"))
    assert "not both" in sentinel("deploy", "--name", "todos", "--image", "todo:1", "--source",
                                  str(tmp_path), "--port", "8000", "--yes")


def test_build_settings_ride_beside_the_tarball_as_docker_s_build_api_takes_them(tmp_path):
    import shutil

    from cli.build_cmds import build_params

    app = tmp_path / "services" / "api"
    shutil.copytree(EXAMPLES / "python", app)  # a monorepo: the app is one folder of it
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "api.Dockerfile").write_text("FROM img:1\nCMD [\"run\"]\n")
    archive, _ = pack(tmp_path, SOURCE_LIMIT)
    c = client()

    def plan(**options):
        return c.post("/v1/apps/shop/build-plan", content=archive, params=build_params(options),
                      headers={"Content-Type": "application/octet-stream"})
    r = plan(context="services/api", args={"A": "1"}, base="reg:5000/my/base:2")
    assert r.status_code == 200, r.text
    assert r.json()["kind"] == "python" and "\nFROM reg:5000/my/base:2" in r.json()["dockerfile"]
    assert "ARG A" in r.json()["dockerfile"]
    r = plan(dockerfile="docker/api.Dockerfile")
    assert r.json()["kind"] == "dockerfile" and r.json()["dockerfile_path"] == "docker/api.Dockerfile"
    for options, said in [({"context": "services/nope"}, "build context services/nope is not a folder"),
                          ({"context": "../up"}, "build context '../up' is not inside the source"),
                          ({"dockerfile": "docker/none"}, "docker/none named by the build settings "
                                                         "is not in the source"),
                          ({"args": {"SENTINEL_CA": "x"}}, "set by Sentinel itself")]:
        r = plan(**options)
        assert r.status_code == 422 and said in r.json()["error"]["message"], (options, r.text)
    r = c.post("/v1/apps/shop/build-plan?arg=NOEQUALS", content=archive)
    assert r.status_code == 422 and "'NOEQUALS' is not NAME=value" in r.json()["error"]["message"]
    assert build_params({"context": ".", "dockerfile": None, "args": {"B": "2", "A": "x=y"}}) == {
        "context": ".", "arg": ["A=x=y", "B=2"]}
