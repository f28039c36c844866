"""Object storage given at init (`sentinel init --backup-repo s3://…`): what bad input gets
(one sentence, exit 1, nothing sent), what the API refuses, and which secrets a pgBackRest
task mounts. The e2e module tests/e2e/test_object_storage.py runs it against a real S3 server."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from control_plane import validation
from control_plane.errors import InvalidInput
from control_plane.services.db_objects import pg_kinds, pgbackrest_mounts

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_the_url_gives_the_bucket_and_its_folder():
    assert validation.backup_repo_url("s3://backups") == ("backups", "")
    assert validation.backup_repo_url("s3://my.backups-1/team/a/") == ("my.backups-1", "team/a")
    for bad in ("backups", "https://backups", "s3://", "s3://Backups", "s3://b", "s3://ok/a b",
                "s3://ok/../x'"):
        with pytest.raises(InvalidInput, match="^--backup-repo .* is not valid: give s3://BUCKET"):
            validation.backup_repo_url(bad)


def test_the_endpoint_is_a_host_and_an_optional_port():
    assert validation.s3_endpoint("s3.eu-west-1.amazonaws.com") == ("s3.eu-west-1.amazonaws.com", None)
    assert validation.s3_endpoint("172.25.0.1:9443") == ("172.25.0.1", 9443)
    for bad in ("", "https://s3.example.com", "s3.example.com:0", "s3.example.com:99999",
                "s3 example.com", "host:port"):
        with pytest.raises(InvalidInput, match="endpoint .* is not valid"):
            validation.s3_endpoint(bad)


def test_the_whole_repository_is_checked_with_one_sentence_for_the_first_bad_part():
    good = dict(bucket="backups", prefix="", endpoint="s3.internal:9000", region="us-east-1",
                access_key_id="AKIA1234", secret_access_key="c2VjcmV0+/=", ca=PEM)
    validation.object_storage(**good)
    validation.object_storage(**{**good, "address": "10.0.0.5"})
    for change, words in (({"region": "EU West"}, "region"), ({"access_key_id": ""}, "AWS_ACCESS_KEY_ID"),
                          ({"secret_access_key": "a b\nc"}, "AWS_SECRET_ACCESS_KEY"),
                          ({"ca": "not a pem"}, "--backup-repo-ca holds no PEM certificate"),
                          ({"bucket": "B"}, "--backup-repo"),
                          ({"endpoint": "s3.internal", "address": "10.0.0.256"}, "--backup-repo-address"),
                          ({"address": "10.0.0.5", "endpoint": "10.0.0.5:9000"}, "named by a host name")):
        with pytest.raises(InvalidInput, match=words):
            validation.object_storage(**{**good, **change})


@pytest.mark.parametrize("args,env,words", [
    (["--backup-repo", "backups"], {}, "--backup-repo 'backups' is not valid"),
    (["--backup-repo", "s3://backups"], {}, "--backup-repo needs --backup-repo-endpoint"),
    (["--backup-repo-endpoint", "s3.internal"], {}, "--backup-repo-endpoint needs --backup-repo"),
    (["--backup-repo-address", "10.0.0.5"], {}, "--backup-repo-address needs --backup-repo"),
    (["--backup-repo", "s3://backups", "--backup-repo-endpoint", "s3.internal"], {},
     "the backup repository's access key is missing"),
    (["--backup-repo", "s3://backups", "--backup-repo-endpoint", "s3.internal",
      "--backup-repo-ca", "/nonexistent.pem"], {"AWS_ACCESS_KEY_ID": "AKIA1234",
                                                "AWS_SECRET_ACCESS_KEY": "secret"},
     "--backup-repo-ca /nonexistent.pem does not exist"),
    (["--backup-repo", "s3://backups", "--backup-repo-endpoint", "s3.internal",
      "--backup-repo-uri-style", "virtual"], {"AWS_ACCESS_KEY_ID": "AKIA1234",
                                              "AWS_SECRET_ACCESS_KEY": "secret"},
     "--backup-repo-uri-style 'virtual' is not valid"),
])
def test_bad_backup_repo_options_get_one_sentence_and_nothing_is_created(args, env, words, tmp_path):
    home = tmp_path / "home"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    p = subprocess.run([sys.executable, "-c", "from cli.main import run; run()", "init", "--provider",
                        "local", "--nodes", "2", "--yes", *args], capture_output=True, text=True,
                       timeout=60, env={**clean, **env, "SENTINEL_HOME": str(home)},
                       cwd=Path(__file__).resolve().parents[2], stdin=subprocess.DEVNULL)
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert p.stderr.startswith("error: ") and len(p.stderr.splitlines()) == 1, p.stderr
    assert words in p.stderr and "Traceback" not in p.stderr
    assert not home.exists()  # no control plane started, nothing written


def test_a_pgbackrest_task_mounts_the_endpoints_ca_only_when_there_is_one():
    objects = {"member_pgbackrest": "a-conf", "tls_key": "a-key", "tls_cert": "a-crt", "ca": "a-ca"}
    assert pgbackrest_mounts(objects) == [("a-conf", "pgbackrest.conf"), ("a-key", "tls.key"),
                                          ("a-crt", "tls.crt"), ("a-ca", "ca.crt")]
    assert pgbackrest_mounts({**objects, "s3_ca": "a-s3"})[-1] == ("a-s3", "s3-ca.crt")
    assert pg_kinds(False, s3_ca=True)[-1] == "s3_ca" and "s3_ca" not in pg_kinds(True)


def test_init_again_refuses_to_move_a_platforms_repositories(tmp_path):
    from control_plane import names
    from control_plane.models import ClusterCreate, ObjectStorage
    from control_plane.platform import Platform
    from control_plane.services.cluster import ClusterService
    from control_plane.store import Store

    store = Store(tmp_path / "state.db")
    clusters = ClusterService(Platform(store), db=None)
    bucket = ObjectStorage(bucket="backups", endpoint="s3.internal:9000", access_key_id="AKIA1234",
                           secret_access_key="secret")
    assert clusters.validate(ClusterCreate(backup_repo=bucket)).backup_repo == bucket  # a new one
    store.put(names.CLUSTER_KEY, ClusterCreate().model_dump())
    store.put(names.CLUSTER_STATE_KEY, "ready")
    with pytest.raises(InvalidInput, match="^this platform's backups go to the platform's own "
                                           "repository and `sentinel init` does not move them"):
        clusters.validate(ClusterCreate(backup_repo=bucket))
    store.put(names.CLUSTER_KEY, ClusterCreate(backup_repo=bucket).model_dump())
    with pytest.raises(InvalidInput, match="go to s3://backups and"):
        clusters.validate(ClusterCreate())
    with pytest.raises(InvalidInput, match="region"):
        clusters.validate(ClusterCreate(backup_repo=bucket.model_copy(update={"region": "Mars 1"})))
    assert clusters.validate(ClusterCreate(backup_repo=bucket)).backup_repo == bucket  # the same again
