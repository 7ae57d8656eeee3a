"""The old import path of `r2.usage.checkpoint`: the same module object, so patches apply to both."""

import sys

from r2.usage import checkpoint

sys.modules[__name__] = checkpoint
