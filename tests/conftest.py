"""Puts tests/support on sys.path for every pytest suite under tests/: they share one harness,
`simharness` (vsray-sim, the vsray package and the vsray command line)."""

import pathlib
import sys

_SUPPORT = str(pathlib.Path(__file__).resolve().parent / "support")
if _SUPPORT not in sys.path:
    sys.path.insert(0, _SUPPORT)
