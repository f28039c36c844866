"""The edge on every manager (docs/operations.md, "What survives what").

Traefik runs on each swarm manager (compose_templates/platform.yml.j2, `mode: global` on the
managers) with the same files: the control plane writes each app's routes to every manager that
answers (control_plane/traefik.py), and a manager a write missed (it was away, or its Traefik was
starting) gets every route file again from one that took them all, in the healing loop's next
round. Where the provider has a floating address (Terraform's `floating_address`: the local
provider from 3 nodes on), keepalived on the managers moves it to a manager whose Traefik answers;
in the clouds every node answers 80/443 (the routing mesh).
"""
from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Callable

from .. import ansible, executor, names, providers, secrets, ssh, traefik
from ..errors import CommandFailed
from ..platform import REGISTRY_USER, Platform
from ..records import Node
from ..templates import render

TOP_PRIORITY = 150  # node 0's VRRP priority; each next manager 10 less


def keepalived_configs(managers: list[Node], floating: str, interface: str,
                       subnet: str) -> dict[str, str]:
    """Each manager's keepalived.conf (pure): one VRRP instance, unicast to the other managers,
    node 0 first in priority."""
    prefix = ipaddress.ip_network(subnet, strict=False).prefixlen
    out = {}
    for i, m in enumerate(managers):
        out[m.name] = render(
            "keepalived.cfg.j2", node=m.name, address=m.inner_address, interface=interface,
            router_id=names.VRRP_ROUTER_ID, priority=TOP_PRIORITY - 10 * i, floating=floating,
            prefix=prefix, peers=[p.inner_address for p in managers if p is not m])
    return out


def traefik_files(platform_dir: Path) -> list[dict]:
    """Traefik's platform files as init rendered them (cluster dir `platform/traefik/`), for
    ansible's copy."""
    root = platform_dir / "traefik"
    return [{"src": str(p), "path": str(p.relative_to(platform_dir)), "mode": "0644"}
            for p in sorted(root.rglob("*")) if p.is_file()]


class Edge:
    def __init__(self, platform: Platform):
        self.p = platform

    def ensure(self, nodes: list[Node], step: Callable[[str], None]) -> None:
        """Every manager gets Traefik's platform files and, with a floating address, keepalived;
        the others get node 0's route files (managers new to the edge have none)."""
        spec, outputs = self.p.spec, self.p.outputs
        managers = [n for n in nodes if n.role == "manager"]
        interface = providers.get(spec.provider).vrrp_interface
        conf = (keepalived_configs(managers, outputs.floating_address, interface, spec.subnet)
                if outputs.floating_address and interface else {})
        ansible.run_playbook("edge.yml", ansible.inventory_for(nodes, outputs.ssh_user), {
            "edge_files": traefik_files(self.p.dir / "platform"), "keepalived_conf": conf,
            "keepalived_path": names.KEEPALIVED_CONF, "registry_host": self.p.registry_host,
            "registry_user": REGISTRY_USER, "registry_password": secrets.get("registry_password")},
            step=step)
        for m in managers[1:]:
            self.send_routes(managers[0].address, m.address)

    @staticmethod
    def send_routes(source: str, target: str) -> None:
        """`target`'s route files become `source`'s (one tar over the two ssh connections)."""
        executor.pipe(ssh.ssh_argv(source, *traefik.send_files_argv()),
                      ssh.ssh_argv(target, *traefik.receive_files_argv()),
                      what=f"copying the routes of {source} to {target}")

    def catch_up(self) -> list[str]:
        """Managers a write missed that answer again get every route file of one that took them
        all (the healing loop's round); the ones brought up to date."""
        behind = set(self.p.store.get(names.EDGE_BEHIND_KEY) or [])
        if not behind:
            return []
        live = [n.address for n in self.p.live_managers()]
        current = [a for a in live if a not in behind]
        if not current:
            # No manager took every write (a platform with one manager, or all of them were
            # away at some point): there is nothing better to copy; the next writes are theirs.
            self.p.store.put(names.EDGE_BEHIND_KEY, sorted(behind - set(live)))
            return []
        done = []
        for address in sorted(behind & set(live)):
            try:
                self.send_routes(current[0], address)
                done.append(address)
            except CommandFailed:
                continue  # its engine or disk is not ready yet: the next round tries again
        still = set(self.p.store.get(names.EDGE_BEHIND_KEY) or []) - set(done)
        self.p.store.put(names.EDGE_BEHIND_KEY, sorted(still))
        return done
