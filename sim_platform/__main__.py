"""`python -m sim_platform ...` is the same as the `sim-platform` command."""

import sys

from sim_platform.cli import main

sys.exit(main())
