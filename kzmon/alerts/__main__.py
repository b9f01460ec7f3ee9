"""Command line: ``python -m kzmon.alerts list | dry-run NAME | send-test --to ADDR | run``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from elasticsearch import ApiError, TransportError
from markupsafe import Markup, escape

from kzmon.alerts.delivery import DeliveryError, send_message, smtp_config
from kzmon.alerts.render import Entry, build_message
from kzmon.alerts.runner import dry_run, es_error_reason, run_alerts
from kzmon.alerts.watchlists import Watchlist, load_watchlists

LOGGER = logging.getLogger(__name__)

_TEST_TEXT = "This is a test message sent by `python -m kzmon.alerts send-test`."


def _cmd_list(args: argparse.Namespace) -> int:
    loaded = load_watchlists(args.watchlists)
    print(f"# {loaded.path}")
    for w in loaded.watchlists:
        when = w.mode
        if w.mode == "digest":
            schedule = w.digest_schedule()
            when = f"digest {schedule.hour:02d}:00 {schedule.timezone}"
        state = "" if w.enabled else " (disabled)"
        print(f"{w.id}\t{w.name}\t{when}\t{', '.join(w.recipients)}{state}")
    for error in loaded.errors:
        print(f"INVALID {error['watchlist']}: {error['error']}", file=sys.stderr)
    return 1 if loaded.errors else 0


def _cmd_dry_run(args: argparse.Namespace) -> int:
    try:
        evaluation, message = dry_run(args.name, watchlists_path=args.watchlists)
    except KeyError as exc:
        print(exc.args[0], file=sys.stderr)
        return 2
    except (ApiError, TransportError) as exc:
        print(f"watchlist {args.name}: {es_error_reason(exc)}", file=sys.stderr)
        return 1
    print(f"# {evaluation.watchlist.id}: articles indexed since {evaluation.since.isoformat()}")
    if message is None:
        print("nothing new would be sent")
        return 0
    print(f"Subject: {message['Subject']}\nTo: {message['To']}\n")
    print(message.get_body(("plain",)).get_content())
    return 0


def _test_message(to: str, mail_from: str) -> EmailMessage:
    watchlist = Watchlist(id="test", name="kzmon test mail", recipients=[to])
    entry = Entry(
        doc_ids=["test"],
        title="Test entry: if you can read this, alert mails reach you",
        title_html=Markup("Test entry"),
        url="https://kzmon.localhost/",
        outlet="kzmon",
        date=datetime.now(UTC).date().isoformat(),
        tags=[],
        terms=[],
        snippet_text=_TEST_TEXT,
        snippet_html=escape(_TEST_TEXT),
    )
    return build_message(
        watchlist, [entry], mail_from=mail_from, discover_url="", now=datetime.now(UTC)
    )


def _cmd_send_test(args: argparse.Namespace) -> int:
    config = smtp_config()
    try:
        send_message(_test_message(args.to, config.mail_from), config)
    except (DeliveryError, ValueError) as exc:
        print(f"test mail failed: {exc}", file=sys.stderr)
        return 1
    print(f"test mail sent to {args.to} via {config.host}:{config.port}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    result = run_alerts(mode=args.mode, watchlists_path=args.watchlists)
    print(json.dumps(asdict(result), ensure_ascii=False))
    return 1 if result.errors else 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one command; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m kzmon.alerts", description=__doc__)
    parser.add_argument("--watchlists", type=Path, default=None, help="watchlists YAML file")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the watchlists").set_defaults(func=_cmd_list)
    dry = sub.add_parser("dry-run", help="show what a watchlist would send now")
    dry.add_argument("name", help="watchlist id or name")
    dry.set_defaults(func=_cmd_dry_run)
    test = sub.add_parser("send-test", help="send a test mail")
    test.add_argument("--to", required=True)
    test.set_defaults(func=_cmd_send_test)
    run = sub.add_parser("run", help="evaluate the watchlists and send alerts")
    run.add_argument("--mode", choices=["immediate", "digest"], default="immediate")
    run.set_defaults(func=_cmd_run)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
