"""The import graph of control_plane/ and cli/, read from the source (imports inside functions
count too): layers only point down, so the graph has no circle, and each service module imports
only the services below it (control_plane/services/wiring.py builds them in that order)."""
from __future__ import annotations

import ast
from pathlib import Path

from cli.main import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("control_plane", "cli")
# The services from the bottom up: a module may import only those listed before it.
SERVICE_LAYERS = ["oneoff", "dcs", "edge", "spread", "db_objects", "stack", "routes", "plan", "analysis", "database",
                  "copies", "teardown", "backup", "release", "cluster", "apps", "canary", "progressive",
                  "db_ops", "manifest", "report", "backup_schedule", "healing", "state_backup", "builds", "previews", "pushes",
                  "wiring"]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `name` imports, anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            base = f"{base}.{node.module}" if node.level and node.module else \
                (base if node.level else node.module)
            # `from . import x` names a module when x is one, else something in the package.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                       for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:  # `import a.b.c` of a package: its deepest module we have
                t = t.rpartition(".")[0]
            if t and t != name:
                out.add(t)
    return out


def graph() -> dict[str, set[str]]:
    found = modules()
    g = {name: imports(name, path, set(found)) for name, path in found.items()}
    # The CLI imports its command modules by name, only the one that runs: they are its imports.
    g["cli.main"] |= {f"cli.{module}" for module, *_ in COMMANDS.values()}
    return g


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_the_graph_is_read_whole():
    g = graph()
    assert "control_plane.services.apps" in g and "cli.main" in g
    # Relative, nested and function-level imports are all seen.
    assert "control_plane.services.stack" in g["control_plane.services.apps"]
    assert "control_plane.services.wiring" in g["control_plane.api.app"]
    assert "cli.canary_cmds" in g["cli.main"]


def test_no_import_circle_in_the_control_plane_or_the_cli():
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_a_circle_through_three_modules():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_services_import_only_the_layers_below_them():
    g = graph()
    services = {m.rsplit(".", 1)[-1] for m in g if m.startswith("control_plane.services.")}
    assert services <= set(SERVICE_LAYERS) | {"services"}, \
        f"place new service modules in SERVICE_LAYERS: {services - set(SERVICE_LAYERS)}"
    for i, name in enumerate(SERVICE_LAYERS):
        below = {f"control_plane.services.{m}" for m in SERVICE_LAYERS[:i]}
        siblings = {m for m in g[f"control_plane.services.{name}"]
                    if m.startswith("control_plane.services.")}
        assert siblings <= below, f"services/{name}.py imports {sorted(siblings - below)}, above it"


def test_nothing_below_the_api_imports_it():
    g = graph()
    for name, deps in g.items():
        if not name.startswith(("control_plane.api", "control_plane.server")):
            assert not {d for d in deps if d.startswith("control_plane.api")}, name
