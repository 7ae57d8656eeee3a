"""Architecture rules the code relies on."""

import re
import subprocess
import sys
from pathlib import Path

from tests.support.env import ROOT


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


def _imports_of(path: Path, package_root: Path, top: str = "r2") -> set[str]:
    """The modules of package `top` a file imports (absolute imports, at any level of the file: a
    function-level import that exists to dodge a cycle is still a cycle)."""
    import ast

    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == top:
            found.add(node.module)
            for alias in node.names:  # `from r2 import catalog_sync` names a module too
                if (package_root / node.module.replace(".", "/") / f"{alias.name}.py").exists():
                    found.add(f"{node.module}.{alias.name}")
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == top}
    return found


def test_the_library_has_no_import_cycle() -> None:
    """Modules import each other in one direction only (a function-level import counts: it would hide a
    cycle such as the command line and its command modules importing each other)."""
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


def test_urls_are_signed_in_one_module() -> None:
    """Every URL is signed in one module, r2/presign.py (boto3's presigning and the faster signer)."""
    signing = ("generate_presigned_url", "S3SigV4QueryAuth", "generate_presigned_post")
    found = sorted(
        str(path.relative_to(ROOT))
        for folder in ("r2", "ui", "pages")
        for path in (ROOT / folder).rglob("*.py")
        if any(word in path.read_text(encoding="utf-8") for word in signing)
    )
    found += [str(p.relative_to(ROOT)) for p in (ROOT / "app.py",) if "generate_presigned" in p.read_text("utf-8")]
    assert found == ["r2/presign.py"]


def test_tests_and_benchmarks_share_helpers_only_through_tests_support() -> None:
    """A helper that two test modules need lives in tests/support/, never in one of them (importing a
    test module runs its code again under a second name and ties unrelated tests together). Benchmarks
    and the docs' scripts use tests/support/ only; the support package stands alone (no test module, no
    conftest), and only the benchmarks' own tests import a benchmark."""
    wrong: list[str] = []
    for path in [*(ROOT / "tests").rglob("*.py"), *(ROOT / "bench").rglob("*.py"), *(ROOT / "docs").glob("*.py")]:
        rel = path.relative_to(ROOT)
        if "node_modules" in rel.parts:
            continue
        from_tests = _imports_of(path, ROOT, top="tests")
        if rel.parts[:2] == ("tests", "support") or rel.parts[0] != "tests":
            wrong += [f"{rel} imports {m}" for m in from_tests if m != "tests" and not m.startswith("tests.support")]
        else:
            wrong += [f"{rel} imports {m}" for m in from_tests if m.startswith("tests.test_")]
        if rel.parts[0] == "tests" and not rel.name.startswith("test_bench"):  # only the bench's own tests
            wrong += [f"{rel} imports {m}" for m in _imports_of(path, ROOT, top="bench")]
    assert not wrong, "\n".join(sorted(wrong))


def test_health_and_usage_leave_s3_error_codes_to_the_error_module() -> None:
    """One table says what an S3 error means (r2/errors.py): Health and Usage pass their own wording
    to `s3_errors(messages=...)` instead of catching botocore's exceptions and reading their codes."""
    r2 = Path(__file__).resolve().parent.parent / "r2"
    ours = [p for p in r2.rglob("*.py") if p.relative_to(r2).parts[0].startswith(("health", "usage"))]
    assert ours
    reading = [
        str(p.relative_to(r2)) for p in ours if re.search(r"ClientError|BotoCoreError|\[\"Error\"\]", p.read_text())
    ]
    assert reading == []
