"""``python -m vsray ARGS...``: the same as the ``vsray`` command."""

import sys

from vsray.cli import main

sys.exit(main())
