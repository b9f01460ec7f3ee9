"""``python -m kzmon.stories``: cluster a batch, show a story, assign or re-cluster the index.

- ``cluster`` reads JSON lines ``{url, title, text, published_at, outlet}`` (optional
  ``language``, ``entities``, ``incident_types``, ``kz_security``, ``content_hash``) on
  stdin and prints one JSON line per input line, in input order:
  ``{"url", "story_id", "incident": {...} | null}``. It never contacts Elasticsearch
  (``ES_URL`` is not read). A bad line gets ``"error"`` and ``story_id: null``.
- ``show ID`` prints a story of the stories index (an old id of a merged story resolves).
- ``assign`` gives every indexed article without a story its story (what the DAG runs).
- ``recluster`` rebuilds every story from the archive into a new stories index version.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

LOGGER = logging.getLogger("kzmon.stories")


def _read_lines(stream: Any) -> list[Any]:
    records: list[Any] = []
    for line in stream:
        if not line.strip():
            records.append(None)
            continue
        try:
            records.append(json.loads(line))
        except ValueError as exc:
            records.append({"__error__": f"not JSON: {exc}"})
    return records


def _cluster(_: argparse.Namespace) -> int:
    from kzmon.stories.batch import cluster_records

    records = _read_lines(sys.stdin)
    result = cluster_records(
        [r if not (isinstance(r, dict) and "__error__" in r) else None for r in records]
    )
    for record, row in zip(records, result.rows, strict=True):
        if isinstance(record, dict) and "__error__" in record:
            row["error"] = record["__error__"]
        sys.stdout.write(json.dumps(row, ensure_ascii=False, sort_keys=False) + "\n")
    LOGGER.info(
        "%d articles, %d stories, %d incidents", len(records), result.stories, result.incidents
    )
    return 0


def _show(args: argparse.Namespace) -> int:
    from kzmon.stories.store import get_story

    story = get_story(args.id)
    if story is None:
        print(f"no story {args.id!r}", file=sys.stderr)
        return 1
    print(json.dumps(story, ensure_ascii=False, indent=2))
    return 0


def _assign(_: argparse.Namespace) -> int:
    from kzmon.stories.store import assign_stories

    print(json.dumps(assign_stories().as_dict()))
    return 0


def _recluster(_: argparse.Namespace) -> int:
    from kzmon.stories.store import recluster

    print(json.dumps(recluster().as_dict()))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m kzmon.stories``."""
    parser = argparse.ArgumentParser(prog="python -m kzmon.stories", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress on stderr")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("cluster", help="cluster JSON lines from stdin (no Elasticsearch)")
    show = commands.add_parser("show", help="print one story of the stories index")
    show.add_argument("id")
    commands.add_parser("assign", help="assign indexed articles without a story")
    commands.add_parser("recluster", help="rebuild every story into a new index version")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    handler = {"cluster": _cluster, "show": _show, "assign": _assign, "recluster": _recluster}
    return handler[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
