import sys

from r2.cli import main

sys.exit(main())
