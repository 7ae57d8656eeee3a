"""The server settings that keep per-page-view work small under load (docs/reliability.md, Load).

Profiling 20 sessions (py-spy on `streamlit run`) showed most of the server's CPU per page view was not
the page script: each session's source-file watcher walked every loaded module after every run, and a
forced full garbage collection followed every run. `.streamlit/config.toml` turns both off; these
tests read it through Streamlit's own config loader, so a misspelt option name would fail here.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator

import pytest
from streamlit import config
from streamlit.runtime.scriptrunner import magic

from tests.support.env import ROOT


@pytest.fixture
def app_config() -> Iterator[None]:
    """The app's config as Streamlit parses it; afterwards Streamlit's config is parsed again from the
    test's own working directory, so later tests do not run with the app's settings by accident."""
    before = os.getcwd()
    os.chdir(ROOT)  # Streamlit reads ./.streamlit/config.toml of the working directory
    try:
        config.get_config_options(force_reparse=True)
        yield
    finally:
        os.chdir(before)
        config.get_config_options(force_reparse=True)


def test_no_source_file_watcher_per_session(app_config: None) -> None:
    assert config.get_option("server.fileWatcherType") == "none"
    assert config.get_option("server.runOnSave") is False


def test_no_forced_full_gc_after_each_script_run(app_config: None) -> None:
    assert config.get_option("runner.postScriptGC") is False


def _magic_write(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and "transparent_write" in node.func.attr


def test_magic_is_off_and_no_page_relies_on_it(app_config: None) -> None:
    """Magic would write bare expressions to the page; no page has one, so turning it off changes
    nothing the visitor sees (a page that wants output calls `st.` explicitly)."""
    assert config.get_option("runner.magicEnabled") is False
    for script in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]:
        tree = magic.add_magic(script.read_text(), str(script))
        shown = [ast.unparse(node) for node in ast.walk(tree) if _magic_write(node)]
        assert not shown, f"{script.name}: magic would show {shown}"


def test_the_safety_settings_stay(app_config: None) -> None:
    assert config.get_option("server.enableXsrfProtection") is True
    assert config.get_option("client.showErrorDetails") == "none"
