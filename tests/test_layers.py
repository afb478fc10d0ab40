"""The arrows point one way: headless parts never import Textual.

Checked two ways: a fresh interpreter imports every headless module and must
not have loaded ``textual``; and the sources are scanned so that a lazy
import inside a function cannot slip through either. And no module imports
itself round a circle (the project's import graph, read with ``ast``).
"""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import rse_tui
import server

ROOT = Path(__file__).resolve().parent.parent


def _modules(package) -> list[str]:
    names = [package.__name__]
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        names.append(info.name)
    return names


def _headless() -> list[str]:
    client = [m for m in _modules(rse_tui) if m.startswith(("rse_tui.protocol", "rse_tui.sync"))]
    return client + _modules(server)


def test_headless_modules_do_not_load_textual():
    modules = _headless()
    assert "rse_tui.protocol" in modules and "server.app" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == ""


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_import_arrows_point_one_way():
    rules = {
        ROOT / "rse_tui" / "protocol.py": ("textual", "rse_tui.sync", "rse_tui.ui", "server"),
        ROOT / "rse_tui" / "sync": ("textual", "rse_tui.ui", "server"),
        ROOT / "server": ("textual", "rse_tui.sync", "rse_tui.ui", "rse_tui.cli"),
    }
    checked = 0
    for where, banned in rules.items():
        files = [where] if where.is_file() else sorted(where.rglob("*.py"))
        for path in files:
            checked += 1
            for name in _imports(path):
                assert not name.startswith(banned), f"{path.relative_to(ROOT)} imports {name}"
    assert checked >= 10
    # The protocol module is the shared contract: standard library only.
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    for name in _imports(ROOT / "rse_tui" / "protocol.py"):
        assert name.split(".")[0] in stdlib, f"protocol imports {name}"


# -- no import circles ----------------------------------------------------------------

PACKAGES = ("rse_tui", "server", "bench")

#: Circles allowed (held by imports inside functions or for the type checker
#: only): none. A new one fails the test; listing it here is a decision to say
#: why in the commit.
KNOWN_CIRCLES: set[frozenset[str]] = set()


def _module_files() -> dict[str, Path]:
    """Every module of the project's packages, by dotted name."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.Module, *, everywhere: bool) -> list[ast.Import | ast.ImportFrom]:
    """The module's imports: those that run when it is imported, or with
    ``everywhere`` also those inside functions and for the type checker only."""
    if everywhere:
        return [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    found: list[ast.Import | ast.ImportFrom] = []
    todo: list[ast.stmt] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If):
            if not _is_type_checking(node):
                todo.extend(node.body)
            todo.extend(node.orelse)
        elif isinstance(node, ast.Try):
            todo.extend(node.body + node.orelse + node.finalbody)
            for handler in node.handlers:
                todo.extend(handler.body)
        elif isinstance(node, ast.With | ast.ClassDef):
            todo.extend(node.body)
    return found


def _import_graph(*, everywhere: bool) -> dict[str, set[str]]:
    """Module -> the project modules it imports (see ``_import_nodes``).

    ``from package import name`` counts as importing ``package.name`` when that
    is a module, else ``package``. A package's own parent is not counted (Python
    loads it first, whoever imports the module: that is no circle of ours).
    """
    files = _module_files()
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        is_package = path.name == "__init__.py"
        targets: set[str] = set()
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in _import_nodes(tree, everywhere=everywhere):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
                continue
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                child = f"{source}.{alias.name}"
                targets.add(child if child in files else source)
        graph[module] = {t for t in targets if t in files and t != module}
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _one_circle(graph: dict[str, set[str]], component: list[str]) -> str:
    """A path round the circle, to name in a failure: ``a -> b -> a``."""
    members = set(component)
    start = component[0]
    path = [start]
    seen = {start}
    node = start
    while True:
        nxt = sorted(graph[node] & members)
        back = [n for n in nxt if n == start]
        if back and len(path) > 1:
            return " -> ".join([*path, start])
        fresh = [n for n in nxt if n not in seen]
        if not fresh:  # walked into a corner: from here the circle closes elsewhere
            loop_start = next(n for n in nxt if n in seen)
            return " -> ".join([*path[path.index(loop_start) :], loop_start])
        node = fresh[0]
        seen.add(node)
        path.append(node)


def test_no_import_circles():
    # What runs at import: no circle at all.
    graph = _import_graph(everywhere=False)
    assert "server.storage.timeline" in graph and "bench.soak.run" in graph
    circles = _circles(graph)
    assert not circles, "import circle: " + "; ".join(_one_circle(graph, c) for c in circles)
    # With the imports inside functions and for the type checker, which is how a
    # circle hides: only the known ones.
    graph = _import_graph(everywhere=True)
    circles = _circles(graph)
    new = [c for c in circles if frozenset(c) not in KNOWN_CIRCLES]
    assert not new, "import circle: " + "; ".join(_one_circle(graph, c) for c in new)
    gone = KNOWN_CIRCLES - {frozenset(c) for c in circles}
    assert not gone, f"no longer a circle, take it off KNOWN_CIRCLES: {sorted(map(sorted, gone))}"


def test_the_app_starts_without_the_markdown_parser():
    """markdown-it (about 40 ms of imports) loads when a post is first opened,
    not before the first paint."""
    code = "import sys, rse_tui.ui.app; print('markdown_it' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
