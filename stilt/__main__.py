"""``python -m stilt``: the same command line as ``stilt``."""

import sys

from stilt.cli import main

sys.exit(main())
