"""The shipped starter watchlists on the five real sample articles, tagged by the real tagger,
in an index of their own (its own KZMON_INDEX_PREFIX, so other tests' articles do not count)."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import pytest
import yaml

from kzmon.alerts import run_alerts
from kzmon.alerts.watchlists import DEFAULT_WATCHLISTS_PATH

from .conftest import FAST_SETTINGS

pytestmark = pytest.mark.integration

OUTLET_IDS = {
    "The Moscow Times": "moscowtimes",
    "Global Voices": "globalvoices",
    "Jamestown Foundation": "jamestown",
    "Katehon": "katehon",
}


def _sample_records(shared_dir: Path) -> list[dict]:
    from enrich.tagging import get_tagger

    tagger = get_tagger()
    samples = shared_dir / "samples"
    records = []
    for item in json.loads((samples / "manifest.json").read_text(encoding="utf-8")):
        text = (samples / item["file"]).read_text(encoding="utf-8")
        record = {
            "url": item["url"],
            "canonical_url": item["url"],
            "outlet": OUTLET_IDS.get(item["outlet"], item["outlet"]),
            "outlet_name": item["outlet"],
            "title": item["title"],
            "language": item["language"],
            "text": text,
            "content_hash": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        }
        record.update(tagger.tag(record))
        records.append(record)
    return records


def test_starter_watchlists_on_tagged_samples(
    es, shared_dir: Path, tmp_path: Path, monkeypatch, mailbox
) -> None:
    from kzmon.indexer import index_articles
    from kzmon.indexer.setup import ensure_setup

    monkeypatch.setenv("KZMON_INDEX_PREFIX", "kzt" + uuid.uuid4().hex[:8])
    ensure_setup(es)
    index_articles(_sample_records(shared_dir), es=es, dead_letter_dir=tmp_path, refresh=True)
    starter = yaml.safe_load(DEFAULT_WATCHLISTS_PATH.read_text(encoding="utf-8"))
    starter["settings"].update(FAST_SETTINGS)
    path = tmp_path / "starter.yaml"
    path.write_text(yaml.safe_dump(starter, allow_unicode=True), encoding="utf-8")

    result = run_alerts(watchlists_path=path)
    assert result.errors == []
    mails = {m["X-Kzmon-Watchlist"]: m for m in mailbox.messages()}
    assert result.emails_sent == len(mails) >= 3
    assert {"west-kz-attacks", "jihadist-groups", "security-service-operations"} <= set(mails)
    west = mails["west-kz-attacks"].get_body(("plain",)).get_content()
    assert "Radical Islamists Step Up Militancy in West Kazakhstan" in west
    jihad = mails["jihadist-groups"].get_body(("html",)).get_content()
    assert "Kazakhstan Facing Islamist Insurgency" in jihad and "<mark>" in jihad
    assert "extremism-trials-bans" not in mails  # a digest: not sent by an immediate run

    assert run_alerts(watchlists_path=path).emails_sent == 0
