"""The consensus store every app's Patroni uses: etcd, one member per swarm manager.

Membership changes go one member at a time and a new member joins as a learner, which does not
count towards quorum until it has caught up and is promoted: a new member that fails to start
never costs the store its majority. etcd's auth is on: each app's Patroni has a user whose role
may only touch the app's own prefix.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass

from .. import names, secrets
from ..docker_cli import Docker, exec_argv, stack_deploy_argv
from ..errors import CommandFailed
from ..jobs import Operation
from ..platform import NotRunning, Platform
from ..templates import render_yaml
from ..records import EtcdMember

ROOT_USER = "root"
ALREADY_EXISTS = "already exists"  # etcd: "user name already exists", "role name already exists"
MEMBER_SLOTS = ("etcd-0", "etcd-1", "etcd-2")
BUSY_ATTEMPTS = 4  # a busy etcd is asked again after 1, 2, 3 s


def peer_url(key: str) -> str:
    return f"http://{key}:2380"


def dcs_stack(members: list[EtcdMember], image: str, endpoint_mode: str) -> str:
    text, data = render_yaml("dcs.yml.j2", members=members, image=image,
                             endpoint_mode=endpoint_mode, network=names.DCS_NETWORK)
    assert sorted(data["services"]) == sorted(m.key for m in members)
    return text


# ---- etcdctl calls (pure) --------------------------------------------------------------------
# The credentials go in as the first line of standard input, into ETCDCTL_USER (etcdctl reads
# every flag from ETCDCTL_<FLAG>): a `--user root:…` argument would sit in the node's process
# list, readable by every local user, for as long as the call runs.
READ_USER = 'IFS= read -r ETCDCTL_USER && export ETCDCTL_USER && exec "$@"'


@dataclass(frozen=True)
class Etcdctl:
    args: tuple[str, ...]
    user: str | None = None  # "name:password"

    def argv(self) -> list[str]:
        """What runs in the member's container: no secret in it."""
        base = ["etcdctl", "--command-timeout=10s", *self.args]
        return ["sh", "-c", READ_USER, "sh", *base] if self.user else base

    def stdin(self, data: str | None = None) -> str | None:
        return f"{self.user}\n{data or ''}" if self.user else data


def etcdctl(*args: str, user: str | None = None) -> Etcdctl:
    return Etcdctl(args, user)


def member_add_argv(key: str, user: str | None) -> Etcdctl:
    return etcdctl("member", "add", key, f"--peer-urls={peer_url(key)}", "--learner", user=user)


def app_user_argvs(app: str, root: str) -> list[Etcdctl]:
    """Create the app's etcd user (password on stdin), a role limited to its prefix, and grant
    it; re-runnable: an existing user gets its password set instead."""
    user = names.dcs_user(app)
    return [
        etcdctl("user", "add", user, "--interactive=false", user=root),
        etcdctl("user", "passwd", user, "--interactive=false", user=root),
        etcdctl("role", "add", user, user=root),
        etcdctl("role", "grant-permission", user, "readwrite", names.dcs_prefix(app), "--prefix=true",
                user=root),
        etcdctl("user", "grant-role", user, user, user=root),
    ]


def last_line(text: str) -> str:
    """etcdctl's answer: its last line ("Error: …"); the lines before are client retry logs."""
    lines = [ln.strip() for ln in (text or "").strip().splitlines() if ln.strip()]
    return lines[-1][:200] if lines else "no answer"


# etcd's answers when it is busy (a slow disk under load, a leader election), not when the call
# is wrong: the same call a moment later succeeds.
TRANSIENT = ("deadline exceeded", "DeadlineExceeded", "request timed out", "leader changed",
             "code = Unavailable", "too many requests")


def transient(answer: str) -> bool:
    return any(t in (answer or "") for t in TRANSIENT)


def parse_initial_cluster(output: str) -> str:
    """ETCD_INITIAL_CLUSTER from `etcdctl member add`'s output."""
    for line in output.splitlines():
        if line.startswith("ETCD_INITIAL_CLUSTER="):
            return line.split("=", 1)[1].strip().strip('"')
    raise CommandFailed(f"etcdctl member add gave no initial cluster: {output.strip()[:200]}")


class DCS:
    def __init__(self, platform: Platform):
        self.p = platform
        self.store = platform.store

    # ---- state ------------------------------------------------------------------------------
    def members(self) -> list[EtcdMember]:
        return [EtcdMember.model_validate(m) for m in self.store.get(names.DCS_MEMBERS_KEY) or []]

    def _save(self, members: list[EtcdMember]) -> None:
        self.store.put(names.DCS_MEMBERS_KEY, [m.model_dump() for m in members])

    def _root(self) -> str:
        return f"{ROOT_USER}:{secrets.get('etcd_root_password')}"

    def _deploy(self, members: list[EtcdMember]) -> None:
        image = self.p.stack_image("etcd")
        self.p.docker.run(stack_deploy_argv(names.DCS_STACK),
                          input=dcs_stack(members, image, self.p.spec.endpoint_mode),
                          timeout=120, what="docker stack deploy (etcd)")

    def _exec(self, cmd: Etcdctl, *, input: str | None = None, check: bool = True,
              avoid: str | None = None, timeout: float = 30):
        """Run etcdctl in a running member (not `avoid`), trying each until one answers."""
        last: Exception | None = None
        for m in self.members():
            if m.key == avoid:
                continue
            try:
                d, cid, _ = self.p.task_container(names.stack_object(names.DCS_STACK, m.key))
            except (NotRunning, CommandFailed) as e:
                last = last or e  # an answer from a running member says more
                continue
            stdin = cmd.stdin(input)
            what = " ".join(("etcdctl", *cmd.args[:2]))
            for attempt in range(BUSY_ATTEMPTS):
                if attempt:
                    time.sleep(attempt)
                proc = d.run(exec_argv(cid, *cmd.argv(), interactive=stdin is not None),
                             input=stdin, check=False, timeout=timeout, what=what)
                answer = f"{proc.stderr or ''}{proc.stdout or ''}"
                if proc.returncode == 0 or not (check or transient(answer)):
                    return proc
                if not transient(answer):
                    break
            if not check:
                return proc
            last = CommandFailed(f"{what} failed: {last_line(answer)}")
        raise last or CommandFailed("no etcd member is running")

    def healthy(self) -> bool:
        # With auth on, a health check's proposal needs a user; before it is on, root is unknown.
        for user in (self._root(), None):
            try:
                if self._exec(etcdctl("endpoint", "health", "--cluster", user=user),
                              timeout=20).returncode == 0:
                    return True
            except CommandFailed:
                continue
        return False

    def wait_healthy(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.healthy():
                return
            time.sleep(1)
        raise CommandFailed(f"etcd did not become healthy within {int(timeout)} s; see "
                            f"`docker service logs {names.DCS_STACK}_etcd-0` on the manager.")

    # ---- membership -------------------------------------------------------------------------
    def ensure(self, op: Operation, nodes: list[str]) -> None:
        """Make the members be exactly one on each of `nodes` (the managers)."""
        members = self.members()
        if not members:
            first = EtcdMember(key=MEMBER_SLOTS[0], node=nodes[0],
                               initial_cluster=f"{MEMBER_SLOTS[0]}={peer_url(MEMBER_SLOTS[0])}",
                               initial_state="new")
            op.step(f"starting etcd on {nodes[0]}")
            self._save([first])
            self._deploy([first])
            self.wait_healthy()
            self._enable_auth()
            members = [first]
        for node in [n for n in nodes if n not in {m.node for m in members}]:
            members = self._add(op, node)
        # Members on nodes that are down go first: etcd refuses to remove a live member while a
        # dead one still counts towards the majority.
        states = self.p.node_states()
        for m in sorted((m for m in members if m.node not in nodes),
                        key=lambda m: states.get(m.node) == "ready"):
            members = self._remove(op, m)

    def _add(self, op: Operation, node: str) -> list[EtcdMember]:
        members = self.members()
        key = next(k for k in MEMBER_SLOTS if k not in {m.key for m in members})
        op.step(f"adding etcd member {key} on {node} (as a learner until it has caught up)")
        # Right after a promotion etcd answers "unhealthy cluster" for a moment: ask again.
        deadline = time.monotonic() + 60
        while True:
            proc = self._exec(member_add_argv(key, self._root()), check=False)
            if proc.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise CommandFailed(f"etcd did not accept member {key}: "
                                    f"{(proc.stderr or proc.stdout).strip()[-200:]}")
            time.sleep(2)
        out = proc.stdout
        new = EtcdMember(key=key, node=node, initial_cluster=parse_initial_cluster(out),
                         initial_state="existing")
        # A learner must start from an empty data dir: a copy left on this node by an earlier
        # member of the same name belongs to a removed member and would never catch up.
        self._clear_volume(key, node)
        members = members + [new]
        self._save(members)
        self._deploy(members)
        self._wait_task(key, node)
        member_id = self._member_id(key)
        deadline = time.monotonic() + 120
        while True:
            proc = self._exec(etcdctl("member", "promote", member_id, user=self._root()), check=False)
            if proc.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise CommandFailed(f"etcd member {key} on {node} did not catch up within 120 s "
                                    f"({last_line(proc.stderr or proc.stdout)}); see `docker "
                                    f"service logs {names.DCS_STACK}_{key}` on a manager.")
            time.sleep(2)
        self.wait_healthy()
        return members

    def _wait_task(self, key: str, node: str, timeout: float = 600) -> None:
        """Until the new member's task runs: a node's first etcd task pulls the image first, which
        must not eat into the time the member has to catch up."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.p.task_container(names.stack_object(names.DCS_STACK, key))
                return
            except (NotRunning, CommandFailed):
                if time.monotonic() > deadline:
                    raise CommandFailed(f"etcd member {key} did not start on {node} within "
                                        f"{int(timeout)} s; see `docker service ps "
                                        f"{names.stack_object(names.DCS_STACK, key)}` on a manager.")
                time.sleep(2)

    def _remove(self, op: Operation, member: EtcdMember) -> list[EtcdMember]:
        op.step(f"removing etcd member {member.key} from {member.node}")
        member_id = self._member_id(member.key)
        if member_id:
            self._exec(etcdctl("member", "remove", member_id, user=self._root()), avoid=member.key)
        members = [m for m in self.members() if m.key != member.key]
        self._save(members)
        self._deploy(members)
        if self.p.node_states().get(member.node) == "ready":
            # its data: gone with the member (a node that is down keeps it; `_add` clears it)
            self._clear_volume(member.key, member.node, required=False)
        self.wait_healthy()
        return members

    def _clear_volume(self, key: str, node: str, required: bool = True) -> None:
        address = self.p.node_address(node)
        volume = names.stack_object(names.DCS_STACK, key)
        if address and not Docker(address).remove_volume(volume) and required:
            raise CommandFailed(f"the old etcd volume {volume} on {node} is still in use; remove "
                                f"it with `docker volume rm {volume}` on {node} and run again.")

    def _member_id(self, key: str) -> str | None:
        out = self._exec(etcdctl("member", "list", "-w", "json", user=self._root())).stdout
        for m in json.loads(out).get("members", []):
            if m.get("name") == key or peer_url(key) in m.get("peerURLs", []):
                return format(int(m["ID"]), "x")
        return None

    # ---- auth -------------------------------------------------------------------------------
    def _enable_auth(self) -> None:
        # With auth on, root's `auth enable` succeeds again: that is the "already done" check.
        if self._exec(etcdctl("auth", "enable", user=self._root()), check=False).returncode == 0:
            return
        pw = secrets.get("etcd_root_password")
        self._exec(etcdctl("user", "add", ROOT_USER, "--interactive=false"), input=f"{pw}\n",
                   check=False)
        self._exec(etcdctl("user", "grant-role", ROOT_USER, "root"))
        self._exec(etcdctl("auth", "enable"))

    def ensure_app_user(self, app: str, password: str) -> None:
        root = self._root()
        add, passwd, role, grant, bind = app_user_argvs(app, root)
        if not self._auth_change(add, input=f"{password}\n", done_if=ALREADY_EXISTS):
            self._auth_change(passwd, input=f"{password}\n")  # exists: make its password current
        self._auth_change(role, done_if=ALREADY_EXISTS)
        self._auth_change(grant)
        self._auth_change(bind)

    def _auth_change(self, cmd: Etcdctl, *, input: str | None = None, done_if: str | None = None,
                     attempts: int = 5) -> bool:
        """One change to etcd's users or roles. Other apps' first deploys change them at the same
        time, and etcd refuses a change made on an older auth revision, so a failure is tried
        again. False: etcd answered `done_if` (already done)."""
        answer = ""
        for attempt in range(attempts):
            if attempt:
                time.sleep(attempt)  # 1, 2, 3 … s: the other change is usually done by then
            proc = self._exec(cmd, input=input, check=False)
            if proc.returncode == 0:
                return True
            answer = f"{proc.stderr or ''}{proc.stdout or ''}"
            if done_if and done_if in answer:
                return False
        raise CommandFailed(f"etcdctl {' '.join(cmd.args[:2])} failed: {last_line(answer)}")

    def delete_app_keys(self, app: str) -> None:
        """Forget an app's Patroni cluster state (all its members must be stopped)."""
        self._exec(etcdctl("del", names.dcs_prefix(app), "--prefix", user=self._root()))

    def drop_app(self, app: str) -> None:
        root = self._root()
        self._exec(etcdctl("del", names.dcs_prefix(app), "--prefix", user=root), check=False)
        self._exec(etcdctl("user", "delete", names.dcs_user(app), user=root), check=False)
        self._exec(etcdctl("role", "delete", names.dcs_user(app), user=root), check=False)
