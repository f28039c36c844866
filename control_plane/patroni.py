"""What Patroni says about an app's database, as data (pure): its REST `/cluster` answer joined
with where Sentinel placed each member."""
from __future__ import annotations

from .records import Member

LEADER_ROLES = {"leader", "master", "primary", "standby_leader"}


# Patroni's REST API listens on the member itself; asked from inside its container.
REST_PORT = 8008


def cluster_argv() -> list[str]:
    """The member's view of its cluster (`GET /cluster`), as JSON on stdout; fails fast."""
    return ["curl", "-fsS", "-m", "3", f"http://127.0.0.1:{REST_PORT}/cluster"]


def lag_bytes(member: dict) -> int | None:
    lag = member.get("lag")
    return lag if isinstance(lag, int) else None


def summarize(cluster: dict | None, placed: list[Member], node_states: dict[str, str]) -> dict:
    """{primary, standbys, members}: `placed` is the store's members; a placed
    member Patroni does not list is reported with its node's state ("down", "unreachable")."""
    listed = {m["name"]: m for m in (cluster or {}).get("members", [])}
    members = []
    for p in placed:
        key = p.key
        m = listed.get(key)
        node_state = node_states.get(p.node, "unknown")
        if m:
            role = "primary" if m.get("role") in LEADER_ROLES else "standby"
            members.append({"member": key, "node": p.node, "role": role,
                            "state": m.get("state", "unknown"), "timeline": m.get("timeline"),
                            "lag_bytes": lag_bytes(m) if role == "standby" else 0,
                            "sync": m.get("role") == "sync_standby", "node_state": node_state})
        else:
            members.append({"member": key, "node": p.node, "role": "unknown",
                            "state": "stopped" if p.stopped else (
                                "node " + node_state if node_state != "ready" else "not running"),
                            "timeline": None, "lag_bytes": None, "sync": False,
                            "node_state": node_state})
    primary = next((m for m in members if m["role"] == "primary" and m["state"] == "running"), None)
    return {"primary": primary,
            "standbys": [m for m in members if m["role"] == "standby"],
            "members": members}


def leader(cluster: dict | None) -> str | None:
    for m in (cluster or {}).get("members", []):
        if m.get("role") in LEADER_ROLES and m.get("state") == "running":
            return m["name"]
    return None


def streaming(cluster: dict | None, member: str, max_lag: int = 16 * 1024 * 1024) -> bool:
    for m in (cluster or {}).get("members", []):
        if m["name"] == member and m.get("role") not in LEADER_ROLES:
            lag = lag_bytes(m)
            return m.get("state") in ("streaming", "running") and lag is not None and lag <= max_lag
    return False


def sync_standby(cluster: dict | None) -> str | None:
    return next((m["name"] for m in (cluster or {}).get("members", [])
                 if m.get("role") == "sync_standby"), None)
