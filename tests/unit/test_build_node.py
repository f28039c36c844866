"""The build on a node as data: the argv that runs there, the name an image gets from its source,
the steps shown, the certificates passed."""
import subprocess

from control_plane import names
from control_plane.build import ca
from control_plane.docker_cli import image_build_argv
from control_plane.services.builds import build_digest, step_of

CERT = "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----"


def test_buildkit_and_the_classic_builder_read_the_context_on_stdin():
    assert image_build_argv("reg:5000/todos:src-abc", "Dockerfile.sentinel", buildkit=True,
                            build_args={"B": "2", "A": "1"}) == [
        "env", "DOCKER_BUILDKIT=1", "docker", "buildx", "build", "--progress=plain", "--load",
        "-f", "Dockerfile.sentinel", "-t", "reg:5000/todos:src-abc",
        "--build-arg", "A=1", "--build-arg", "B=2", "-"]
    assert image_build_argv("t", "Dockerfile", buildkit=False, build_args={}) == [
        "env", "DOCKER_BUILDKIT=0", "docker", "build", "-f", "Dockerfile", "-t", "t", "-"]


def test_the_certificates_come_from_a_file_on_the_node_never_the_command_line(tmp_path):
    argv = image_build_argv("t", "Dockerfile", buildkit=False, build_args={},
                            ca_file="/var/lib/sentinel/build-ca.pem")
    assert argv[:2] == ["sh", "-c"] and argv[3:5] == ["sh", "/var/lib/sentinel/build-ca.pem"]
    assert argv[-3:] == ["--build-arg", "SENTINEL_CA", "-"]
    # Run the wrapper for real with `env` in place of docker: the variable arrives by name.
    pem = tmp_path / "ca.pem"
    pem.write_text(CERT.format("xyz"))
    script = [argv[2], "sh", str(pem), "sh", "-c", 'printf %s "$SENTINEL_CA"']
    out = subprocess.run(["sh", "-c", *script], capture_output=True, text=True, check=True).stdout
    assert out == CERT.format("xyz")


def test_an_image_is_named_by_its_source_base_and_arguments():
    one = build_digest("s1", "base:1", {"A": "1"})
    assert one == build_digest("s1", "base:1", {"A": "1"})
    assert len({one, build_digest("s2", "base:1", {"A": "1"}), build_digest("s1", "base:2", {"A": "1"}),
                build_digest("s1", "base:1", {"A": "2"})}) == 4
    assert names.build_tag("10.0.0.2:5000", "todos", one) == f"10.0.0.2:5000/todos:src-{one[:12]}"


def test_only_lines_that_start_a_step_are_shown():
    assert step_of("#7 [deps 3/5] RUN apt-get update") == "#7 [deps 3/5] RUN apt-get update"
    assert step_of("Step 3/9 : COPY . /app") == "Step 3/9 : COPY . /app"
    assert step_of("#7 DONE 1.2s") is None and step_of("#7 0.512 Get:1 http://deb") is None
    shown = step_of('#9 [deps 5/5] RUN set -e; if [ -n "' + CERT.format("abc") + '" ]; then')
    assert shown == '#9 [deps 5/5] RUN set -e; if [ -n "(SENTINEL_CA)…' and "abc" not in shown


def test_only_the_certificates_the_base_lacks_are_passed():
    host = "\n".join(CERT.format(x) for x in ("a", "proxy", "b"))
    base = "\n".join(CERT.format(x) for x in ("b", "a"))
    assert ca.extra_certificates(host, base) == CERT.format("proxy")
    assert ca.extra_certificates(base, host) == ""


def test_install_writes_stdin_to_the_file(tmp_path):
    target = tmp_path / "dir" / "ca.pem"
    subprocess.run(ca.install_argv(str(target)), input="pem", text=True, check=True)
    assert target.read_text() == "pem" and oct(target.stat().st_mode & 0o777) == "0o600"
