"""Measure alert runs: ``python -m kzmon.alerts.bench [N]``.

Starts its own Elasticsearch node and SMTP server in a temporary folder (stopped by PID at
the end), indexes N synthetic tagged articles plus 10 % syndicated copies with the real
indexer, and times the shipped starter watchlists: a first run over everything, a rerun
(must send nothing) and a run after 100 more articles. Prints one line of JSON.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

LOGGER = logging.getLogger(__name__)

_WORDS = [
    "police",
    "court",
    "region",
    "oil",
    "town",
    "border",
    "mosque",
    "prison",
    "road",
    "village",
    "army",
    "governor",
    "statement",
    "witness",
    "night",
    "market",
    "bridge",
    "station",
    "rally",
    "worker",
    "strike",
    "clinic",
    "school",
    "Atyrau",
    "Aktau",
    "Zhanaozen",
    "blast",
    "explosion",
    "extremism",
    "terrorism",
    "trial",
    "arrest",
]


def _record(rng: random.Random, i: int, entities: list, incidents: list[str]) -> dict[str, Any]:
    text = " ".join(rng.choice(_WORDS) for _ in range(400))
    url = f"https://bench.example.org/a/{i}"
    return {
        "url": url,
        "canonical_url": url,
        "outlet": rng.choice(["rferl", "moscowtimes", "azattyq_ru"]),
        "title": f"Story {i} " + " ".join(rng.choice(_WORDS) for _ in range(6)),
        "language": "en",
        "text": text,
        "content_hash": hashlib.sha256(text.encode()).hexdigest(),
        "entities": [{"id": e.id, "type": e.type, "name": e.name} for e in rng.sample(entities, 4)],
        "incident_types": rng.sample(incidents, 2),
        "kz_security": {"relevant": True, "score": 0.8},
    }


def _timed(func: Any, **kwargs: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = func(**kwargs)
    return result, round(time.perf_counter() - start, 2)


def run(n: int, tmp: Path) -> dict[str, Any]:
    """Index N articles and time three alert runs against the local services in `tmp`."""
    from enrich.tagging.taxonomy import load_taxonomy
    from kzmon.alerts import run_alerts
    from kzmon.alerts.watchlists import DEFAULT_WATCHLISTS_PATH
    from kzmon.es import get_client
    from kzmon.indexer import index_articles
    from kzmon.indexer.setup import ensure_setup
    from kzmon.localstack.smtp_server import read_mailbox

    taxonomy = load_taxonomy()
    entities, incidents = list(taxonomy.entities.values()), list(taxonomy.incidents)
    rng = random.Random(7)
    es = get_client()
    ensure_setup(es)
    records = [_record(rng, i, entities, incidents) for i in range(n)]
    for original in records[: n // 10]:
        copy_url = original["url"].replace("/a/", "/copy/")
        records.append({**original, "url": copy_url, "canonical_url": copy_url})
    index_articles(records, es=es, dead_letter_dir=tmp / "dead-letter", refresh=True)
    starter = yaml.safe_load(DEFAULT_WATCHLISTS_PATH.read_text(encoding="utf-8"))
    starter["settings"]["max_hits"] = 10_000
    path = tmp / "watchlists.yaml"
    path.write_text(yaml.safe_dump(starter, allow_unicode=True), encoding="utf-8")
    first, first_s = _timed(run_alerts, es=es, watchlists_path=path)
    rerun, rerun_s = _timed(run_alerts, es=es, watchlists_path=path)
    more = [_record(rng, n * 2 + i, entities, incidents) for i in range(100)]
    index_articles(more, es=es, dead_letter_dir=tmp / "dead-letter", refresh=True)
    incremental, incremental_s = _timed(run_alerts, es=es, watchlists_path=path)
    mails = read_mailbox(tmp / "smtp" / "mailbox")
    return {
        "articles": len(records),
        "first_run_s": first_s,
        "first_emails_entries": [first.emails_sent, first.entries_sent],
        "rerun_s": rerun_s,
        "rerun_emails": rerun.emails_sent,
        "after_100_more_s": incremental_s,
        "after_100_more_emails_entries": [incremental.emails_sent, incremental.entries_sent],
        "errors": len(first.errors) + len(rerun.errors) + len(incremental.errors),
        "largest_mail_kb": max((len(m.as_bytes()) for m in mails), default=0) // 1024,
    }


def main(argv: list[str] | None = None) -> int:
    """Start the services, measure, stop them, print the JSON line."""
    from kzmon.localstack.es_node import start_node, stop_node
    from kzmon.localstack.smtp_server import start_server, stop_server

    argv = sys.argv[1:] if argv is None else argv
    n = int(argv[0]) if argv else 2000
    tmp = Path(tempfile.mkdtemp(prefix="kzmon-alerts-bench-"))
    tmp.chmod(0o755)  # the node may run as `nobody`
    os.environ["KZMON_DATA_DIR"] = str(tmp / "data")
    try:
        os.environ["ES_URL"] = start_node(tmp / "es").url
        smtp = start_server(tmp / "smtp", tmp / "smtp" / "mailbox")
        os.environ["SMTP_HOST"], os.environ["SMTP_PORT"] = smtp.host, str(smtp.port)
        print(json.dumps(run(n, tmp)))
    finally:
        stop_server(tmp / "smtp")
        stop_node(tmp / "es")
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
