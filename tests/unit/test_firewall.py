"""The local provider's server imposes on itself what the clouds' firewalls impose (the list is
checked against the clouds' HCL in test_terraform_modules.py)."""
from __future__ import annotations

import ipaddress
import shlex
from pathlib import Path

import yaml

from control_plane import firewall, providers, remote
from control_plane.paths import PLAYBOOKS_DIR

SUBNET = "172.31.0.0/24"


def verdict(rules: list[list[str]], dst: str, proto: str, port: int, *, out: str = "eth0",
            established: bool = False) -> str:
    """The first matching rule's target for a new packet, read as iptables would (only the
    matches output_rules uses); ACCEPT when none matches (the chain's policy)."""
    for r in rules:
        opts = dict(zip(r[2::2], r[3::2]))
        if "-o" in opts and opts["-o"] != out:
            continue
        if "-d" in opts and ipaddress.ip_address(dst) not in ipaddress.ip_network(opts["-d"]):
            continue
        if "--ctstate" in opts and not established:
            continue
        if "-p" in opts and opts["-p"] != proto:
            continue
        if "--dport" in opts and int(opts["--dport"]) != port:
            continue
        return opts["-j"] if "--reject-with" not in opts else f"REJECT {opts['--reject-with']}"
    return "ACCEPT"


def test_the_list_is_ssh_and_the_edge():
    assert [(p, n) for p, n, _ in firewall.NODE_PORTS] == [("tcp", 22), ("tcp", 80), ("tcp", 443)]


def test_only_the_listed_ports_reach_the_nodes():
    rules = firewall.output_rules(SUBNET)
    for port in (22, 80, 443):
        assert verdict(rules, "172.31.0.10", "tcp", port) == "ACCEPT"
    # Traefik's API and Prometheus (8082), the registry, swarm, the Docker API: refused at once.
    for port in (8082, 5000, 2377, 7946, 2375, 2376, 5432):
        assert verdict(rules, "172.31.0.10", "tcp", port) == "REJECT tcp-reset", port
    for proto, port in (("udp", 7946), ("udp", 4789), ("icmp", 0)):
        assert verdict(rules, "172.31.0.10", proto, port) == "REJECT icmp-admin-prohibited"


def test_replies_loopback_and_the_rest_of_the_world_pass():
    rules = firewall.output_rules(SUBNET)
    # The CLI's connections come in through the gateway: their replies must leave.
    assert verdict(rules, "172.31.0.1", "tcp", 40000, established=True) == "ACCEPT"
    assert verdict(rules, "172.31.0.5", "tcp", 8765, out="lo") == "ACCEPT"  # its own address
    assert verdict(rules, "151.101.0.223", "tcp", 443) == "ACCEPT"  # PyPI, apt
    assert verdict(rules, "172.31.1.10", "tcp", 5000) == "ACCEPT"   # not the nodes' subnet


def test_accepts_come_before_the_rejects():
    targets = [r[-1] if "--reject-with" not in r else "REJECT" for r in firewall.output_rules(SUBNET)]
    assert targets == ["ACCEPT"] * 5 + ["REJECT"] * 2


def test_subnet_is_normalized():
    assert firewall.output_rules("172.31.0.5/24") == firewall.output_rules(SUBNET)


def test_restore_text_is_the_rules_in_one_table():
    rules = firewall.output_rules(SUBNET)
    text = firewall.restore_text(rules)
    lines = text.splitlines()
    assert lines[0] == "*filter" and lines[-1] == "COMMIT" and text.endswith("\n")
    assert [shlex.split(line) for line in lines if line.startswith("-A ")] == rules
    assert ":OUTPUT ACCEPT [0:0]" in lines
    assert firewall.server_rules(SUBNET) == text


def test_restore_argv():
    assert firewall.restore_argv() == ["/usr/sbin/iptables-restore", "/etc/sentinel-firewall.rules"]


def test_only_the_local_server_filters_itself():
    assert firewall.server_rules(SUBNET) == providers.get("local").controlplane_firewall({"subnet": SUBNET})
    for name in ("aws", "digitalocean", "hetzner"):
        assert providers.get(name).controlplane_firewall({"subnet": SUBNET}) == ""


def test_playbook_vars_carry_the_firewall():
    common = dict(source_archive=Path("/h/s.tgz"), constraints="", token="t", api_port=443,
                  address="172.31.0.5", extra_packages=[], host_docker=True)
    assert remote.playbook_vars(**common)["firewall"] == {}
    fw = remote.playbook_vars(**common, firewall_rules="*filter\nCOMMIT\n")["firewall"]
    assert fw == {"rules": "*filter\nCOMMIT\n", "path": firewall.RULES_PATH,
                  "exec": "/usr/sbin/iptables-restore /etc/sentinel-firewall.rules"}


def test_playbook_applies_the_firewall_before_the_control_plane_starts():
    tasks = yaml.safe_load((PLAYBOOKS_DIR / "control_plane.yml").read_text())[0]["tasks"]
    names = [t["name"] for t in tasks]
    applied = names.index("Firewall enabled and applied")
    assert names.index("Packages") < applied < names.index("Services enabled and running")
    for t in tasks[applied - 2:applied + 1]:
        assert t["when"] == "firewall | length > 0"
