"""The arrows point one way: headless parts never import Textual.

Checked two ways: a fresh interpreter imports every headless module and must
not have loaded ``textual``; and the sources are scanned so that a lazy
import inside a function cannot slip through either.
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
