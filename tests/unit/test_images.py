"""Pure parts of control_plane.images: hashing, tags, argv builders, selection."""
from pathlib import Path

import pytest

from control_plane import images as im


def _specs(tmp_path: Path, app_version: str = "1") -> dict[str, im.ImageSpec]:
    base = tmp_path / "base"
    (base / "rootfs/etc").mkdir(parents=True, exist_ok=True)
    (base / "rootfs/etc/motd").write_text("hi\n")
    app = tmp_path / "app"
    app.mkdir(exist_ok=True)
    (app / "Dockerfile").write_text("ARG BASE\nFROM ${BASE}\nCOPY run.sh /run.sh\n")
    (app / "run.sh").write_text("#!/bin/sh\necho run\n")
    outside = tmp_path / "outside.bin"
    if not outside.exists():
        outside.write_bytes(b"\x00binary")
    return {
        "base": im.ImageSpec("base", base, parent=None, dockerfile=None),
        "app": im.ImageSpec("app", app, extra_files=(("tool", outside),)),
        "todo:1": im.ImageSpec("todo:1", app, build_args=(("APP_VERSION", app_version),),
                               tag="todo:1"),
    }


def test_hashes_are_stable(tmp_path):
    specs = _specs(tmp_path)
    assert im.image_hashes(specs) == im.image_hashes(specs)
    assert set(im.image_hashes(specs)) == {"base", "app", "todo:1"}


def test_context_file_change_changes_hash_and_children(tmp_path):
    specs = _specs(tmp_path)
    before = im.image_hashes(specs)
    (tmp_path / "app/run.sh").write_text("#!/bin/sh\necho changed\n")
    after = im.image_hashes(specs)
    assert after["app"] != before["app"]
    assert after["base"] == before["base"]


def test_parent_change_changes_child(tmp_path):
    specs = _specs(tmp_path)
    before = im.image_hashes(specs)
    (tmp_path / "base/rootfs/etc/motd").write_text("bye\n")
    after = im.image_hashes(specs)
    assert all(after[n] != before[n] for n in ("base", "app", "todo:1"))


def test_new_file_rename_mode_and_outside_file_change_hash(tmp_path):
    specs = _specs(tmp_path)
    h0 = im.image_hashes(specs)["app"]
    (tmp_path / "app/extra.txt").write_text("x")
    h1 = im.image_hashes(specs)["app"]
    (tmp_path / "app/extra.txt").rename(tmp_path / "app/other.txt")
    h2 = im.image_hashes(specs)["app"]
    (tmp_path / "app/other.txt").chmod(0o755)
    h3 = im.image_hashes(specs)["app"]
    (tmp_path / "outside.bin").write_bytes(b"new binary")
    h4 = im.image_hashes(specs)["app"]
    assert len({h0, h1, h2, h3, h4}) == 5


def test_dockerfile_and_build_arg_change_hash(tmp_path):
    h1 = im.image_hashes(_specs(tmp_path, "1"))
    h2 = im.image_hashes(_specs(tmp_path, "2"))
    assert h1["todo:1"] != h2["todo:1"] and h1["app"] == h2["app"]
    specs = _specs(tmp_path, "1")
    (tmp_path / "app/Dockerfile").write_text("ARG BASE\nFROM ${BASE}\n")
    assert im.image_hashes(specs)["app"] != h1["app"]


def test_junk_files_are_ignored(tmp_path):
    specs = _specs(tmp_path)
    before = im.image_hashes(specs)
    (tmp_path / "app/__pycache__").mkdir()
    (tmp_path / "app/__pycache__/x.cpython-311.pyc").write_bytes(b"junk")
    (tmp_path / "app/y.pyc").write_bytes(b"junk")
    assert im.image_hashes(specs) == before


def test_content_hash_inputs():
    base = im.content_hash({"a": "1"}, "FROM x", {"K": "v"}, "p")
    assert base == im.content_hash({"a": "1"}, "FROM x", {"K": "v"}, "p")
    assert base != im.content_hash({"a": "2"}, "FROM x", {"K": "v"}, "p")
    assert base != im.content_hash({"b": "1"}, "FROM x", {"K": "v"}, "p")
    assert base != im.content_hash({"a": "1"}, "FROM y", {"K": "v"}, "p")
    assert base != im.content_hash({"a": "1"}, "FROM x", {"K": "w"}, "p")
    assert base != im.content_hash({"a": "1"}, "FROM x", {"K": "v"}, "q")
    assert base != im.content_hash({"a": "1"}, "FROM x", {"K": "v"}, None)


def test_missing_inputs_leave_image_out(tmp_path):
    specs = _specs(tmp_path)
    (tmp_path / "outside.bin").unlink()
    assert im.missing_inputs(specs["app"]).endswith("outside.bin is missing")
    assert "app" not in im.image_hashes(specs)
    assert "todo:1" in im.image_hashes(specs)


def test_tags_and_refs(tmp_path):
    specs = _specs(tmp_path)
    hashes = im.image_hashes(specs)
    refs = im.local_image_refs(specs)
    assert refs == {"app": f"sentinel/app:{hashes['app'][:12]}", "todo:1": "todo:1"}


def test_default_specs_cover_the_local_set():
    specs = im.default_specs()
    assert list(specs)[0] == "base"
    assert {"node", "traefik", "postgres", "registry", "prometheus", "node-exporter",
            "todo:1", "todo:2"} <= set(specs)
    assert "grafana" not in specs and "grafana" in im.UPSTREAM


def test_the_node_builds_on_a_trixie_base_that_shares_the_base_overlay_but_its_sources(tmp_path):
    specs = im.default_specs()
    node, trixie = specs["node"], specs["base-trixie"]
    assert node.parent == "base-trixie" and trixie.parent is None and trixie.suite == "trixie"
    assert list(specs).index("base-trixie") < list(specs).index("node")
    assert all(s.parent == "base" for n, s in specs.items() if n not in ("base", "base-trixie", "node"))
    assert "trixie" in im.recipe(trixie) and "bookworm" in im.recipe(specs["base"])
    files = im.context_files(trixie)
    assert "trixie main" in files["rootfs/etc/apt/sources.list"].read_text()
    assert files["rootfs/usr/sbin/policy-rc.d"] == im.IMAGES / "base/rootfs/usr/sbin/policy-rc.d"
    assert "base-trixie" not in im.local_image_refs(specs) and "base" not in im.local_image_refs(specs)
    # the overlay is laid over the debootstrap tree file by file, modes kept
    rootfs = tmp_path / "rootfs"
    (rootfs / "usr/share/doc/x").mkdir(parents=True)
    (rootfs / "usr/share/doc/x/README").write_text("dropped")
    (rootfs / "etc").mkdir()
    im._slim_rootfs(rootfs, files)
    assert "trixie main" in (rootfs / "etc/apt/sources.list").read_text()
    assert (rootfs / "usr/sbin/policy-rc.d").stat().st_mode & 0o111
    assert not (rootfs / "usr/share/doc/x/README").exists()


def test_select():
    specs = im.default_specs()
    assert im.select(None, specs) == list(specs)
    assert im.select(["postgres"], specs) == ["base", "postgres"]
    assert im.select(["todo"], specs) == ["base", "todo:1", "todo:2", "todo:3"]
    with pytest.raises(im.ImageError, match="Unknown image 'nope'"):
        im.select(["nope"], specs)


def test_argv_builders():
    assert im.debootstrap_argv(Path("/tmp/r")) == [
        "debootstrap", "--variant=minbase", "--include=ca-certificates", "bookworm",
        "/tmp/r", "http://deb.debian.org/debian"]
    assert im.tar_argv(Path("/tmp/r")) == ["tar", "-C", "/tmp/r", "-c", "."]
    assert im.import_argv("sentinel/base:abc", {"sentinel.hash": "abc"}) == [
        "docker", "import", "--change", "LABEL sentinel.hash=abc",
        "--change", 'CMD ["/bin/bash"]', "-", "sentinel/base:abc"]
    assert im.build_argv("sentinel/node:abc", Path("/tmp/ctx"),
                         {"BASE": "sentinel/base:123", "APP_VERSION": "2"},
                         {"sentinel.hash": "abc"}) == [
        "docker", "build", "--force-rm", "-t", "sentinel/node:abc",
        "--build-arg", "APP_VERSION=2", "--build-arg", "BASE=sentinel/base:123",
        "--label", "sentinel.hash=abc", "/tmp/ctx"]
    assert im.inspect_argv("todo:1") == [
        "docker", "image", "inspect", "--format",
        '{{index .Config.Labels "sentinel.hash"}}', "todo:1"]


def test_run_reports_stderr_tail_and_missing_binary():
    assert im.run(["sh", "-c", "echo out"]) == "out\n"
    with pytest.raises(im.CommandError, match="exit code 3:\n  boom"):
        im.run(["sh", "-c", "echo boom >&2; exit 3"])
    with pytest.raises(im.CommandError, match="not installed"):
        im.run(["no-such-binary-sentinel"])
    assert im.run(["cat"], stdin_from=["printf", "piped"]) == "piped"
