"""The Terraform variable contract exists once and matches what the control plane sends and reads.

terraform/contract/ holds each shared variable definition once; the modules link those files
(control_plane/terraform_contract.py says which module takes which). Checked here: the links,
that no definition is copied back into a module, that the variables `terraform.tfvars` and
`remote.controlplane_tfvars` produce are exactly the modules' variables, that every key a
provider puts in `extra` is one its module reads (and accepts), that the outputs the control
plane reads exist, that the runner and the server's archive carry a link's content, and that
terraform/local (the module every end-to-end test runs) plans offline with what the control
plane sends and refuses what the contract refuses.
"""
from __future__ import annotations

import ast
import inspect
import json
import os
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

import hcl2  # python-hcl2, from the `test` extra

from control_plane import providers, remote, terraform, terraform_contract as contract
from control_plane.models import ClusterCreate
from control_plane.paths import PROJECT_ROOT, TERRAFORM_DIR
from control_plane.providers.base import Provider

MODULES = contract.modules()
CLUSTERS = [(p, d) for p, k, d in MODULES if k == "cluster"]
CONTROLPLANES = [(p, d) for p, k, d in MODULES if k == "controlplane"]


def _ids(items):
    return [str(d.relative_to(TERRAFORM_DIR)) for _, d in items]


def _variables(folder: Path) -> dict[str, list[tuple[Path, dict]]]:
    """{variable: [(file, body)...]} over the module's .tf files, links read as files."""
    out: dict[str, list] = {}
    for f in sorted(folder.glob("*.tf")):
        with f.open(encoding="utf-8") as fh:
            for block in hcl2.load(fh).get("variable", []):
                for name, body in block.items():
                    out.setdefault(name.strip('"'), []).append((f, body))
    return out


def _text(folder: Path) -> str:
    return "\n".join(f.read_text() for f in sorted(folder.glob("*.tf")))


# --- the links ---------------------------------------------------------------------------------

def test_found_every_provider_and_both_module_kinds():
    assert {p for p, _ in CLUSTERS} >= set(providers.PROVIDERS)
    assert {p for p, _ in CONTROLPLANES} >= set(providers.PROVIDERS)


def test_every_module_links_its_part_of_the_contract():
    assert contract.drift() == []


def test_every_module_declares_each_variable_once():
    """Terraform refuses a variable declared twice (a copy next to a link); python-hcl2 merges
    silently, so count here."""
    for _, _, folder in MODULES:
        twice = {n: [f.name for f, _ in v] for n, v in _variables(folder).items() if len(v) > 1}
        assert not twice, f"{folder.relative_to(TERRAFORM_DIR)} declares twice: {twice}"


def test_no_variable_definition_is_copied():
    """Among the real files (links excluded), no variable block is written twice: a definition
    wanted by two modules belongs in terraform/contract/ or the provider's size_region.tf."""
    seen: dict[str, Path] = {}
    for f in sorted(TERRAFORM_DIR.rglob("*.tf")):
        if f.is_symlink() or ".terraform" in f.parts:
            continue
        for block in re.split(r"\n(?=variable \")", f.read_text()):
            if not block.startswith("variable "):
                continue
            body = re.sub(r"\s+", " ", block.split("\n}\n")[0])
            assert body not in seen, (f"{f.relative_to(TERRAFORM_DIR)} repeats a definition of "
                                      f"{seen[body].relative_to(TERRAFORM_DIR)}")
            seen[body] = f


def test_drift_and_link_on_a_small_tree(tmp_path):
    root = tmp_path / "terraform"
    (root / "contract").mkdir(parents=True)
    for name in ("common.tf", "cluster.tf", "cluster_cloud.tf", "controlplane_cloud.tf"):
        (root / "contract" / name).write_text(f"# {name}\n")
    for p in ("local", "newcloud"):
        (root / p / "controlplane").mkdir(parents=True)
        (root / p / "main.tf").write_text("")
        (root / p / "size_region.tf").write_text("")
    problems = contract.drift(root)
    assert "newcloud/contract_cluster_cloud.tf: missing (link to ../contract/cluster_cloud.tf)" in problems
    assert "newcloud/controlplane/size_region.tf: missing (link to ../size_region.tf)" in problems
    assert not [p for p in problems if p.startswith("local/contract_cluster_cloud")]
    (root / "newcloud" / "contract_common.tf").write_text("# a copy\n")
    done = contract.link(root)
    assert any("newcloud/contract_common.tf: a copy, left as it is" in d for d in done)
    assert contract.drift(root) == ["newcloud/contract_common.tf: a copy, not a link"]
    assert (root / "newcloud" / "contract_common.tf").read_text() == "# a copy\n"
    (root / "newcloud" / "contract_common.tf").unlink()
    (root / "local" / "contract_cluster.tf").unlink()
    (root / "local" / "contract_cluster.tf").symlink_to("../contract/common.tf")
    (root / "local" / "contract_stray.tf").symlink_to("../contract/common.tf")
    assert "local/contract_cluster.tf: links to ../contract/common.tf, not ../contract/cluster.tf" \
        in contract.drift(root)
    contract.link(root)
    assert contract.drift(root) == ["local/contract_stray.tf: not part of this module's contract"]
    assert (root / "local" / "controlplane" / "contract_common.tf").read_text() == "# common.tf\n"


# --- what the control plane sends ---------------------------------------------------------------

def test_tfvars_sends_exactly_the_cluster_variables():
    params = set(inspect.signature(terraform.tfvars).parameters)
    sent = terraform.tfvars(**{p: ("1" if p != "extra" else {"k": "v"}) for p in params})
    assert set(sent) == params, "tfvars renames a variable"
    for provider, folder in CLUSTERS:
        declared = set(_variables(folder))
        assert set(sent) == declared, (
            f"{folder.relative_to(TERRAFORM_DIR)}: declared but never sent {declared - set(sent)}, "
            f"sent but not declared {set(sent) - declared}")
    # What tfvars may leave out has a default in the module; control_plane_cidr is required in
    # the clouds, whose provider always has it on the control plane's server.
    always = set(terraform.tfvars(name="c", nodes=1, ssh_public_key="k"))
    for provider, folder in CLUSTERS:
        required = {n for n, [(_, body)] in _variables(folder).items() if "default" not in body}
        cloud = {"control_plane_cidr"} if provider not in contract.UNFILTERED else set()
        assert required - cloud <= always, f"{provider}: required, yet tfvars may leave out"


def _controlplane_extra(p: Provider) -> dict:
    if type(p).controlplane_extra is Provider.controlplane_extra:
        return p.controlplane_extra({}, log=lambda m: None)
    return {"image": "x"}  # local: the real one builds the server's image


def test_controlplane_tfvars_send_exactly_the_controlplane_variables():
    params = set(inspect.signature(remote.controlplane_tfvars).parameters)
    for provider, folder in CONTROLPLANES:
        p = providers.get(provider)
        sent = remote.controlplane_tfvars(
            **{k: "1" for k in params - {"extra"}}, extra=_controlplane_extra(p))
        declared = set(_variables(folder))
        assert set(sent) == declared, (
            f"{folder.relative_to(TERRAFORM_DIR)}: declared but never sent {declared - set(sent)}, "
            f"sent but not declared {set(sent) - declared}")
        assert set(sent) <= params


def _extra_keys_read(folder: Path) -> set[str]:
    text = _text(folder)
    return set(re.findall(r'var\.extra\["(\w+)"\]', text)) | set(
        re.findall(r'lookup\(var\.extra,\s*"(\w+)"', text))


def _extra_keys_accepted(folder: Path) -> set[str] | None:
    m = re.search(r'keys\(var\.extra\)\s*:\s*contains\(\[([^\]]*)\]', _text(folder))
    return set(re.findall(r'"(\w+)"', m.group(1))) if m else None


@pytest.mark.parametrize("provider", sorted(providers.PROVIDERS))
def test_every_extra_key_sent_is_read_and_accepted(provider, monkeypatch):
    for var in ("HETZNER_S3_ACCESS_KEY", "HETZNER_S3_SECRET_KEY", "HETZNER_S3_LOCATION"):
        monkeypatch.setenv(var, "x")
    sent = set(providers.get(provider).extra(ClusterCreate(provider=provider), {"node": "img"}))
    folder = TERRAFORM_DIR / provider
    assert sent <= _extra_keys_read(folder), f"{provider}: sent, never read: {sent - _extra_keys_read(folder)}"
    accepted = _extra_keys_accepted(folder)
    assert accepted is None or sent <= accepted


# --- what the control plane reads ---------------------------------------------------------------

def _outputs_read() -> dict[str, dict[str, set[str]]]:
    """{"cluster"|"controlplane": {"required": ..., "optional": ...}}: a cluster's outputs are
    records.ClusterOutputs (its fields without a default are required); the control plane's
    server's are read in remote.py as x["k"] (required) and x.get("k") (optional)."""
    from control_plane.records import ClusterOutputs

    fields = ClusterOutputs.model_fields
    found = {"cluster": {"required": {n for n, f in fields.items() if f.is_required()},
                         "optional": {n for n, f in fields.items() if not f.is_required()}},
             "controlplane": {"required": set(), "optional": set()}}

    def is_outputs(node) -> bool:
        return (isinstance(node, ast.Name) and node.id == "outputs") or \
            (isinstance(node, ast.Attribute) and node.attr == "outputs")

    for path in [PROJECT_ROOT / "control_plane" / "remote.py"]:
        kind = "controlplane"
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Subscript) and is_outputs(node.value) and \
                    isinstance(node.slice, ast.Constant):
                found[kind]["required"].add(node.slice.value)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr == "get" and is_outputs(node.func.value) and \
                    node.args and isinstance(node.args[0], ast.Constant):
                found[kind]["optional"].add(node.args[0].value)
    return found


def test_every_output_the_control_plane_reads_exists():
    read = _outputs_read()
    assert {"manager_address", "manager_private_address", "worker_addresses",
            "worker_private_addresses", "ssh_user"} <= read["cluster"]["required"]
    assert "backup_repository" in read["cluster"]["optional"]
    assert {"address", "ssh_user"} <= read["controlplane"]["required"]
    for kind, items in (("cluster", CLUSTERS), ("controlplane", CONTROLPLANES)):
        outputs = {d: set(re.findall(r'^output "(\w+)"', _text(d), re.M)) for _, d in items}
        for d, names in outputs.items():
            missing = read[kind]["required"] - names
            assert not missing, f"{d.relative_to(TERRAFORM_DIR)} lacks outputs the control plane reads: {missing}"
        for name in read[kind]["optional"]:
            assert any(name in names for names in outputs.values()), f"no module outputs {name}"


# --- links on their way: the runner's working folder, the server's archive -------------------------

def test_runner_copies_what_a_link_points_to_and_drops_stale_files(tmp_path):
    (tmp_path / "contract").mkdir()
    (tmp_path / "contract" / "common.tf").write_text('variable "name" {}\n')
    module = tmp_path / "p"
    module.mkdir()
    (module / "main.tf").write_text("")
    (module / "contract_common.tf").symlink_to("../contract/common.tf")
    work = tmp_path / "work"
    work.mkdir()
    (work / "variables.tf").write_text('variable "name" {}\n')  # the module's old layout
    (work / "terraform.tfstate").write_text("{}")
    runner = terraform.TerraformRunner("p", work)
    runner.module = module
    runner._sync_module()
    copied = work / "contract_common.tf"
    assert not copied.is_symlink() and copied.read_text() == 'variable "name" {}\n'
    assert sorted(f.name for f in work.iterdir()) == ["contract_common.tf", "main.tf", "terraform.tfstate"]


def test_source_archive_packs_a_link_as_its_content(tmp_path):
    root = tmp_path / "proj"
    (root / "terraform" / "contract").mkdir(parents=True)
    (root / "terraform" / "local").mkdir()
    (root / "terraform" / "contract" / "common.tf").write_text('variable "name" {}\n')
    (root / "terraform" / "local" / "contract_common.tf").symlink_to("../contract/common.tf")
    archive = remote.source_archive(tmp_path / "a.tar.gz", root)
    with tarfile.open(archive) as tar:
        member = tar.getmember("terraform/local/contract_common.tf")
        assert member.isfile()
        assert tar.extractfile(member).read() == b'variable "name" {}\n'


# --- terraform/local really takes the contract (offline: it needs no provider plugin) -----------------

def _plan(module: str, work: Path, variables: dict) -> subprocess.CompletedProcess:
    runner = terraform.TerraformRunner(module, work)
    runner._sync_module()
    (work / "terraform.tfvars.json").write_text(json.dumps(variables))
    env = {**os.environ, **runner._env()}
    run = lambda argv: subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True,  # noqa: E731
                                      timeout=120)
    init = run(terraform.init_argv(work))
    assert init.returncode == 0, init.stdout + init.stderr
    return run([terraform.terraform_bin(), "plan", "-input=false", "-no-color", "-lock=false",
                "-refresh=false"])


KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK0wmN/Cr3JXqmLW7u+g9pTh+wyqDHpSIeoUNyU6hBHd test"


def test_local_cluster_module_plans_with_what_the_control_plane_sends(tmp_path):
    spec = ClusterCreate(name="e2e", nodes=2)
    sent = terraform.tfvars(name=spec.name, nodes=spec.nodes, ssh_public_key=KEY,
                            extra=providers.get("local").extra(spec, {"node": "sentinel/node:x"}),
                            control_plane_cidr=providers.get("local").control_plane_cidr())
    plan = _plan("local", tmp_path / "ok", sent)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert '+ manager_address          = "172.29.0.10"' in plan.stdout
    bad = _plan("local", tmp_path / "bad", {**sent, "name": "Bad_Name", "admin_cidr": "0.0.0.0/0"})
    assert bad.returncode != 0
    assert "name must be 1-32 characters" in bad.stdout + bad.stderr
    assert "never a /0" in bad.stdout + bad.stderr


def test_local_controlplane_module_plans_with_what_the_control_plane_sends(tmp_path):
    sent = remote.controlplane_tfvars(name="e2e", ssh_public_key=KEY,
                                      extra={"image": "x", "subnet": "172.31.0.0/24", "api_port": "8443"})
    plan = _plan("local/controlplane", tmp_path / "cp", sent)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert '+ address = "172.31.0.5"' in plan.stdout
