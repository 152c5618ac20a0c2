"""``python -m bnn_tune``: the ``bnn-tune`` command."""

import sys

from bnn_tune.cli import main

sys.exit(main())
