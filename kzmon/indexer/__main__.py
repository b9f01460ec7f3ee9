"""``python -m kzmon.indexer``: see `kzmon.indexer.cli`."""

import sys

from kzmon.indexer.cli import main

sys.exit(main())
