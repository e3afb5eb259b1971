"""`python -m blockspec` runs the command line (see `blockspec.cli`)."""

import sys

from blockspec.cli import main

sys.exit(main())
