"""The old import path of `r2.usage.listing`: the same module object, so patches apply to both."""

import sys

from r2.usage import listing

sys.modules[__name__] = listing
