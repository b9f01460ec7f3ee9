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


def _digest_watchlists(tmp_path):
    path = tmp_path / "w-digest.yaml"
    body = {
        "settings": {"smtp_attempts": 2, "smtp_backoff_seconds": 0.05, "initial_lookback_hours": 1},
        "watchlists": [
            {
                "id": "aktobe-daily",
                "name": "Aktobe daily",
                "recipients": ["a@kzmon.localhost"],
                "filters": {"entities": ["place:aktobe", "place:aktobe-region"]},
                "updates": True,
                "mode": "digest",
                "digest": {"hour": 0, "timezone": "UTC"},
            }
        ],
    }
    path.write_text(yaml.safe_dump(body, allow_unicode=True), encoding="utf-8")
    return path


def test_a_grown_story_goes_inside_the_digest(es, prefix, labelled, mailbox, tmp_path) -> None:
    """Digest mode: the day's digest lists the new stories and, after them, the stories
    mailed before that grew; no separate "story grew" mail; a rerun sends nothing."""
    from datetime import UTC, datetime, timedelta

    from kzmon.alerts import run_alerts

    articles, _ = labelled
    aktobe = [(a.record, a.language) for a in articles if a.story == "aktobe-2016-attacks"]
    path = _digest_watchlists(tmp_path)
    _index_and_assign(es, [x for x in aktobe if x[1] == "en"][:2], tmp_path)
    day1 = datetime.now(UTC)
    first = run_alerts(es=es, mode="digest", now=day1, watchlists_path=path)
    assert first.emails_sent == 1 and first.updates_sent == 0, first
    mailbox.clear()
    _index_and_assign(es, [x for x in aktobe if x[1] == "kk"][:1], tmp_path)
    day2 = day1 + timedelta(days=1)
    second = run_alerts(es=es, mode="digest", now=day2, watchlists_path=path)
    assert second.emails_sent == 1 and second.updates_sent == 1, second
    (mail,) = mailbox.messages()
    assert str(mail["Subject"]) == "Aktobe daily: 1 story grew"  # the digest, not an update
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert "Stories mailed before that grew:" in body and "+kk" in body
    assert "X-Kzmon-Story-Update" not in mail
    mailbox.clear()
    again = run_alerts(es=es, mode="digest", now=day2 + timedelta(days=1), watchlists_path=path)
    assert again.emails_sent == 0 and mailbox.messages() == []


def _bridge_watchlists(tmp_path, updates: bool):
    path = tmp_path / f"w-bridge-{updates}.yaml"
    body = {
        "settings": {"smtp_attempts": 2, "smtp_backoff_seconds": 0.05, "initial_lookback_hours": 1},
        "watchlists": [
            {
                "id": "west",
                "name": "West",
                "recipients": ["a@kzmon.localhost"],
                "query": "western",
                "updates": updates,
            }
        ],
    }
    path.write_text(yaml.safe_dump(body, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("updates", [False, True])
def test_a_story_mailed_under_a_merged_id_is_known(
    es, prefix, mailbox, tmp_path, updates, bridge_records
):
    """Story X is mailed; a bridging report merges X into the older story Y. The bridging
    report belongs to a story already mailed: no "new story" entry; with ``updates: true``
    one "story grew" mail (Y brought a language and an outlet), never a second one."""
    from kzmon.alerts import run_alerts

    first, second, bridge = (
        (r, "ru" if "azattyq" in r["outlet"] else "en") for r in bridge_records
    )
    path = _bridge_watchlists(tmp_path, updates)
    _index_and_assign(es, [first, second], tmp_path)
    assert run_alerts(es=es, watchlists_path=path).entries_sent == 1
    mailbox.clear()
    _index_and_assign(es, [bridge], tmp_path)
    after = run_alerts(es=es, watchlists_path=path)
    assert after.entries_sent == (1 if updates else 0), after
    assert after.updates_sent == (1 if updates else 0)
    if updates:
        (mail,) = mailbox.messages()
        assert "story grew" in str(mail["Subject"]) and "+ru" in str(mail["Subject"])
    else:
        assert mailbox.messages() == []
    mailbox.clear()
    assert run_alerts(es=es, watchlists_path=path).emails_sent == 0
