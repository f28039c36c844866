"""The commands Sentinel runs are data: check the exact argv."""
from pathlib import Path

from control_plane import docker_cli as d
from control_plane import registry, secrets, ssh, terraform, traefik


def test_stack_deploy_reads_compose_from_stdin():
    assert d.stack_deploy_argv("todos") == [
        "docker", "stack", "deploy", "--with-registry-auth", "--prune", "--resolve-image", "never",
        "-c", "-", "todos"]


def test_secret_value_never_on_the_command_line():
    argv = d.secret_create_argv("todos-db-password", {"sentinel.app": "todos"})
    assert argv == ["docker", "secret", "create", "--label", "sentinel.app=todos",
                    "todos-db-password", "-"]


def test_service_logs():
    assert d.service_logs_argv("todos_web", tail=10, since="10m", follow=True) == [
        "docker", "service", "logs", "--no-task-ids", "--timestamps", "--tail", "10",
        "--since", "10m", "--follow", "todos_web"]


def test_task_ids_of_a_service_running_only():
    assert d.task_ids_argv("todos_web", running_only=True) == [
        "docker", "service", "ps", "-q", "--no-trunc", "--filter", "desired-state=running",
        "todos_web"]
    assert d.task_ids_argv("todos_web") == ["docker", "service", "ps", "-q", "--no-trunc", "todos_web"]


def test_networks_services_and_jobs_by_name():
    assert d.network_ls_argv("app-todos") == ["docker", "network", "ls", "--format", "{{json .}}",
                                              "--filter", "name=^app-todos$"]
    assert d.network_rm_argv("app-todos") == ["docker", "network", "rm", "app-todos"]
    assert d.service_ls_argv(name="todos_pg-0")[-2:] == ["--filter", "name=todos_pg-0"]
    assert d.global_job_argv("sentinel-prepull-postgres", "reg/pg:1", ["true"]) == [
        "docker", "service", "create", "--detach", "--name", "sentinel-prepull-postgres",
        "--mode", "global-job", "--with-registry-auth", "--entrypoint", "true", "reg/pg:1"]


def test_remote_docker_is_quoted_for_the_remote_shell(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTINEL_HOME", str(tmp_path))
    argv = d.Docker("10.0.0.5").argv(d.service_ls_argv(stack="todos"))
    assert argv[:5] == ["ssh", "-F", str(tmp_path / "ssh" / "config"), "10.0.0.5", "--"]
    assert argv[5] == ("docker service ls --format '{{json .}}' "
                       "--filter label=com.docker.stack.namespace=todos")


def test_ssh_config_multiplexes_and_pins_hosts(tmp_path):
    cfg = ssh.render_config(tmp_path / "k", tmp_path / "kh", tmp_path / "c")
    assert "ControlMaster auto" in cfg and "ControlPersist 10m" in cfg
    assert "StrictHostKeyChecking yes" in cfg and f"IdentityFile {tmp_path / 'k'}" in cfg


def test_terraform_argv(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTINEL_TERRAFORM", "/usr/bin/tofu")
    assert terraform.apply_argv(tmp_path) == ["/usr/bin/tofu", "apply", "-input=false", "-no-color",
                                              "-auto-approve"]
    # -force was removed from Terraform: destroy must use -auto-approve only.
    assert terraform.destroy_argv(tmp_path) == ["/usr/bin/tofu", "destroy", "-input=false",
                                                "-no-color", "-auto-approve"]
    assert terraform.output_argv(tmp_path) == ["/usr/bin/tofu", "output", "-json", "-no-color"]


def test_tfvars_contract():
    assert terraform.tfvars(name="c", nodes=2, ssh_public_key="ssh-ed25519 AAA", extra={"http_port": 80}) == {
        "name": "c", "nodes": 2, "ssh_public_key": "ssh-ed25519 AAA", "extra": {"http_port": "80"}}


def test_skopeo_push_keeps_tls_and_credentials_off_argv(tmp_path):
    argv = registry.skopeo_copy_argv("todo:1", "10.1.0.10:5000/todo:1", cert_dir=tmp_path / "c",
                                     creds_file=tmp_path / "a.json")
    assert argv == ["skopeo", "copy", "--quiet", "--dest-authfile", str(tmp_path / "a.json"),
                    "--dest-cert-dir", str(tmp_path / "c"), "docker-daemon:todo:1",
                    "docker://10.1.0.10:5000/todo:1"]
    assert "--dest-tls-verify=false" not in argv


def test_cluster_ref():
    assert registry.cluster_ref("r:5000", "todo:1") == "r:5000/todo:1"
    assert registry.cluster_ref("r:5000", "todo") == "r:5000/todo:latest"
    assert registry.cluster_ref("r:5000", "sentinel/traefik:abc") == "r:5000/sentinel/traefik:abc"
    assert registry.cluster_ref("r:5000", "ghcr.io/team/app:2") == "r:5000/team/app:2"


def test_openssl_argv_has_san_file_and_a_serial_of_its_own(tmp_path):
    argv = secrets.sign_argv(tmp_path / "csr", tmp_path / "ca.key", tmp_path / "ca.crt",
                             tmp_path / "crt", tmp_path / "ext", 0xabc)
    assert argv[:3] == ["openssl", "x509", "-req"] and "-extfile" in argv
    # no serial file shared between signings that run at once
    assert argv[argv.index("-set_serial") + 1] == "0xabc" and "-CAcreateserial" not in argv
    serials = {secrets.random_serial() for _ in range(50)}
    assert len(serials) == 50 and all(0 < s < 2 ** 159 for s in serials)


def test_certificates_signed_at_once_by_one_ca_all_verify(tmp_path):
    """Eight signings at once with the real openssl: each certificate verifies against the CA."""
    import subprocess
    from concurrent.futures import ThreadPoolExecutor

    ca_key, ca = tmp_path / "ca.key", tmp_path / "ca.crt"
    subprocess.run(secrets.ca_argv(ca_key, ca), check=True, capture_output=True)
    ext = tmp_path / "ext"
    ext.write_text("subjectAltName=DNS:x\n")

    def sign(i):
        key, csr, crt = (tmp_path / f"{i}.{s}" for s in ("key", "csr", "crt"))
        subprocess.run(secrets.server_csr_argv(key, csr, f"app{i}"), check=True, capture_output=True)
        return subprocess.run(secrets.sign_argv(csr, ca_key, ca, crt, ext, secrets.random_serial()),
                              capture_output=True, text=True)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(sign, range(8)))
    assert [r.returncode for r in results] == [0] * 8, [r.stderr for r in results if r.returncode]
    verify = subprocess.run(["openssl", "verify", "-CAfile", str(ca), *(str(tmp_path / f"{i}.crt") for i in range(8))],
                            capture_output=True, text=True)
    assert verify.returncode == 0 and verify.stdout.count(": OK") == 8, verify.stdout + verify.stderr


def test_traefik_file_write_is_temp_then_rename():
    argv = traefik.write_file_argv("app-todos.yml")
    assert argv[:2] == ["sh", "-c"]
    assert argv[2] == ("cat > /etc/sentinel/traefik/dynamic/.app-todos.yml.tmp && mv -f "
                       "/etc/sentinel/traefik/dynamic/.app-todos.yml.tmp "
                       "/etc/sentinel/traefik/dynamic/app-todos.yml")


def test_followed_logs_end_with_the_ssh_session():
    argv = d.until_stdin_closes(d.service_logs_argv("todos_web", tail=100, follow=True))
    assert argv == ["sh", "-c",
                    "exec 3<&0; docker service logs --no-task-ids --timestamps --tail 100 --follow "
                    "todos_web & p=$!; (cat <&3 >/dev/null; kill $p 2>/dev/null) >/dev/null 2>&1 "
                    "& wait $p"]


def test_docker_stream_runs_the_follow_on_the_manager(monkeypatch):
    seen = {}
    monkeypatch.setattr(d.executor, "stream", lambda argv, what=None: seen.update(argv=argv, what=what))
    d.Docker("172.28.0.10").stream(["docker", "service", "logs", "--follow", "todos_web"])
    argv = seen["argv"]
    assert argv[:2] == ["ssh", "-F"] and argv[3:5] == ["172.28.0.10", "--"]
    assert argv[5].startswith("sh -c 'exec 3<&0; docker service logs --follow todos_web & p=$!;")
    assert seen["what"] == "docker service logs"


def test_one_off_task_argv():
    from control_plane.docker_cli import one_off_argv

    argv = one_off_argv("todos_restore", "reg/pg:1", ["recover", "--", "--stanza=todos"],
                        networks=["app-todos"], secrets=[("todos-pg-tls-key-1", "tls.key")],
                        mounts=["type=volume,source=todos_pgdata-0,target=/var/lib/postgresql/data"],
                        constraints=["node.hostname == c-node-1"], labels={"sentinel.app": "todos"})
    assert argv[:6] == ["docker", "service", "create", "--detach", "--name", "todos_restore"]
    assert argv[argv.index("--restart-condition") + 1] == "none"
    assert "source=todos-pg-tls-key-1,target=tls.key,mode=0400" in argv
    assert argv[-4:] == ["reg/pg:1", "recover", "--", "--stanza=todos"]


def test_a_copy_sources_service_argv_is_the_whole_command():
    from control_plane import names, pgbackrest
    from control_plane.docker_cli import service_create_argv

    argv = service_create_argv(
        names.copy_source("todos"), "reg/pg:1",
        ["source", "--", *pgbackrest.standby_restore_argv("todos", names.PGDATA)], restart="any",
        networks=["app-todos"], secrets=[("todos-pg-member-1", "pgbackrest.conf")],
        mounts=[f"type=bind,source={names.fast_dir('todos')},target={names.FAST_MOUNT}"],
        constraints=["node.hostname == c-backup"], labels={"sentinel.role": "copy-source"},
        stop_grace="30s", hosts=["s3.internal:10.0.0.5"])
    assert argv == [
        "docker", "service", "create", "--detach", "--name", "todos_copysource",
        "--restart-condition", "any", "--replicas", "1", "--endpoint-mode", "dnsrr",
        "--with-registry-auth", "--stop-grace-period", "30s", "--network", "app-todos",
        "--secret", "source=todos-pg-member-1,target=pgbackrest.conf,mode=0400",
        "--mount", "type=bind,source=/var/lib/sentinel/fast/todos,target=/var/lib/postgresql/data",
        "--constraint", "node.hostname == c-backup", "--host", "s3.internal:10.0.0.5",
        "--label", "sentinel.role=copy-source", "--container-label", "sentinel.role=copy-source",
        "reg/pg:1", "source", "--", "pgbackrest", "--stanza=todos", "--type=standby",
        "--archive-mode=off", "--pg1-path=/var/lib/postgresql/data/pgdata", "restore"]


def test_a_copy_source_and_its_copies_share_one_folder_of_the_backup_node():
    from control_plane import names

    # The source's data is the image's PGDATA inside its container, so Patroni's paths hold.
    assert names.PGDATA == names.FAST_MOUNT + "/pgdata"
    assert names.copy_source_data("todos") == ("/var/lib/sentinel/fast/todos/pgdata",
                                               "/var/lib/sentinel/fast/todos/source-restored")
    # Where the source's container writes a copy (sentinel-pg `copy`: copies/NAME under its
    # mount) is the folder its member runs on.
    assert names.copy_dir("todos", "todos-pr-1") == "/var/lib/sentinel/fast/todos/copies/todos-pr-1"


def test_the_copy_sources_replay_check_compares_positions():
    from control_plane.services.copies import copy_lines, psql_argv, replayed_sql

    assert replayed_sql("0/3000060") == \
        "select coalesce(pg_last_wal_replay_lsn() >= '0/3000060'::pg_lsn, false)"
    assert psql_argv("select 1")[:3] == ["psql", "-X", "-A"]
    assert copy_lines("noise\ncopy: took the files with reflinks in 0.12 s\n  copy: x\n") == [
        "copy: took the files with reflinks in 0.12 s", "copy: x"]


def test_exec_argv_with_user_and_env():
    from control_plane.docker_cli import exec_argv

    assert exec_argv("c1", "psql", user="postgres", env={"A": "b c"}, interactive=True) == [
        "docker", "exec", "-i", "--user", "postgres", "--env", "A=b c", "c1", "psql"]


def test_control_sockets_live_in_a_private_folder_of_sentinel_home(tmp_path, monkeypatch):
    import os

    import pytest

    from control_plane import ssh
    from control_plane.errors import CommandFailed

    import tempfile
    from pathlib import Path

    short = Path(tempfile.mkdtemp(prefix="s", dir="/tmp"))  # a socket path must stay short
    monkeypatch.setenv("SENTINEL_HOME", str(short))
    assert ssh.control_dir() == short / "ssh" / "cm"
    ssh.ensure_private_dir(ssh.control_dir())
    assert oct(ssh.control_dir().stat().st_mode & 0o777) == "0o700"
    os.chmod(ssh.control_dir(), 0o755)
    with pytest.raises(CommandFailed):
        ssh.ensure_private_dir(ssh.control_dir())
    monkeypatch.setenv("SENTINEL_HOME", str(tmp_path / ("x" * 80)))
    assert str(ssh.control_dir()).startswith("/tmp/sentinel-ssh-")  # too long for a socket
    assert ssh.keyscan_argv("10.0.0.5") == ["ssh-keyscan", "-T", "5", "-t", "ed25519", "10.0.0.5"]
def test_one_off_output_merges_the_tasks_stdout_and_stderr_in_order():
    from control_plane.services.oneoff import merged_lines

    out = "2026-11-27T10:00:00.100000000Z out 1\n2026-11-27T10:00:00.300000000Z out 2\n"
    err = "2026-11-27T10:00:00.200000000Z err 1\n"
    assert merged_lines(out, err) == ["out 1", "err 1", "out 2"]


def test_manager_ports_are_reached_through_an_ssh_forward(tmp_path, monkeypatch):
    from control_plane import tunnel

    monkeypatch.setenv("SENTINEL_HOME", str(tmp_path))
    assert tunnel.forward_spec(41000, 8082) == "127.0.0.1:41000:127.0.0.1:8082"
    argv = tunnel.forward_argv("10.0.0.10", 41000, 5000)
    assert argv[:2] == ["ssh", "-F"] and argv[3:] == ["-O", "forward", "-L",
                                                       "127.0.0.1:41000:127.0.0.1:5000", "10.0.0.10"]


def test_pushes_go_through_the_forward_and_nodes_get_the_private_name(tmp_path):
    from control_plane.registry import cluster_ref

    assert cluster_ref("127.0.0.1:41000", "todo:1") == "127.0.0.1:41000/todo:1"
    assert cluster_ref("10.42.1.10:5000", "todo:1") == "10.42.1.10:5000/todo:1"


def test_patroni_cluster_view_and_closing_an_ssh_master(tmp_path, monkeypatch):
    from control_plane import patroni, ssh

    assert patroni.cluster_argv() == ["curl", "-fsS", "-m", "3", "http://127.0.0.1:8008/cluster"]
    monkeypatch.setenv("SENTINEL_HOME", str(tmp_path))
    assert ssh.close_master_argv("10.0.0.5") == ["ssh", "-F", str(tmp_path / "ssh" / "config"), "-O",
                                                 "exit", "10.0.0.5"]
