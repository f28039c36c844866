"""Headless Chromium for the page tests: the DOM after the page's scripts ran, and a screenshot.

No Chromium is a failure, not a skip: the report page is only tested in a real browser.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        raise AssertionError("chromium is not installed: run `apt-get install -y chromium` "
                             "(scripts/install.sh installs it).")
    return exe


def _run(url: str, *mode: str, budget_ms: int) -> subprocess.CompletedProcess:
    # A fresh profile per run: no sessionStorage or cache carried between tests.
    with tempfile.TemporaryDirectory(prefix="sentinel-chromium-") as profile:
        return subprocess.run([chromium(), "--headless=new", "--no-sandbox", "--disable-gpu",
                               "--no-first-run", "--disable-extensions", f"--user-data-dir={profile}",
                               "--window-size=1280,1600", f"--virtual-time-budget={budget_ms}", *mode, url],
                              capture_output=True, text=True, timeout=90)


def dump_dom(url: str, budget_ms: int = 5000) -> "Node":
    proc = _run(url, "--dump-dom", budget_ms=budget_ms)
    assert proc.returncode == 0 and "<html" in proc.stdout, f"chromium failed:\n{proc.stderr[-2000:]}"
    return parse(proc.stdout)


def screenshot(url: str, name: str, budget_ms: int = 5000) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    path.unlink(missing_ok=True)
    proc = _run(url, f"--screenshot={path}", budget_ms=budget_ms)
    assert proc.returncode == 0 and path.exists() and path.stat().st_size > 10_000, \
        f"chromium made no screenshot:\n{proc.stderr[-2000:]}"
    return path


@dataclass
class Node:
    tag: str
    attrs: dict = field(default_factory=dict)
    children: list = field(default_factory=list)  # Node or str

    def find_all(self, tag: str | None = None, **attrs: str) -> list["Node"]:
        """Descendants with this tag whose attributes contain these words (class_ for class)."""
        want = {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()}
        out = []
        for c in self.children:
            if isinstance(c, Node):
                if (tag is None or c.tag == tag) and all(
                        v in (c.attrs.get(k) or "").split() or c.attrs.get(k) == v for k, v in want.items()):
                    out.append(c)
                out.extend(c.find_all(tag, **attrs))
        return out

    def find(self, tag: str | None = None, **attrs: str) -> "Node":
        found = self.find_all(tag, **attrs)
        assert found, f"no <{tag}> with {attrs} in the page"
        return found[0]

    @property
    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text for c in self.children)

    def by_id(self, id_: str) -> "Node":
        return self.find(id=id_)


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document")
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(html: str) -> Node:
    b = _Builder()
    b.feed(html)
    return b.root
