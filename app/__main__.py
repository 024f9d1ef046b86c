"""``python -m app`` is the ``childpact`` command."""

import sys

from app.cli import main

sys.exit(main())
