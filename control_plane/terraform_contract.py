"""The Terraform variable contract: each shared variable defined once, linked into the modules.

Terraform takes a root module's input variables only from .tf files in the module's own folder
(a child module cannot declare them for it), and every module under terraform/ is a root module
of its own. So a definition several modules share is one file in terraform/contract/, and each
module that takes it holds a relative symlink to it, `contract_<file>`; a provider's size and
region (their defaults are the provider's) are its cluster module's size_region.tf, which its
control-plane module links. Links rather than generated copies: there is one hand-edited text
and nothing to regenerate, while each folder stays a complete root module, because Terraform
and python-hcl2 read a link as the file, TerraformRunner copies the content into the cluster's
working folder, and remote.source_archive packs it as a plain file. `duplicates` skips links.

`python -m control_plane.terraform_contract link` makes the links a module lacks (a new
provider: see docs/providers.md); `check` lists what differs from this table, as
tests/unit/test_terraform_contract.py does.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from .paths import TERRAFORM_DIR

CONTRACT = "contract"
LINK_PREFIX = "contract_"
SIZE_REGION = "size_region.tf"
# Providers whose nodes no firewall filters (this host's Docker network): the ssh sources are
# optional there, so their modules define control_plane_cidr / admin_cidr themselves.
UNFILTERED = frozenset({"local"})


def contract_files(provider: str, kind: str) -> list[str]:
    """The files of terraform/contract/ a module links; kind is "cluster" or "controlplane"."""
    cloud = provider not in UNFILTERED
    if kind == "cluster":
        return ["common.tf", "cluster.tf"] + (["cluster_cloud.tf"] if cloud else [])
    return ["common.tf"] + (["controlplane_cloud.tf"] if cloud else [])


def modules(root: Path = TERRAFORM_DIR) -> list[tuple[str, str, Path]]:
    """(provider, kind, folder) of every module: terraform/<provider>/ and its controlplane/."""
    out = []
    for d in sorted(p for p in root.iterdir() if p.is_dir() and p.name != CONTRACT):
        if any(d.glob("*.tf")):
            out.append((d.name, "cluster", d))
        if (d / "controlplane").is_dir():
            out.append((d.name, "controlplane", d / "controlplane"))
    return out


def expected_links(provider: str, kind: str, folder: Path,
                   root: Path = TERRAFORM_DIR) -> dict[str, str]:
    """{link name in folder: its relative target}."""
    up = os.path.relpath(root, folder)
    links = {f"{LINK_PREFIX}{f}": f"{up}/{CONTRACT}/{f}" for f in contract_files(provider, kind)}
    if kind == "controlplane":
        links[SIZE_REGION] = f"../{SIZE_REGION}"
    return links


def drift(root: Path = TERRAFORM_DIR) -> list[str]:
    """What differs from the table above: a link missing, pointing elsewhere or replaced by a
    copy, a module's own size_region.tf missing, a stray contract_* file."""
    problems = []
    for name in sorted({f for p, k, d in modules(root) for f in contract_files(p, k)}):
        if not (root / CONTRACT / name).is_file() or (root / CONTRACT / name).is_symlink():
            problems.append(f"{CONTRACT}/{name}: missing (the one definition)")
    for provider, kind, folder in modules(root):
        where = folder.relative_to(root)
        links = expected_links(provider, kind, folder, root)
        for name, target in links.items():
            path = folder / name
            if not path.is_symlink():
                problems.append(f"{where}/{name}: " + ("a copy, not a link" if path.exists()
                                                        else f"missing (link to {target})"))
            elif os.readlink(path) != target:
                problems.append(f"{where}/{name}: links to {os.readlink(path)}, not {target}")
        for path in folder.glob(f"{LINK_PREFIX}*.tf"):
            if path.name not in links:
                problems.append(f"{where}/{path.name}: not part of this module's contract")
        if kind == "cluster" and not (folder / SIZE_REGION).is_file():
            problems.append(f"{where}/{SIZE_REGION}: missing (the provider's size and region)")
    return problems


def link(root: Path = TERRAFORM_DIR) -> list[str]:
    """Make the missing links and correct the wrong ones; a copy is left for a person to remove
    (it may hold an edit meant for the contract). Returns what it did."""
    done = []
    for provider, kind, folder in modules(root):
        for name, target in expected_links(provider, kind, folder, root).items():
            path = folder / name
            if path.is_symlink() and os.readlink(path) == target:
                continue
            if path.exists() and not path.is_symlink():
                done.append(f"{path.relative_to(root)}: a copy, left as it is: move any edit "
                            f"to {target}, remove the file and run `link` again")
                continue
            if path.is_symlink():
                path.unlink()
            path.symlink_to(target)
            done.append(f"{path.relative_to(root)} -> {target}")
    return done


def main(argv: list[str]) -> int:
    if argv[:1] == ["link"]:
        for line in link():
            print(line)
        return 0
    if argv[:1] == ["check"]:
        problems = drift()
        for line in problems:
            print(line)
        return 1 if problems else 0
    print("usage: python -m control_plane.terraform_contract link|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
