"""The database's configuration files as data: rendered, parsed back, and what matters in each."""
import pytest
import yaml

from control_plane import database_config as dc
from control_plane.object_storage import Bucket
from control_plane.templates import TemplateValueError, parse_ini

PW = dc.Passwords(superuser='s"u: #x\nstaged', replication="r", restapi="a", etcd="e")


def patroni(**kw):
    return yaml.safe_load(dc.patroni_config("todos", PW, **kw))


def test_patroni_is_synchronous_with_failsafe_and_archives_to_pgbackrest():
    c = patroni()
    dcs = c["bootstrap"]["dcs"]
    assert dcs["synchronous_mode"] is True and dcs["synchronous_mode_strict"] is False
    assert dcs["failsafe_mode"] is True
    assert dcs["ttl"] == 5 and dcs["loop_wait"] == 1 and dcs["retry_timeout"] == 2
    params = dcs["postgresql"]["parameters"]
    assert params["archive_mode"] == "on" and params["archive_timeout"] == 60
    assert params["archive_command"] == "pgbackrest --stanza=todos archive-push %p"
    assert params["track_commit_timestamp"] == "on"
    assert c["postgresql"]["recovery_conf"]["restore_command"] == "pgbackrest --stanza=todos archive-get %f %p"
    assert c["postgresql"]["create_replica_methods"] == ["pgbackrest", "basebackup"]
    assert c["postgresql"]["use_unix_socket"] is True
    assert "data-checksums" in c["bootstrap"]["initdb"]


def test_a_scratch_copy_archives_nothing():
    params = patroni(archive=False)["bootstrap"]["dcs"]["postgresql"]["parameters"]
    assert params["archive_command"] == "/bin/true"


def test_patroni_uses_the_apps_own_etcd_user_and_prefix():
    c = patroni()
    assert c["scope"] == "todos" and c["namespace"] == "/sentinel/"
    assert c["etcd3"]["username"] == "app-todos" and c["etcd3"]["password"] == "e"
    assert c["etcd3"]["hosts"] == ["etcd-0:2379", "etcd-1:2379", "etcd-2:2379"]


def test_a_password_with_yaml_syntax_stays_one_value():
    assert patroni()["postgresql"]["authentication"]["superuser"]["password"] == PW.superuser


def test_timing_must_satisfy_patroni():
    with pytest.raises(ValueError):
        dc.Timing(ttl=5, loop_wait=2, retry_timeout=2)


def test_a_lone_member_runs_relaxed_and_a_pair_at_full_speed():
    assert dc.timing_for(1) == dc.RELAXED and dc.timing_for(2) == dc.timing_for(3) == dc.FAST
    assert dc.RELAXED.loop_wait == 10 and dc.FAST.loop_wait == 1
    # members are created with FAST: the bootstrap config never changes with the member count
    assert patroni()["bootstrap"]["dcs"]["loop_wait"] == dc.FAST.loop_wait


def test_timing_is_set_in_etcd_by_patronictl_without_a_prompt():
    assert dc.set_timing_argv(dc.RELAXED) == [
        "patronictl", "-c", "/run/sentinel/patroni.yml", "edit-config", "--force", "--quiet",
        "--set", "ttl=30", "--set", "loop_wait=10", "--set", "retry_timeout=10"]


def test_member_pgbackrest_pushes_to_the_repository_host_over_tls():
    ini = parse_ini(dc.member_pgbackrest("todos"))
    g = ini["global"]
    assert g["repo1-host"] == "backup" and g["repo1-host-type"] == "tls"
    assert g["tls-server-auth"] == "todos=todos"
    assert ini["todos"]["pg1-path"] == "/var/lib/postgresql/data/pgdata"


def test_repository_host_lists_each_member_and_backs_up_from_a_standby():
    ini = parse_ini(dc.repo_pgbackrest("todos", ["pg-0", "pg-2"]))
    assert ini["global"]["backup-standby"] == "y" and ini["global"]["repo1-retention-full"] == "2"
    assert ini["todos"]["pg1-host"] == "pg-0" and ini["todos"]["pg2-host"] == "pg-2"
    assert parse_ini(dc.repo_pgbackrest("todos", ["pg-0"]))["global"]["backup-standby"] == "n"


def test_ini_values_must_be_tokens():
    with pytest.raises(TemplateValueError):
        dc.repo_pgbackrest("todos", ["pg-0\nrepo1-path=/tmp"])


def test_haproxy_follows_patronis_primary_and_cuts_sessions_of_a_dead_one():
    cfg = dc.haproxy_config("todos", ["pg-0", "pg-1"])
    assert "option httpchk OPTIONS /primary" in cfg
    assert "on-marked-down shutdown-sessions" in cfg and "resolvers swarm" in cfg
    assert "rise 2" in cfg and "inter 500ms" in cfg
    # names are asked again every 5 s (2 s while one does not resolve), IPv4 only: DNS is work
    # for the engines, and a standby's address does not change when it is promoted
    assert "timeout resolve 5s" in cfg and "timeout retry 2s" in cfg and "resolve-prefer ipv4" in cfg
    assert [l.split()[1] for l in cfg.splitlines() if l.strip().startswith("server ")] == ["pg-0", "pg-1"]


def test_tls_names_every_alias_and_both_uses():
    ext = dc.tls_ext("todos")
    assert "DNS:backup" in ext and f"DNS:pg-{dc.MAX_MEMBER_INDEX}" in ext
    assert "serverAuth,clientAuth" in ext
    assert dc.tls_key_argv("k", "c", "todos")[-6:-4] == ["-subj", "/CN=todos"]


def test_in_the_clouds_members_reach_the_bucket_themselves():
    s3 = {"type": "s3", "bucket": "c-backups-1a2b", "endpoint": "s3.eu-west-1.amazonaws.com",
          "region": "eu-west-1", "uri_style": "host", "key_type": "auto"}
    g = parse_ini(dc.member_pgbackrest("todos", s3, "prod"))["global"]
    assert g["repo1-type"] == "s3" and g["repo1-s3-bucket"] == "c-backups-1a2b"
    assert g["repo1-path"] == "/prod/todos" and g["repo1-s3-key-type"] == "auto"
    assert "repo1-host" not in g and "repo1-s3-key" not in g
    shared = {**s3, "key_type": "shared", "access_key_id": "AKIA1", "secret_access_key": "c2VjcmV0+/="}
    g = parse_ini(dc.member_pgbackrest("todos", shared, "prod"))["global"]
    assert g["repo1-s3-key"] == "AKIA1" and g["repo1-s3-key-secret"] == "c2VjcmV0+/="
    with pytest.raises(ValueError):
        dc.member_pgbackrest("todos", {**s3, "bucket": ""}, "prod")
    with pytest.raises(ValueError):
        dc.member_pgbackrest("todos", {**s3, "key_type": "shared"}, "prod")


def test_a_bucket_given_at_init_reaches_its_port_with_its_own_ca_under_its_folder():
    s3 = dc.s3_settings(Bucket("backups", "team/a", "s3.internal", 9000, "us-east-1", "path",
                               "AKIA1", "c2VjcmV0+/=", ca="PEM"))
    g = parse_ini(dc.member_pgbackrest("todos", s3, "prod"))["global"]
    assert (g["repo1-type"], g["repo1-s3-bucket"], g["repo1-s3-endpoint"]) == ("s3", "backups", "s3.internal")
    assert g["repo1-storage-port"] == "9000" and g["repo1-storage-ca-file"] == dc.S3_CA_FILE
    assert g["repo1-path"] == "/team/a/prod/todos" and g["repo1-s3-uri-style"] == "path"
    assert (g["repo1-s3-key-type"], g["repo1-s3-key"]) == ("shared", "AKIA1")
    # the defaults: port 443 and the system's CAs, no folder
    plain = dc.s3_settings(Bucket("backups", "", "s3.eu-west-1.amazonaws.com", None, "eu-west-1",
                                  "host", "AKIA1", "secret"))
    g = parse_ini(dc.member_pgbackrest("todos", plain, "prod"))["global"]
    assert "repo1-storage-port" not in g and "repo1-storage-ca-file" not in g
    assert g["repo1-path"] == "/prod/todos"
