"""Moved to `tests/support/browser.py`: this re-export keeps modules written against the old path working."""

from tests.support.browser import *  # noqa: F403
