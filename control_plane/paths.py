"""Where things live: the project's own files and the user's SENTINEL_HOME."""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TERRAFORM_DIR = PROJECT_ROOT / "terraform"
PLAYBOOKS_DIR = PROJECT_ROOT / "playbooks"
TEMPLATES_DIR = PROJECT_ROOT / "compose_templates"
MONITORING_DIR = PROJECT_ROOT / "monitoring"


def sentinel_home() -> Path:
    return Path(os.environ.get("SENTINEL_HOME") or Path.home() / ".sentinel")


def cluster_dir(name: str) -> Path:
    return sentinel_home() / "clusters" / name
