"""Moved to `tests/support/corpus.py`: this re-export keeps modules written against the old path working."""

from tests.support.corpus import *  # noqa: F403
