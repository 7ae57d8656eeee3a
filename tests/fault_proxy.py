"""Moved to `tests/support/fault_proxy.py`: this re-export keeps modules written against the old path working
(and `python -m tests.fault_proxy PORT DELAY`)."""

from tests.support.fault_proxy import *  # noqa: F403
from tests.support.fault_proxy import main

if __name__ == "__main__":
    main()
