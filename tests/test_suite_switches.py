"""The suite's own switches: in CI a missing browser or tool fails the run, it never skips quietly."""

from __future__ import annotations

import os
import re
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


_WITHOUT_PLAYWRIGHT = (
    "import sys, pytest\n"
    "sys.modules['playwright'] = None  # `import playwright` now fails as on a machine without it\n"
    "sys.exit(pytest.main(['-q', '-rs', '--co', '-p', 'no:cacheprovider', '-p', 'no:randomly', *sys.argv[1:]]))\n"
)


@pytest.mark.parametrize("required", [False, True], ids=["developer", "ci"])
def test_browser_modules_skip_without_playwright_except_in_ci(required: bool) -> None:
    """A developer without Playwright gets the browser modules skipped with a reason; CI gets an error."""
    modules = sorted(
        str(p.relative_to(ROOT))
        for p in (ROOT / "tests").glob("test_*.py")
        if re.search(r"^from tests\.support\.browser import", p.read_text(encoding="utf-8"), re.MULTILINE)
    )
    assert len(modules) > 10
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "R2_REQUIRE_BROWSER")}
    if required:
        env["R2_REQUIRE_BROWSER"] = "1"
    run = subprocess.run(
        [sys.executable, "-c", _WITHOUT_PLAYWRIGHT, *modules],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    summary = run.stdout.strip().splitlines()[-1]
    if required:
        assert run.returncode != 0 and f"{len(modules)} errors" in summary, run.stdout[-3000:]
    else:
        assert run.returncode == 5, run.stdout[-3000:]  # nothing collected, no error
        assert f"SKIPPED [{len(modules)}] tests/support/browser.py" in run.stdout, run.stdout[-3000:]
        assert "Playwright is not installed" in run.stdout
