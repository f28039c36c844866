"""control_plane.build.source: ignore rules, the deterministic tarball, a distrustful unpack."""
import gzip
import io
import os
import tarfile

import pytest

from control_plane.build.source import (SourceError, SourceTooLarge, SourceTree, pack,
                                        parse_ignore, unpack)


def tree(**files) -> SourceTree:
    return SourceTree.from_files({k.replace("__", "/"): v for k, v in files.items()})


def write(root, files: dict):
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)


# ---------------------------------------------------------------- ignore rules

def kept(ignore_name: str, ignore_text: str, paths: list[str]) -> list[str]:
    t = SourceTree.from_files({ignore_name: ignore_text, **{p: b"" for p in paths}})
    return [p for p in t.files() if p != ignore_name]


def test_dockerignore_wins_over_gitignore():
    t = SourceTree.from_files({".dockerignore": "a.txt\n", ".gitignore": "b.txt\n",
                               "a.txt": "", "b.txt": ""})
    assert t.files() == (".dockerignore", ".gitignore", "b.txt")
    assert t.ignore.dialect == "dockerignore"


def test_gitignore_used_without_dockerignore():
    t = SourceTree.from_files({".gitignore": "b.txt\n", "a.txt": "", "b.txt": ""})
    assert t.files() == (".gitignore", "a.txt")


def test_dot_git_is_always_skipped():
    t = SourceTree.from_files({".git/config": "", ".git/objects/x": "", "a": "", "sub/.gitkeep": ""})
    assert t.files() == ("a", "sub/.gitkeep")


def test_gitignore_unanchored_pattern_matches_at_any_depth_anchored_only_at_root():
    paths = ["build/x", "src/build/y", "logs/a.log", "src/b.log", "docs/out", "out/z"]
    assert kept(".gitignore", "build\n*.log\n/out\n", paths) == ["docs/out"]


def test_gitignore_middle_slash_anchors():
    assert kept(".gitignore", "src/gen\n", ["src/gen/a", "lib/src/gen/b"]) == ["lib/src/gen/b"]


def test_gitignore_trailing_slash_matches_directories_only():
    assert kept(".gitignore", "cache/\n", ["cache", "sub/cache/x", "cache2/x"]) == ["cache", "cache2/x"]


def test_gitignore_double_star():
    paths = ["a/b/c/x.pyc", "x.pyc", "foo/bar", "a/foo/bar", "a/b/foo/bar", "foo/baz",
             "logs/deep/er/z", "logs2/z"]
    assert kept(".gitignore", "**/*.pyc\n**/foo/bar\nlogs/**\n", paths) == ["foo/baz", "logs2/z"]
    assert kept(".gitignore", "a/**/c\n", ["a/c", "a/b/c", "a/b/d/c", "a/cc"]) == ["a/cc"]


def test_gitignore_negation_but_not_inside_an_ignored_directory():
    paths = ["a.log", "keep.log", "node_modules/x/keep.log", "dist/app.js"]
    text = "*.log\n!keep.log\nnode_modules/\n!node_modules/x/keep.log\n"
    assert kept(".gitignore", text, paths) == ["dist/app.js", "keep.log"]


def test_gitignore_comments_escapes_and_classes():
    text = "# a comment\n\\#hash\n\\!bang\nfile[0-9].txt\nf?o\n"
    paths = ["#hash", "!bang", "file1.txt", "filea.txt", "foo", "fooo", "# a comment"]
    assert kept(".gitignore", text, paths) == ["# a comment", "filea.txt", "fooo"]


def test_dockerignore_patterns_are_anchored_at_the_root():
    paths = ["a.pyc", "sub/b.pyc", "sub/c.pyc", "x/node_modules/m", "node_modules/m"]
    assert kept(".dockerignore", "*.pyc\n/node_modules\n", paths) == [
        "sub/b.pyc", "sub/c.pyc", "x/node_modules/m"]
    assert kept(".dockerignore", "**/*.pyc\n", ["a.pyc", "sub/deep/b.pyc", "b.py"]) == ["b.py"]


def test_dockerignore_trailing_slash_and_dot_slash_are_cleaned():
    assert kept(".dockerignore", "./build/\n  tmp  \n", ["build/a", "tmp/b", "src/c"]) == ["src/c"]


def test_dockerignore_negation_reaches_into_an_excluded_folder_last_match_wins():
    paths = ["docs/a.md", "docs/keep/b.md", "docs/keep/c.tmp", "README.md"]
    assert kept(".dockerignore", "docs\n!docs/keep\ndocs/keep/*.tmp\n", paths) == [
        "README.md", "docs/keep/b.md"]
    assert kept(".dockerignore", "*\n!src\n", ["src/a", "b", "c/d"]) == ["src/a"]


def test_parse_ignore_skips_blank_and_comment_lines():
    rules = parse_ignore("\n# c\n  \n*.o\n!x.o\n", "dockerignore")
    assert [(r.pattern, r.negate) for r in rules.rules] == [("*.o", False), ("!x.o", True)]


def test_tree_exists_read_text_and_folders():
    t = SourceTree.from_files({"public/index.html": "<h1>hi</h1>", "app.py": "x = 1\n",
                               ".gitignore": "secret\n", "secret": "no"})
    assert t.exists("public") and t.exists("public/index.html") and t.exists("./app.py")
    assert not t.exists("secret") and not t.exists("pub")
    assert t.read_text("app.py") == "x = 1\n"
    with pytest.raises(SourceError, match="ignored"):
        t.read_text("secret")


def test_folder_tree_matches_its_files_and_never_follows_links_out(tmp_path):
    src = tmp_path / "src"
    write(src, {"app.py": "x", ".gitignore": "node_modules/\n*.pyc\n", "node_modules/a/b.js": "",
                "pkg/__init__.pyc": "", "pkg/mod.py": "", ".git/HEAD": "ref"})
    (tmp_path / "outside.txt").write_text("secret")
    os.symlink("../outside.txt", src / "leak.txt")
    os.symlink("pkg", src / "pkglink")
    t = SourceTree(src)
    assert t.files() == (".gitignore", "app.py", "leak.txt", "pkg/mod.py", "pkglink")
    with pytest.raises(SourceError, match="outside the source folder"):
        t.read_text("leak.txt")


def test_a_missing_folder_is_one_sentence(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        SourceTree(tmp_path / "nope")


# ---------------------------------------------------------------- pack

def members(tar_bytes: bytes) -> list[tuple[str, str, int, int, str]]:
    with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:gz") as tar:
        return [(m.name, "l" if m.issym() else "f", m.mode, m.mtime, m.linkname)
                for m in tar.getmembers()]


def make_source(root):
    write(root, {"b.py": "print(1)\n", "a/z.txt": "z", "a/y.txt": "y", "run.sh": "#!/bin/sh\n",
                 ".dockerignore": "*.log\n", "debug.log": "noise"})
    (root / "run.sh").chmod(0o755)
    os.symlink("a/z.txt", root / "link")


def test_pack_is_sorted_with_modes_kept_owner_and_mtime_zero(tmp_path):
    make_source(tmp_path / "s")
    tar_bytes, digest = pack(tmp_path / "s", 1 << 20)
    assert members(tar_bytes) == [
        (".dockerignore", "f", 0o644, 0, ""), ("a/y.txt", "f", 0o644, 0, ""),
        ("a/z.txt", "f", 0o644, 0, ""), ("b.py", "f", 0o644, 0, ""),
        ("link", "l", 0o777, 0, "a/z.txt"), ("run.sh", "f", 0o755, 0, "")]
    with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:gz") as tar:
        assert {(m.uid, m.gid, m.uname, m.gname) for m in tar.getmembers()} == {(0, 0, "", "")}
    assert len(digest) == 64


def test_same_files_same_bytes_and_hash_whatever_their_mtimes(tmp_path):
    make_source(tmp_path / "one")
    make_source(tmp_path / "two")
    for p in (tmp_path / "two").rglob("*"):
        os.utime(p, (1_000_000, 1_000_000), follow_symlinks=False)
    assert pack(tmp_path / "one", 1 << 20) == pack(tmp_path / "two", 1 << 20)
    assert gzip.decompress(pack(tmp_path / "one", 1 << 20)[0])  # a valid gzip stream


@pytest.mark.parametrize("change", ["byte", "mode", "name", "link", "ignored"])
def test_the_hash_changes_with_a_byte_a_mode_a_name_or_a_link_not_an_ignored_file(tmp_path, change):
    make_source(tmp_path / "s")
    before = pack(tmp_path / "s", 1 << 20)[1]
    s = tmp_path / "s"
    if change == "byte":
        (s / "b.py").write_text("print(2)\n")
    elif change == "mode":
        (s / "b.py").chmod(0o755)
    elif change == "name":
        (s / "b.py").rename(s / "c.py")
    elif change == "link":
        (s / "link").unlink()
        os.symlink("a/y.txt", s / "link")
    else:
        (s / "debug.log").write_text("other noise")
    after = pack(s, 1 << 20)[1]
    assert (after == before) == (change == "ignored")


def test_pack_over_the_limit_names_size_limit_and_dockerignore(tmp_path):
    write(tmp_path, {"big.bin": b"x" * 3 * 1024 * 1024, "small": "y"})
    with pytest.raises(SourceTooLarge) as e:
        pack(tmp_path, 2 << 20)
    assert str(e.value).startswith("The source is 3.0 MB, over the 2.0 MB limit;")
    assert ".dockerignore" in str(e.value)
    write(tmp_path, {".dockerignore": "big.bin\n"})
    assert [m[0] for m in members(pack(tmp_path, 2 << 20)[0])] == [".dockerignore", "small"]


def test_pack_refuses_a_link_leading_outside(tmp_path):
    write(tmp_path / "s", {"a": "x"})
    os.symlink("/etc/passwd", tmp_path / "s" / "p")
    with pytest.raises(SourceError, match="outside the source folder"):
        pack(tmp_path / "s", 1 << 20)
    (tmp_path / "s" / "p").unlink()
    os.symlink("../../x", tmp_path / "s" / "p")
    with pytest.raises(SourceError, match="outside the source folder"):
        pack(tmp_path / "s", 1 << 20)


# ---------------------------------------------------------------- unpack

def test_pack_then_unpack_gives_the_files_back(tmp_path):
    make_source(tmp_path / "s")
    written = unpack(pack(tmp_path / "s", 1 << 20)[0], tmp_path / "d", 1 << 20)
    d = tmp_path / "d"
    assert written == [".dockerignore", "a/y.txt", "a/z.txt", "b.py", "link", "run.sh"]
    assert (d / "b.py").read_text() == "print(1)\n" and not (d / "debug.log").exists()
    assert os.readlink(d / "link") == "a/z.txt"
    assert os.stat(d / "run.sh").st_mode & 0o777 == 0o755
    assert os.stat(d / "b.py").st_mode & 0o777 == 0o644
    # The same files again: the same hash.
    assert pack(d, 1 << 20)[1] == pack(tmp_path / "s", 1 << 20)[1]


def evil(*entries) -> bytes:
    """A gzip tarball of (name, kind, payload): kind f(ile)/l(ink)/h(ard link)/c(har device)/d(ir)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz", format=tarfile.GNU_FORMAT) as tar:
        for name, kind, payload in entries:
            info = tarfile.TarInfo(name)
            if kind == "f":
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
                continue
            info.type = {"l": tarfile.SYMTYPE, "h": tarfile.LNKTYPE, "c": tarfile.CHRTYPE,
                         "d": tarfile.DIRTYPE, "p": tarfile.FIFOTYPE}[kind]
            info.linkname = payload.decode() if kind in "lh" else ""
            tar.addfile(info)
    return raw.getvalue()


@pytest.mark.parametrize("entries, message", [
    ([("/etc/cron.d/x", "f", b"boom")], "absolute path"),
    ([("../x", "f", b"boom")], "may not contain '..'"),
    ([("a/../../x", "f", b"boom")], "may not contain '..'"),
    ([("up", "l", b"../../etc")], "link leading outside"),
    ([("abs", "l", b"/etc/passwd")], "link leading outside"),
    ([("a/deep", "l", b"../../x")], "link leading outside"),
    ([("dir", "l", b"."), ("dir/x", "f", b"ok")], "through a link"),
    ([("sub/in", "d", b""), ("sub/l", "l", b"in"), ("sub/l/x", "f", b"ok")], "through a link"),
    ([("hard", "h", b"/etc/passwd")], "hard link"),
    ([("dev", "c", b"")], "device or fifo"),
    ([("fifo", "p", b"")], "device or fifo"),
    ([("x", "f", b"1"), ("x", "f", b"2")], "twice"),
])
def test_unpack_refuses_what_could_escape_or_surprise(tmp_path, entries, message):
    with pytest.raises(SourceError, match=message) as e:
        unpack(evil(*entries), tmp_path / "d", 1 << 20)
    assert str(e.value).count("; ") == 1  # what is wrong; what to do
    assert not (tmp_path / "etc").exists() and not (tmp_path / "x").exists()


def test_unpack_refuses_more_than_the_limit_once_extracted(tmp_path):
    bomb = evil(("a", "f", b"\0" * (3 << 20)))
    assert len(bomb) < 10_000
    with pytest.raises(SourceTooLarge, match="The unpacked source is 3.0 MB, over the 1.0 MB"):
        unpack(bomb, tmp_path / "d", 1 << 20)


def test_unpack_refuses_garbage_and_a_non_empty_folder(tmp_path):
    with pytest.raises(SourceError, match="cannot be read"):
        unpack(b"not a tarball", tmp_path / "d", 1 << 20)
    write(tmp_path / "full", {"x": "1"})
    with pytest.raises(SourceError, match="not empty"):
        unpack(evil(("a", "f", b"1")), tmp_path / "full", 1 << 20)
