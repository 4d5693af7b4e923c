"""`python -m cli`: the `tally` command."""

import sys

from cli.main import main

sys.exit(main())
