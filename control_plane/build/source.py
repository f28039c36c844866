"""A source folder as a build sees it: the files left after the ignore rules, and its tarball.

`.dockerignore` if present, else `.gitignore` (the root one; nested .gitignore files are not
read), each with its own tool's semantics:
- gitignore: a pattern without a slash but a trailing one matches at any depth; a leading or
  middle slash anchors it at the root; a trailing slash matches directories only; a file inside
  an ignored directory cannot be re-included (git does not look inside it).
- dockerignore: every pattern is anchored at the root (a leading slash changes nothing, a
  trailing one is dropped as Go's filepath.Clean does) and matches a path or any of its parent
  directories; the last matching pattern wins, so `!` can re-include a file in an excluded folder.
Both: `*` and `?` stay within a path segment, `**` spans segments, `[...]` is a class, `!` negates.
`.git/` is always skipped.

`pack` makes the same bytes for the same files (sorted entries, mtime 0, owner 0), so its
content hash names a source whatever the files' mtimes; `unpack` is the receiving side and
trusts nothing in the archive.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import posixpath
import re
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from ..errors import InvalidInput

ALWAYS_SKIPPED = (".git",)
IGNORE_FILES = (".dockerignore", ".gitignore")


# A source larger than this (once extracted) is refused before it is sent, and when it arrives.
SOURCE_LIMIT = 100 * 2**20


class SourceError(InvalidInput):
    """A source folder or archive that cannot be built from (one sentence)."""


class SourceTooLarge(SourceError):
    pass


# ------------------------------------------------------------------ ignore rules

@dataclass(frozen=True)
class IgnoreRule:
    pattern: str            # as written, for messages
    regex: re.Pattern
    negate: bool
    dir_only: bool          # gitignore's trailing slash


@dataclass(frozen=True)
class IgnoreRules:
    dialect: str            # "dockerignore" | "gitignore" | "none"
    rules: tuple[IgnoreRule, ...] = ()

    def ignored(self, path: str) -> bool:
        """Whether a file (relative posix path) is left out."""
        parts = path.split("/")
        if parts[0] in ALWAYS_SKIPPED:
            return True
        if self.dialect == "gitignore":
            # A directory git ignores is never entered: its files stay ignored whatever follows.
            return (any(self._last_match("/".join(parts[:i]), is_dir=True)
                        for i in range(1, len(parts)))
                    or self._last_match(path, is_dir=False))
        # dockerignore: the last rule matching the path or one of its parents decides.
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        verdict = False
        for rule in self.rules:
            if any(rule.regex.fullmatch(p) for p in prefixes):
                verdict = not rule.negate
        return verdict

    def prunes(self, folder: str) -> bool:
        """Whether nothing inside `folder` can be kept, so a walk need not enter it."""
        if folder.split("/")[0] in ALWAYS_SKIPPED:
            return True
        if self.dialect == "gitignore":
            parts = folder.split("/")
            return any(self._last_match("/".join(parts[:i]), is_dir=True)
                       for i in range(1, len(parts) + 1))
        # A `!` rule may re-include something deep inside an excluded folder.
        return (self.dialect == "dockerignore" and not any(r.negate for r in self.rules)
                and self.ignored(folder))

    def _last_match(self, path: str, is_dir: bool) -> bool:
        verdict = False
        for rule in self.rules:
            if rule.dir_only and not is_dir:
                continue
            if rule.regex.fullmatch(path):
                verdict = not rule.negate
        return verdict


def _glob_to_regex(glob: str) -> str:
    """A gitignore/dockerignore glob (already stripped of `!` and anchoring slashes) as a regex."""
    out: list[str] = []
    i, n = 0, len(glob)
    while i < n:
        c = glob[i]
        if glob.startswith("**", i):
            before_ok = i == 0 or glob[i - 1] == "/"
            after = glob[i + 2:i + 3]
            if before_ok and after == "/":          # `**/`: zero or more directories
                out.append("(?:.*/)?")
                i += 3
                continue
            if before_ok and after == "":           # trailing `/**` or a lone `**`: anything
                out.append(".*")
                i += 2
                continue
            out.append("[^/]*")                      # `a**b`: as `*`, as git does
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(glob[i]))
        elif c == "[":
            end = glob.find("]", i + 2 if glob[i + 1:i + 2] in ("!", "^") else i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = glob[i + 1:end]
                if body[:1] in ("!", "^"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def parse_ignore(text: str, dialect: str) -> IgnoreRules:
    """Rules from a .dockerignore or .gitignore file's text."""
    rules: list[IgnoreRule] = []
    for raw in text.splitlines():
        line = raw.strip() if dialect == "dockerignore" else raw.rstrip(" \t\r")
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        body = line[1:] if negate else line
        if body.startswith("\\") and body[1:2] in ("#", "!"):
            body = body[1:]
        if dialect == "dockerignore":
            body = posixpath.normpath(body.strip().lstrip("/")) if body.strip("/") else ""
            if body in ("", "."):
                continue
            rules.append(IgnoreRule(line, re.compile(_glob_to_regex(body)), negate, False))
            continue
        dir_only = body.endswith("/")
        body = body.rstrip("/")
        if not body:
            continue
        anchored = "/" in body
        body = body.lstrip("/")
        regex = _glob_to_regex(body)
        if not anchored:
            regex = "(?:.*/)?" + regex
        rules.append(IgnoreRule(line, re.compile(regex), negate, dir_only))
    return IgnoreRules(dialect, tuple(rules))


# ------------------------------------------------------------------ the tree

class SourceTree:
    """A read-only view of a source: a folder, or a dict of relative path -> bytes (tests).

    Every method sees only the files the ignore rules keep; symbolic links are listed as files
    and never followed out of the folder.
    """

    def __init__(self, root: Path | str | None = None, *, files: Mapping[str, bytes] | None = None):
        if (root is None) == (files is None):
            raise TypeError("SourceTree takes a folder or files=, not both")
        self._root = Path(root).resolve() if root is not None else None
        self._data = {_clean(p): bytes(b) for p, b in files.items()} if files is not None else None
        if self._root is not None and not self._root.is_dir():
            raise SourceError(f"The source folder {root} does not exist or is not a folder; "
                              "give the folder that holds the app's code.")
        self.ignore = self._rules()
        self._files = tuple(sorted(p for p in self._all_files() if not self.ignore.ignored(p)))
        self._set = frozenset(self._files)
        self._dirs = frozenset({""} | {"/".join(p.split("/")[:i]) for p in self._files
                                       for i in range(1, p.count("/") + 1)})

    @classmethod
    def from_files(cls, files: Mapping[str, bytes | str]) -> "SourceTree":
        return cls(files={p: b.encode() if isinstance(b, str) else b for p, b in files.items()})

    @property
    def root(self) -> Path | None:
        return self._root

    def files(self) -> tuple[str, ...]:
        """Every kept file (and link), as sorted relative posix paths."""
        return self._files

    def exists(self, path: str) -> bool:
        """Whether a kept file, link or a folder holding one is at `path`."""
        path = _clean(path)
        return path in self._set or path in self._dirs

    def is_file(self, path: str) -> bool:
        return _clean(path) in self._set

    def read_bytes(self, path: str) -> bytes:
        path = _clean(path)
        if path not in self._set:
            raise SourceError(f"{path} is not in the source (or is ignored); add it, or remove "
                              "it from .dockerignore/.gitignore.")
        if self._data is not None:
            return self._data[path]
        full = (self._root / path).resolve()
        if not full.is_relative_to(self._root):
            raise SourceError(f"{path} is a link to {full}, outside the source folder; replace "
                              "it with the file it points to.")
        return full.read_bytes()

    def read_text(self, path: str) -> str:
        try:
            return self.read_bytes(path).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise SourceError(f"{_clean(path)} is not UTF-8 text; save it as UTF-8.") from None

    def _read_raw(self, name: str) -> str | None:
        """A root ignore file, read before any rule exists."""
        if self._data is not None:
            data = self._data.get(name)
        else:
            p = self._root / name
            data = p.read_bytes() if p.is_file() and not p.is_symlink() else None
        return data.decode("utf-8-sig", errors="replace") if data is not None else None

    def _rules(self) -> IgnoreRules:
        for name in IGNORE_FILES:
            text = self._read_raw(name)
            if text is not None:
                return parse_ignore(text, name[1:])
        return IgnoreRules("none")

    def _all_files(self) -> Iterable[str]:
        if self._data is not None:
            yield from self._data
            return
        for dirpath, dirnames, filenames in os.walk(self._root, followlinks=False):
            rel = Path(dirpath).relative_to(self._root).as_posix()
            rel = "" if rel == "." else rel + "/"
            keep = []
            for d in sorted(dirnames):
                if os.path.islink(os.path.join(dirpath, d)):
                    filenames.append(d)  # a link to a folder is a link, not a folder to enter
                elif not self.ignore.prunes(rel + d):
                    keep.append(d)
            dirnames[:] = keep
            for f in filenames:
                st = os.lstat(os.path.join(dirpath, f))
                if stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
                    yield rel + f  # sockets, fifos and devices are never part of a source


def _clean(path: str) -> str:
    """A relative posix path without `./`, doubled or leading slashes ("" for the root)."""
    clean = posixpath.normpath(path.replace("\\", "/")).lstrip("/") if path else ""
    return "" if clean == "." else clean


# ------------------------------------------------------------------ the tarball

def _size_text(n: int) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def _too_large(size: int, limit: int, what: str) -> SourceTooLarge:
    return SourceTooLarge(f"{what} is {_size_text(size)}, over the {_size_text(limit)} limit; "
                          "list what the build does not need (node_modules/, data, build output) "
                          "in .dockerignore to leave it out.")


def _inside(link_path: str, target: str) -> bool:
    """Whether a link at `link_path` pointing at `target` stays inside its tree (lexically)."""
    if target.startswith("/"):
        return False
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(link_path), target))
    return resolved != ".." and not resolved.startswith("../")


def pack(folder: Path | str, limit_bytes: int) -> tuple[bytes, str]:
    """(a gzip tarball of the kept files, their content hash), the same for the same files."""
    tree = SourceTree(folder)
    root = tree.root
    entries: list[tuple[str, os.stat_result, str | None]] = []  # (path, lstat, link target)
    for rel in tree.files():
        st = os.lstat(root / rel)
        target = os.readlink(root / rel) if stat.S_ISLNK(st.st_mode) else None
        if target is not None and not _inside(rel, target):
            raise SourceError(f"{rel} is a link to {target}, outside the source folder; "
                              "replace it with the file, or list it in .dockerignore.")
        entries.append((rel, st, target))
    total = sum(st.st_size for _, st, target in entries if target is None)
    if total > limit_bytes:
        raise _too_large(total, limit_bytes, "The source")

    digest = hashlib.sha256()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel, st, target in entries:
            info = tarfile.TarInfo(rel)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            info.mode = stat.S_IMODE(st.st_mode) & 0o777  # no setuid/setgid/sticky into a build
            if target is not None:
                info.type, info.linkname = tarfile.SYMTYPE, target
                tar.addfile(info)
                content, kind = target.encode(), b"l"
            else:
                content = (root / rel).read_bytes()
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
                kind = b"f"
            for part in (rel.encode(), kind + b"%o" % info.mode, b"%d" % len(content)):
                digest.update(part + b"\0")
            digest.update(content)
    out = io.BytesIO()
    # filename="" and mtime=0: the gzip header holds nothing that changes between runs.
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=6) as gz:
        gz.write(raw.getvalue())
    return out.getvalue(), digest.hexdigest()


def unpack(tar_bytes: bytes, dest: Path | str, limit_bytes: int) -> list[str]:
    """Extract a source tarball into `dest` (created; must be empty); the paths written.

    Refused: absolute paths, `..`, links leading outside, hard links, devices and fifos,
    an entry written through a link, a name twice, more than `limit_bytes` once extracted.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise SourceError(f"{dest} is not empty; unpack a source into a new folder.")
    root = dest.resolve()
    try:
        tar = tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:*")
        members = tar.getmembers()
    except (tarfile.TarError, EOFError, OSError) as e:
        raise SourceError(f"The source archive cannot be read ({e}); send a gzip tarball.") from None
    total, seen, written = 0, set(), []
    for m in members:
        name = m.name
        parts = name.split("/")
        if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
            raise SourceError(f"The source archive holds an absolute path ({name}); "
                              "archive paths must be relative to the source folder.")
        if ".." in parts:
            raise SourceError(f"The source archive holds a path that leaves its folder ({name}); "
                              "archive paths may not contain '..'.")
        clean = _clean(name)
        if not clean:
            continue
        if clean in seen:
            raise SourceError(f"The source archive holds {clean} twice; send each path once.")
        seen.add(clean)
        if m.ischr() or m.isblk() or m.isfifo() or m.isdev():
            raise SourceError(f"The source archive holds a device or fifo ({clean}); "
                              "a source may hold only files, folders and links.")
        if m.islnk():
            raise SourceError(f"The source archive holds a hard link ({clean}); "
                              "send the file itself or a relative symbolic link.")
        if m.issym() and not _inside(clean, m.linkname):
            raise SourceError(f"The source archive holds a link leading outside it ({clean} -> "
                              f"{m.linkname}); links must point inside the source folder.")
        if not (m.isreg() or m.isdir() or m.issym()):
            raise SourceError(f"The source archive holds {clean} of an unknown type; "
                              "a source may hold only files, folders and links.")
        total += m.size if m.isreg() else 0
        if total > limit_bytes:
            raise _too_large(sum(x.size for x in members if x.isreg()), limit_bytes,
                             "The unpacked source")
        target = root / clean
        parent = target.parent
        parent.mkdir(parents=True, exist_ok=True)
        # Never write through a link an earlier entry made: the parent must be where it says.
        if parent.resolve() != parent or not parent.is_relative_to(root):
            raise SourceError(f"The source archive writes {clean} through a link; "
                              "send the files themselves.")
        try:
            if m.isdir():
                target.mkdir(exist_ok=True)
                target.chmod(0o755)
            elif m.issym():
                os.symlink(m.linkname, target)
            else:
                data = tar.extractfile(m).read()
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.chmod(target, 0o755 if m.mode & 0o111 else 0o644)  # only the x bit travels
        except OSError as e:
            raise SourceError(f"The source archive's {clean} cannot be written ({e.strerror}); "
                              "send a folder's plain files, each path once.") from None
        written.append(clean)
    return written
