"""Backups in object storage, for real: `sentinel init --backup-repo s3://…` on the local provider
against an S3-compatible server (moto's server mode, from PyPI, behind TLS with a CA of this
test's own, which the platform is given with --backup-repo-ca). Every member reaches the bucket
itself; the backup node holds no repository. A first backup at once, a point-in-time restore, a
restore drill, and a single member whose node is lost, restored from the bucket onto the other
node.

Why moto: no MinIO, Garage or Ceph package exists here; moto speaks the S3 API pgBackRest uses
(multipart uploads, listing, deletes) and installs from PyPI. pgBackRest requires TLS for S3 and
(2.45) checks the endpoint's host name in the certificate, so the endpoint has a name, which the
tasks learn from --backup-repo-address (the nodes' DNS does not know it). TLS is Debian's HAProxy
in front of moto's plain HTTP: moto's own TLS (werkzeug's development server) closes every
connection, and pgBackRest, which keeps them alive, failed with "unexpected eof" on it.

Own SENTINEL_HOME, cluster `s3e` on 172.24.0.0/24, edge on 38080/38443, API on 38765, the S3
server on the nodes' gateway 172.24.0.1:39443.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
import pytest

from .conftest import ROOT, Platform, clear_leftovers
from .load import Writer
from .rows import two_batches

pytestmark = pytest.mark.e2e

NAME, SUBNET = "s3e", "172.24.0.0/24"
HTTP, HTTPS, API = 38080, 38443, 38765
GATEWAY, S3_PORT, S3_HOST = "172.24.0.1", 39443, "s3.sentinel.test"
BUCKET, FOLDER = "sentinel-backups", "team"
KEYS = {"AWS_ACCESS_KEY_ID": "AKIASENTINELTEST", "AWS_SECRET_ACCESS_KEY": "c2VudGluZWwtdGVzdA+/="}
APP, DOMAIN = "shop", "shop.localhost"
MOTO = "127.0.0.1:39480"
HAPROXY = """global
  maxconn 256
defaults
  mode http
  timeout connect 5s
  timeout client 120s
  timeout server 120s
  timeout http-keep-alive 60s
frontend s3
  bind {bind} ssl crt {pem}
  default_backend moto
backend moto
  server moto {moto}
"""


def certificates(folder: Path) -> Path:
    """A CA of this test's own and the S3 server's certificate signed by it (the endpoint's name,
    and the gateway address for this test's own client); returns the CA's file."""
    def openssl(*argv: str) -> None:
        subprocess.run(["openssl", *argv], check=True, capture_output=True, cwd=folder)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
            "-days", "2", "-subj", "/CN=sentinel-test-s3-ca")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "s3.key", "-out", "s3.csr",
            "-subj", f"/CN={S3_HOST}")
    (folder / "ext").write_text(f"subjectAltName=DNS:{S3_HOST},IP:{GATEWAY}\n")
    openssl("x509", "-req", "-in", "s3.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "s3.crt", "-days", "2", "-extfile", "ext")
    return folder / "ca.crt"


def bucket_client(ca: Path):
    return boto3.client("s3", endpoint_url=f"https://{GATEWAY}:{S3_PORT}", verify=str(ca),
                        region_name="us-east-1", aws_access_key_id=KEYS["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=KEYS["AWS_SECRET_ACCESS_KEY"])


def keys_under(client, prefix: str) -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


@pytest.fixture(scope="module")
def platform():
    clear_leftovers(NAME)
    home = Path(tempfile.mkdtemp(prefix="sentinel-s3e-"))
    ca = certificates(Path(tempfile.mkdtemp(prefix="sentinel-s3e-tls-")))
    p = Platform(home, name=NAME, http=HTTP, https=HTTPS, api_port=API)
    p.env.update(KEYS)
    p.ca = ca
    servers = []
    try:
        p.cli("init", "--provider", "local", "--name", NAME, "--subnet", SUBNET, "--nodes", "2",
              "--http-port", str(HTTP), "--https-port", str(HTTPS), "--yes",
              "--backup-repo", f"s3://{BUCKET}/{FOLDER}",
              "--backup-repo-endpoint", f"{S3_HOST}:{S3_PORT}", "--backup-repo-ca", str(ca),
              "--backup-repo-address", GATEWAY, timeout=900)
        # On the nodes' gateway, which exists once init made the nodes' network: reachable from
        # the nodes' tasks and this machine, nowhere else. moto on this machine's loopback.
        tls = ca.parent
        (tls / "s3.pem").write_text((tls / "s3.crt").read_text() + (tls / "s3.key").read_text())
        (tls / "haproxy.cfg").write_text(HAPROXY.format(bind=f"{GATEWAY}:{S3_PORT}",
                                                       pem=tls / "s3.pem", moto=MOTO))
        servers = [
            subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1",
                              "-p", MOTO.split(":")[1]], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL,
                             # path style on a host name: no bucket in the host's first label
                             env={**os.environ, "S3_IGNORE_SUBDOMAIN_BUCKETNAME": "true"}),
            subprocess.Popen(["haproxy", "-db", "-f", str(tls / "haproxy.cfg")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
        deadline = time.monotonic() + 30
        while True:
            try:
                bucket_client(ca).create_bucket(Bucket=BUCKET)
                break
            except Exception:
                assert time.monotonic() < deadline and all(s.poll() is None for s in servers), \
                    "moto or HAProxy did not start"
                time.sleep(0.5)
        yield p
    finally:
        if (home / "config.json").exists():
            p.cli("destroy", "--delete-data", "--yes", check=False, timeout=600)
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(ca.parent, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)


def titles(platform) -> list[str]:
    return platform.psql(APP, "select title from todos order by id").splitlines()


def test_backups_pitr_drill_and_a_lost_node_all_through_the_bucket(platform):
    p = platform
    s3 = bucket_client(p.ca)
    assert p.json("cluster", "inspect")["backups"] == f"s3://{BUCKET}/{FOLDER} at {S3_HOST}:{S3_PORT}"
    p.cli("deploy", "--name", APP, "--image", "todo:1", "--port", "8000", "--db", "postgres",
          "--db-schema", str(ROOT / "examples/todo/schema.sql"), "--yes", timeout=900)
    # The first backup ran at once, into the bucket under FOLDER/<cluster>/<app>.
    backups = p.json("db", "backups", APP)["backups"]
    assert len(backups) == 1 and backups[0]["type"] == "full", backups
    stored = keys_under(s3, f"{FOLDER}/{NAME}/{APP}/")
    assert any(f"/backup/{APP}/{backups[0]['label']}/" in k for k in stored), stored[:10]
    assert any("/archive/" in k for k in stored), stored[:10]
    # ... and nothing on the backup node.
    left = subprocess.run(["docker", "exec", f"{NAME}-backup", "ls", "/var/lib/sentinel/backups"],
                          capture_output=True, text=True)
    assert APP not in left.stdout.split(), left.stdout

    # Point in time: exactly between two batches.
    batch_a, target, _ = two_batches(p, DOMAIN)
    p.cli("db", "restore", APP, "--to", target, "--yes", timeout=900)
    assert titles(p) == batch_a

    # A restore drill from the bucket passes.
    p.cli("db", "verify", APP, timeout=900)
    assert p.json("db", "status", APP)["last_drill"]["passed"] is True

    # A single member's node lost for good: back on the other node from the bucket. The member
    # kept is on node 1 (node 0 is the only manager of 2 nodes).
    member_node, other = f"{NAME}-node-1", f"{NAME}-node-0"
    if p.json("db", "status", APP)["primary"]["node"] != member_node:
        p.cli("db", "switchover", APP, "--yes", timeout=300)
    p.cli("db", "ha", APP, "--off", "--yes", timeout=600)
    assert p.json("db", "status", APP)["primary"]["node"] == member_node
    with Writer(f"http://127.0.0.1:{HTTP}", DOMAIN, "s3-single") as w:
        time.sleep(3)
        backup_started = time.monotonic()
        p.cli("db", "backup", APP, timeout=900)
        time.sleep(3)
        killed_at = time.monotonic()
        subprocess.run(["docker", "kill", member_node], check=True, capture_output=True)
        time.sleep(1)
    try:
        deadline = time.monotonic() + 120
        while not any("--to latest" in a for a in p.json("db", "status", APP)["actions"]):
            assert time.monotonic() < deadline, "the lost node was never reported"
            time.sleep(3)
        out = p.cli("db", "restore", APP, "--to", "latest", "--yes", timeout=900).stdout
        assert f"onto {other}" in out, out
        have = set(map(int, p.psql(APP, "select id from todos").split()))
        missing = [(t, i) for t, i in w.acked if i not in have]
        print(f"object storage, single member's node lost: {len(missing)} of {len(w.acked)} "
              "acknowledged rows lost")
        assert len(w.acked) > 20
        assert all(t > backup_started for t, _ in missing), missing[:5]  # the backup had the rest
        assert all(t > killed_at - 61 for t, _ in missing)  # at most archive_timeout's worth
        assert set(batch_a) <= set(titles(p))
        assert p.http(DOMAIN, "/api/todos").status_code == 200
    finally:
        subprocess.run(["docker", "start", member_node], check=True, capture_output=True)
