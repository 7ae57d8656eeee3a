"""The old import path of `r2.usage.snapshots`: the same module object, so patches apply to both."""

import sys

from r2.usage import snapshots

sys.modules[__name__] = snapshots
