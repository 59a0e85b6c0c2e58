"""``python -m engine.extensions.host``: run one extension host (see :mod:`.runner`)."""

from __future__ import annotations

import sys

from engine.extensions.host.runner import main

if __name__ == "__main__":
    sys.exit(main())
