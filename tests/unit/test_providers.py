"""The cloud providers' Python side of the backup bucket: which environment variables each needs,
how they reach the module (`extra` for Hetzner, the Terraform provider's own environment for
DigitalOcean, an instance role on AWS) and that they travel to a remote control plane."""
from __future__ import annotations

import json
import os
import stat

import pytest

from control_plane import executor, providers, remote, terraform
from control_plane.errors import Precondition
from control_plane.models import ClusterCreate
from control_plane.providers.cloud import backup_extra

BACKUP_ENV = {
    "aws": (),
    "digitalocean": ("SPACES_ACCESS_KEY_ID", "SPACES_SECRET_ACCESS_KEY"),
    "hetzner": ("HETZNER_S3_ACCESS_KEY", "HETZNER_S3_SECRET_KEY"),
}
API_ENV = {"aws": "AWS_ACCESS_KEY_ID", "digitalocean": "DIGITALOCEAN_TOKEN", "hetzner": "HCLOUD_TOKEN"}


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("aws", "digitalocean", "hetzner"):
        for v in providers.get(name).credential_env_all:
            monkeypatch.delenv(v, raising=False)
    return monkeypatch


@pytest.mark.parametrize("name", sorted(BACKUP_ENV))
def test_backup_keys_are_required_and_named(clean_env, name):
    p = providers.get(name)
    assert p.backup_env == BACKUP_ENV[name]
    clean_env.setenv(API_ENV[name], "x")
    if p.backup_env:
        with pytest.raises(Precondition, match=" and ".join(p.backup_env)):
            p.preflight(ClusterCreate(provider=name), existing=False)
    for v in p.backup_env:
        clean_env.setenv(v, "x")
    p.preflight(ClusterCreate(provider=name), existing=False)


@pytest.mark.parametrize("name", sorted(BACKUP_ENV))
def test_backup_keys_travel_to_a_remote_control_plane(clean_env, name):
    p = providers.get(name)
    assert set(p.backup_env) <= set(p.credential_env_all)
    for v in p.backup_env:
        clean_env.setenv(v, f"value-of-{v}")
    assert {k: v for k, v in remote.credential_env(p).items() if k in p.backup_env} == {
        v: f"value-of-{v}" for v in p.backup_env}


def test_hetzner_keys_reach_the_module_through_extra(clean_env):
    clean_env.setenv("HETZNER_S3_ACCESS_KEY", "AKIDEXAMPLE")
    clean_env.setenv("HETZNER_S3_SECRET_KEY", "very-secret-key")
    extra = providers.get("hetzner").extra(ClusterCreate(provider="hetzner"), {})
    assert extra == {"s3_access_key_id": "AKIDEXAMPLE", "s3_secret_access_key": "very-secret-key"}
    assert executor.mask("key very-secret-key") == "key *****"
    clean_env.setenv("HETZNER_S3_LOCATION", "hel1")
    assert backup_extra(os.environ)["s3_location"] == "hel1"
    # An empty value is left out, so the module's validation names what is missing.
    assert backup_extra({"HETZNER_S3_ACCESS_KEY": "", "HETZNER_S3_SECRET_KEY": "s"}) == {
        "s3_secret_access_key": "s"}


def test_other_clouds_pass_no_keys_in_extra(clean_env):
    for name in ("aws", "digitalocean"):
        for v in BACKUP_ENV[name]:
            clean_env.setenv(v, "x")
        assert providers.get(name).extra(ClusterCreate(provider=name), {}) == {}


def test_tfvars_file_is_private(tmp_path, monkeypatch):
    """`extra` may carry a key, so the tfvars file is 0600 like the state."""
    runner = terraform.TerraformRunner("hetzner", tmp_path / "work")
    monkeypatch.setattr(runner, "_run", lambda argv, what, timeout=900: None)
    monkeypatch.setattr(runner, "outputs", lambda: {})
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / ".terraform").mkdir()  # skip init
    runner.apply({"extra": {"s3_secret_access_key": "s"}})
    tfvars = tmp_path / "work" / "terraform.tfvars.json"
    assert stat.S_IMODE(tfvars.stat().st_mode) == 0o600
    assert json.loads(tfvars.read_text())["extra"] == {"s3_secret_access_key": "s"}
