"""Every name derived from an app's name, in one place (pure).

Swarm names are `<stack>_<service key>`; an app's stack is named after the app. Inside an app's
overlay network the database parts also answer to short aliases (`pg-0`, `backup`), which are
what the TLS certificates name, since swarm service names hold an underscore.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

ROLES = ("production", "canary", "baseline")
SERVICE_KEY = {"production": "web", "canary": "canary", "baseline": "baseline"}
DCS_STACK = "sentinel-dcs"
DCS_NETWORK = "sentinel-dcs"
DCS_NAMESPACE = "/sentinel/"
# Inside a member container.
PGDATA = "/var/lib/postgresql/data/pgdata"
# On the backup node, one folder per app (bind-mounted from the control plane's machine locally).
BACKUP_ROOT = "/var/lib/sentinel/backups"
# The node label that marks the backup node: only backup repositories run there.
BACKUP_LABEL = "sentinel.backup"


def stack(app: str) -> str:
    return app


def service(app: str, role: str) -> str:
    """The swarm service of a web role (production|canary|baseline)."""
    return stack_object(app, SERVICE_KEY.get(role, role))


def web_role(service: str) -> str | None:
    """The web role (production|canary|baseline) a swarm service runs, or None (a process
    type's, the database's…)."""
    key = service.split("_", 1)[1] if "_" in service else ""
    return next((role for role, k in SERVICE_KEY.items() if k == key), None)


# Names an app may not take: the platform's own services and hosts.
RESERVED_APPS = frozenset({"sentinel", "sentinel-registry", "prometheus", "grafana", "traefik",
                           "registry"})


# Process types (Procfile) that are not services of their own, or whose stack key is taken.
RESERVED_PROCESSES = frozenset({"web", "release", "canary", "baseline", "db", "repo", "backup"})


def process_key(role: str, process: str) -> str:
    """A process type's stack key: `worker` for production's, `canary-worker` for the canary's
    (a process name has no dash, so no two collide)."""
    return process if role == "production" else f"{role}-{process}"


def process_service(app: str, role: str, process: str) -> str:
    """The swarm service of a process type (production's or the canary's)."""
    return stack_object(app, process_key(role, process))


def app_of(service: str) -> str:
    """The app a swarm service of its stack belongs to (app names hold no '_')."""
    return service.split("_", 1)[0]


def stack_object(stack: str, what: str) -> str:
    """A swarm service or volume of a stack, as swarm names it (`<stack>_<key>`): a member (pg-0),
    a one-off task's kind (release, restore, probe, run-<id>…), an etcd member's volume."""
    return f"{stack}_{what}"


def network(app: str) -> str:
    return f"app-{app}"


def db_network(app: str) -> str:
    """The app's database's own network: its members, its repository, its HAProxy (also on the
    app's network), the restores and copies that read its repository; never the app's tasks."""
    return f"db-{app}"


def edge_network(slot: int) -> str:
    """One of the edge networks init makes: an app's web tasks share it with Traefik only."""
    return f"sentinel-edge-{slot}"


# The edge's VRRP instance (keepalived on the managers). One per cluster network, so one number.
VRRP_ROUTER_ID = 51
KEEPALIVED_CONF = "/etc/keepalived/keepalived.conf"


def traefik_service(app: str, role: str) -> str:
    return f"{app}-{role}"


def traefik_ref(app: str, role: str) -> str:
    """How the file provider names a role's swarm-provided Traefik service."""
    return f"{traefik_service(app, role)}@swarm"


def internal_host(app: str, role: str) -> str:
    """The Host of a role's admin-only Traefik router (compose_templates/app.yml.j2): how the
    control plane asks the running version itself, through Traefik."""
    return f"{traefik_service(app, role)}.sentinel.internal"


def sticky_cookie(app: str) -> str:
    return f"sentinel_{app.replace('-', '_')}"


SECURE_SUFFIX = "-secure"  # the HTTPS entry point's twin of each router


@dataclass(frozen=True)
class TraefikObjects:
    """The names of an app's objects in its Traefik file (compose_templates/traefik_app.yml.j2):
    the template, the checks of what Traefik serves and the metrics' queries all use these."""
    app: str

    def router(self, suffix: str = "") -> str:
        return f"{self.app}{suffix}"

    def read_router(self, suffix: str = "") -> str:  # a shadow canary's reads, mirrored
        return f"{self.app}-read{suffix}"

    def force_router(self, role: str, suffix: str = "") -> str:  # a tester forcing a version
        return f"{self.app}-force-{role}{suffix}"

    @property
    def retry(self) -> str:
        return f"{self.app}-retry"

    @property
    def weighted(self) -> str:
        return f"{self.app}-weighted"

    @property
    def mirror(self) -> str:
        return f"{self.app}-mirror"

    @property
    def maintenance(self) -> str:
        return f"{self.app}-maintenance"


def traefik_file(app: str) -> str:
    return f"app-{app}.yml"


# ---- the database ---------------------------------------------------------------------------
def db_user(app: str) -> str:
    return app.replace("-", "_")


def db_name(app: str) -> str:
    return app.replace("-", "_")


def db_service(app: str) -> str:
    """The address apps connect to (HAProxy in front of the current primary)."""
    return f"{app}_db"


def member(index: int) -> str:
    """A member's Patroni name, stack key and network alias."""
    return f"pg-{index}"


def member_service(app: str, index: int) -> str:
    return stack_object(app, member(index))


def member_volume_key(index: int) -> str:
    return f"pgdata-{index}"


def member_volume(app: str, index: int) -> str:
    return f"{app}_{member_volume_key(index)}"


def repo_service(app: str) -> str:
    return f"{app}_backup"


REPO_ALIAS = "backup"


# The copies of the control plane's own state (control_plane/recovery.py), beside the apps'
# repositories: an app name never starts with a dot.
STATE_COPY_FOLDER = ".control-plane"
STATE_COPY_DIR = f"{BACKUP_ROOT}/{STATE_COPY_FOLDER}"


def local_backup_node(cluster: str) -> str:
    """The local provider's backup node container (terraform/local: local.backup_name)."""
    return f"{cluster}-backup"


def repo_path(app: str) -> str:
    """The app's pgBackRest repository on the backup node."""
    return f"{BACKUP_ROOT}/{app}"


def stanza(app: str) -> str:
    return app


# Copies in seconds (docs/data.md, "Copies"): on the backup node, on a filesystem that can
# reflink where the node has one, each app's copy source (a standby fed by its repository) and
# the copies taken from it, side by side so a copy is a reflink of the source's files.
FAST_ROOT = "/var/lib/sentinel/fast"
# Inside the copy source's container: the app's folder of FAST_ROOT, so the source's data sits
# at PGDATA (the paths Patroni wrote into its configuration still hold).
FAST_MOUNT = "/var/lib/postgresql/data"


def fast_dir(app: str) -> str:
    """The app's folder on the backup node: its copy source and its copies."""
    return f"{FAST_ROOT}/{app}"


def copy_source(app: str) -> str:
    """The swarm service of the app's copy source."""
    return stack_object(app, "copysource")


def copy_source_data(app: str) -> tuple[str, str]:
    """On the backup node: the copy source's data folder and the file that says its first
    restore finished (images/postgres/sentinel-pg, `source`)."""
    return f"{fast_dir(app)}/pgdata", f"{fast_dir(app)}/source-restored"


def copy_dir(source_app: str, copy: str) -> str:
    """Where a copy of `source_app` named `copy` lives on the backup node (its member's data
    folder: a bind mount at the member's data path, PGDATA inside)."""
    return f"{fast_dir(source_app)}/copies/{copy}"


def dcs_prefix(app: str) -> str:
    return f"{DCS_NAMESPACE}{app}/"


def dcs_user(app: str) -> str:
    return f"app-{app}"


# The credentials of an app's database in the control plane's secrets (secrets.json): the app
# role's password, then the superuser's, replication's, Patroni REST API's and etcd user's.
DB_CREDENTIALS = ("app", "superuser", "replication", "restapi", "etcd")


def db_credential(app: str, kind: str = "app") -> str:
    """The key of one of an app's database credentials in the control plane's secrets."""
    if kind not in DB_CREDENTIALS:
        raise ValueError(kind)
    return f"db_{app}" if kind == "app" else f"db_{app}_{kind}"


def db_credentials(app: str) -> list[str]:
    """Every key an app's database has in the control plane's secrets (App names hold no
    underscore, so no other app's key can look like one of these)."""
    return [db_credential(app, k) for k in DB_CREDENTIALS]


def password_secret(app: str) -> str:
    """The app role's password (swarm secret, mounted in web tasks as db_password)."""
    return f"{app}-db-password"


def versioned(app: str, kind: str, content: str | bytes) -> str:
    """A swarm secret or config name for content that can change: swarm objects are immutable,
    so a new content gets a new name (and the old one is removed once unused)."""
    data = content.encode() if isinstance(content, str) else content
    return f"{app}-{kind}-{hashlib.sha256(data).hexdigest()[:10]}"


# ---- what the store and the jobs call things ----------------------------------------------------
# The platform's own records in the store's key-value table.
CLUSTER_KEY = "cluster"                      # the cluster spec init was given
CLUSTER_STATE_KEY = "cluster_state"          # creating | ready | scaling | destroying
TERRAFORM_OUTPUTS_KEY = "terraform_outputs"  # what Terraform made (nodes, addresses)
IMAGES_KEY = "images"                        # the local image tags init used
STACK_IMAGES_KEY = "stack_images"            # the images as the cluster pulls them
DCS_MEMBERS_KEY = "dcs_members"              # etcd's members
EDGE_SLOTS_KEY = "edge_slots"                # which app holds which edge network
REGISTRY_NODE_KEY = "registry_node"        # the node of the registry and Prometheus
EDGE_BEHIND_KEY = "edge_behind"              # managers a route write missed (services/edge.py)


# An operation's target is what it locks: one operation at a time per app (`app:<name>`). Events
# are kept under the app, its canary or its database.
def preview_app(parent: str, preview: str) -> str:
    """The app a preview is: `<parent>-<preview>` (todos-pr-42)."""
    return f"{parent}-{preview}"


def preview_of_branch(branch: str, max_len: int = 20) -> str:
    """The preview a pushed branch becomes: its name as a DNS label (`feature/Login_2` ->
    `feature-login-2`), cut to `max_len`; one that starts with a digit gets `b-` in front."""
    label = re.sub(r"[^a-z0-9]+", "-", branch.lower()).strip("-")
    if not label or not label[0].isalpha():
        label = f"b-{label}"
    return label[:max_len].rstrip("-")


def preview_domain(parent_domain: str, preview: str) -> str:
    """A preview's address: under its parent's main domain (pr-42.todos.example.com)."""
    return f"{preview}.{parent_domain}"


# The key that signs every hook and JSON notification that names no secret of its own
# (secrets.json; `sentinel server signing-key` shows it).
SIGNING_KEY = "webhook_signing_key"
# The public half of the recovery key the control plane's state copies are sealed to (the store).
RECOVERY_PUBLIC_KEY = "recovery_public_key"

# The platform's own events and operations (init, scale, destroy; nodes healed).
CLUSTER_TARGET = "cluster"


def app_target(app: str) -> str:
    return f"app:{app}"


def canary_target(app: str) -> str:
    return f"canary:{app}"


def db_target(app: str) -> str:
    return f"db:{app}"


def build_target(app: str) -> str:
    """Builds of one app run one at a time (and beside its deploys: they change nothing)."""
    return f"build:{app}"


def builds_key(app: str) -> str:
    """The store's history of the app's builds (newest last)."""
    return f"builds:{app}"


def build_tag(registry: str, app: str, digest: str) -> str:
    """An image built from source, in the cluster registry, named by what it was built from."""
    return f"{registry}/{app}:src-{digest[:12]}"


# ---- git push (docs/build.md) -----------------------------------------------------------------
GIT_BRANCH = "main"  # the branch whose push deploys


def git_repo(app: str) -> str:
    """The app's bare repository, relative to the control plane's git root."""
    return f"{app}.git"


def git_token(app: str) -> str:
    """The secret a push to the app's repository is let in with."""
    return f"git_push_token_{app}"


def git_path(app: str) -> str:
    """The repository's path in the control plane's URL."""
    return f"/git/{git_repo(app)}"


BUILD_DOCKERFILE = "Dockerfile.sentinel"  # a generated Dockerfile's name in the build context
BUILD_CA_FILE = "/var/lib/sentinel/build-ca.pem"  # on the build node: SENTINEL_CA for builds


def run_target(app: str, tag: str) -> str:
    """A one-off `sentinel run`: runs of an app may overlap, so each has a target of its own."""
    return f"run:{app}:{tag}"


def db_points_key(app: str) -> str:
    """The store's list of the app's named restore points."""
    return f"db_points:{app}"


def db_drill_key(app: str) -> str:
    """The store's record of the app's last restore drill."""
    return f"db_drill:{app}"


def db_discarded_key(app: str) -> str:
    """The store's record of the data an in-place restore moved aside."""
    return f"db_discarded:{app}"


def db_archiver_key(app: str) -> str:
    """The store's last known archiver state of the app's primary (when none answers)."""
    return f"db_archiver:{app}"
