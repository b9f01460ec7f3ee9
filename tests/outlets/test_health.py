"""Health of issue #17's outlets and silence by language, on the real local Elasticsearch.

Per outlet: each new outlet's run documents in the ops index decide ok / quiet exactly as for
the first seven. Per language: two weeks of article documents (``fetched_at`` spread over the
days, as crawls would index them) in the real articles index, then the Kazakh sources stop;
`kzmon.tasks.health` must flag Kazakh (not Russian or English), record a ``language_health``
document per language and mail ops once, through the real SMTP server.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from elasticsearch import helpers

from kzmon.indexer.documents import doc_id_for
from kzmon.ops import health as ops_health
from spiders.registry import get_outlet, load_outlets
from spiders.replay.routes_kz import DISCOVERY

pytestmark = [pytest.mark.integration]

NEW_OUTLETS = list(DISCOVERY)
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
#: Articles per 6 h per outlet and language in the synthetic history (around the real volumes
#: of these outlets at daytime divided down, enough to pass LANGUAGE_MIN_USUAL per language).
PER_SLOT = {"kk": 4, "ru": 6, "en": 2}


@pytest.fixture
def prefix(es, monkeypatch: pytest.MonkeyPatch):
    """A fresh index prefix with the real templates and the first articles index."""
    from kzmon.indexer.setup import ensure_setup

    value = f"kzo{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("KZMON_INDEX_PREFIX", value)
    ensure_setup(es)
    yield value
    es.options(ignore_status=404).indices.delete(index=f"{value}-*")
    es.options(ignore_status=404).indices.delete_index_template(name=f"{value}-*")
    for part in ("settings", "mappings", "analysis"):
        es.options(ignore_status=404).cluster.delete_component_template(
            name=f"{value}-articles-{part}"
        )


def _run_doc(outlet: str, at: datetime, new: int) -> dict:
    counts = {"fetched": 5, "failed": 0, "pages": 5, "new": new, "extracted": 5}
    return {
        "_index": None,
        "_id": f"run:kzmon_outlet_{outlet}:{at.isoformat()}",
        "_source": {"kind": "run", "outlet": outlet, "at": at.isoformat(), "counts": counts},
    }


def test_each_new_outlet_is_judged_on_its_cadence(es, prefix) -> None:
    """Fresh outlets are ok; an outlet whose last new article is 4 cadences old is quiet."""
    stale = {"kaztag", "eurasianet"}
    docs = []
    for outlet_id in NEW_OUTLETS:
        cadence = get_outlet(outlet_id).expected_cadence_hours
        age = timedelta(hours=4 * cadence if outlet_id in stale else cadence / 2)
        docs += [_run_doc(outlet_id, NOW - age, new=3), _run_doc(outlet_id, NOW - age / 2, new=0)]
    for doc in docs:
        doc["_index"] = f"{prefix}-ops"
    helpers.bulk(es, docs, refresh="wait_for")
    outlets = [(o, get_outlet(o).expected_cadence_hours) for o in NEW_OUTLETS]
    report = ops_health.assess(es, outlets, now=NOW)
    status = {h.outlet: h.status for h in report.outlets}
    assert {o for o, s in status.items() if s == "quiet"} == stale
    assert all(status[o] == "ok" for o in NEW_OUTLETS if o not in stale)
    newly_bad = ops_health.record(es, report)
    assert {h.outlet for h in newly_bad} == stale


def _article(outlet: str, language: str, fetched: datetime, n: int) -> dict:
    url = f"{get_outlet(outlet).base_url}/synthetic/{language}-{fetched:%Y%m%d%H%M}-{n}"
    return {
        "doc_id": doc_id_for(url),
        "canonical_url": url,
        "url": url,
        "outlet": outlet,
        "language": language,
        "title": f"synthetic {language} {n}",
        "text": "synthetic",
        "published_at": (fetched - timedelta(minutes=20)).isoformat(),
        "fetched_at": fetched.isoformat(),
    }


def _history(prefix: str, *, silent: set[str], days: int = 15) -> list[dict]:
    """Article documents every 30 minutes for ``days`` up to NOW; `silent` outlets stop 8 h ago."""
    by_language: dict[str, list[str]] = {}
    for outlet in load_outlets():
        for language in outlet.languages:
            by_language.setdefault(language, []).append(outlet.id)
    actions = []
    step = timedelta(minutes=30)
    slot_steps = int(ops_health.LANGUAGE_WINDOW / step)
    t = NOW - timedelta(days=days)
    i = 0
    while t < NOW:
        for language, outlets in by_language.items():
            for k, outlet in enumerate(sorted(outlets)[:3]):
                if outlet in silent and t >= NOW - timedelta(hours=8):
                    continue
                if (i + k) % slot_steps < PER_SLOT[language]:  # PER_SLOT per outlet per 6 h
                    doc = _article(outlet, language, t, i)
                    actions.append(
                        {"_index": f"{prefix}-articles", "_id": doc["doc_id"], "_source": doc}
                    )
        t += step
        i += 1
    return actions


def test_a_language_whose_sources_all_go_quiet_is_flagged_and_mailed_once(
    es, prefix, smtp_server, mailbox, monkeypatch
) -> None:
    from kzmon import tasks

    host, port = smtp_server
    conn = {
        "conn_type": "smtp",
        "host": host,
        "port": port,
        "extra": {"disable_ssl": True, "disable_tls": True},
    }
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(conn))
    kk = {o.id for o in load_outlets() if "kk" in o.languages}
    helpers.bulk(es, _history(prefix, silent=kk), refresh="wait_for")

    result = tasks.health(NOW.isoformat())
    assert result["notified_languages"] == ["kk"]
    docs = {
        h["_source"]["language"]: h["_source"]
        for h in es.search(
            index=f"{prefix}-ops", query={"term": {"kind": "language_health"}}, size=20
        )["hits"]["hits"]
    }
    assert set(docs) == {"en", "kk", "ru"}
    assert docs["kk"]["health"]["status"] == "quiet"
    assert docs["kk"]["health"]["articles"] == 0
    assert docs["kk"]["health"]["usual_articles"] >= ops_health.LANGUAGE_MIN_USUAL
    assert set(docs["kk"]["health"]["quiet_outlets"]) == set(docs["kk"]["health"]["outlets_usual"])
    assert docs["ru"]["health"]["status"] == "ok" and docs["en"]["health"]["status"] == "ok"
    # the language document is searchable by its mapped field
    hits = es.search(index=f"{prefix}-ops", query={"term": {"language": "kk"}})["hits"]["hits"]
    assert hits
    [mail] = [m for m in mailbox.messages() if "ops@" in str(m["To"])]
    assert "1 language(s) need attention" in str(mail["Subject"])
    body = mail.get_body(preferencelist=("html",)).get_content()
    assert "language kk: quiet" in body and "tengrinews_kk" in body

    # half an hour later, still quiet: recorded again, but no second mail
    mailbox.clear()
    again = tasks.health((NOW + timedelta(minutes=30)).isoformat())
    assert again["notified_languages"] == []
    assert not [m for m in mailbox.messages() if "language" in str(m["Subject"])]


def test_one_quiet_outlet_does_not_silence_its_language(es, prefix) -> None:
    """azattyq_kk alone stops: the outlet check's business, not the language's."""
    helpers.bulk(es, _history(prefix, silent={"azattyq_kk"}), refresh="wait_for")
    languages = {"kk": [o.id for o in load_outlets() if "kk" in o.languages]}
    [kk] = ops_health.assess_languages(es, languages, now=NOW)
    assert kk.status == "ok", kk
    assert "azattyq_kk" in kk.outlets_usual and "azattyq_kk" not in kk.outlets_now
