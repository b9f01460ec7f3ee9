"""Alerts by story on the real Elasticsearch and SMTP server: one entry per story, one
"story grew" mail when a new language joins, none on a rerun."""

from __future__ import annotations

import os
import uuid

import pytest
import yaml

pytestmark = pytest.mark.integration


@pytest.fixture
def prefix(es):
    value = "kzsa" + uuid.uuid4().hex[:8]
    previous = os.environ.get("KZMON_INDEX_PREFIX")
    os.environ["KZMON_INDEX_PREFIX"] = value
    from kzmon.indexer.setup import ensure_setup

    ensure_setup(es)
    yield value
    es.options(ignore_status=404).indices.delete(index=f"{value}-*", expand_wildcards="all")
    if previous is None:
        os.environ.pop("KZMON_INDEX_PREFIX", None)
    else:
        os.environ["KZMON_INDEX_PREFIX"] = previous


def _index_and_assign(es, records, tmp_path) -> None:
    from enrich.tagging import get_tagger
    from kzmon.indexer import index_articles
    from kzmon.stories.store import assign_stories

    tagger = get_tagger()
    tagged = [{**r, "language": lang, **tagger.tag(r)} for r, lang in records]
    result = index_articles(tagged, es=es, dead_letter_dir=tmp_path / "dl", refresh=True)
    assert result.failed == 0
    assign_stories(es)


def _watchlists(tmp_path, updates: bool):
    path = tmp_path / f"w-{updates}.yaml"
    body = {
        "settings": {"smtp_attempts": 2, "smtp_backoff_seconds": 0.05, "initial_lookback_hours": 1},
        "watchlists": [
            {
                "id": "aktobe",
                "name": "Aktobe",
                "recipients": ["a@kzmon.localhost"],
                "filters": {"entities": ["place:aktobe", "place:aktobe-region"]},
                "updates": updates,
            }
        ],
    }
    path.write_text(yaml.safe_dump(body, allow_unicode=True), encoding="utf-8")
    return path


def test_story_entries_and_one_update_mail(es, prefix, labelled, mailbox, tmp_path) -> None:
    from kzmon.alerts import run_alerts

    articles, _ = labelled
    aktobe = [(a.record, a.language) for a in articles if a.story == "aktobe-2016-attacks"]
    first = [(r, lang) for r, lang in aktobe if lang in ("en", "ru")][:4]
    kazakh = [(r, lang) for r, lang in aktobe if lang == "kk"][:1]
    path = _watchlists(tmp_path, updates=True)
    _index_and_assign(es, first, tmp_path)
    result = run_alerts(es=es, watchlists_path=path)
    assert result.errors == [] and result.emails_sent == 1 and result.entries_sent == 1
    mail = mailbox.messages()[0]
    assert mail["Subject"] == "Aktobe: 1 new story"
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert "Languages: en, ru" in body and "Reports of this story:" in body
    # A Kazakh report joins the story: one "story grew" mail.
    mailbox.clear()
    _index_and_assign(es, kazakh, tmp_path)
    grown = run_alerts(es=es, watchlists_path=path)
    assert grown.emails_sent == 1 and grown.updates_sent == 1, grown
    update = mailbox.messages()[0]
    assert "story grew" in str(update["Subject"]) and "+kk" in str(update["Subject"])
    # A rerun sends nothing.
    mailbox.clear()
    again = run_alerts(es=es, watchlists_path=path)
    assert again.emails_sent == 0 and mailbox.messages() == []


def test_without_updates_later_reports_are_covered(es, prefix, labelled, mailbox, tmp_path):
    from kzmon.alerts import run_alerts

    articles, _ = labelled
    aktobe = [(a.record, a.language) for a in articles if a.story == "aktobe-2016-attacks"]
    path = _watchlists(tmp_path, updates=False)
    _index_and_assign(es, [x for x in aktobe if x[1] == "en"][:2], tmp_path)
    assert run_alerts(es=es, watchlists_path=path).emails_sent == 1
    mailbox.clear()
    _index_and_assign(es, [x for x in aktobe if x[1] == "kk"][:1], tmp_path)
    assert run_alerts(es=es, watchlists_path=path).emails_sent == 0
    assert mailbox.messages() == []
