"""The control plane's state copies in the platform's bucket (control_plane/object_storage.py,
services/state_backup.py): curl's argv and credentials, which bucket is used, and rounds of the
loop against a real S3 server (moto's server mode behind TLS, on this machine's loopback, reached
by a name that only --resolve knows), opened again with the recovery key."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from control_plane import names, object_storage, recovery
from control_plane.models import ClusterCreate, ObjectStorage
from control_plane.platform import Platform
from control_plane.services.state_backup import StateBackup
from control_plane.store import Store

# moto takes the first label of a host name for a bucket (virtual-host style) unless told not to.
MOTO_ENV = {**os.environ, "S3_IGNORE_SUBDOMAIN_BUCKETNAME": "true"}
GIVEN = ObjectStorage(bucket="backups", prefix="team", endpoint="s3.sentinel.test:9443",
                      access_key_id="AKIASENTINEL", secret_access_key="c2VjcmV0+/=",
                      address="127.0.0.1", ca="PEM")


def test_the_bucket_given_at_init_or_a_clouds_with_a_key_pair():
    b = object_storage.bucket_of(GIVEN, {"type": "node", "name": "c-backup"})
    assert (b.bucket, b.prefix, b.host, b.port, b.address) == ("backups", "team", "s3.sentinel.test",
                                                               9443, "127.0.0.1")
    cloud = {"type": "s3", "bucket": "c-backups-1a2b", "endpoint": "fra1.digitaloceanspaces.com",
             "region": "fra1", "uri_style": "host", "key_type": "shared", "access_key_id": "K",
             "secret_access_key": "S"}
    assert object_storage.bucket_of(None, cloud).host == "fra1.digitaloceanspaces.com"
    # AWS: the nodes' instance role, which the control plane's server does not have
    assert object_storage.bucket_of(None, {**cloud, "key_type": "auto"}) is None
    assert object_storage.bucket_of(None, {"type": "node", "name": "c-backup"}) is None


def test_curl_puts_with_sigv4_and_the_key_pair_never_on_its_argv(tmp_path):
    b = object_storage.bucket_of(GIVEN, None)
    key = object_storage.key(b, "prod", ".control-plane", "latest")
    assert key == "team/prod/.control-plane/latest"
    argv = object_storage.put_argv(b, key, tmp_path / "latest", tmp_path / "ca.pem")
    assert argv == ["curl", "--silent", "--show-error", "--fail", "--max-time", "60",
                    "--aws-sigv4", "aws:amz:us-east-1:s3", "--config", "-",
                    "--upload-file", str(tmp_path / "latest"), "--cacert", str(tmp_path / "ca.pem"),
                    "--resolve", "s3.sentinel.test:9443:127.0.0.1",
                    "https://s3.sentinel.test:9443/backups/team/prod/.control-plane/latest"]
    assert "c2VjcmV0" not in " ".join(argv)
    assert object_storage.credentials(b) == 'user = "AKIASENTINEL:c2VjcmV0+/="\n'
    host_style = object_storage.Bucket("b", "", "s3.eu-west-1.amazonaws.com", None, "eu-west-1",
                                       "host", "K", "S")
    assert object_storage.url(host_style, "x/latest") == "https://b.s3.eu-west-1.amazonaws.com/x/latest"
    assert object_storage.where(host_style) == "s3://b" and object_storage.where(b) == "s3://backups/team"


@pytest.fixture
def s3(tmp_path):
    """moto's S3 server with TLS on 127.0.0.1, its certificate naming s3.sentinel.test."""
    def openssl(*argv):
        subprocess.run(["openssl", *argv], check=True, capture_output=True, cwd=tmp_path)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
            "-days", "1", "-subj", "/CN=test-ca")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "s3.key", "-out", "s3.csr",
            "-subj", "/CN=s3.sentinel.test")
    (tmp_path / "ext").write_text("subjectAltName=DNS:s3.sentinel.test,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "s3.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "s3.crt", "-days", "1", "-extfile", "ext")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1",
                               "-p", str(port), "-c", str(tmp_path / "s3.crt"), "-k",
                               str(tmp_path / "s3.key")], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=MOTO_ENV)
    client = boto3.client("s3", endpoint_url=f"https://127.0.0.1:{port}", verify=str(tmp_path / "ca.crt"),
                          region_name="us-east-1", aws_access_key_id=GIVEN.access_key_id,
                          aws_secret_access_key=GIVEN.secret_access_key)
    deadline = time.monotonic() + 30
    while True:
        try:
            client.create_bucket(Bucket="backups")
            break
        except Exception:
            assert time.monotonic() < deadline and server.poll() is None, "moto did not start"
            time.sleep(0.3)
    yield client, port, (tmp_path / "ca.crt").read_text()
    server.terminate()
    server.wait(timeout=30)


def test_the_loop_copies_the_state_into_the_bucket_and_keeps_the_one_before(tmp_path, s3, monkeypatch):
    client, port, ca = s3
    home = tmp_path / "home"
    monkeypatch.setenv("SENTINEL_HOME", str(home))
    store = Store(home / "state.db")
    given = GIVEN.model_copy(update={"endpoint": f"s3.sentinel.test:{port}", "ca": ca})
    store.put(names.CLUSTER_KEY, ClusterCreate(name="prod", backup_repo=given).model_dump())
    store.put(names.TERRAFORM_OUTPUTS_KEY, {
        "manager_address": "x", "manager_private_address": "x", "worker_addresses": [],
        "worker_private_addresses": [], "ssh_user": "root",
        "backup_repository": {"type": "node", "name": "prod-backup", "address": "10.0.0.9"}})
    store.put(names.CLUSTER_STATE_KEY, "ready")
    private, public = recovery.new_key()
    store.put(names.RECOVERY_PUBLIC_KEY, public)
    (home / "secrets.json").write_text(json.dumps({"api_token": "t0ken"}))
    loop = StateBackup(Platform(store))

    assert loop.round(1000.0) is True, loop.status
    assert (loop.status.state, loop.status.to) == ("copied", "s3://backups/team")
    first = client.get_object(Bucket="backups", Key="team/prod/.control-plane/latest")["Body"].read()
    header, data = recovery.open_sealed(first.decode(), private)
    assert header.cluster == "prod" and data == recovery.pack(home)
    assert loop.round(1010.0) is False  # unchanged: not sent again
    store.put("something", "changed")
    assert loop.round(1040.0) is True
    keys = {o["Key"] for o in client.list_objects_v2(Bucket="backups")["Contents"]}
    assert keys == {"team/prod/.control-plane/latest", "team/prod/.control-plane/previous"}
    assert client.get_object(Bucket="backups", Key="team/prod/.control-plane/previous")["Body"].read() == first

    # A bucket that is not there (moto takes any key pair): an event once, the status says so.
    store.put(names.CLUSTER_KEY, ClusterCreate(name="prod", backup_repo=given.model_copy(
        update={"bucket": "gone"})).model_dump())
    store.put("something", "changed again")
    assert loop.round(1080.0) is False
    assert loop.status.state == "failing" and "404" in loop.status.reason
    assert "c2VjcmV0" not in loop.status.reason
    assert loop.round(1120.0) is False
    assert [e["kind"] for e in store.events(target="cluster")] == ["state-copy-failed"]
