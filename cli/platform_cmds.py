"""init, cluster inspect/scale, destroy, server start/stop/status."""
from __future__ import annotations

import os
import time
from typing import Optional

import typer

from .client import Client, ClientError, TimedOut, Unreachable, load_config, save_config
from .output import ask, confirm, emit_json, fail, run_operation, table, console

server_app = typer.Typer(help="The control plane service on this machine.", no_args_is_help=True)
cluster_app = typer.Typer(help="The cluster's nodes.", no_args_is_help=True)


def _local_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def ensure_local_server(port: int | None = None) -> Client:
    """Start the control plane on this machine if needed, and wait until it answers."""
    from control_plane import secrets, server

    port = port or int(os.environ.get("SENTINEL_PORT", server.DEFAULT_PORT))

    from .remote_cmds import is_remote

    cfg = load_config()
    if is_remote(cfg):
        fail(f"the control plane is remote ({cfg.get('url') or 'being created'}): this command "
             "manages a control plane on this machine only.")
    token = secrets.get("api_token")
    if not cfg.get("url") or cfg.get("provider", "local") == "local":
        cfg.update({"url": _local_url(port), "token": token, "provider": "local"})
        save_config(cfg)
    server.start(port)
    client = Client()
    deadline = time.monotonic() + 30
    while True:
        try:
            client.get("/healthz", timeout=2)
            return client
        except (Unreachable, TimedOut):  # still starting; any other answer is the failure
            if time.monotonic() > deadline:
                fail(f"the control plane did not start; see {server.log_file()}.")
            time.sleep(0.1)


def init(
    provider: Optional[str] = typer.Option(None, help="local, aws, digitalocean or hetzner."),
    name: str = typer.Option("sentinel", help="Cluster name (prefixes nodes and networks)."),
    subnet: str = typer.Option("172.29.0.0/24", help="Private node subnet (local provider)."),
    nodes: Optional[int] = typer.Option(None, help="Number of nodes (node 0 is the manager)."),
    http_port: int = typer.Option(80, help="Host port for HTTP (local provider)."),
    https_port: int = typer.Option(443, help="Host port for HTTPS (local provider)."),
    domain: str = typer.Option("localhost", help="Base domain: apps get <name>.<domain>."),
    email: Optional[str] = typer.Option(None, help="ACME account email: enables automatic HTTPS."),
    acme_server: Optional[str] = typer.Option(None, help="ACME directory URL (default Let's Encrypt)."),
    acme_ca: Optional[str] = typer.Option(None, help="PEM file: CA of the ACME server's own HTTPS "
                                          "certificate (test servers such as pebble)."),
    region: Optional[str] = typer.Option(None, help="Cloud region."),
    size: Optional[str] = typer.Option(None, help="Cloud node size."),
    remote_control_plane: bool = typer.Option(
        False, "--remote-control-plane",
        help="Run the control plane on its own server (implied for the clouds)."),
    server_port: int = typer.Option(8443, help="Local provider with a remote control plane: "
                                    "this host's port for its HTTPS."),
    server_domain: Optional[str] = typer.Option(
        None, help="Remote control plane: its DNS name; with --email its certificate comes from ACME."),
    admin_cidr: Optional[str] = typer.Option(
        None, help="Clouds: the address (x.x.x.x/32) allowed to ssh to the control plane's server."),
    image_set: str = typer.Option("local", help="local (built here from Debian) or upstream."),
    endpoint_mode: str = typer.Option("dnsrr", help="dnsrr (no IPVS needed) or vip."),
    publish_mode: str = typer.Option("host", help="host or ingress for the edge ports."),
    scrape_interval: str = typer.Option("2s", help="Prometheus scrape interval; also the early "
                                        "check's period (1s-60s)."),
    backup_repo: Optional[str] = typer.Option(
        None, help="s3://BUCKET[/FOLDER]: the apps' backups in S3-compatible object storage "
        "(keys from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) instead of the backup node."),
    backup_repo_endpoint: Optional[str] = typer.Option(
        None, help="With --backup-repo: the S3 API's host[:port] (HTTPS)."),
    backup_repo_region: str = typer.Option("us-east-1", help="With --backup-repo: the bucket's region."),
    backup_repo_ca: Optional[str] = typer.Option(
        None, help="With --backup-repo: PEM file of the endpoint's CA, when not a public one."),
    backup_repo_uri_style: str = typer.Option(
        "path", help="With --backup-repo: path (https://endpoint/bucket) or host (https://bucket.endpoint)."),
    backup_repo_address: Optional[str] = typer.Option(
        None, help="With --backup-repo: the endpoint's IPv4 address, when the nodes' DNS does "
        "not know its name."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
):
    """Create the platform: nodes (Terraform), swarm (Ansible), Traefik, registry, monitoring."""
    from control_plane import validation
    from control_plane.errors import SentinelError

    provider = ask(provider, "Provider?", default="local",
                   choices=["local", "aws", "digitalocean", "hetzner"], flag="--provider")
    nodes = int(ask(nodes, "How many nodes?", default=2, flag="--nodes"))
    try:
        validation.node_count(nodes)
        validation.port(http_port, "--http-port")
        validation.port(https_port, "--https-port")
        acme_ca_pem = validation.pem_bundle_file(acme_ca) if acme_ca else None
        validation.acme_settings(email, acme_server, acme_ca_pem)
        object_storage = _object_storage(backup_repo, backup_repo_endpoint, backup_repo_region,
                                         backup_repo_ca, backup_repo_uri_style, backup_repo_address)
    except SentinelError as e:
        fail(e.message)
    from .remote_cmds import ensure_remote_server, is_remote

    remote = remote_control_plane or provider != "local" or is_remote(load_config())
    confirm(f"Create a {provider} platform with {nodes} node(s)"
            + (" and its control plane's server?" if remote else "?"), yes)
    if remote:
        client = ensure_remote_server(provider=provider, name=name, json_out=json_out, settings={
            "subnet": subnet, "api_port": server_port, "server_domain": server_domain,
            "email": email, "acme_server": acme_server, "admin_cidr": admin_cidr,
            "size": size, "region": region})
    else:
        client = ensure_local_server()
    body = {"name": name, "subnet": subnet, "provider": provider, "nodes": nodes, "http_port": http_port, "https_port": https_port,
            "domain": domain, "email": email, "acme_server": acme_server, "acme_ca": acme_ca_pem, "image_set": image_set,
            "endpoint_mode": endpoint_mode, "publish_mode": publish_mode,
            "scrape_interval": scrape_interval}
    if object_storage:
        body["backup_repo"] = object_storage
    if region:
        body["region"] = region
    if size:
        body["size"] = size
    resp = client.post("/v1/cluster", body, timeout=60)
    if resp.get("existing"):
        if json_out:
            emit_json(resp["cluster"])
        else:
            c = resp["cluster"]
            console().print(f"The platform already exists ({len(c['nodes'])} node(s), edge at "
                            f"{c['ingress']['http']}); nothing changed.")
        return
    result = run_operation(client, resp, json_out=json_out, emit=False,
                           done_message=lambda r: f"platform ready: {len(r['nodes'])} node(s), edge at {r['ingress']['http']}")
    # A new platform's recovery key, shown this once: the control plane keeps only its public half.
    key, _ = new_recovery_key(client)
    if json_out:
        return emit_json({**result, "recovery_key": key})
    _show_recovery_key(key)


def _object_storage(url: str | None, endpoint: str | None, region: str, ca: str | None,
                    uri_style: str, address: str | None) -> dict | None:
    """init's --backup-repo options as the API's ObjectStorage; the key pair from the
    environment (never a flag: it would stay in the shell's history)."""
    from control_plane import validation
    from control_plane.errors import InvalidInput

    if not url:
        given = next((f for f, v in (("--backup-repo-endpoint", endpoint), ("--backup-repo-ca", ca),
                                     ("--backup-repo-address", address)) if v), None)
        if given:
            raise InvalidInput(f"{given} needs --backup-repo s3://BUCKET.")
        return None
    bucket, prefix = validation.backup_repo_url(url)
    if not endpoint:
        raise InvalidInput("--backup-repo needs --backup-repo-endpoint: the S3 API's host[:port], "
                           f"such as s3.{region}.amazonaws.com.")
    if uri_style not in ("path", "host"):
        raise InvalidInput(f"--backup-repo-uri-style {uri_style!r} is not valid: give path or host.")
    pem = validation.pem_bundle_file(ca, "--backup-repo-ca", "the S3 endpoint") if ca else None
    repo = {"bucket": bucket, "prefix": prefix, "endpoint": endpoint, "region": region,
            "uri_style": uri_style, "ca": pem, "address": address,
            "access_key_id": os.environ.get("AWS_ACCESS_KEY_ID", ""),
            "secret_access_key": os.environ.get("AWS_SECRET_ACCESS_KEY", "")}
    validation.object_storage(**{k: v for k, v in repo.items() if k != "uri_style"})
    return repo


@cluster_app.command("inspect")
def cluster_inspect(json_out: bool = typer.Option(False, "--json")):
    """Nodes, roles, state, addresses, CPU/memory/disk, ingress URLs."""
    c = Client().get("/v1/cluster")
    if json_out:
        return emit_json(c)
    gib = lambda b: f"{(b or 0) / 2**30:.1f}"
    rows = [{**n, "mem": f"{gib(n.get('memory_used_bytes'))}/{gib(n.get('memory_bytes'))} GiB",
             "disk": f"{gib(n.get('disk_used_bytes'))}/{gib(n.get('disk_bytes'))} GiB",
             "cpus": n.get("cpus"), "load": n.get("load1")} for n in c["nodes"]]
    table(rows, [("name", "NODE"), ("role", "ROLE"), ("state", "STATE"), ("availability", "AVAIL"),
                 ("address", "ADDRESS"), ("cpus", "CPUS"), ("load", "LOAD"), ("mem", "MEMORY"),
                 ("disk", "DISK")], title=f"cluster {c['name']} ({c['provider']}, {c['state']})")
    for k, v in c["ingress"].items():
        console().print(f"{k}: {v}")
    if c.get("edge"):
        console().print(edge_line(c["edge"]))
    if c.get("backups"):
        console().print(f"backups: {c['backups']}")
    if c.get("state_copy"):
        console().print(state_copy_line(c["state_copy"], time.time()))
    for line in c.get("single_points") or []:
        console().print(f"[yellow]single point of failure:[/] {line}")
    events = c.get("events") or []
    if events:
        table([{**e, "at": time.strftime("%m-%d %H:%M:%S", time.localtime(e["at"]))} for e in events],
              [("at", "AT"), ("kind", "EVENT"), ("message", "WHAT")], title="latest platform events")


def edge_line(edge: dict) -> str:
    """Where the edge answers, in one line for `cluster inspect`."""
    where = (f"{edge['floating_address']} (floating between {', '.join(edge['managers'])})"
             if edge.get("floating_address") else
             f"{', '.join(edge['addresses'])} (Traefik on {', '.join(edge['managers'])})")
    behind = edge.get("behind") or []
    return f"edge: {where}" + (f"; catching up: {', '.join(behind)}" if behind else "")


def state_copy_line(copy: dict, now: float) -> str:
    """One line on the copies of the control plane's own state (docs/operations.md)."""
    last = f"{now - copy['at']:.0f} s ago" if copy.get("at") else "never"
    if copy["state"] == "copied":
        return f"control plane state: copied to {copy['to']} {last} ({copy['bytes'] / 1024:.1f} KiB, sealed)"
    if copy["state"] == "failing":
        return f"control plane state: copying FAILS ({copy['reason']}); newest copy {last}"
    if copy["state"] == "off":
        return f"control plane state: not copied: {copy['reason']}"
    return "control plane state: first copy within 30 s"


@cluster_app.command("scale")
def cluster_scale(nodes: int = typer.Option(..., help="The new number of nodes."),
                  yes: bool = typer.Option(False, "--yes", "-y"),
                  json_out: bool = typer.Option(False, "--json")):
    """Add nodes, or drain and remove the last ones (never the manager)."""
    from control_plane import validation
    from control_plane.errors import SentinelError

    try:
        validation.node_count(nodes)
    except SentinelError as e:
        fail(e.message + " The manager (node 0) cannot be removed; use `sentinel destroy`.")
    confirm(f"Scale the cluster to {nodes} node(s)?", yes)
    client = Client()
    run_operation(client, client.post("/v1/cluster/scale", {"nodes": nodes}), json_out=json_out,
                  done_message=lambda r: f"the cluster has {len(r['nodes'])} node(s)")


def destroy(yes: bool = typer.Option(False, "--yes", "-y"),
            delete_data: bool = typer.Option(False, "--delete-data",
                                             help="Also delete every database and its backups (required when there are any)."),
            json_out: bool = typer.Option(False, "--json")):
    """Remove everything init created: nodes, networks, volumes, state, the control plane."""
    from control_plane import server

    confirm("Destroy the platform and every app on it" + (" (databases and backups included)?"
                                                           if delete_data else "?"), yes)
    from .remote_cmds import destroy_remote, is_remote

    if is_remote(load_config()):
        return destroy_remote(json_out, delete_data)
    if load_config().get("provider", "local") == "local":
        client = ensure_local_server()
    else:
        client = Client()
    run_operation(client, client.delete("/v1/cluster", params={"delete_data": delete_data}),
                  json_out=json_out, done_message="everything init created is gone")
    if load_config().get("provider", "local") == "local":
        server.stop()
        import shutil

        from .client import home

        shutil.rmtree(home(), ignore_errors=True)
        from control_plane.ssh import control_dir

        shutil.rmtree(control_dir(), ignore_errors=True)


@server_app.command("start")
def server_start(port: Optional[int] = typer.Option(None, help="Default 8765 or $SENTINEL_PORT.")):
    """Start the control plane in the background (pid and log under SENTINEL_HOME)."""
    from control_plane import server

    client = ensure_local_server(port)
    console().print(f"control plane running (pid {server.running_pid()}) at {client.url}; "
                    f"log: {server.log_file()}")


@server_app.command("stop")
def server_stop():
    """Stop the control plane (apps keep running)."""
    from control_plane import server

    console().print("control plane stopped" if server.stop() else "the control plane was not running")


@server_app.command("signing-key")
def server_signing_key(json_out: bool = typer.Option(False, "--json")):
    """The key that signs hooks and JSON notifications naming no secret of their own: a receiver
    checks X-Sentinel-Signature (sha256=HMAC of the body) with it."""
    k = Client().get("/v1/signing-key")
    if json_out:
        return emit_json(k)
    print(k["key"])


def new_recovery_key(client: Client) -> tuple[str, dict]:
    """Make a key pair here, give the control plane the public half; (private key, state copy)."""
    from control_plane import recovery

    private, public = recovery.new_key()
    answer = client.request("PUT", "/v1/recovery-key", json_body={"public_key": public})
    return private, answer["state_copy"]


def _show_recovery_key(key: str) -> None:
    console().print("recovery key, shown this once (keep it away from this machine; it alone opens "
                    "the copies of the control plane's state):")
    print(key)
    console().print("On a new machine, `sentinel server restore --key KEY` resumes the platform "
                    "(docs/operations.md).")


@server_app.command("recovery-key")
def server_recovery_key(json_out: bool = typer.Option(False, "--json")):
    """Make a new recovery key: the control plane's state is copied every 30 s to the backup node,
    sealed to it. Printed once; copies sealed to an earlier key still open only with that one."""
    key, copy = new_recovery_key(Client())
    if json_out:
        return emit_json({"recovery_key": key, "state_copy": copy})
    _show_recovery_key(key)
    console().print(f"the first copy sealed to it is on {copy['to']}" if copy["state"] == "copied"
                    else f"no copy made yet: {copy.get('reason') or copy['state']}")


@server_app.command("restore")
def server_restore(
    file: Optional[str] = typer.Argument(None, help="A copy of the state (the backup node's "
                                          "/var/lib/sentinel/backups/.control-plane/latest)."),
    key: str = typer.Option(..., "--key", envvar="SENTINEL_RECOVERY_KEY",
                            help="The recovery key init or `server recovery-key` printed."),
    cluster: Optional[str] = typer.Option(None, help="Local provider without FILE: read the newest "
                                          "copy from this cluster's backup node on this machine."),
    json_out: bool = typer.Option(False, "--json"),
):
    """Resume a platform whose control plane was lost: its state from a sealed copy into an empty
    SENTINEL_HOME, then the control plane started on this machine."""
    from control_plane import executor, recovery
    from control_plane.errors import CommandFailed, SentinelError

    from .client import home

    try:
        recovery.refuse_occupied(home())
        if file:
            try:
                text = open(file, encoding="ascii").read()
            except (OSError, UnicodeDecodeError) as e:
                fail(f"cannot read {file}: {getattr(e, 'strerror', None) or e}.")
        elif cluster:
            try:
                text = executor.run(recovery.fetch_local_argv(cluster), timeout=60,
                                    what=f"reading the newest copy from {cluster}'s backup node").stdout
            except CommandFailed as e:
                fail(e.message)
        else:
            fail("name the copy: a FILE, or --cluster NAME for a local platform's backup node.")
        header, data = recovery.open_sealed(text, key)
        recovery.unpack(data, home())
    except SentinelError as e:
        fail(e.message)
    held = recovery.summary(home())
    client = ensure_local_server()
    age = time.time() - header.taken_at
    if json_out:
        return emit_json({**held, "taken_at": header.taken_at, "url": client.url})
    console().print(
        f"[green]✓[/] control plane of {held['cluster'] or header.cluster} restored from the copy "
        f"taken {age:.0f} s ago: apps {', '.join(held['apps']) or 'none'}"
        + (f"; canaries in flight: {', '.join(held['canaries'])}" if held["canaries"] else "")
        + f". It runs at {client.url}; operations running when the copy was taken show as interrupted.")


@server_app.command("status")
def server_status(json_out: bool = typer.Option(False, "--json")):
    """Is the control plane running?"""
    from control_plane import server

    from .remote_cmds import is_remote

    if is_remote(load_config()):
        client = Client()
        try:
            client.get("/healthz", timeout=10)
            up, why = True, ""
        except ClientError as e:
            up, why = False, e.message
        data = {"running": up, "url": client.url, "fingerprint": client.fingerprint, "remote": True}
        if json_out:
            return emit_json(data)
        console().print(f"answering at {client.url}" if up else f"not answering: {why}")
        if not up:
            raise typer.Exit(1)
        return
    pid = server.running_pid()
    data = {"running": bool(pid), "pid": pid, "url": load_config().get("url"),
            "log": str(server.log_file())}
    if json_out:
        return emit_json(data)
    console().print(f"running (pid {pid}) at {data['url']}" if pid else
                    "not running: start it with `sentinel server start`")
    if not pid:
        raise typer.Exit(1)


def _server_trust():
    from .remote_cmds import server_trust

    return server_trust


server_app.command("trust")(_server_trust())
