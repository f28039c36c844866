"""The control plane on its own server: created by Terraform (terraform/<provider>/controlplane),
installed by playbooks/control_plane.yml, both run from the CLI's machine with the one Terraform
runner and the one Ansible runner.

The CLI machine keeps the server's own Terraform state and the ssh key that reaches it under
SENTINEL_HOME/controlplane and SENTINEL_HOME/ssh; its config.json holds only the server's URL, its
certificate's SHA-256 fingerprint and the API token. The cluster's Terraform state lives on the
server (/var/lib/sentinel/clusters/<name>/terraform, mode 0600).
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import secrets as pysecrets
import shlex
import ssl
import socket
import sys
import tarfile
from importlib import metadata
from pathlib import Path
from typing import Callable

from . import ansible, executor, firewall, providers, ssh
from .errors import CommandFailed
from .paths import PROJECT_ROOT, sentinel_home
from .terraform import TerraformRunner

EDGE_DIR = "/etc/sentinel-edge"
API_LOCAL_PORT = 8765
# What the server needs of this project: the code and the files it reads at run time.
SOURCE_DIRS = ("cli", "control_plane", "terraform", "playbooks", "compose_templates", "monitoring",
               "examples", "images")
SOURCE_FILES = ("pyproject.toml",)
_SKIP_DIRS = {"__pycache__", ".terraform", ".pytest_cache", ".git", "node_modules"}
_SKIP_SUFFIXES = (".pyc", ".pyo", "~", ".tfstate", ".tfstate.backup")


def controlplane_dir() -> Path:
    return sentinel_home() / "controlplane"


def new_token() -> str:
    return pysecrets.token_urlsafe(32)


# ---------------------------------------------------------------- pure parts

def source_members(root: Path = PROJECT_ROOT) -> list[Path]:
    """Files that go to the server, relative to root, sorted."""
    out: list[Path] = []
    for name in SOURCE_FILES:
        if (root / name).is_file():
            out.append(Path(name))
    for d in SOURCE_DIRS:
        for dirpath, dirnames, filenames in os.walk(root / d):
            dirnames[:] = [x for x in dirnames if x not in _SKIP_DIRS and not x.endswith(".egg-info")]
            for fn in filenames:
                if not fn.endswith(_SKIP_SUFFIXES) and not fn.startswith(".terraform"):
                    out.append((Path(dirpath) / fn).relative_to(root))
    return sorted(out)


def source_archive(dest: Path, root: Path = PROJECT_ROOT) -> Path:
    """A reproducible .tar.gz of the project (same files, same bytes), so a second install
    copies nothing and reinstalls nothing."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel in source_members(root):
            path = root / rel
            info = tarfile.TarInfo(rel.as_posix())
            info.size = path.stat().st_size
            info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "root", "root"
            with open(path, "rb") as f:
                tar.addfile(info, f)
    dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(dest, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        gz.write(buf.getvalue())
    return dest


def controlplane_tfvars(*, name: str, ssh_public_key: str, size: str | None = None,
                       region: str | None = None, admin_cidr: str | None = None,
                       extra: dict[str, str] | None = None) -> dict:
    """A control-plane module's variables (terraform/contract/: common.tf,
    controlplane_cloud.tf, plus the provider's size, region and, for local only, extra); what
    is empty is left to the module's default. tests/unit/test_terraform_contract.py keeps the
    two equal."""
    out: dict = {"name": name, "ssh_public_key": ssh_public_key,
                 **{k: v for k, v in (("size", size), ("region", region),
                                      ("admin_cidr", admin_cidr)) if v}}
    if extra:
        out["extra"] = extra
    return out


def _req_name(req: str) -> str:
    return re.split(r"[\s\[<>=!~;(]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def constraints(dist: str = "sentinel-paas", extras: tuple[str, ...] = ("images",),
                version_of: Callable[[str], str | None] | None = None,
                requires_of: Callable[[str], list[str]] | None = None) -> str:
    """`name==version` for the installed closure of `dist`'s dependencies (with `extras`), so
    the server runs the versions this machine runs. Local versions (`+cpu`) are left out."""
    from packaging.markers import default_environment
    from packaging.requirements import Requirement

    def _version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    def _requires(name: str) -> list[str]:
        try:
            return metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            return []

    version_of, requires_of = version_of or _version, requires_of or _requires
    env = default_environment()
    pins: dict[str, str] = {}
    todo: list[tuple[str, tuple[str, ...]]] = [(dist, extras)]
    seen: set[str] = set()
    while todo:
        name, want = todo.pop()
        key = _req_name(name)
        if (key, want) in seen:
            continue
        seen.add((key, want))
        for raw in requires_of(key):
            req = Requirement(raw)
            if req.marker and not any(req.marker.evaluate({**env, "extra": e}) for e in ("",) + want):
                continue
            dep = _req_name(req.name)
            version = version_of(dep)
            if version and "+" not in version:
                pins[dep] = version
            todo.append((dep, tuple(sorted(req.extras))))
    pins.pop(_req_name(dist), None)
    return "".join(f"{n}=={v}\n" for n, v in sorted(pins.items()))


def inventory(*, name: str, address: str, ssh_user: str, ssh_config: Path) -> dict:
    return {"all": {
        "vars": {"ansible_user": ssh_user, "ansible_ssh_common_args": f"-F {ssh_config}",
                 "ansible_python_interpreter": "/usr/bin/python3"},
        "hosts": {f"{name}-control-plane": {"ansible_host": address}}}}


def tls_names(address: str, domain: str | None = None) -> list[str]:
    """subjectAltName entries of the self-signed certificate."""
    names = ["DNS:localhost", "IP:127.0.0.1"]
    if address and address != "127.0.0.1":
        kind = "IP" if re.fullmatch(r"[0-9.]+|[0-9a-fA-F:]+", address) else "DNS"
        names.append(f"{kind}:{address}")
    if domain:
        names.append(f"DNS:{domain}")
    return names


def edge_static(*, api_port: int, acme_domain: str | None = None, acme_email: str | None = None,
                acme_server: str | None = None) -> dict:
    """Traefik's static configuration on the server: one TLS entry point, routes from a file."""
    conf: dict = {
        "entryPoints": {"websecure": {"address": f":{api_port}"}},
        "providers": {"file": {"filename": f"{EDGE_DIR}/routes.yml", "watch": True}},
        "log": {"level": "ERROR"},
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
    }
    if acme_domain:
        acme: dict = {"email": acme_email, "storage": f"{EDGE_DIR}/acme.json",
                      # port 80 is closed on the control-plane server: TLS-ALPN-01 on this port
                      "tlsChallenge": {}}
        if acme_server:
            acme["caServer"] = acme_server
        conf["certificatesResolvers"] = {"acme": {"acme": acme}}
    return conf


def edge_routes(*, acme_domain: str | None = None, api_local_port: int = API_LOCAL_PORT) -> dict:
    """Everything on the entry point goes to the API on 127.0.0.1."""
    router: dict = {"rule": "PathPrefix(`/`)", "entryPoints": ["websecure"],
                    "service": "control-plane"}
    routes: dict = {"http": {
        "routers": {"control-plane": router},
        "services": {"control-plane": {"loadBalancer": {
            "servers": [{"url": f"http://127.0.0.1:{api_local_port}"}]}}}}}
    if acme_domain:
        router["tls"] = {"certResolver": "acme", "domains": [{"main": acme_domain}]}
    else:
        router["tls"] = {}
        routes["tls"] = {"stores": {"default": {"defaultCertificate": {
            "certFile": f"{EDGE_DIR}/tls.crt", "keyFile": f"{EDGE_DIR}/tls.key"}}}}
    return routes


def playbook_vars(*, source_archive: Path, constraints: str, token: str, api_port: int,
                  address: str, extra_packages: list[str], host_docker: bool,
                  acme_domain: str | None = None, acme_email: str | None = None,
                  acme_server: str | None = None, pip_ca_bundle: str = "",
                  cloud_env: dict[str, str] | None = None, public_address: str = "",
                  firewall_rules: str = "") -> dict:
    return {
        "source_archive": str(source_archive), "constraints": constraints, "api_token": token,
        "api_port": api_port, "api_local_port": API_LOCAL_PORT,
        "extra_packages": list(extra_packages), "host_docker": host_docker,
        "acme_domain": acme_domain or "", "pip_ca_bundle": pip_ca_bundle,
        "cloud_env": dict(cloud_env or {}), "control_plane_address": public_address,
        "tls_names": tls_names(address, acme_domain),
        "edge_static": edge_static(api_port=api_port, acme_domain=acme_domain,
                                   acme_email=acme_email, acme_server=acme_server),
        "edge_routes": edge_routes(acme_domain=acme_domain),
        "firewall": firewall_vars(firewall_rules),
    }


def firewall_vars(rules: str) -> dict:
    """{} (no firewall on the server) or where its rules go and the command that applies them."""
    if not rules:
        return {}
    return {"rules": rules, "path": firewall.RULES_PATH, "exec": shlex.join(firewall.restore_argv())}


def fingerprint_argv(cert: str = f"{EDGE_DIR}/tls.crt") -> list[str]:
    return ["openssl", "x509", "-in", cert, "-noout", "-fingerprint", "-sha256"]


def parse_fingerprint(text: str) -> str:
    """`sha256 Fingerprint=AB:CD:...` (openssl) -> `ab:cd:...`."""
    m = re.search(r"=\s*([0-9A-Fa-f:]{95})\s*$", text.strip())
    if not m:
        raise CommandFailed(f"could not read the certificate's fingerprint from {text.strip()[:120]!r}")
    return m.group(1).lower()


def cert_fingerprint(der: bytes) -> str:
    d = hashlib.sha256(der).hexdigest()
    return ":".join(d[i:i + 2] for i in range(0, 64, 2))


def fetch_fingerprint(url: str, timeout: float = 10) -> str:
    """The SHA-256 fingerprint of the certificate the server at url presents now (not verified)."""
    from urllib.parse import urlsplit

    u = urlsplit(url)
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection((u.hostname, u.port or 443), timeout=timeout) as raw:
        with ctx.wrap_socket(raw, server_hostname=u.hostname) as s:
            return cert_fingerprint(s.getpeercert(binary_form=True))


def credential_env(provider: providers.Provider, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The provider's credential variables set in this environment (handed to the server's
    control-plane service; never written on this machine)."""
    environ = os.environ if environ is None else environ
    return {k: environ[k] for k in provider.credential_env_all if environ.get(k)}


# ---------------------------------------------------------------- side effects

def _tools_on_path() -> None:
    """ansible-playbook lives beside this interpreter (as for the control plane itself)."""
    here = str(Path(sys.executable).parent)
    if here not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = f"{here}{os.pathsep}{os.environ.get('PATH', '')}"


class ControlPlaneServer:
    """Create, install and remove the control plane's server from the CLI's machine."""

    def __init__(self, provider: str, name: str, log: Callable[[str], None] = lambda m: None):
        self.provider = providers.get(provider)
        self.name = name
        self.log = log

    @property
    def workdir(self) -> Path:
        return controlplane_dir() / "terraform"

    def _terraform(self) -> TerraformRunner:
        return TerraformRunner(f"{self.provider.name}/controlplane", self.workdir)

    def install(self, *, token: str, settings: dict) -> dict:
        """Create the server (or converge it), install the control plane; return
        {url, fingerprint (None with ACME), address, changed (tasks that changed something)}."""
        p = self.provider
        p.controlplane_preflight(settings)
        controlplane_dir().mkdir(parents=True, exist_ok=True, mode=0o700)
        public_key = ssh.ensure_key(p.ssh_user)
        self.log(f"creating the control plane's server with Terraform ({p.name})")
        extra = p.controlplane_extra(settings, log=self.log)
        outputs = self._terraform().apply(controlplane_tfvars(
            name=self.name, ssh_public_key=public_key, size=settings.get("size"),
            region=settings.get("region"), admin_cidr=settings.get("admin_cidr"), extra=extra))
        address, user = outputs["address"], outputs["ssh_user"]
        url = outputs.get("api_url") or f"https://{address}"
        if not (controlplane_dir() / "address").exists():
            ssh.forget_host(address)  # a fresh server has fresh host keys
            ssh.record_host_key(address)
        (controlplane_dir() / "address").write_text(address)

        self.log("installing the control plane with Ansible (packages, Python, services)")
        _tools_on_path()
        archive = source_archive(controlplane_dir() / "source.tar.gz")
        pip_ca = os.environ.get("PIP_CERT") or ""
        domain = settings.get("server_domain")
        executor.register_secret(token)
        extravars = playbook_vars(
            source_archive=archive, constraints=constraints(), token=token,
            api_port=p.controlplane_api_port, address=address,
            extra_packages=list(p.controlplane_packages), host_docker=p.controlplane_host_docker,
            acme_domain=domain, acme_email=settings.get("email"),
            acme_server=settings.get("acme_server"),
            pip_ca_bundle=Path(pip_ca).read_text() if pip_ca and Path(pip_ca).is_file() else "",
            cloud_env=credential_env(p), public_address="" if p.name == "local" else address,
            firewall_rules=p.controlplane_firewall(settings))
        for v in extravars["cloud_env"].values():
            executor.register_secret(v)
        inv = inventory(name=self.name, address=address, ssh_user=user, ssh_config=ssh.config_path())
        stats = ansible.run_playbook("control_plane.yml", inv, extravars, step=self.log,
                                     timeout=1800)
        changed = sum((stats.get("changed") or {}).values())
        archive.unlink(missing_ok=True)
        names = sorted(set(stats.get("changed_tasks") or []))
        self.log(f"control plane installed ({changed} change(s)"
                 + (f": {'; '.join(names)})" if names else ")"))

        fingerprint = None
        if not domain:
            proc = ssh.run(address, *fingerprint_argv(), what="reading the certificate's fingerprint")
            fingerprint = parse_fingerprint(proc.stdout)
        return {"url": url, "fingerprint": fingerprint, "address": address, "changed": changed}

    def destroy(self) -> None:
        self.log("removing the control plane's server with Terraform")
        self._terraform().destroy()
        addr = controlplane_dir() / "address"
        if addr.exists():
            ssh.forget_host(addr.read_text().strip())

