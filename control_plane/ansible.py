"""The one Ansible runner: builds the inventory (pure) and runs playbooks with ansible-runner."""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from .errors import CommandFailed
from .executor import mask
from .paths import PLAYBOOKS_DIR
from . import ssh
from .names import BACKUP_LABEL
from .records import Node


def inventory(*, managers: list[Node], workers: list[Node], ssh_user: str,
              ssh_config: Path, backup: list[Node] | None = None) -> dict:
    """The backup node is a swarm worker (in `workers`) and also in its own group `backup`."""
    def hosts(nodes: list[Node]) -> dict:
        return {n.name: {"ansible_host": n.address, "private_address": n.inner_address}
                for n in nodes}
    return {"all": {
        "vars": {"ansible_user": ssh_user,
                 "ansible_ssh_common_args": f"-F {ssh_config}",
                 "ansible_python_interpreter": "/usr/bin/python3",
                 "backup_label": BACKUP_LABEL},
        "children": {"managers": {"hosts": hosts(managers)},
                     "workers": {"hosts": hosts(workers + (backup or []))},
                     "backup": {"hosts": hosts(backup or [])}}}}


def run_playbook(playbook: str, inv: dict, extravars: dict | None = None, *,
                 limit: str | None = None, step=None, timeout: int = 900) -> dict:
    """Run playbooks/<playbook>; raise CommandFailed with the failing task's message.
    Returns the play's stats ({"changed": {host: n}, "ok": ..., ...}) and "changed_tasks"."""
    import ansible_runner  # heavy: imported only when a playbook runs

    work = Path(tempfile.mkdtemp(prefix="sentinel-ansible-"))
    try:
        (work / "inventory").mkdir()
        (work / "inventory" / "hosts.json").write_text(json.dumps(inv))
        failures: list[str] = []
        stats: dict = {}
        changed_tasks: list[str] = []

        def on_event(ev: dict) -> bool:
            data = ev.get("event_data", {})
            if ev.get("event") == "playbook_on_task_start" and step:
                step(f"ansible: {data.get('task', '').strip()}")
            if ev.get("event") == "playbook_on_stats":
                stats.update({k: data.get(k) or {} for k in ("changed", "ok", "failures", "dark")})
            if ev.get("event") == "runner_on_ok" and (data.get("res") or {}).get("changed"):
                changed_tasks.append(str(data.get("task", "")).strip())
            if ev.get("event") in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
                res = data.get("res", {})
                msg = res.get("msg") or res.get("stderr") or "failed"
                failures.append(f"{data.get('host')}: {data.get('task')}: {' '.join(str(msg).split())[:300]}")
            return False  # keep no event files: they may hold secrets

        r = ansible_runner.run(
            private_data_dir=str(work), project_dir=str(PLAYBOOKS_DIR),
            playbook=str(PLAYBOOKS_DIR / playbook), inventory=str(work / "inventory" / "hosts.json"),
            extravars=extravars or {}, limit=limit, quiet=True, event_handler=on_event,
            timeout=timeout, envvars={"ANSIBLE_HOST_KEY_CHECKING": "True",
                                      "ANSIBLE_PIPELINING": "True",
                                      "ANSIBLE_SSH_RETRIES": "3"})
        if r.status != "successful":
            why = failures[0] if failures else _stdout_tail(r) or f"status {r.status}"
            raise CommandFailed(mask(f"playbook {playbook} failed: {why}"))
        return {**stats, "changed_tasks": changed_tasks}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _stdout_tail(r) -> str:
    try:
        lines = [l for l in r.stdout.read().splitlines() if l.strip()]
    except Exception:
        return ""
    return " ".join(lines[-3:])[-400:]


def inventory_for(nodes: list[Node], ssh_user: str = "root") -> dict:
    """nodes: the app nodes (role manager|worker) and the backup node (role backup), if any."""
    return inventory(managers=[n for n in nodes if n.role == "manager"],
                     workers=[n for n in nodes if n.role == "worker"],
                     backup=[n for n in nodes if n.role == "backup"],
                     ssh_user=ssh_user, ssh_config=ssh.config_path())
