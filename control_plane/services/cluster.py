"""Cluster lifecycle: init, scale, inspect, destroy. Runs as background operations."""
from __future__ import annotations

import shutil
from pathlib import Path

from .. import ansible, executor, names, providers, secrets, ssh, topology, validation
from .. import images as builds
from ..docker_cli import (Docker, global_job_argv, image_inspect_argv, image_save_argv, info_argv, node_inspect_argv, node_ls_argv,
                          service_rm_argv)
from ..errors import CommandFailed, InvalidInput, Precondition
from ..jobs import Operation
from ..metrics import parse_duration
from ..models import ClusterCreate
from ..records import ClusterOutputs, Node
from ..swarm_state import NodeStatus, swarm_node
from ..paths import MONITORING_DIR, cluster_dir
from ..platform import ADMIN_USER, REGISTRY_USER, Platform
from ..templates import render
from ..terraform import TerraformRunner, tfvars
from .database import DatabaseService
from .dcs import DCS
from .edge import Edge

UPSTREAM = {"traefik": "traefik:v3.7", "registry": "registry:2",
            "prometheus": "prom/prometheus:v3.0.0", "node_exporter": "prom/node-exporter:v1.8.2",
            "grafana": "grafana/grafana:11.3.0", "node": "docker:dind"}
# Sentinel's own image, with no upstream: built locally and pushed to the cluster registry in
# both image sets.
OWN_IMAGES = ("task-exporter", "postgres", "etcd", "haproxy")
# Grafana's provisioning and dashboards, copied to /etc/sentinel/grafana/<same path> on the manager.
GRAFANA_FILES = ("provisioning/datasources/prometheus.yml", "provisioning/dashboards/sentinel.yml",
                 "dashboards/sentinel.json")
# On the manager, inside Traefik's mounted folder: the CA bundle of a test ACME server.
ACME_CA_PATH = "/etc/sentinel/traefik/acme/ca.pem"
# Prometheus's own default: what the series nobody judges (node load, Prometheus itself) need.
SLOW_SCRAPE_SECONDS = 15


def slow_scrape_interval(interval: str) -> str:
    """The interval of the jobs the judge does not read: the platform's, if slower than 15 s."""
    return interval if parse_duration(interval) >= SLOW_SCRAPE_SECONDS else f"{SLOW_SCRAPE_SECONDS}s"


def check_docker() -> None:
    proc = executor.run(info_argv(), check=False, timeout=20)
    if proc.returncode != 0:
        raise Precondition("the Docker engine is not running on this machine: install and start it "
                           "(`bash scripts/install.sh`) and try again.")


def local_images(build_missing: bool, step=None, names: list[str] | None = None) -> dict[str, str]:
    """Logical name -> local tag of the locally built image set (or of `names` only, when
    building), building what is missing."""
    refs = builds.local_image_refs()
    if build_missing:
        try:
            refs = builds.build_all(names=names, log=step or (lambda m: None))
        except builds.ImageError as e:
            raise Precondition(f"building the local images failed: {e}")
    return {k.replace("-", "_"): v for k, v in refs.items()}


class ClusterService:
    def __init__(self, platform: Platform, db: DatabaseService):
        self.p = platform
        self.store = platform.store
        self.db = db

    # ---- init -------------------------------------------------------------------------------
    def validate(self, spec: ClusterCreate) -> ClusterCreate:
        validation.name(spec.name, "cluster name", 30)
        validation.node_count(spec.nodes)
        validation.port(spec.http_port, "--http-port")
        validation.port(spec.https_port, "--https-port")
        if spec.http_port == spec.https_port:
            raise InvalidInput("--http-port and --https-port must differ.")
        if spec.domain != "localhost":
            validation.domain(spec.domain)
        validation.acme_settings(spec.email, spec.acme_server, spec.acme_ca)
        validation.scrape_interval(spec.scrape_interval)
        if spec.backup_repo:
            r = spec.backup_repo
            validation.object_storage(r.bucket, r.prefix, r.endpoint, r.region, r.access_key_id,
                                      r.secret_access_key, r.ca, r.address)
        raw = self.store.get(names.CLUSTER_KEY)
        existing = ClusterCreate(**raw) if raw else None
        if existing and self.p.state == "ready" and existing.backup_repo != spec.backup_repo:
            # The apps' repositories (their stanzas, WAL and backups) are where they were made.
            where = (f"s3://{existing.backup_repo.bucket}" if existing.backup_repo
                     else "the platform's own repository")
            raise InvalidInput(f"this platform's backups go to {where} and `sentinel init` does not "
                               "move them: run init with the same --backup-repo options.")
        if existing and existing.name != spec.name:
            raise InvalidInput(f"this control plane already manages cluster {existing.name!r}: "
                               "run `sentinel destroy` first or use that name.")
        if existing and self.p.state == "ready" and existing.nodes != spec.nodes:
            # Terraform would simply drop the last nodes, databases and all: scale moves them first.
            raise InvalidInput(f"the platform already has {existing.nodes} node(s) and `sentinel init` "
                               f"does not change that: run `sentinel cluster scale --nodes {spec.nodes}`.")
        return spec

    def init(self, op: Operation, spec: ClusterCreate) -> dict:
        provider = providers.get(spec.provider)
        existing_state = self.store.get(names.CLUSTER_STATE_KEY)
        provider.preflight(spec, existing=existing_state is not None)
        if spec.provider == "local":
            op.step("checking the Docker engine")
            check_docker()
        self.store.put(names.CLUSTER_KEY, spec.model_dump())
        self.store.put(names.CLUSTER_STATE_KEY, "creating")
        images = self._image_set(spec, op)
        self.store.put(names.IMAGES_KEY, images)
        public_key = ssh.ensure_key(provider.ssh_user)

        op.step(f"creating {spec.nodes} node(s) with Terraform ({spec.provider})")
        raw = self._terraform(spec).apply(tfvars(
            name=spec.name, nodes=spec.nodes, ssh_public_key=public_key, size=spec.size,
            region=spec.region, extra=provider.extra(spec, images),
            control_plane_cidr=provider.control_plane_cidr()))
        self.store.put(names.TERRAFORM_OUTPUTS_KEY, raw)  # as Terraform gave them
        outputs = ClusterOutputs.model_validate(raw)
        nodes = topology.all_nodes(spec.name, outputs)
        self.store.set_nodes([n.changed(state="joining") for n in nodes])
        op.step("recording the nodes' ssh host keys")
        for n in nodes:
            ssh.record_host_key(n.address)

        # The registry and Prometheus go to the backup node where there is one: losing node 0
        # then stops neither deploys nor the judge's metrics.
        self.store.put(names.REGISTRY_NODE_KEY, (topology.backup_node(outputs) or nodes[0]).name)
        registry_host = self.p.registry_host
        tls = secrets.registry_tls(self.p.dir / "registry-tls", self.p.registry_node.inner_address)
        op.step("configuring nodes with Ansible")
        inv = ansible.inventory_for(nodes, outputs.ssh_user)
        ansible.run_playbook("node.yml", inv, {
            "docker_daemon_config": {"log-driver": "json-file",
                                     "log-opts": {"max-size": "10m", "max-file": "3"}},
            "registry_host": registry_host, "registry_ca": tls["ca"].read_text()}, step=op.step)
        op.step("forming the swarm")
        ansible.run_playbook("swarm.yml", inv, step=op.step)

        self._deploy_platform(op, spec, images, nodes, tls)
        self.store.set_nodes([n.changed(state="ready") for n in nodes])
        DCS(self.p).ensure(op, topology.dcs_nodes(nodes))
        self.prepull(op)
        self.store.put(names.CLUSTER_STATE_KEY, "ready")
        op.step(f"platform ready: {spec.nodes} node(s) and a backup node, edge at "
                f"{self.p.edge_url(spec.domain)}" if topology.backup_node(outputs) else
                f"platform ready: {spec.nodes} node(s), edge at {self.p.edge_url(spec.domain)}")
        return self.inspect()

    def _image_set(self, spec: ClusterCreate, op: Operation) -> dict[str, str]:
        if spec.image_set == "upstream":
            op.step("building Sentinel's own images (no upstream exists)")
            return {**UPSTREAM, **local_images(build_missing=True, step=op.step,
                                               names=list(OWN_IMAGES))}
        op.step("checking the local image set (building what is missing)")
        imgs = local_images(build_missing=True, step=op.step)
        imgs.setdefault("grafana", "")
        return imgs

    def _terraform(self, spec: ClusterCreate) -> TerraformRunner:
        return TerraformRunner(spec.provider, cluster_dir(spec.name) / "terraform")

    def _deploy_platform(self, op: Operation, spec: ClusterCreate, images: dict[str, str],
                         nodes: list[Node], tls: dict[str, Path]) -> None:
        manager, home = nodes[0], self.p.registry_node  # home: the registry's and Prometheus's node
        files_hosts = ",".join(dict.fromkeys([manager.name, home.name]))
        inv = ansible.inventory_for(nodes, self.p.outputs.ssh_user)
        reg_pw = secrets.get("registry_password")
        admin_pw = secrets.get("admin_password")
        out = self.p.dir / "platform"
        out.mkdir(parents=True, exist_ok=True, mode=0o700)
        local = spec.image_set == "local"
        docker = Docker(home.address)

        op.step(f"starting the cluster registry on {home.name}")
        if local:
            # Nodes pull everything from the cluster registry, except the registry itself.
            have = docker.run(image_inspect_argv(images["registry"]), check=False)
            if have.returncode != 0:
                executor.pipe(image_save_argv(images["registry"]),
                              ssh.ssh_argv(home.address, "docker", "load"),
                              what=f"copying the registry image to {home.name}")
        files = {
            "platform/registry.yml": render("registry.yml.j2", images=images,
                                            endpoint_mode=spec.endpoint_mode,
                                            registry_node=home.name),
            "registry/htpasswd": secrets.htpasswd_line(REGISTRY_USER, reg_pw) + "\n",
            "registry/registry.crt": tls["cert"].read_text(),
            "registry/registry.key": tls["key"].read_text(),
        }
        ansible.run_playbook("platform.yml", inv, {
            "platform_files": self._write_files(out, files), "stack_file": "registry.yml",
            "stack_name": "sentinel-registry", "registry_login": False,
            "files_hosts": files_hosts}, step=op.step)

        registry = self.p.registry()
        pushed = {}
        keys = ["traefik", "prometheus", "node_exporter"] if local else []
        for key in keys + [n.replace("-", "_") for n in OWN_IMAGES]:
            op.step(f"pushing {images[key]} to the cluster registry")
            pushed[key] = registry.push(images[key])
        stack_images = {**images, **pushed}
        self.store.put(names.STACK_IMAGES_KEY, stack_images)

        acme_ca = spec.acme_ca if spec.email else None
        files = {
            "platform/platform.yml": render(
                "platform.yml.j2", images={**stack_images, "grafana": stack_images.get("grafana")},
                endpoint_mode=spec.endpoint_mode, publish_mode=spec.publish_mode,
                monitoring_node=home.name, edge_networks=spec.edge_networks,
                throttle="50ms", acme_email=spec.email, acme_server=spec.acme_server,
                acme_ca=ACME_CA_PATH if acme_ca else None, https_port=spec.https_port,
                tls_redirect=bool(spec.email)),
            "prometheus/prometheus.yml": render(
                "prometheus.yml.j2", scrape_interval=spec.scrape_interval,
                slow_interval=slow_scrape_interval(spec.scrape_interval)),
            "prometheus/admin_password": admin_pw,
            "traefik/dynamic/platform.yml": render(
                "traefik_platform.yml.j2", domain=spec.domain,
                htpasswd_line=secrets.htpasswd_line(ADMIN_USER, admin_pw),
                grafana=bool(stack_images.get("grafana"))),
        }
        if stack_images.get("grafana"):
            files.update({f"grafana/{rel}": (MONITORING_DIR / "grafana" / rel).read_text()
                          for rel in GRAFANA_FILES})
            files["grafana/admin_password"] = admin_pw
        if acme_ca:
            files["traefik/acme/ca.pem"] = acme_ca
        files = self._write_files(out, files)
        op.step("the edge on every manager")
        Edge(self.p).ensure(nodes, op.step)
        op.step("deploying the platform stack (Traefik, Prometheus, node-exporter)")
        ansible.run_playbook("platform.yml", inv, {
            "platform_files": files, "stack_file": "platform.yml",
            "stack_name": "sentinel", "registry_login": True, "registry_user": REGISTRY_USER,
            "registry_password": reg_pw, "registry_host": self.p.registry_host,
            "files_hosts": files_hosts}, step=op.step)
        op.step("waiting for Traefik to answer")
        self.p.traefik().wait_for(lambda: self.p.traefik().get("overview") is not None,
                                  "its configuration", timeout=180, interval=0.5)

    @staticmethod
    def _write_files(folder: Path, files: dict[str, str]) -> list[dict]:
        out = []
        for rel, content in files.items():
            path = folder / rel
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            path.write_text(content)
            path.chmod(0o600)
            secret = rel.endswith((".key", "htpasswd"))
            # Grafana runs as uid 472 in group root: its password is readable by the group.
            # Prometheus runs as nobody: its copy is readable, in a folder only it mounts.
            mode = "0600" if secret else "0640" if rel == "grafana/admin_password" else "0644"
            out.append({"src": str(path), "path": rel, "mode": mode})
        return out

    def prepull(self, op: Operation) -> None:
        """Every node pulls the database images now (a global job, not waited for), so an app's
        first database does not wait for them."""
        images = self.store.get(names.STACK_IMAGES_KEY) or {}
        for key in ("postgres", "haproxy"):
            name = f"sentinel-prepull-{key}"
            self.p.docker.run(service_rm_argv([name]), check=False)
            self.p.docker.run(global_job_argv(name, images[key], ["true"]), check=False,
                              what="pre-pulling the database images")
        op.step("every node is pulling the database images in the background")

    # ---- inspect ----------------------------------------------------------------------------
    def inspect(self) -> dict:
        spec = self.p.spec
        nodes = self.reconcile_nodes()
        return {"name": spec.name, "provider": spec.provider, "state": self.p.state,
                "nodes": [n for n in nodes if n["role"] != "backup"],
                "backup_node": next((n for n in nodes if n["role"] == "backup"), None),
                "backups": self.backups_place(spec),
                "ingress": {"http": self.p.edge_url(spec.domain),
                            "https": self.p.edge_url(spec.domain, https=True),
                            "prometheus": self.p.edge_url(f"prometheus.{spec.domain}")},
                "edge": self.edge_info(nodes),
                "events": self.store.events(target=names.CLUSTER_TARGET, limit=10)}

    def backups_place(self, spec: ClusterCreate) -> str:
        """Where the repositories are, in words (never the keys)."""
        r = spec.backup_repo
        if r:
            return f"s3://{r.bucket}{'/' + r.prefix if r.prefix else ''} at {r.endpoint}"
        repo = self.p.outputs.backup_repository or {}
        if repo.get("type") == "s3":
            return f"s3://{repo.get('bucket')} at {repo.get('endpoint')}"
        return f"the backup node ({repo['name']})" if repo.get("name") else ""

    def edge_info(self, nodes: list[dict]) -> dict:
        outputs = self.p.outputs
        behind = set(self.store.get(names.EDGE_BEHIND_KEY) or [])
        return {"addresses": outputs.edge_addresses, "floating_address": outputs.floating_address,
                "managers": [n["name"] for n in nodes if n["role"] == "manager"],
                "behind": [n["name"] for n in nodes if n["address"] in behind]}

    def reconcile_nodes(self) -> list[dict]:
        """The swarm is the source of truth: refresh the store's nodes from it."""
        stored = {n.name: n for n in self.store.nodes()}
        try:
            docker = self.p.docker
            listed = docker.json_lines(node_ls_argv(), timeout=15)
            found = [swarm_node(d) for d in docker.inspect(node_inspect_argv([n["ID"] for n in listed]),
                                                          timeout=15)]
        except (CommandFailed, Precondition, KeyError) as e:
            return [{**n.model_dump(), "state": "unreachable", "error": str(e)} for n in stored.values()]
        backup = topology.backup_node(self.p.outputs)
        nodes = []
        for seen in sorted(found, key=lambda x: x.name):
            known = stored.get(seen.name)
            nodes.append(seen.changed(role="backup" if backup and seen.name == backup.name else seen.role,
                                      address=known.address if known else seen.address))
        self.store.set_nodes([Node(name=n.name, role=n.role, address=n.address, state=n.state)
                              for n in nodes])
        usage = self._node_usage([n for n in nodes if n.state == "ready"])
        return [{**n.model_dump(), **usage.get(n.name, {})} for n in nodes]

    def _node_usage(self, nodes: list[NodeStatus]) -> dict[str, dict]:
        """Disk use and load of each node, read over ssh (what `df` and /proc say there)."""
        out = {}
        for n in nodes:
            try:
                proc = ssh.run(n.address, "sh", "-c",
                               "df -B1 --output=size,used / | tail -1; cat /proc/loadavg; "
                               "grep -E '^(MemTotal|MemAvailable):' /proc/meminfo",
                               check=False, timeout=5)
            except CommandFailed:  # a node that stopped answering: the swarm state says why
                continue
            if proc.returncode != 0:
                continue
            lines = proc.stdout.split("\n")
            try:
                size, used = (int(x) for x in lines[0].split())
                mem = {l.split(":")[0]: int(l.split()[1]) * 1024 for l in lines[2:4]}
                out[n.name] = {"disk_bytes": size, "disk_used_bytes": used,
                                  "load1": float(lines[1].split()[0]),
                                  "memory_used_bytes": mem["MemTotal"] - mem["MemAvailable"]}
            except (ValueError, IndexError, KeyError):
                continue
        return out

    # ---- scale ------------------------------------------------------------------------------
    def check_scale(self, nodes: int) -> None:
        """Refuse, before anything changes, a scale-down that would leave a database with fewer
        copies than it has (one sentence naming them)."""
        validation.node_count(nodes)
        self.p.require_ready()
        current = topology.node_list(self.p.spec.name, self.p.outputs)
        if nodes < len(current):
            self.db.plan_evacuation(
                [n.name for n in current[nodes:]], [n.name for n in current[:nodes]])

    def scale(self, op: Operation, nodes: int) -> dict:
        try:
            return self._scale(op, nodes)
        except Exception:
            # What ran stays done and a new `cluster scale` converges from there: the platform
            # stays usable (and scalable) meanwhile.
            self.store.put(names.CLUSTER_STATE_KEY, "ready")
            raise

    def _scale(self, op: Operation, nodes: int) -> dict:
        """Scale-down: database members move off the leaving nodes first (a new member caught up
        before the old one goes), etcd and the managers follow the 1-or-3 rule, then the nodes
        drain, leave and are destroyed. Scale-up: the nodes join, then managers and etcd grow."""
        self.check_scale(nodes)
        spec = self.p.spec
        current = topology.node_list(spec.name, self.p.outputs)
        provider = providers.get(spec.provider)
        dcs = DCS(self.p)
        if nodes == len(current):
            # Converge what an interrupted scale may have left: managers and etcd members.
            op.step(f"the cluster already has {nodes} node(s); checking managers and etcd")
            every = topology.all_nodes(spec.name, self.p.outputs)
            ansible.run_playbook("swarm.yml", ansible.inventory_for(every, self.p.outputs.ssh_user),
                                 step=op.step)
            dcs.ensure(op, topology.dcs_nodes(every))
            return self.inspect()
        if nodes < len(current):
            leaving, remaining = current[nodes:], current[:nodes]
            self.db.evacuate(op, [n.name for n in leaving], [n.name for n in remaining])
            managers = [n.name for n in remaining[:topology.manager_count(nodes)]]
            dcs.ensure(op, managers)
            states = self.p.node_states()
            # Managers on nodes that are down go first: Raft keeps its majority at every step.
            demote = sorted((n.name for n in current if n.role == "manager" and n.name not in managers),
                            key=lambda name: states.get(name) == "ready")
            op.step(f"draining {', '.join(n.name for n in leaving)}")
            backup = topology.backup_node(self.p.outputs)
            ansible.run_playbook("leave.yml", ansible.inventory_for(current + ([backup] if backup else []),
                                                                    self.p.outputs.ssh_user),
                                 {"leaving": [n.name for n in leaving], "demote": demote,
                                  "reachable": [n.name for n in leaving if states.get(n.name) == "ready"]},
                                 step=op.step)
        op.step(f"applying Terraform with {nodes} node(s)")
        self.store.put(names.CLUSTER_STATE_KEY, "scaling")
        spec = spec.model_copy(update={"nodes": nodes})
        raw = self._terraform(spec).apply(tfvars(
            name=spec.name, nodes=nodes, ssh_public_key=ssh.ensure_key(provider.ssh_user),
            size=spec.size, region=spec.region,
            extra=provider.extra(spec, self.store.get(names.IMAGES_KEY) or {}),
            control_plane_cidr=provider.control_plane_cidr()))
        self.store.put(names.TERRAFORM_OUTPUTS_KEY, raw)
        outputs = ClusterOutputs.model_validate(raw)
        self.store.put(names.CLUSTER_KEY, spec.model_dump())
        new_nodes = topology.all_nodes(spec.name, outputs)
        if nodes > len(current):
            added = [n for n in new_nodes if n.role != "backup"][len(current):]
            for n in added:
                ssh.forget_host(n.address)
                ssh.record_host_key(n.address)
            inv = ansible.inventory_for(new_nodes, outputs.ssh_user)
            limit = ",".join([new_nodes[0].name] + [n.name for n in added])
            op.step("configuring the new node(s) and joining the swarm")
            tls = self.p.dir / "registry-tls"
            ansible.run_playbook("node.yml", inv, {
                "docker_daemon_config": {"log-driver": "json-file",
                                         "log-opts": {"max-size": "10m", "max-file": "3"}},
                "registry_host": self.p.registry_host,
                "registry_ca": (tls / "ca.crt").read_text()}, limit=limit, step=op.step)
            # Before they become managers: their Traefik finds its files when it starts.
            Edge(self.p).ensure(new_nodes, op.step)
            ansible.run_playbook("swarm.yml", inv, step=op.step)
            self.store.set_nodes([n.changed(state="ready") for n in new_nodes])
            dcs.ensure(op, topology.dcs_nodes(new_nodes))
            self.prepull(op)
        else:
            for n in current[nodes:]:
                ssh.forget_host(n.address)
            Edge(self.p).ensure(new_nodes, op.step)  # below 3 nodes, no floating address
        self.store.set_nodes([n.changed(state="ready") for n in new_nodes])
        self.store.put(names.CLUSTER_STATE_KEY, "ready")
        op.step(f"the cluster has {nodes} node(s)")
        return self.inspect()

    # ---- destroy ----------------------------------------------------------------------------
    def destroy(self, op: Operation) -> dict:
        raw = self.store.get(names.CLUSTER_KEY)
        if not raw:
            op.step("nothing to destroy")
            return {"destroyed": False}
        spec = ClusterCreate(**raw)
        self.store.put(names.CLUSTER_STATE_KEY, "destroying")
        op.step("destroying the nodes with Terraform")
        outputs = self.store.get(names.TERRAFORM_OUTPUTS_KEY) or {}
        self._terraform(spec).destroy()
        for addr in [outputs.get("manager_address"), *(outputs.get("worker_addresses") or [])]:
            if addr:
                ssh.forget_host(addr)
        shutil.rmtree(cluster_dir(spec.name), ignore_errors=True)
        for key in (names.CLUSTER_KEY, names.CLUSTER_STATE_KEY, names.TERRAFORM_OUTPUTS_KEY,
                    names.IMAGES_KEY, names.STACK_IMAGES_KEY):
            self.store.delete(key)
        self.store.set_nodes([])
        for app in self.store.apps():
            self.store.delete_app(app.name)
        op.step("everything init created is gone")
        return {"destroyed": True}
