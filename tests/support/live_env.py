"""The R2_* settings the opt-in live suite (tests/test_live_r2.py) was started with.

conftest imports this before it clears every R2_* variable, so the values are read once, from the
real environment; test modules import them from here (conftest itself may be imported twice).
"""

from __future__ import annotations

import os

LIVE_TEST = os.environ.get("R2_LIVE_TEST") == "1"
LIVE_ENV = {k: v for k, v in os.environ.items() if k.startswith("R2_") and k != "R2_LIVE_TEST"} if LIVE_TEST else {}
