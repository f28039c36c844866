"""Which node does what (pure): app nodes and their swarm roles, the backup node, where the
consensus store's members and an app's database members go.

- Below 3 nodes the swarm has one manager (node 0, which also carries the edge); from 3 nodes on,
  nodes 0-2 are managers, so Raft (and etcd, which runs on the managers) survives any one loss,
  and so does the edge (Traefik on every manager, services/edge.py).
- The backup node (local provider) is a swarm worker that only holds backup repositories.
"""
from __future__ import annotations

from .records import ClusterOutputs, Node

MANAGERS_FROM = 3  # nodes needed before the swarm gets 3 managers


def manager_count(nodes: int) -> int:
    return 3 if nodes >= MANAGERS_FROM else 1


def single_points(nodes: int) -> list[str]:
    """What losing one node costs on a cluster of `nodes` app nodes, plainly, with the fix where
    there is one (`cluster inspect`; docs/data.md's table of failures)."""
    out = []
    if nodes < MANAGERS_FROM:
        out.append("node 0 is the only swarm manager and the only etcd member: while it is away "
                   "nothing can be changed and no database can fail over, so every app stops; "
                   f"`sentinel cluster scale --nodes {MANAGERS_FROM}` makes {MANAGERS_FROM} of each, "
                   "and any one node can then be lost")
    if nodes < 2:
        out.append("every app and database has one copy, on this node: losing it means restoring "
                   "from the backup node; a second node gives each database a standby")
    if nodes < MANAGERS_FROM:
        out.append("the edge (Traefik, the apps' address) answers on node 0 only: while node 0 is "
                   f"away the apps get no traffic; from {MANAGERS_FROM} nodes on it answers on "
                   "every manager, behind one address that moves")
    return out


def node_list(cluster: str, outputs: ClusterOutputs) -> list[Node]:
    """The app nodes, in index order, from Terraform's outputs."""
    addresses = [outputs.manager_address, *outputs.worker_addresses]
    private = [outputs.manager_private_address, *outputs.worker_private_addresses]
    managers = manager_count(len(addresses))
    return [Node(name=f"{cluster}-node-{i}", role="manager" if i < managers else "worker",
                 address=a, private_address=pa)
            for i, (a, pa) in enumerate(zip(addresses, private))]


def backup_node(outputs: ClusterOutputs) -> Node | None:
    """The backup node, when the provider has one (clouds keep backups in object storage)."""
    repo = outputs.backup_repository or {}
    if repo.get("type") != "node":
        return None
    return Node(name=repo["name"], role="backup", address=repo["address"],
                private_address=repo.get("private_address") or repo["address"])


def all_nodes(cluster: str, outputs: ClusterOutputs) -> list[Node]:
    backup = backup_node(outputs)
    return node_list(cluster, outputs) + ([backup] if backup else [])


def dcs_nodes(nodes: list[Node]) -> list[str]:
    """Where etcd members run: on the managers."""
    return [n.name for n in nodes if n.role == "manager"]


def place_members(nodes: list[str], count: int, avoid_first: bool = True) -> list[str]:
    """Nodes for a new database's `count` members, all different. The first is where the primary
    starts: not node 0 when another node exists, since node 0 carries the edge (on 2 nodes,
    losing node 0 takes the edge too, so the primary is better elsewhere)."""
    order = nodes[1:] + nodes[:1] if avoid_first and len(nodes) > 1 else list(nodes)
    if count > len(order):
        raise ValueError(f"{count} members need {count} nodes; there are {len(order)}")
    return order[:count]


def free_index(used: list[int], limit: int) -> int:
    """The lowest member index not in use (indexes are reused so TLS names stay few)."""
    for i in range(limit + 1):
        if i not in used:
            return i
    raise ValueError("no free member index")
