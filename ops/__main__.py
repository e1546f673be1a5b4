"""`python -m ops` is the same command line as `stormwatch` (see `ops.cli`)."""

import sys

from ops.cli import main

sys.exit(main())
