"""``python -m enrich <command>``: the enrich stage's command line.

- ``extract``: JSON lines ``{"url", "html", ...}`` in, one article record per line out.
- ``tag``: JSON lines ``{"url", "title", "text", ...}`` in, the same with tags added.

Each command lives with its code (``enrich.extract.cli``, ``enrich.tagging.cli``).
"""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "extract": "enrich.extract.cli",
    "tag": "enrich.tagging.cli",
}


def main(argv: list[str] | None = None) -> int:
    """Dispatch to the sub-command's ``main(argv)``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: python -m enrich {{{','.join(COMMANDS)}}} [options]", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[argv[0]])
    return module.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
