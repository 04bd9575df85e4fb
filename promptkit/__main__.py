"""``python -m promptkit`` is the ``promptkit`` command."""

import sys

from promptkit.cli import main

sys.exit(main())
