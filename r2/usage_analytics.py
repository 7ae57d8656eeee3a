"""The old import path of `r2.usage.analytics`: the same module object, so patches apply to both."""

import sys

from r2.usage import analytics

sys.modules[__name__] = analytics
