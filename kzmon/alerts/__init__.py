"""Alert emails on new matches of saved searches (watchlists).

Public API: `run_alerts` (called by the DAG layer after each indexing run, and once an hour
for digests), `dry_run`, `load_watchlists`, `send_message`. CLI: ``python -m kzmon.alerts``.
"""

import logging

from kzmon.alerts.delivery import DeliveryError, send_message, smtp_config
from kzmon.alerts.runner import AlertRunResult, dry_run, run_alerts
from kzmon.alerts.watchlists import Watchlist, WatchlistFile, load_watchlists

LOGGER = logging.getLogger(__name__)

__all__ = [
    "AlertRunResult",
    "DeliveryError",
    "Watchlist",
    "WatchlistFile",
    "dry_run",
    "load_watchlists",
    "run_alerts",
    "send_message",
    "smtp_config",
]
