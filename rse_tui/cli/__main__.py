"""``python -m rse_tui.cli``: the ``rse`` command, as the console script runs it."""

from __future__ import annotations

import sys

from .parser import main

if __name__ == "__main__":
    sys.exit(main())
