"""The swarm objects of an app's database, apart from its orchestration: the credentials and
configuration (swarm secrets and configs, named by content), the TLS key pair, and the `db` part of
the app's stack file. Below the stack and the database service: both use it, it uses neither."""
from __future__ import annotations

from .. import executor, names, secrets
from ..database_config import (FAST, MAX_MEMBER_INDEX, Passwords, database_url, haproxy_config,
                               member_pgbackrest, patroni_config, repo_pgbackrest, s3_settings,
                               tls_ext, tls_key_argv)
from ..docker_cli import (config_create_argv, config_ls_argv, config_rm_argv, secret_create_argv,
                          secret_ls_argv, secret_rm_argv)
from ..object_storage import Bucket, bucket_of
from ..platform import Platform
from ..records import App, Node


def pg_kinds(repo: bool, s3_ca: bool = False) -> tuple[str, ...]:
    return ("patroni", "member_pgbackrest", "tls_key", "tls_cert", "ca") + (
        ("repo_pgbackrest",) if repo else ()) + (("s3_ca",) if s3_ca else ())


# The secrets a task running pgBackRest against the app's repository mounts (a member, a restore,
# a copy), with their file names: the object storage's CA only where there is one.
PGBACKREST_FILES = (("member_pgbackrest", "pgbackrest.conf"), ("tls_key", "tls.key"),
                    ("tls_cert", "tls.crt"), ("ca", "ca.crt"), ("s3_ca", "s3-ca.crt"))


def pgbackrest_mounts(objects: dict[str, str]) -> list[tuple[str, str]]:
    """(secret name, file name) of PGBACKREST_FILES among the app's secrets `objects` (pure)."""
    return [(objects[kind], target) for kind, target in PGBACKREST_FILES if kind in objects]


class DbObjects:
    def __init__(self, platform: Platform):
        self.p = platform
        self.store = platform.store

    def app_nodes(self, ready_only: bool = True) -> list[str]:
        """Nodes that may hold members (not the backup node), in index order."""
        states = self.node_states()
        nodes = [n.name for n in self.store.nodes() if n.role != "backup"]
        nodes.sort(key=lambda n: int(n.rsplit("-", 1)[-1]) if n.rsplit("-", 1)[-1].isdigit() else 0)
        return [n for n in nodes if states.get(n) == "ready"] if ready_only else nodes

    def node_states(self) -> dict[str, str]:
        return self.p.node_states()

    def repo_node(self) -> Node | None:
        """The node that holds the repositories: the backup node, unless object storage does."""
        return None if self.object_storage() else self.store.backup_node()

    def has_repo_node(self) -> bool:
        return self.repo_node() is not None

    def given_bucket(self) -> Bucket | None:
        """The bucket given at init (`--backup-repo`), if any."""
        return bucket_of(self.p.spec.backup_repo, None) if self.p.spec.backup_repo else None

    def repo_hosts(self) -> list[str]:
        """"name:address" for the /etc/hosts of tasks that reach the object storage, when its
        address was given at init (the nodes' DNS does not know the endpoint's name)."""
        b = self.given_bucket()
        return [f"{b.host}:{b.address}"] if b and b.address else []

    def object_storage(self) -> dict | None:
        """Where the repositories live when it is object storage: the bucket given at init
        (`--backup-repo`), else the clouds' bucket (Terraform's `backup_repository` output)."""
        given = self.given_bucket()
        if given:
            return s3_settings(given)
        repo = self.p.outputs.backup_repository or {}
        return repo if repo.get("type") == "s3" else None

    def passwords(self, app: str) -> Passwords:
        return Passwords(superuser=secrets.get(names.db_credential(app, "superuser")),
                         replication=secrets.get(names.db_credential(app, "replication")),
                         restapi=secrets.get(names.db_credential(app, "restapi")),
                         etcd=secrets.get(names.db_credential(app, "etcd")))

    def tls(self, app: str) -> dict[str, str]:
        """The app's key pair for pgBackRest's TLS (signed by the cluster CA), made once."""
        folder = self.p.dir / "db-tls" / app
        key, cert = folder / "tls.key", folder / "tls.crt"
        ca_dir = self.p.dir / "registry-tls"
        if not cert.exists():
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            csr, ext = folder / "tls.csr", folder / "tls.ext"
            ext.write_text(tls_ext(app))
            executor.run(tls_key_argv(key, csr, app), what="creating the database's TLS key")
            executor.run(secrets.sign_argv(csr, ca_dir / "ca.key", ca_dir / "ca.crt", cert, ext,
                                           secrets.random_serial()),
                         what="signing the database's TLS certificate")
            key.chmod(0o600)
        return {"tls_key": key.read_text(), "tls_cert": cert.read_text(),
                "ca": (ca_dir / "ca.crt").read_text()}

    def contents(self, app: App) -> tuple[dict[str, str], str]:
        """(secret kind -> content, HAProxy config) for the app's current members."""
        name = app.name
        # The repository host backs up from running members only (a stopped one has no address).
        members = [m.key for m in app.db.members if not m.stopped]
        out = {"patroni": patroni_config(name, self.passwords(name), timing=FAST,
                                         archive=app.backed_up),
               "member_pgbackrest": member_pgbackrest(name, self.object_storage(),
                                                      self.p.spec.name), **self.tls(name)}
        if self.has_repo_node():
            out["repo_pgbackrest"] = repo_pgbackrest(name, members)
        given = self.given_bucket()
        if given and given.ca:
            out["s3_ca"] = given.ca
        # For the web tasks (DATABASE_URL_FILE), not the members.
        out["database_url"] = database_url(names.db_service(name), app.db.user, app.db.name,
                                           secrets.get(names.db_credential(name)))
        # Every possible member is listed: HAProxy's config never changes when members move.
        proxy = haproxy_config(name, [names.member(i) for i in range(MAX_MEMBER_INDEX + 1)])
        return out, proxy

    def ensure(self, app: App) -> dict[str, str]:
        """Create the swarm secrets and config the app's database needs (named by content, so an
        unchanged content means an unchanged service); return kind -> name."""
        name = app.name
        contents, proxy = self.contents(app)
        labels = {"sentinel.app": name}
        have_secrets = {s["Name"] for s in self.p.docker.json_lines(
            secret_ls_argv(label=f"sentinel.app={name}"))}
        out = {}
        for kind, content in contents.items():
            obj = names.versioned(name, f"pg-{kind.replace('_', '-')}", content)
            if obj not in have_secrets:
                self.p.docker.run(secret_create_argv(obj, labels), input=content,
                                  what="docker secret create")
            out[kind] = obj
        have_configs = {c["Name"] for c in self.p.docker.json_lines(
            config_ls_argv(label=f"sentinel.app={name}"))}
        obj = names.versioned(name, "haproxy", proxy)
        if obj not in have_configs:
            self.p.docker.run(config_create_argv(obj, labels), input=proxy,
                              what="docker config create")
        out["haproxy"] = obj
        return out

    def forget_old(self, name: str, keep: set[str]) -> None:
        """Remove the app's versioned secrets and configs no service uses any more (the swarm
        refuses to remove one in use, which is what we want)."""
        prefix = f"{name}-pg-"
        old = [s["Name"] for s in self.p.docker.json_lines(
            secret_ls_argv(label=f"sentinel.app={name}"), check=False)
            if s["Name"].startswith(prefix) and s["Name"] not in keep]
        if old:
            self.p.docker.run(secret_rm_argv(old), check=False)
        old = [c["Name"] for c in self.p.docker.json_lines(
            config_ls_argv(label=f"sentinel.app={name}"), check=False)
            if c["Name"].startswith(f"{name}-haproxy-") and c["Name"] not in keep]
        if old:
            self.p.docker.run(config_rm_argv(old), check=False)

    def stack_context(self, app: App) -> dict:
        """The `db` part of compose_templates/app.yml.j2."""
        db = app.db
        objects = self.ensure(app)
        repo = self.has_repo_node()
        member_secrets = [objects[k] for k in pg_kinds(repo, "s3_ca" in objects)]
        proxy_nodes = max(1, min(2, len(self.app_nodes(ready_only=False))))
        return {
            "user": db.user, "name": db.name, "password_secret": db.secret,
            "image": self.p.stack_image("postgres"), "proxy_image": self.p.stack_image("haproxy"),
            "proxy_config": objects["haproxy"], "proxy_replicas": proxy_nodes,
            "repo_hosts": self.repo_hosts(),
            "secrets": objects,
            "all_secrets": sorted(set(member_secrets) | {db.secret, objects["database_url"]}),
            "members": [{"key": m.key,
                         "volume_key": names.member_volume_key(m.index), "node": m.node,
                         "path": m.path, "replicas": 0 if m.stopped else 1} for m in db.members],
            "repo": {"host_path": names.repo_path(app.name), "alias": names.REPO_ALIAS}
            if repo else None,
        }
