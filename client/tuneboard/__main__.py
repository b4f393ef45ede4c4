"""`python -m tuneboard login | status | sync` (see `tuneboard.cli`)."""

import sys

from .cli import main

sys.exit(main())
