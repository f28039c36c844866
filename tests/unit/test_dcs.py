import yaml

from control_plane.records import EtcdMember
from control_plane.services import dcs

MEMBERS = [EtcdMember(key="etcd-0", node="c-node-0", initial_cluster="etcd-0=http://etcd-0:2380",
                      initial_state="new"),
           EtcdMember(key="etcd-1", node="c-node-1",
                      initial_cluster="etcd-0=http://etcd-0:2380,etcd-1=http://etcd-1:2380",
                      initial_state="existing")]


def test_each_member_is_pinned_and_keeps_the_settings_it_was_created_with():
    s = yaml.safe_load(dcs.dcs_stack(MEMBERS, "reg/etcd:1", "dnsrr"))
    e1 = s["services"]["etcd-1"]
    assert e1["deploy"]["placement"]["constraints"] == ["node.hostname == c-node-1"]
    assert "--initial-cluster-state=existing" in e1["command"]
    assert "--initial-cluster=etcd-0=http://etcd-0:2380,etcd-1=http://etcd-1:2380" in e1["command"]
    assert e1["networks"]["dcs"]["aliases"] == ["etcd-1"]
    assert s["networks"]["dcs"]["name"] == "sentinel-dcs" and s["networks"]["dcs"]["attachable"] is False


def test_a_new_member_joins_as_a_learner():
    argv = dcs.member_add_argv("etcd-2", "root:pw").argv()
    assert argv[-2:] == ["--peer-urls=http://etcd-2:2380", "--learner"]


def test_credentials_go_on_stdin_never_on_a_command_line():
    cmd = dcs.etcdctl("user", "add", "x", "--interactive=false", user="root:pw")
    argv = cmd.argv()
    assert not any("pw" in a for a in argv)
    assert argv[:5] == ["sh", "-c", dcs.READ_USER, "sh", "etcdctl"]
    assert cmd.stdin("new-password\n") == "root:pw\nnew-password\n"
    plain = dcs.etcdctl("endpoint", "health")
    assert plain.argv()[0] == "etcdctl" and plain.stdin(None) is None


def test_the_shell_wrapper_hands_etcdctl_the_user_and_the_rest_of_stdin(tmp_path):
    """The wrapper run for real by sh, with a stand-in etcdctl that prints what it got."""
    import os
    import subprocess

    fake = tmp_path / "etcdctl"
    fake.write_text('#!/bin/sh\necho "user=$ETCDCTL_USER args=$*"; cat\n')
    fake.chmod(0o755)
    cmd = dcs.etcdctl("user", "add", "x", user="root:p w$1")
    out = subprocess.run(cmd.argv(), input=cmd.stdin("secret\n"), capture_output=True, text=True,
                         env={**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}, check=True).stdout
    assert out == "user=root:p w$1 args=--command-timeout=10s user add x\nsecret\n"


def test_the_initial_cluster_is_read_from_member_add():
    out = 'Member 1 added\n\nETCD_NAME="etcd-2"\nETCD_INITIAL_CLUSTER="etcd-0=http://etcd-0:2380,etcd-2=http://etcd-2:2380"\n'
    assert dcs.parse_initial_cluster(out) == "etcd-0=http://etcd-0:2380,etcd-2=http://etcd-2:2380"


def test_an_apps_role_is_limited_to_its_prefix_and_no_password_is_on_a_command_line():
    argvs = dcs.app_user_argvs("todos", "root:pw")
    grant = next(a.argv() for a in argvs if "grant-permission" in a.args)
    assert grant[-3:] == ["readwrite", "/sentinel/todos/", "--prefix=true"]
    assert not any("pw" in x for a in argvs for x in a.argv())


def test_an_etcdctl_failure_is_told_by_its_last_line_not_its_retry_logs():
    err = ('{"level":"warn","msg":"retrying of unary invoker failed"}\n'
           "Error: etcdserver: can only promote a learner member which is in sync with leader\n")
    assert dcs.last_line(err) == ("Error: etcdserver: can only promote a learner member which is "
                                  "in sync with leader")
    assert dcs.last_line("") == "no answer"


def test_a_busy_etcd_is_asked_again_and_a_wrong_call_is_not():
    # What a loaded CI machine's etcd answered to a first deploy's `etcdctl del`.
    busy = ('{"level":"warn","ts":"2026-12-07T00:50:52.270Z","caller":"clientv3/retry_interceptor",'
            '"attempt":0,"error":"rpc error: code = DeadlineExceeded desc = context deadline '
            'exceeded"}\nError: context deadline exceeded\n')
    assert dcs.transient(busy)
    assert dcs.transient("Error: etcdserver: request timed out")
    assert not dcs.transient("Error: etcdserver: user name already exists")
    assert not dcs.transient("Error: etcdserver: permission denied")
    assert not dcs.transient("")
