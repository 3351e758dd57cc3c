"""The ``vsray`` console script: runs the C++ command line (the same code as the ``vsray``
binary) in this process, with this process's stdin, stdout and stderr."""

import sys
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    """Runs ``vsray ARGS...``; returns its exit code (the console script exits with it)."""
    from vsray import _vsray

    args = sys.argv[1:] if argv is None else list(argv)
    # Python's buffered output first, then the C++ side writes to the same descriptors.
    sys.stdout.flush()
    sys.stderr.flush()
    return _vsray.main(["vsray"] + args)


if __name__ == "__main__":
    sys.exit(main())
