"""Alerts end to end against the real local Elasticsearch and real SMTP servers."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest

from kzmon.alerts import run_alerts
from kzmon.localstack.smtp_server import read_mailbox, start_server

from .conftest import article, place

pytestmark = pytest.mark.integration

ATYRAU = place("place:atyrau", "Atyrau")


def _mine(messages: list[EmailMessage], *watchlist_ids: str) -> list[EmailMessage]:
    return [m for m in messages if m["X-Kzmon-Watchlist"] in watchlist_ids]


def _text(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


def _html(message: EmailMessage) -> str:
    return message.get_body(("html",)).get_content()


def _watchlist(wid: str, token: str, **extra) -> dict:
    return {
        "id": wid,
        "name": f"Watch {wid}",
        "query": token,
        "recipients": [f"{wid}@example.org"],
        **extra,
    }


def test_one_mail_per_watchlist_and_rerun_sends_nothing(
    token, index_records, write_watchlists, mailbox
) -> None:
    a, b = f"{token}-a", f"{token}-b"
    path = write_watchlists(
        [
            _watchlist(a, token, filters={"incident_types": ["bombing"]}),
            _watchlist(b, token, filters={"entities": ["place:atyrau"]}),
        ]
    )
    index_records(
        [
            article(token, "one", entities=[ATYRAU], incidents=["bombing"]),
            article(token, "two", incidents=["bombing"], outlet="rferl", outlet_name="RFE/RL"),
            article(token, "three", incidents=["protest"]),
        ]
    )
    result = run_alerts(watchlists_path=path)
    assert result.errors == []
    assert (result.emails_sent, result.entries_sent, result.pending) == (2, 3, 0)
    mails = {m["X-Kzmon-Watchlist"]: m for m in _mine(mailbox.messages(), a, b)}
    assert mails[a]["Subject"] == f"Watch {a}: 2 new stories"
    assert mails[b]["Subject"] == f"Watch {b}: 1 new story"
    assert mails[a]["X-Envelope-To"] == f"{a}@example.org"
    text_a = _text(mails[a])
    assert "One story" in text_a and "Two story" in text_a and "Three story" not in text_a
    assert "RFE/RL" in text_a or "rferl" in text_a
    assert "Tags: bombing" in text_a and f"Terms: {token}" in text_a
    html_b = _html(mails[b])
    assert f"<mark>{token}</mark>" in html_b and "Atyrau" in html_b
    assert "/app/discover#/" in html_b and f"https://example.org/{token}/one" in html_b

    rerun = run_alerts(watchlists_path=path)
    assert (rerun.emails_sent, rerun.entries_sent, rerun.errors) == (0, 0, [])
    assert len(_mine(mailbox.messages(), a, b)) == 2

    index_records([article(token, "four", incidents=["bombing"])])
    third = run_alerts(watchlists_path=path)
    assert (third.emails_sent, third.entries_sent) == (1, 1)
    latest = _mine(mailbox.messages(), a)[-1]
    assert "Four story" in _text(latest) and "One story" not in _text(latest)


def test_smtp_down_loses_nothing_and_next_run_delivers_once(
    token, index_records, write_watchlists, private_smtp, monkeypatch
) -> None:
    wid = f"{token}-down"
    path = write_watchlists([_watchlist(wid, token)])
    monkeypatch.setenv("SMTP_PORT", str(private_smtp["port"]))  # nothing listens there yet
    index_records([article(token, "first"), article(token, "second")])

    down = run_alerts(watchlists_path=path)
    assert (down.emails_sent, down.pending) == (0, 2)
    assert [e["stage"] for e in down.errors] == ["send"]
    assert down.errors[0]["watchlist"] == wid

    index_records([article(token, "third")])  # arrives while mail is still down
    start_server(private_smtp["run_dir"], private_smtp["mailbox"], private_smtp["port"])
    up = run_alerts(watchlists_path=path)
    assert (up.emails_sent, up.entries_sent, up.pending, up.errors) == (1, 3, 0, [])
    again = run_alerts(watchlists_path=path)
    assert (again.emails_sent, again.entries_sent) == (0, 0)

    messages = read_mailbox(private_smtp["mailbox"])
    assert len(messages) == 1
    body = _text(messages[0])
    assert messages[0]["Subject"] == f"Watch {wid}: 3 new stories"
    assert all(f"{slug.title()} story" in body for slug in ("first", "second", "third"))


def test_digest_batches_across_runs(token, index_records, write_watchlists, mailbox) -> None:
    wid = f"{token}-digest"
    # A digest hour two hours ago in Almaty time: "now" values below are around it.
    base = (datetime.now(UTC) - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    hour = base.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Almaty")).hour
    digest = {"hour": hour, "timezone": "Asia/Almaty"}
    path = write_watchlists([_watchlist(wid, token, mode="digest", digest=digest)])

    first = run_alerts(mode="digest", watchlists_path=path, now=base + timedelta(minutes=5))
    assert (first.emails_sent, first.errors) == (0, [])  # due, but nothing indexed yet
    index_records([article(token, "morning")])
    assert run_alerts(watchlists_path=path).emails_sent == 0  # immediate run ignores digests
    not_due = run_alerts(mode="digest", watchlists_path=path, now=base + timedelta(minutes=30))
    assert not_due.emails_sent == 0
    index_records([article(token, "evening")])

    next_day = base + timedelta(days=1, minutes=5)
    due = run_alerts(mode="digest", watchlists_path=path, now=next_day)
    assert (due.emails_sent, due.entries_sent) == (1, 2)
    again = run_alerts(mode="digest", watchlists_path=path, now=next_day + timedelta(hours=1))
    assert again.emails_sent == 0
    mails = _mine(mailbox.messages(), wid)
    assert len(mails) == 1
    assert "Daily digest" in _text(mails[0])
    assert "Morning story" in _text(mails[0]) and "Evening story" in _text(mails[0])


STORY = (
    "Two explosions hit the city of Atyrau in western Kazakhstan on Monday. Officials of the "
    "National Security Committee said the blasts were caused by an improvised device and that "
    "a suspect had been detained after a short chase near the river. No one was killed, the "
    "regional prosecutor told reporters at a briefing on Tuesday about case {token}."
)


def test_syndicated_copies_become_one_entry(
    token, index_records, write_watchlists, mailbox
) -> None:
    wid = f"{token}-synd"
    path = write_watchlists([_watchlist(wid, token)])
    story = STORY.format(token=token)
    near_copy = story.replace("Monday.", "Monday, local media reported.") + " (Interfax)"
    index_records(
        [
            article(token, "orig", text=story, content_hash=f"{token}-h"),
            article(
                token,
                "same-hash",
                text=story,
                content_hash=f"{token}-h",
                outlet="rferl",
                outlet_name="RFE/RL",
            ),
            article(
                token, "near", text=near_copy, outlet="globalvoices", outlet_name="Global Voices"
            ),
            article(token, "other"),
        ]
    )
    result = run_alerts(watchlists_path=path)
    assert (result.emails_sent, result.entries_sent) == (1, 2)
    body = _text(_mine(mailbox.messages(), wid)[0])
    assert "Reports of this story:" in body
    assert "RFE/RL" in body and "Global Voices" in body
    assert _mine(mailbox.messages(), wid)[0]["Subject"] == f"Watch {wid}: 2 new stories"

    # Later copies of the story already emailed (same hash, or near-identical text under
    # another hash) are not new alerts; a new story in the same run still is.
    late_near = story.replace("on Tuesday", "on Tuesday evening") + " Source: KazTAG."
    index_records(
        [
            article(token, "late", text=story, content_hash=f"{token}-h", outlet="katehon"),
            article(token, "late-near", text=late_near, outlet="azattyq_ru"),
            article(token, "fresh"),
        ]
    )
    later = run_alerts(watchlists_path=path)
    assert (later.emails_sent, later.entries_sent) == (1, 1)
    body = _text(_mine(mailbox.messages(), wid)[-1])
    assert "Fresh story" in body and "Late" not in body
    assert run_alerts(watchlists_path=path).emails_sent == 0


def test_hostile_title_stays_inert(token, index_records, write_watchlists, mailbox) -> None:
    wid = f"{token}-xss"
    path = write_watchlists([_watchlist(wid, token)])
    hostile = (
        f'<script>alert("{token}")</script> <img src=x onerror=alert(1)>\r\n'
        "Bcc: victim@evil.example\r\nSubject: pwned"
    )
    index_records([article(token, "hostile", title=hostile)])
    result = run_alerts(watchlists_path=path)
    assert (result.emails_sent, result.errors) == (1, [])
    (mail,) = _mine(mailbox.messages(), wid)
    assert mail["Bcc"] is None
    assert mail["Subject"] == f"Watch {wid}: 1 new story"
    assert mail["X-Envelope-To"] == f"{wid}@example.org"
    html, text = _html(mail), _text(mail)
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "\nBcc:" not in text and "\nSubject: pwned" not in text


def test_invalid_query_is_reported_and_others_still_run(
    token, index_records, write_watchlists, mailbox
) -> None:
    good, bad = f"{token}-good", f"{token}-bad"
    path = write_watchlists(
        [
            _watchlist(bad, f"title:({token} AND"),
            _watchlist(good, token),
            {"id": "Not A Slug", "name": "x", "recipients": ["x@example.org"]},
        ]
    )
    index_records([article(token, "fine")])
    result = run_alerts(watchlists_path=path)
    assert result.emails_sent == 1
    by_id = {e["watchlist"]: e for e in result.errors}
    assert set(by_id) == {bad, "Not A Slug"}
    assert by_id[bad]["stage"] == "query"
    assert by_id[bad]["error"].startswith("query rejected by Elasticsearch: ")
    assert "parse" in by_id[bad]["error"].lower()
    assert by_id["Not A Slug"]["stage"] == "load" and "slug" in by_id["Not A Slug"]["error"]
    assert len(_mine(mailbox.messages(), good)) == 1


def test_cli_list_dry_run_run_and_send_test(
    token, index_records, write_watchlists, mailbox, capsys
) -> None:
    from kzmon.alerts.__main__ import main

    wid = f"{token}-cli"
    path = write_watchlists([_watchlist(wid, token)])
    index_records([article(token, "cli")])

    assert main(["--watchlists", str(path), "list"]) == 0
    assert wid in capsys.readouterr().out
    assert main(["--watchlists", str(path), "dry-run", wid]) == 0
    out = capsys.readouterr().out
    assert f"Subject: Watch {wid}: 1 new story" in out and "Cli story" in out
    assert _mine(mailbox.messages(), wid) == []  # a dry run sends nothing and keeps no state

    assert main(["--watchlists", str(path), "run"]) == 0
    assert '"emails_sent": 1' in capsys.readouterr().out
    assert len(_mine(mailbox.messages(), wid)) == 1

    assert main(["send-test", "--to", "analyst@example.org"]) == 0
    tests = [m for m in mailbox.messages() if m["X-Kzmon-Watchlist"] == "test"]
    assert tests and tests[0]["X-Envelope-To"] == "analyst@example.org"


def test_smtp_settings_from_airflow_connection(monkeypatch) -> None:
    from kzmon.alerts.delivery import smtp_config

    monkeypatch.setenv("KZMON_SMTP_CONN_ID", "smtp_alerts")
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_ALERTS",
        "smtp://mailer:s3cret%40pw@mail.internal:2525?starttls=true&from_email=kz%40example.org",
    )
    config = smtp_config()
    assert (config.host, config.port, config.user, config.password) == (
        "mail.internal",
        2525,
        "mailer",
        "s3cret@pw",
    )
    assert config.starttls and not config.ssl and config.mail_from == "kz@example.org"
    assert os.environ["KZMON_SMTP_CONN_ID"] == "smtp_alerts"


def test_late_visible_documents_within_the_overlap_are_not_missed(
    es, token, index_records, write_watchlists, mailbox
) -> None:
    """A document whose indexed_at is before the watermark (it became searchable late)."""
    from kzmon.alerts import state
    from kzmon.indexer import to_document
    from kzmon.indexer.names import get_names

    wid = f"{token}-late"
    path = write_watchlists([_watchlist(wid, token)], overlap_minutes=15)
    index_records([article(token, "early")])
    assert run_alerts(watchlists_path=path).entries_sent == 1
    watermark = datetime.fromisoformat(state.get_watchlist_state(es, wid)["watermark"])

    def write_late(slug: str, minutes_before: int) -> None:
        stamp = (watermark - timedelta(minutes=minutes_before)).isoformat()
        doc = to_document(article(token, slug), indexed_at=stamp)
        es.index(index=get_names().write_alias, id=doc["doc_id"], document=doc, refresh=True)

    write_late("inside", 10)  # within the overlap window: found
    write_late("outside", 60)  # older than the overlap: out of reach by design
    result = run_alerts(watchlists_path=path)
    assert (result.emails_sent, result.entries_sent) == (1, 1)
    body = _text(_mine(mailbox.messages(), wid)[-1])
    assert "Inside story" in body and "Outside story" not in body
    assert run_alerts(watchlists_path=path).emails_sent == 0


def test_more_matches_than_one_search_returns_are_sent_over_runs(
    token, index_records, write_watchlists, mailbox
) -> None:
    wid = f"{token}-cap"
    path = write_watchlists([_watchlist(wid, token)], max_hits=2)
    index_records([article(token, slug) for slug in ("alpha", "beta", "gamma")])
    runs = [run_alerts(watchlists_path=path) for _ in range(3)]
    assert [(r.emails_sent, r.entries_sent) for r in runs] == [(1, 2), (1, 1), (0, 0)]
    bodies = " ".join(_text(m) for m in _mine(mailbox.messages(), wid))
    assert all(bodies.count(f"{slug.title()} story") == 1 for slug in ("alpha", "beta", "gamma"))
