"""The suite's own switches: in CI a missing browser or tool fails the run, it never skips quietly."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.env import ROOT, require_tool


def test_a_missing_tool_fails_when_ci_requires_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("R2_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception):
        require_tool("some tool is missing")


def test_the_ci_switch_survives_the_clean_up_of_r2_settings() -> None:
    """conftest removes every R2_* setting so no real credentials leak into tests; the switch .ci/run sets
    must stay (it once did not, and browser tests could have skipped in CI)."""
    code = "import os, tests.conftest; print(os.environ.get('R2_REQUIRE_BROWSER'), os.environ.get('R2_BUCKET'))"
    env = {"PATH": "/usr/bin:/bin", "R2_REQUIRE_BROWSER": "1", "R2_BUCKET": "from-the-developer"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    assert run.stdout.split() == ["1", "None"], run.stderr[-2000:]
