"""Architecture rules the code relies on."""

import subprocess
import sys

from tests.conftest import ROOT


def test_r2_package_never_imports_streamlit() -> None:
    code = (
        "import pkgutil, importlib, sys, r2\n"
        "for m in pkgutil.walk_packages(r2.__path__, 'r2.'):\n"
        "    if m.name != 'r2.__main__': importlib.import_module(m.name)\n"
        "bad = sorted(n for n in sys.modules if n == 'streamlit' or n.startswith('streamlit.'))\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_no_secrets_file_is_tracked() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    assert ".env" not in tracked and ".streamlit/secrets.toml" not in tracked
