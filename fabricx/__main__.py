"""`python -m fabricx` is the `fabricx` command."""

import sys

from fabricx.cli import command

sys.exit(command())
