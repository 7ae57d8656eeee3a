"""Architecture rules the code relies on."""

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def in_fresh_python(code: str) -> None:
    """Run `code` in a new interpreter (nothing imported yet); it passes when its asserts hold."""
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_r2_package_never_imports_streamlit() -> None:
    in_fresh_python(
        "import pkgutil, importlib, sys, r2\n"
        "for m in pkgutil.walk_packages(r2.__path__, 'r2.'):\n"
        "    if m.name != 'r2.__main__': importlib.import_module(m.name)\n"
        "bad = sorted(n for n in sys.modules if n == 'streamlit' or n.startswith('streamlit.'))\n"
        "assert not bad, bad\n"
    )


def test_the_frame_imports_no_data_library() -> None:
    """Every page, the sign-in page and "Page not found" run the frame (app.py) first; the data libraries
    (pyarrow, DuckDB, deltalake, pandas: over a second to import on these machines) are imported by the
    pages that use them, not by the frame (docs/bench/page_speed.md)."""
    in_fresh_python(
        "import sys, ui.frame\n"
        "heavy = ('pandas', 'pyarrow', 'duckdb', 'deltalake', 'numpy', 'altair', 'PIL')\n"
        "bad = sorted(n for n in heavy if n in sys.modules)\n"
        "assert not bad, bad\n"
    )


def test_no_secrets_file_is_tracked() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    assert ".env" not in tracked and ".streamlit/secrets.toml" not in tracked


def _imports_of(path: Path, package_root: Path) -> set[str]:
    """The r2 modules a file imports (absolute imports, at any level of the file: a function-level import
    that exists to dodge a cycle is still a cycle)."""
    import ast

    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "r2":
            found.add(node.module)
            for alias in node.names:  # `from r2 import catalog_sync` names a module too
                if (package_root / node.module.replace(".", "/") / f"{alias.name}.py").exists():
                    found.add(f"{node.module}.{alias.name}")
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "r2"}
    return found


def test_the_library_has_no_import_cycle() -> None:
    """Issue #19: r2/cli.py and its command modules used to import each other (a function-level import
    hid it). Modules import each other in one direction only."""
    root = Path(__file__).resolve().parent.parent
    modules: dict[str, set[str]] = {}
    for path in (root / "r2").rglob("*.py"):
        rel = path.relative_to(root).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        modules[name] = _imports_of(path, root)
    graph = {m: {d for d in deps if d in modules and d != m} for m, deps in modules.items()}

    def cycle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    return [*path, start]
                if nxt not in path:
                    stack.append((nxt, [*path, nxt]))
        return None

    cycles = [c for m in sorted(graph) if (c := cycle_from(m))]
    assert not cycles, f"import cycles: {cycles[:3]}"
