"""The configuration files of an app's database, as data (pure): Patroni's YAML, pgBackRest's INI
for members and for the repository host, HAProxy's config, and the TLS material's openssl argv.

Rendered from compose_templates/ through control_plane/templates.py, parsed back and checked.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import names
from .object_storage import Bucket
from .patroni import REST_PORT
from .templates import parse_ini, render, render_yaml

MEMBER_TLS = {"ca": "/run/sentinel/ca.crt", "cert": "/run/sentinel/tls.crt",
              "key": "/run/sentinel/tls.key"}
# Member indexes run 0..MAX_MEMBER_INDEX (a moved member takes the lowest free index), and the
# TLS certificate names every alias once, so moving members never re-issues certificates.
MAX_MEMBER_INDEX = 7


@dataclass(frozen=True)
class Timing:
    """Patroni's failure detection: the leader key lives `ttl` s; each member acts every
    `loop_wait` s; etcd/Postgres calls are retried for `retry_timeout` s. Patroni needs
    loop_wait + 2 * retry_timeout <= ttl. Measured here: 5/1/2 gives writes back ~7.5 s after the
    primary's node dies, 10/2/4 ~11 s (docs/benchmarks.md)."""

    ttl: int = 5
    loop_wait: int = 1
    retry_timeout: int = 2

    def __post_init__(self) -> None:
        if self.loop_wait + 2 * self.retry_timeout > self.ttl:
            raise ValueError("Patroni needs loop_wait + 2 * retry_timeout <= ttl")


# Every member is created with FAST (bootstrap config: changing it would restart members). A
# database with one member has no standby to hand over to, so in etcd it runs RELAXED: Patroni
# acts, logs and rewrites its leader key (an fsync in etcd) every 10 s instead of every second,
# which at 30 apps was most of the platform's idle CPU (docs/benchmarks.md). A lone member that
# restarts still holds its own leader key and takes it back at once.
FAST = Timing()
RELAXED = Timing(ttl=30, loop_wait=10, retry_timeout=10)
# Where images/postgres/sentinel-pg puts the member's Patroni config.
PATRONICTL = ("patronictl", "-c", "/run/sentinel/patroni.yml")


def timing_for(members: int) -> Timing:
    return FAST if members > 1 else RELAXED


def set_timing_argv(timing: Timing) -> list[str]:
    """patronictl writes the cluster's dynamic config in etcd; every member applies it within
    one loop. No change prints `Not changed` and exits 0."""
    return [*PATRONICTL, "edit-config", "--force", "--quiet", "--set", f"ttl={timing.ttl}",
            "--set", f"loop_wait={timing.loop_wait}", "--set", f"retry_timeout={timing.retry_timeout}"]


@dataclass(frozen=True)
class Passwords:
    superuser: str
    replication: str
    restapi: str
    etcd: str


def etcd_hosts(count: int = 3) -> list[str]:
    """Every address an etcd member can have; Patroni learns the live ones from any of them."""
    return [f"etcd-{i}:2379" for i in range(count)]


def patroni_config(app: str, passwords: Passwords, *, timing: Timing = Timing(),
                   archive_timeout: int = 60, max_connections: int = 100,
                   restore_command: str | None = None, archive: bool = True) -> str:
    text, data = render_yaml(
        "patroni.yml.j2", app=app, namespace=names.DCS_NAMESPACE, stanza=names.stanza(app),
        rest_port=REST_PORT,
        restapi_user="sentinel", restapi_password=passwords.restapi,
        etcd_hosts=etcd_hosts(), etcd_user=names.dcs_user(app), etcd_password=passwords.etcd,
        timing=timing, archive_timeout=archive_timeout, max_connections=max_connections,
        pgdata=names.PGDATA, superuser_password=passwords.superuser,
        replication_password=passwords.replication,
        restore={"command": restore_command} if restore_command else None, archive=archive)
    _check_patroni(data, app)
    return text


def _check_patroni(data: dict, app: str) -> None:
    assert data["scope"] == app and data["namespace"] == names.DCS_NAMESPACE
    dcs = data["bootstrap"]["dcs"]
    assert dcs["synchronous_mode"] is True and dcs["loop_wait"] + 2 * dcs["retry_timeout"] <= dcs["ttl"]
    assert data["postgresql"]["data_dir"] == names.PGDATA


S3_KEYS = ("bucket", "endpoint", "region", "uri_style", "key_type")
# Where a member finds the object storage's CA (a secret of its own, copied there at start).
S3_CA_FILE = "/run/sentinel/s3-ca.crt"


def s3_settings(b: Bucket) -> dict:
    """A bucket given at init (object_storage.Bucket) in the shape of the clouds'
    `backup_repository` output, which member_pgbackrest reads (pure)."""
    return {"type": "s3", "bucket": b.bucket, "prefix": b.prefix, "endpoint": b.host,
            "port": b.port, "region": b.region, "uri_style": b.uri_style, "key_type": "shared",
            "access_key_id": b.access_key_id, "secret_access_key": b.secret_access_key,
            "ca_file": S3_CA_FILE if b.ca else None}


def member_pgbackrest(app: str, s3: dict | None = None, cluster: str = "sentinel",
                      retention_full: int = 2) -> str:
    """pgBackRest on a member: archive-push/get to the repository host over TLS, and a TLS
    server so the repository host can take backups from this member. With `s3` (object storage:
    the clouds' `backup_repository` output, or the bucket given at init) the member reaches the
    bucket itself, under [/<prefix>]/<cluster>/<app>."""
    if s3:
        missing = [k for k in S3_KEYS if not s3.get(k)]
        if missing or (s3["key_type"] == "shared" and not (s3.get("access_key_id") and
                                                          s3.get("secret_access_key"))):
            raise ValueError(f"backup_repository lacks {', '.join(missing) or 'its keys'}")
    prefix = "/" + s3["prefix"] if s3 and s3.get("prefix") else ""
    text = render("pgbackrest.conf.j2", app=app, repo_host=False, stanza=names.stanza(app),
                  tls=MEMBER_TLS, client_cn=app, repo_alias=names.REPO_ALIAS, pgdata=names.PGDATA,
                  members=[], s3=s3, repo_path=f"{prefix}/{cluster}/{app}",
                  retention_full=retention_full)
    ini = parse_ini(text)
    assert ini[names.stanza(app)]["pg1-path"] == names.PGDATA
    assert ("repo1-host" in ini["global"]) != bool(s3)
    return text


def repo_pgbackrest(app: str, members: list[str], *, retention_full: int = 2) -> str:
    """pgBackRest on the repository host: the repository itself, and every member as a pg host
    (backups come from a standby when there is one)."""
    text = render("pgbackrest.conf.j2", app=app, repo_host=True, stanza=names.stanza(app), s3=None,
                  tls=MEMBER_TLS, client_cn=app, repo_path="/var/lib/pgbackrest",
                  retention_full=retention_full, backup_standby=len(members) > 1,
                  members=members, pgdata=names.PGDATA)
    ini = parse_ini(text)
    hosts = [v for k, v in ini[names.stanza(app)].items() if k.endswith("-host")]
    assert hosts == members, hosts
    return text


def haproxy_config(app: str, members: list[str], check_ms: int = 500) -> str:
    return render("haproxy.cfg.j2", app=app, members=members, check_ms=check_ms,
                  rest_port=REST_PORT)


# ---- TLS: one key pair per app, signed by the cluster CA, for pgBackRest's servers and clients
def tls_aliases() -> list[str]:
    return [names.REPO_ALIAS] + [names.member(i) for i in range(MAX_MEMBER_INDEX + 1)]


def tls_ext(app: str) -> str:
    """openssl x509 extension file: server and client use, every alias as a DNS name."""
    sans = ",".join(f"DNS:{a}" for a in tls_aliases())
    return (f"subjectAltName={sans}\nextendedKeyUsage=serverAuth,clientAuth\n"
            "keyUsage=digitalSignature,keyEncipherment\n")


def tls_key_argv(key: Path, csr: Path, app: str) -> list[str]:
    # The subject's CN is what pgBackRest's tls-server-auth matches: the app's name.
    return ["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-sha256", "-subj", f"/CN={app}",
            "-keyout", str(key), "-out", str(csr)]


# libpq notices a dead peer within seconds instead of minutes (the primary may move).
URL_PARAMS = "connect_timeout=3&keepalives=1&keepalives_idle=5&keepalives_interval=2&keepalives_count=2"


def database_url(host: str, user: str, database: str, password: str) -> str:
    """The URL an app's tasks reach their database by (HAProxy's one address)."""
    return f"postgresql://{user}:{password}@{host}:5432/{database}?{URL_PARAMS}"
