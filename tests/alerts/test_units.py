"""Offline unit tests of the alert pieces: watchlists, grouping, rendering, scheduling."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kzmon.alerts.grouping import (
    duplicates_of_sent,
    group_stories,
    jaccard,
    shingles,
    sketch,
    sketch_similarity,
)
from kzmon.alerts.query import MARK_END, MARK_START, discover_url, lucene_query, search_body
from kzmon.alerts.render import build_entry, build_message, marked_html, one_line, subject
from kzmon.alerts.runner import digest_due
from kzmon.alerts.watchlists import (
    DEFAULT_WATCHLISTS_PATH,
    AlertSettings,
    Digest,
    Watchlist,
    load_watchlists,
)

STORY = (
    "Two explosions hit the city of Atyrau in western Kazakhstan on Monday. Officials of the "
    "National Security Committee said the blasts were caused by an improvised device and that "
    "a suspect linked to Jund al-Khilafah had been detained after a short chase near the river. "
    "No one was killed, the regional prosecutor told reporters at a briefing on Tuesday."
)


def _watchlist(**extra) -> Watchlist:
    base = {"id": "w", "name": "West", "recipients": ["a@example.org"]}
    return Watchlist.model_validate({**base, **extra})


def test_starter_watchlists_load_and_cover_the_brief() -> None:
    loaded = load_watchlists(DEFAULT_WATCHLISTS_PATH)
    assert loaded.errors == []
    ids = {w.id for w in loaded.watchlists}
    assert {
        "west-kz-attacks",
        "jihadist-groups",
        "oil-town-unrest",
        "security-service-operations",
        "extremism-trials-bans",
    } <= ids
    assert any(w.mode == "digest" for w in loaded.watchlists)


def test_invalid_watchlist_is_reported_and_others_load(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(
        "watchlists:\n"
        "  - {id: good, name: Good, recipients: [a@example.org]}\n"
        "  - {id: Bad Id, name: Bad, recipients: [a@example.org]}\n"
        "  - {id: nomail, name: No mail, recipients: [not-an-address]}\n"
        "  - {id: tz, name: TZ, recipients: [a@example.org], mode: digest,"
        " digest: {hour: 8, timezone: Mars/Olympus}}\n"
    )
    loaded = load_watchlists(path)
    assert [w.id for w in loaded.watchlists] == ["good"]
    assert [e["watchlist"] for e in loaded.errors] == ["Bad Id", "nomail", "tz"]


def test_watchlists_path_from_environment(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "env.yaml"
    path.write_text("watchlists:\n  - {id: envw, name: Env, recipients: [a@example.org]}\n")
    monkeypatch.setenv("KZMON_WATCHLISTS", str(path))
    assert [w.id for w in load_watchlists().watchlists] == ["envw"]


def test_unreadable_file_raises(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        load_watchlists(tmp_path / "missing.yaml")


def test_search_body_has_filters_window_and_pending() -> None:
    w = _watchlist(
        query="attack",
        filters={"entities": ["place:atyrau"], "incident_types": ["bombing"], "relevant": True},
    )
    body = search_body(w, datetime(2026, 1, 1, tzinfo=UTC), ["p1"], 10)
    filters = body["query"]["bool"]["filter"]
    assert {"terms": {"entity_ids": ["place:atyrau"]}} in filters
    assert {"terms": {"incident_types": ["bombing"]}} in filters
    window = filters[-1]["bool"]["should"]
    assert window[1] == {"ids": {"values": ["p1"]}}
    assert body["query"]["bool"]["must"][0]["query_string"]["query"] == "attack"


def test_discover_link_carries_the_query() -> None:
    w = _watchlist(query="Atyrau's blast!", filters={"incident_types": ["bombing"]})
    assert lucene_query(w) == '(Atyrau\'s blast!) AND incident_types:("bombing")'
    url = discover_url("http://kibana:5601/", w, AlertSettings())
    assert url.startswith("http://kibana:5601/app/discover#/?_g=")
    assert "Atyrau!'s" in url and "blast!!" in url


def test_shingle_similarity_groups_syndicated_copies() -> None:
    copy = STORY.replace("Monday", "Monday,").upper() + " Reuters contributed."
    other = "A court in Almaty sentenced three men for extremism. " * 5
    a = {"doc_id": "a", "content_hash": "h1", "text": STORY}
    b = {"doc_id": "b", "content_hash": "h2", "text": copy}
    c = {"doc_id": "c", "content_hash": "h3", "text": other}
    d = {"doc_id": "d", "content_hash": "h3", "text": ""}
    assert jaccard(shingles(STORY), shingles(copy)) > 0.8
    groups = group_stories([a, c, b, d], threshold=0.6)
    assert [[x["doc_id"] for x in g] for g in groups] == [["a", "b"], ["c", "d"]]


def test_short_texts_are_grouped_by_hash_only() -> None:
    a = {"doc_id": "a", "content_hash": "x", "text": "short"}
    b = {"doc_id": "b", "content_hash": "y", "text": "short"}
    assert len(group_stories([a, b], threshold=0.6)) == 2


def test_marked_html_escapes_everything_but_our_marks() -> None:
    fragment = f"<b>x</b> {MARK_START}Atyrau{MARK_END} & <script>alert(1)</script>"
    html = str(marked_html(fragment))
    assert html == (
        "&lt;b&gt;x&lt;/b&gt; <mark>Atyrau</mark> &amp; &lt;script&gt;alert(1)&lt;/script&gt;"
    )


def test_one_line_removes_header_injection() -> None:
    assert one_line("Title\r\nBcc: evil@example.org\x00") == "Title Bcc: evil@example.org"


def _hostile_article() -> dict:
    title = 'Blast <script>alert("x")</script>\r\nBcc: evil@example.org'
    return {
        "doc_id": "d1",
        "title": title,
        "url": "javascript:alert(1)",
        "outlet": "moscowtimes",
        "outlet_name": "The <Moscow> Times",
        "published_at": "2026-11-20T10:00:00+00:00",
        "entity_ids": ["place:atyrau"],
        "entities": [{"id": "place:atyrau", "name": "Atyrau<img src=x>"}],
        "incident_types": ["bombing"],
        "text": STORY,
        "highlight": {"text": [f"blast in {MARK_START}Atyrau{MARK_END} <img src=x onerror=y>"]},
    }


def test_message_is_multipart_and_inert() -> None:
    w = _watchlist(filters={"entities": ["place:atyrau"], "incident_types": ["bombing"]})
    entry = build_entry([_hostile_article()], w)
    now = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)
    msg = build_message(w, [entry], mail_from="a@b.c", discover_url="http://k/", now=now)
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert parsed["Subject"] == "West: 1 new story"
    assert parsed["Bcc"] is None
    assert parsed.get_content_type() == "multipart/alternative"
    html = parsed.get_body(("html",)).get_content()
    text = parsed.get_body(("plain",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img" not in html and "<mark>Atyrau</mark>" in html
    assert "javascript:" not in html and "javascript:" not in text
    assert "Atyrau&lt;img src=x&gt;" in html
    assert "\nBcc:" not in text
    assert "*Atyrau*" in text


def test_subject_counts() -> None:
    assert subject(_watchlist(), 3) == "West: 3 new stories"


@pytest.mark.parametrize(
    ("last", "now", "due"),
    [
        (None, datetime(2026, 11, 21, 1, 0, tzinfo=UTC), True),
        # 08:00 Almaty (UTC+5) is 03:00 UTC.
        (
            datetime(2026, 11, 20, 3, 30, tzinfo=UTC),
            datetime(2026, 11, 21, 2, 59, tzinfo=UTC),
            False,
        ),
        (
            datetime(2026, 11, 20, 3, 30, tzinfo=UTC),
            datetime(2026, 11, 21, 3, 1, tzinfo=UTC),
            True,
        ),
        (
            datetime(2026, 11, 21, 3, 1, tzinfo=UTC),
            datetime(2026, 11, 21, 20, 0, tzinfo=UTC),
            False,
        ),
    ],
)
def test_digest_due(last, now, due) -> None:
    assert digest_due(Digest(hour=8, timezone="Asia/Almaty"), last, now) is due


def test_starter_watchlists_use_real_taxonomy_ids() -> None:
    from enrich.tagging.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    for watchlist in load_watchlists(DEFAULT_WATCHLISTS_PATH).watchlists:
        unknown = watchlist.entity_ids() - set(taxonomy.entities)
        assert not unknown, f"{watchlist.id}: unknown entity ids {sorted(unknown)}"
        incidents = set(watchlist.filters.incident_types) - set(taxonomy.incidents)
        assert not incidents, f"{watchlist.id}: unknown incident types {sorted(incidents)}"


def test_sketches_recognise_copies_of_sent_stories_across_runs() -> None:
    copy = STORY.replace("Tuesday", "Tuesday evening") + " Source: KazTAG."
    other = " ".join(f"word{i % 97} w{i % 13}" for i in range(80))
    sent = {"s1": sketch(shingles(STORY))}
    assert sketch(shingles(STORY)) == sketch(shingles(STORY))  # stable hashes
    assert sketch_similarity(sent["s1"], sketch(shingles(copy))) >= 0.6
    articles = [
        {"doc_id": "copy", "sketch": sketch(shingles(copy))},
        {"doc_id": "other", "sketch": sketch(shingles(other))},
        {"doc_id": "short", "sketch": []},
    ]
    assert duplicates_of_sent(articles, sent, threshold=0.6) == {"copy": "s1"}
