"""The one Docker client wrapper.

Pure functions build `docker` argv lists (unit-tested); `Docker` runs them on this host or, for
the swarm, on the manager over SSH, so the Docker API is never exposed on the network.
"""
from __future__ import annotations

import json
import shlex
import time
from collections.abc import AsyncIterator, Iterable

from . import executor, ssh

JSON = "{{json .}}"


def info_argv() -> list[str]:
    return ["docker", "info", "--format", JSON]


def node_ls_argv() -> list[str]:
    return ["docker", "node", "ls", "--format", JSON]


def node_inspect_argv(nodes: Iterable[str]) -> list[str]:
    return ["docker", "node", "inspect", *nodes]


def stack_deploy_argv(stack: str, prune: bool = True) -> list[str]:
    # The compose file comes on stdin; --with-registry-auth hands the registry login to the nodes.
    return ["docker", "stack", "deploy", "--with-registry-auth", *(["--prune"] if prune else []),
            "--resolve-image", "never", "-c", "-", stack]


def stack_rm_argv(stack: str) -> list[str]:
    return ["docker", "stack", "rm", stack]


def service_ls_argv(*, stack: str | None = None, name: str | None = None) -> list[str]:
    """Services: all, a stack's, or those whose name contains `name`."""
    argv = ["docker", "service", "ls", "--format", JSON]
    if stack:
        argv += ["--filter", f"label=com.docker.stack.namespace={stack}"]
    if name:
        argv += ["--filter", f"name={name}"]
    return argv


def global_job_argv(name: str, image: str, command: list[str]) -> list[str]:
    """A job that runs `command` from `image` once on every node, not waited for."""
    return ["docker", "service", "create", "--detach", "--name", name, "--mode", "global-job",
            "--with-registry-auth", "--entrypoint", command[0], image, *command[1:]]


def task_ids_argv(service: str, *, running_only: bool = False) -> list[str]:
    """The ids of a service's tasks, one per line (running_only: those swarm wants running)."""
    argv = ["docker", "service", "ps", "-q", "--no-trunc"]
    return argv + (["--filter", "desired-state=running"] if running_only else []) + [service]


def service_ids_argv(label: str) -> list[str]:
    """The ids of the services carrying `label` (a key, or key=value), one per line."""
    return ["docker", "service", "ls", "-q", "--filter", f"label={label}"]


def running_task_ids_argv(services: Iterable[str]) -> list[str]:
    """The ids of the tasks the swarm wants running, of all `services`, one per line."""
    return ["docker", "service", "ps", "-q", "--no-trunc", "--filter", "desired-state=running",
            *services]


def service_replicas_argv(service: str, replicas: int) -> list[str]:
    """A replicated service scaled to `replicas`, waited for until its tasks run."""
    return ["docker", "service", "update", "--detach=false", "--replicas", str(replicas), service]


def service_inspect_argv(services: Iterable[str]) -> list[str]:
    return ["docker", "service", "inspect", *services]


def service_logs_argv(service: str, *, tail: int | None = None, since: str | None = None,
                      follow: bool = False, raw: bool = False, timestamps: bool = True) -> list[str]:
    argv = ["docker", "service", "logs", "--no-task-ids"]
    argv += (["--raw"] if raw else []) + (["--timestamps"] if timestamps else [])
    if tail is not None:
        argv += ["--tail", str(tail)]
    if since:
        argv += ["--since", since]
    if follow:
        argv.append("--follow")
    return argv + [service]


def until_stdin_closes(argv: list[str]) -> list[str]:
    """Remote command: run argv until it ends or our stdin closes (the ssh session went away),
    so a `--follow` never outlives the reader. fd 3 keeps stdin: a background job's is /dev/null."""
    return ["sh", "-c", f"exec 3<&0; {shlex.join(argv)} & p=$!; "
                        "(cat <&3 >/dev/null; kill $p 2>/dev/null) >/dev/null 2>&1 & wait $p"]


def service_rm_argv(services: Iterable[str]) -> list[str]:
    return ["docker", "service", "rm", *services]


def secret_create_argv(name: str, labels: dict[str, str] | None = None) -> list[str]:
    # The value is read from stdin so it never appears on a command line.
    argv = ["docker", "secret", "create"]
    for k, v in (labels or {}).items():
        argv += ["--label", f"{k}={v}"]
    return argv + [name, "-"]


def secret_ls_argv(label: str | None = None) -> list[str]:
    argv = ["docker", "secret", "ls", "--format", JSON]
    return argv + (["--filter", f"label={label}"] if label else [])


def secret_rm_argv(names: Iterable[str]) -> list[str]:
    return ["docker", "secret", "rm", *names]


def volume_rm_argv(names: Iterable[str]) -> list[str]:
    return ["docker", "volume", "rm", "--force", *names]


def network_ls_argv(name: str | None = None) -> list[str]:
    """Networks; with `name`, only the one of exactly that name."""
    argv = ["docker", "network", "ls", "--format", JSON]
    return argv + ["--filter", f"name=^{name}$"] if name else argv


def network_rm_argv(name: str) -> list[str]:
    return ["docker", "network", "rm", name]


def container_ls_argv(*, label: str | None = None, all: bool = False) -> list[str]:
    argv = ["docker", "ps", "--no-trunc", "--format", JSON]
    if all:
        argv.append("-a")
    if label:
        argv += ["--filter", f"label={label}"]
    return argv


def exec_argv(container: str, *command: str, interactive: bool = False, user: str | None = None,
              env: dict[str, str] | None = None) -> list[str]:
    argv = ["docker", "exec", *(["-i"] if interactive else [])]
    if user:
        argv += ["--user", user]
    for k, v in (env or {}).items():
        argv += ["--env", f"{k}={v}"]
    return argv + [container, *command]


def config_create_argv(name: str, labels: dict[str, str] | None = None) -> list[str]:
    argv = ["docker", "config", "create"]
    for k, v in (labels or {}).items():
        argv += ["--label", f"{k}={v}"]
    return argv + [name, "-"]


def config_ls_argv(label: str | None = None) -> list[str]:
    argv = ["docker", "config", "ls", "--format", JSON]
    return argv + (["--filter", f"label={label}"] if label else [])


def config_rm_argv(names: Iterable[str]) -> list[str]:
    return ["docker", "config", "rm", *names]


def one_off_argv(name: str, image: str, command: list[str], **options) -> list[str]:
    """A swarm service that runs `command` once (no restart): a one-off task with the same
    networks, secrets and placement a service would have."""
    return service_create_argv(name, image, command, restart="none", **options)


def service_create_argv(name: str, image: str, command: list[str], *, restart: str,
                        networks: Iterable[str] = (),
                        secrets: Iterable[tuple[str, str]] = (), mounts: Iterable[str] = (),
                        env: dict[str, str] | None = None, constraints: Iterable[str] = (),
                        labels: dict[str, str] | None = None, user: str | None = None,
                        entrypoint: str | None = None, secret_mode: str = "0400",
                        stop_grace: str | None = None, hosts: Iterable[str] = ()) -> list[str]:
    """One task of `image` running `command`, restarted on `restart` (none | on-failure | any).
    secrets: (source, target); hosts: "name:address" lines of its /etc/hosts."""
    argv = ["docker", "service", "create", "--detach", "--name", name,
            "--restart-condition", restart, "--replicas", "1", "--endpoint-mode", "dnsrr",
            "--with-registry-auth"]
    if stop_grace:
        argv += ["--stop-grace-period", stop_grace]
    for n in networks:
        argv += ["--network", n]
    for source, target in secrets:
        argv += ["--secret", f"source={source},target={target},mode={secret_mode}"]
    for m in mounts:
        argv += ["--mount", m]
    for k, v in (env or {}).items():
        argv += ["--env", f"{k}={v}"]
    for c in constraints:
        argv += ["--constraint", c]
    for h in hosts:
        argv += ["--host", h]
    for k, v in (labels or {}).items():
        argv += ["--label", f"{k}={v}", "--container-label", f"{k}={v}"]
    if user:
        argv += ["--user", user]
    if entrypoint is not None:
        argv += ["--entrypoint", entrypoint]
    return argv + [image, *command]


def task_inspect_argv(task_ids: Iterable[str]) -> list[str]:
    return ["docker", "inspect", "--type", "task", *task_ids]


def image_save_argv(ref: str) -> list[str]:
    """The image as a tar stream on stdout (for `docker load` on another engine)."""
    return ["docker", "save", ref]


def image_inspect_argv(ref: str) -> list[str]:
    return ["docker", "image", "inspect", "--format", "{{.Id}}", ref]


def image_size_argv(ref: str) -> list[str]:
    return ["docker", "image", "inspect", "--format", "{{.Size}}", ref]


def image_load_argv() -> list[str]:
    """`docker load` of a tar stream on stdin (an image another engine saved)."""
    return ["docker", "load"]


def image_pull_argv(ref: str) -> list[str]:
    return ["docker", "pull", "--quiet", ref]


def image_push_argv(ref: str) -> list[str]:
    return ["docker", "push", "--quiet", ref]


def buildx_version_argv() -> list[str]:
    """Whether the engine's CLI has BuildKit (docker-buildx): exit 0 when it does."""
    return ["docker", "buildx", "version"]


def image_build_argv(tag: str, dockerfile: str, *, buildkit: bool, build_args: dict[str, str],
                     ca_file: str | None = None) -> list[str]:
    """`docker build` of a context tarball read on stdin ("-"): BuildKit through buildx (the
    engine's own builder, so its layer cache stays on the node between builds), else the classic
    builder. `dockerfile` is a path inside the context. With `ca_file` (a file on the node) the
    build argument SENTINEL_CA is read from it by the shell and passed by name from the
    environment: certificates never sit on a command line, whose length is bounded."""
    build = (["docker", "buildx", "build", "--progress=plain", "--load"] if buildkit
             else ["docker", "build"])
    build += ["-f", dockerfile, "-t", tag]
    for name in sorted(build_args):
        build += ["--build-arg", f"{name}={build_args[name]}"]
    if ca_file:
        build += ["--build-arg", "SENTINEL_CA"]
    env = ["DOCKER_BUILDKIT=1" if buildkit else "DOCKER_BUILDKIT=0"]
    if not ca_file:
        return ["env", *env, *build, "-"]
    script = 'SENTINEL_CA="$(cat "$1")"; export SENTINEL_CA; shift; exec env "$@"'
    return ["sh", "-c", script, "sh", ca_file, *env, *build, "-"]


def parse_json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


class Docker:
    """Runs docker argv on this host (host=None) or on `host` over SSH."""

    def __init__(self, host: str | None = None):
        self.host = host

    def argv(self, argv: list[str]) -> list[str]:
        return ssh.ssh_argv(self.host, *argv) if self.host else argv

    def run(self, argv: list[str], *, input: str | None = None, timeout: float = 120,
            check: bool = True, what: str | None = None):
        return executor.run(self.argv(argv), input=input, timeout=timeout, check=check,
                            what=what or " ".join(argv[:3]))

    def stream(self, argv: list[str], what: str | None = None) -> AsyncIterator[str]:
        """Output lines of a long-running argv as they come (see executor.stream)."""
        return executor.stream(self.argv(until_stdin_closes(argv)), what=what or " ".join(argv[:3]))

    def out(self, argv: list[str], **kw) -> str:
        return self.run(argv, **kw).stdout

    def json_lines(self, argv: list[str], **kw) -> list[dict]:
        return parse_json_lines(self.out(argv, **kw))

    def inspect(self, argv: list[str], **kw) -> list[dict]:
        proc = self.run(argv, check=False, **kw)
        return json.loads(proc.stdout) if proc.returncode == 0 and proc.stdout.strip() else []

    def remove_volume(self, volume: str, wait: float = 60) -> bool:
        """Remove `volume` (absent counts as removed). A volume is freed only once the engine has
        removed the containers of a service just taken away, so "in use" is asked again for up
        to `wait` s. False if it is still there then."""
        deadline = time.monotonic() + wait
        while self.run(volume_rm_argv([volume]), check=False).returncode != 0:
            if time.monotonic() > deadline:
                return False
            time.sleep(1)
        return True
