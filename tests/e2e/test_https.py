"""HTTPS with certificates from a real ACME server: Debian's `pebble` stands in for Let's Encrypt.

Its own platform (not the shared one): `sentinel init --email ... --acme-server ... --acme-ca ...`,
the demo app on a domain, and pebble on this host. The HTTP-01 challenge is validated for real:
pebble asks `pebble-challtestsrv` (its mock DNS server, also from the Debian package) for the
domain, which answers 127.0.0.1, and fetches the token from the published HTTP port, i.e.
through Traefik on the manager node. Nothing here is mocked or forced valid.
"""
from __future__ import annotations

import http.client
import json
import os
import queue
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from .conftest import Platform, clear_leftovers, leftovers

pytestmark = pytest.mark.e2e

NAME, SUBNET = "acme", "172.28.0.0/24"
GATEWAY = "172.28.0.1"  # the host on the cluster's Docker network: where Traefik reaches pebble
HTTP, HTTPS, API = 19080, 19443, 19765
PEBBLE, PEBBLE_ADMIN, DNS, DNS_ADMIN = 14000, 15000, 18053, 18055
DOMAIN = "todos.acme.test"


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def pebble_tls(folder: Path) -> dict[str, Path]:
    """A CA (what Traefik is told to trust with --acme-ca) and pebble's own HTTPS certificate
    for the address Traefik uses to reach it."""
    f = {k: folder / v for k, v in (("ca_key", "ca.key"), ("ca", "ca.pem"), ("key", "pebble.key"),
                                    ("csr", "pebble.csr"), ("cert", "pebble.pem"), ("ext", "san.ext"))}
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2",
            "-subj", "/CN=sentinel e2e pebble CA", "-keyout", str(f["ca_key"]), "-out", str(f["ca"]))
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-sha256", "-subj", f"/CN={GATEWAY}",
            "-keyout", str(f["key"]), "-out", str(f["csr"]))
    f["ext"].write_text(f"subjectAltName=IP:{GATEWAY},IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", str(f["csr"]), "-CA", str(f["ca"]), "-CAkey", str(f["ca_key"]),
            "-CAcreateserial", "-days", "2", "-sha256", "-extfile", str(f["ext"]), "-out", str(f["cert"]))
    return f


class Pebble:
    """pebble (the ACME server) and pebble-challtestsrv (its DNS: every name -> 127.0.0.1)."""

    def __init__(self, folder: Path, tls: dict[str, Path]):
        self.folder, self.tls = folder, tls
        self.procs: list[subprocess.Popen] = []
        self.log = folder / "pebble.log"

    def start(self) -> None:
        config = self.folder / "pebble-config.json"
        config.write_text(json.dumps({"pebble": {
            "listenAddress": f"{GATEWAY}:{PEBBLE}",
            "managementListenAddress": f"{GATEWAY}:{PEBBLE_ADMIN}",
            "certificate": str(self.tls["cert"]), "privateKey": str(self.tls["key"]),
            # HTTP-01: pebble fetches http://<domain>:<httpPort>/.well-known/acme-challenge/...
            # with <domain> resolved by the DNS below: the host port Traefik's :80 is published on.
            "httpPort": HTTP, "tlsPort": HTTPS,
            "ocspResponderURL": "", "externalAccountBindingRequired": False}}))
        log = self.log.open("ab")
        self.procs.append(subprocess.Popen(
            ["pebble-challtestsrv", "-dns01", f"127.0.0.1:{DNS}", "-management", f"127.0.0.1:{DNS_ADMIN}",
             "-http01", "", "-https01", "", "-tlsalpn01", "",
             "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        self.procs.append(subprocess.Popen(
            ["pebble", "-config", str(config), "-dnsserver", f"127.0.0.1:{DNS}"],
            env={**os.environ, "PEBBLE_VA_NOSLEEP": "1"},  # no random wait before validating
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        deadline = time.monotonic() + 30
        while True:
            try:
                if self.admin_get(f"https://{GATEWAY}:{PEBBLE}/dir").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                raise AssertionError(f"pebble did not start:\n{self.log_tail()}")
            time.sleep(0.2)

    def admin_get(self, url: str) -> httpx.Response:
        return httpx.get(url, verify=ssl.create_default_context(cafile=str(self.tls["ca"])), timeout=5)

    def pem(self, what: str) -> str:
        """Pebble's root or intermediate (made anew each run), from its management API."""
        r = self.admin_get(f"https://{GATEWAY}:{PEBBLE_ADMIN}/{what}/0")
        assert r.status_code == 200, r.text
        return r.text

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:]) if self.log.exists() else ""

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)




@pytest.fixture(scope="module")
def acme():
    for tool in ("pebble", "pebble-challtestsrv", "openssl"):
        assert shutil.which(tool), f"{tool} is missing: run `bash scripts/install.sh`"
    clear_leftovers(NAME)
    home = Path(tempfile.mkdtemp(prefix="sentinel-acme-"))
    work = Path(tempfile.mkdtemp(prefix="sentinel-pebble-"))
    p = Platform(home, name=NAME, http=HTTP, https=HTTPS, api_port=API)
    tls = pebble_tls(work)
    pebble = Pebble(work, tls)
    try:
        p.cli("init", "--provider", "local", "--name", NAME, "--subnet", SUBNET, "--nodes", "1",
              "--http-port", str(HTTP), "--https-port", str(HTTPS), "--email", "ops@example.com",
              "--acme-server", f"https://{GATEWAY}:{PEBBLE}/dir", "--acme-ca", str(tls["ca"]),
              "--yes", timeout=900)
        # Docker gives the network's bridge the subnet's first address: this host's side of it.
        assert subprocess.run(["ip", "-4", "-o", "addr", "show", "to", GATEWAY], capture_output=True,
                              text=True).stdout.strip(), f"{GATEWAY} is not this host's address on the network"
        # Pebble listens on that network's gateway, so it starts once init has made the network;
        # Traefik only talks to the ACME server when a router asks for a certificate (the deploy).
        pebble.start()
        p.cli("deploy", "--image", "todo:1", "--port", "8000", "--name", "todos", "--domain", DOMAIN,
              "--yes", timeout=600)
        p.pebble = pebble
        yield p
    finally:
        try:
            if (home / "config.json").exists():
                p.cli("destroy", "--delete-data", "--yes", check=False, timeout=600)
        finally:
            pebble.stop()
            shutil.rmtree(work, ignore_errors=True)
            shutil.rmtree(home, ignore_errors=True)
        left = leftovers(NAME)
        assert not left, f"destroy left {left}"


def https_get(path: str = "/", cafile: str | None = None) -> tuple[http.client.HTTPResponse, str, bytes]:
    """GET https://DOMAIN:HTTPS/path with SNI and Host = DOMAIN, connecting to 127.0.0.1 (the
    published port), verified against `cafile`. Returns the response, its body and the leaf (DER)."""
    ctx = ssl.create_default_context(cafile=cafile)
    conn = http.client.HTTPSConnection(DOMAIN, HTTPS, context=ctx, timeout=10)
    conn._create_connection = lambda addr, timeout=None, source=None: \
        socket.create_connection(("127.0.0.1", HTTPS), timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read().decode(errors="replace")
        return resp, body, conn.sock.getpeercert(binary_form=True)
    finally:
        conn.close()


def traefik_log(p: Platform) -> str:
    return p.node_exec("0", "docker", "service", "logs", "--tail", "30", "sentinel_traefik").stdout


def test_http_redirects_to_https(acme):
    r = acme.http(DOMAIN, "/", follow_redirects=False)
    assert r.status_code in (301, 308), (r.status_code, r.text[:200])
    assert r.headers["location"] == f"https://{DOMAIN}:{HTTPS}/"


def test_https_serves_the_app_with_a_pebble_issued_certificate(acme, tmp_path):
    root = tmp_path / "pebble-root.pem"
    root.write_text(acme.pebble.pem("roots"))
    intermediate = x509.load_pem_x509_certificate(acme.pebble.pem("intermediates").encode())
    # Issuance runs in Traefik after the deploy wrote the router; until then the default
    # self-signed certificate answers and verification against pebble's root fails.
    deadline, last = time.monotonic() + 180, None
    while True:
        try:
            resp, body, der = https_get("/", cafile=str(root))
            break
        except (ssl.SSLError, OSError) as e:
            last = e
        if time.monotonic() > deadline:
            raise AssertionError(f"no pebble-issued certificate within 180 s ({last}).\n"
                                 f"pebble:\n{acme.pebble.log_tail()}\ntraefik:\n{traefik_log(acme)}")
        time.sleep(2)
    assert resp.status == 200
    assert "Sentinel to-do" in body
    leaf = x509.load_der_x509_certificate(der)
    assert leaf.issuer == intermediate.subject
    leaf.verify_directly_issued_by(intermediate)
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == [DOMAIN]
    # and it came through a real HTTP-01 validation (pebble fetched the token from Traefik),
    # not a shortcut
    assert "PEBBLE_VA_ALWAYS_VALID" not in os.environ
    log = acme.pebble.log.read_text(errors="replace")
    fetches = [l for l in log.splitlines() if "Attempting to validate w/ HTTP" in l]
    assert fetches and all(f"{DOMAIN}:{HTTP}/.well-known/acme-challenge/" in l for l in fetches), log[-3000:]
    assert "set VALID by completed challenge" in log, log[-3000:]


def test_app_urls_are_https(acme):
    assert [a["url"] for a in acme.json("apps")] == [f"https://{DOMAIN}:{HTTPS}"]


def test_logs_follow_streams_an_access_line_and_stops_quietly_on_ctrl_c(acme, tmp_path):
    root = tmp_path / "pebble-root.pem"
    root.write_text(acme.pebble.pem("roots"))
    probe = f"/follow-probe-{os.getpid()}"
    proc = subprocess.Popen([str(Path(sys.executable).parent / "sentinel"), "inspect", "logs", "todos",
                             "--follow", "--tail", "1"],
                            env=acme.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            # A suite started in the background inherits SIGINT ignored; a user's
                            # terminal does not: give the CLI the default, as Ctrl-C would find it.
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(l) for l in proc.stdout], daemon=True).start()
    ps = "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done"
    got = []
    try:
        lines.get(timeout=60)  # the tail line: the follow runs on the manager now
        assert "service logs" in acme.node_exec("0", "sh", "-c", ps).stdout
        https_get(probe, cafile=str(root))  # HTTP only redirects: the app sees HTTPS requests
        deadline = time.monotonic() + 30
        while not any(probe in l for l in got) and time.monotonic() < deadline:
            try:
                got.append(lines.get(timeout=1))
            except queue.Empty:
                pass
        assert any(f"GET {probe} 404" in l for l in got), got
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    err = proc.stderr.read()
    assert proc.returncode == 130
    assert err.strip() == "", err
    # and the `docker service logs --follow` on the manager ended with it
    deadline = time.monotonic() + 15
    while "service logs" in (left := acme.node_exec("0", "sh", "-c", ps).stdout):
        assert time.monotonic() < deadline, [l for l in left.splitlines() if "service logs" in l]
        time.sleep(0.5)
