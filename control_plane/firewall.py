"""What the control plane's server may reach on the nodes, and the local provider's emulation of it.

On a cloud the nodes' firewall (terraform/<cloud>/main.tf) decides: ssh from the control plane's
address, the edge from anywhere, nothing else (Traefik's API, Prometheus and the registry are
reached through an ssh forward: control_plane/tunnel.py). NODE_PORTS is that one list; the unit
tests check it against the parsed HCL of every cloud module.

The local provider's server shares the nodes' Docker network, where nothing filters. There the
same list becomes iptables rules on the server's OUTPUT chain (applied by
playbooks/control_plane.yml), so the local platform runs under the clouds' constraints.
"""
from __future__ import annotations

import ipaddress
import shlex

# (protocol, port, why): what every cloud firewall opens to the control plane's server.
NODE_PORTS: tuple[tuple[str, int, str], ...] = (
    ("tcp", 22, "ssh from the control plane"),
    ("tcp", 80, "edge HTTP, open to anyone"),
    ("tcp", 443, "edge HTTPS, open to anyone"),
)

RULES_PATH = "/etc/sentinel-firewall.rules"


def output_rules(subnet: str, ports: tuple[tuple[str, int, str], ...] = NODE_PORTS) -> list[list[str]]:
    """iptables rule specs (argv after `iptables`) for the OUTPUT chain: to `subnet`, only
    `ports` and replies; everything else is refused at once (a cloud drops it silently, but a
    reset fails fast and reads plainly: "connection refused")."""
    net = str(ipaddress.ip_network(subnet, strict=False))
    rules = [
        ["-A", "OUTPUT", "-o", "lo", "-j", "ACCEPT"],  # the server's own address is in the subnet
        # Replies to connections made toward the server (the CLI's, through the subnet's
        # gateway, and any from the nodes): a cloud firewall is stateful too.
        ["-A", "OUTPUT", "-d", net, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED",
         "-j", "ACCEPT"],
    ]
    for proto, port, _why in ports:
        rules.append(["-A", "OUTPUT", "-d", net, "-p", proto, "--dport", str(port), "-j", "ACCEPT"])
    rules.append(["-A", "OUTPUT", "-d", net, "-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"])
    rules.append(["-A", "OUTPUT", "-d", net, "-j", "REJECT", "--reject-with", "icmp-admin-prohibited"])
    return rules


def restore_text(rules: list[list[str]]) -> str:
    """An iptables-restore file for the filter table: applied in one step, and applying it
    again gives the same table (the server runs no other filter rules)."""
    lines = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]"]
    lines += [shlex.join(r) for r in rules]
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def restore_argv(path: str = RULES_PATH) -> list[str]:
    return ["/usr/sbin/iptables-restore", path]


def server_rules(subnet: str) -> str:
    """The rules file for a local server on `subnet`."""
    return restore_text(output_rules(subnet))
