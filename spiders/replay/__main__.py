"""Command line of the offline replay.

Usage::

    python -m spiders.replay serve --port 8765   # foreground
    python -m spiders.replay serve --routes hostile --static ../shared/outlets/feeds/rferl-full
    python -m spiders.replay up                   # background; prints the base URL last
    python -m spiders.replay down
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from kzmon.settings import get_settings
from spiders.replay.server import serve, start_replay, stop_replay

LOGGER = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """``serve`` | ``up`` | ``down``."""
    parser = argparse.ArgumentParser(prog="python -m spiders.replay")
    parser.add_argument("action", choices=["serve", "up", "down"])
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--quiet", action="append", default=[], help="outlet id that stopped")
    parser.add_argument("--log", type=Path, default=None, help="request log (JSON lines)")
    parser.add_argument("--shared-dir", type=Path, default=None)
    parser.add_argument("--no-delay", action="store_true", help="serve the slow page at once")
    parser.add_argument(
        "--routes", action="append", default=[], help="switch on a route set (hostile)"
    )
    parser.add_argument(
        "--static",
        action="append",
        default=[],
        type=Path,
        help="serve a folder of <host>/<path> files with validators (first wins)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run_dir = get_settings().state_dir / "replay"
    if args.action == "serve":
        serve(
            args.port or 8765,
            shared_dir=args.shared_dir,
            quiet_outlets=args.quiet,
            log_path=args.log,
            no_delay=args.no_delay,
            route_sets=args.routes,
            static_dirs=args.static,
        )
        return 0
    if args.action == "up":
        info = start_replay(
            run_dir,
            args.port,
            quiet_outlets=args.quiet,
            route_sets=args.routes,
            static_dirs=args.static,
        )
        print(f"pid {info.pid}")
        print(info.url)
        return 0
    print("stopped" if stop_replay(run_dir) else "not running")
    return 0


if __name__ == "__main__":
    sys.exit(main())
