"""Evaluate watchlists against newly indexed articles and email what is new, exactly once.

For each watchlist the run:

1. reads its watermark (the highest ``indexed_at`` already evaluated) and searches the
   articles indexed since ``watermark - overlap`` plus those still pending from a failed run;
2. drops articles already emailed for this watchlist (sent-state), and copies of a story
   already emailed (same ``content_hash``);
3. records the rest as ``pending`` and only then advances the watermark;
4. groups syndicated copies into stories, renders one mail and sends it with retries;
5. marks the matches ``sent`` once the SMTP server accepted the mail. A failed send leaves
   them pending: the next run picks them up, whatever the watermark.

Delivery is at-least-once at the SMTP boundary and exactly-once otherwise: only a crash
between the server's "250 OK" and the sent-state write (one bulk request) could repeat a mail.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from elasticsearch import ApiError, BadRequestError, Elasticsearch, TransportError

from kzmon.alerts import state
from kzmon.alerts.delivery import DeliveryError, SmtpConfig, send_message, smtp_config
from kzmon.alerts.grouping import duplicates_of_sent, group_stories, shingles, sketch
from kzmon.alerts.query import discover_url, search_body
from kzmon.alerts.render import Entry, build_entry, build_message
from kzmon.alerts.watchlists import AlertSettings, Digest, Watchlist, load_watchlists
from kzmon.es import get_client
from kzmon.settings import get_settings

LOGGER = logging.getLogger(__name__)

MODES = ("immediate", "digest")


@dataclass
class AlertRunResult:
    """What one alerts run did."""

    emails_sent: int = 0
    entries_sent: int = 0
    updates_sent: int = 0
    pending: int = 0
    errors: list[dict] = field(default_factory=list)


@dataclass
class Evaluation:
    """The new matches of one watchlist (nothing written yet)."""

    watchlist: Watchlist
    since: datetime
    watermark: datetime
    new: list[dict[str, Any]]
    duplicates: list[dict[str, Any]]
    entries: list[Entry]
    previously_pending: set[str]
    #: the articles of each entry (same order as `entries`)
    groups: list[list[dict[str, Any]]] = field(default_factory=list)
    #: stories mailed before that grew: (entry listing the new reports, their articles)
    updates: list[tuple[Entry, list[dict[str, Any]]]] = field(default_factory=list)
    #: later reports of stories already mailed that bring nothing new (recorded, not mailed)
    covered: list[dict[str, Any]] = field(default_factory=list)
    #: what the stories index says of each story (outlets, languages, fatalities)
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)


def articles_alias() -> str:
    """The read alias of the articles index (docs/records.md §3)."""
    return f"{get_settings().es_index_prefix}-articles"


def _utc(value: datetime | None) -> datetime:
    value = value or datetime.now(UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    return _utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))


def digest_due(schedule: Digest, last_digest_at: datetime | None, now: datetime) -> bool:
    """True when the day's digest hour (in the schedule's time zone) passed since the last."""
    local = now.astimezone(ZoneInfo(schedule.timezone))
    slot = local.replace(hour=schedule.hour, minute=0, second=0, microsecond=0)
    if slot > local:
        slot -= timedelta(days=1)
    return last_digest_at is None or last_digest_at < slot


def es_error_reason(exc: Exception) -> str:
    """The most useful one-line reason of an Elasticsearch error (the root cause)."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        causes = error.get("root_cause") or [error]
        cause = causes[0]
        reason = cause.get("reason") or error.get("reason") or ""
        caused_by = (error.get("failed_shards") or [{}])[0].get("reason", {})
        detail = caused_by.get("caused_by", {}).get("reason") if caused_by else None
        return f"{cause.get('type', 'error')}: {reason}" + (f" ({detail})" if detail else "")
    return str(exc)


def _hits(response: Any) -> list[dict[str, Any]]:
    articles = []
    for hit in response["hits"]["hits"]:
        article = dict(hit.get("_source") or {})
        article.setdefault("doc_id", hit["_id"])
        article["highlight"] = hit.get("highlight") or {}
        articles.append(article)
    return articles


def latest_indexed_at(es: Elasticsearch) -> datetime | None:
    """The highest ``indexed_at`` searchable right now (None when the index is empty)."""
    response = es.search(
        index=articles_alias(),
        size=0,
        aggs={"latest": {"max": {"field": "indexed_at"}}},
    )
    value = response["aggregations"]["latest"].get("value")
    if value is None:
        return None
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def _next_watermark(
    watermark: datetime, visible: datetime | None, articles: list[dict[str, Any]], cap: int
) -> datetime:
    """Where the next evaluation starts (before the overlap is subtracted).

    Normally the latest ``indexed_at`` that was searchable *before* the search ran, so quiet
    watchlists move on too. When the search hit its size cap, only up to the last article
    returned (they are sorted by ``indexed_at``): the rest is read next time.
    """
    if len(articles) >= cap:
        seen = [_parse_time(a.get("indexed_at")) for a in articles]
        return max([watermark, *(t for t in seen if t)])
    return max(watermark, visible) if visible else watermark


def _copies_of_sent_stories(
    es: Elasticsearch, watchlist_id: str, articles: list[dict[str, Any]], threshold: float
) -> dict[str, str]:
    """Near-copies of stories emailed in earlier runs; gives every article its ``sketch``."""
    for article in articles:
        article["sketch"] = sketch(shingles(article.get("text", "")))
    values = sorted({v for a in articles for v in a["sketch"]})
    copies = duplicates_of_sent(articles, state.sent_sketches(es, watchlist_id, values), threshold)
    for article in articles:
        if article["doc_id"] in copies:
            article["duplicate_of"] = copies[article["doc_id"]]
    return copies


def evaluate(
    es: Elasticsearch,
    watchlist: Watchlist,
    settings: AlertSettings,
    now: datetime,
) -> Evaluation:
    """Find what is new for a watchlist since its watermark (read-only)."""
    saved = state.get_watchlist_state(es, watchlist.id)
    watermark = _parse_time(saved.get("watermark")) or now - timedelta(
        hours=settings.initial_lookback_hours
    )
    since = watermark - timedelta(minutes=settings.overlap_minutes)
    visible = latest_indexed_at(es)  # before the search: later documents are read next time
    pending = state.pending_doc_ids(es, watchlist.id)
    sent = state.sent_ids_since(es, watchlist.id, since)
    body = search_body(watchlist, since, pending, settings.max_hits, sent)
    articles = _hits(es.search(index=articles_alias(), **body))
    statuses = state.sent_status(es, watchlist.id, [a["doc_id"] for a in articles])
    fresh = [a for a in articles if statuses.get(a["doc_id"]) != state.SENT]
    sent_hashes = state.sent_content_hashes(
        es, watchlist.id, sorted({a["content_hash"] for a in fresh if a.get("content_hash")})
    )
    duplicates = [a for a in fresh if a.get("content_hash") in sent_hashes]
    new = [a for a in fresh if a.get("content_hash") not in sent_hashes]
    copies = _copies_of_sent_stories(es, watchlist.id, new, settings.near_duplicate_threshold)
    duplicates += [a for a in new if a["doc_id"] in copies]
    new = [a for a in new if a["doc_id"] not in copies]
    facts = story_facts(es, sorted({a["story_id"] for a in new if a.get("story_id")}))
    for article in new:  # an id merged into another story since: the survivor's
        if article.get("story_id") in facts:
            article["story_id"] = facts[article["story_id"]]["story_id"]
    groups = group_by_story(new, settings.near_duplicate_threshold)
    story_ids = sorted({g[0]["story_id"] for g in groups if g[0].get("story_id")})
    facts = {f["story_id"]: f for f in facts.values()}
    mailed = mailed_stories(es, watchlist.id, story_ids, facts)
    evaluation = Evaluation(
        watchlist=watchlist,
        since=since,
        watermark=_next_watermark(watermark, visible, articles, settings.max_hits),
        new=new,
        duplicates=duplicates,
        entries=[],
        previously_pending=set(pending),
        facts=facts,
    )
    for group in groups:
        story_id = group[0].get("story_id") or ""
        entry = build_entry(group, watchlist, facts.get(story_id))
        if story_id not in mailed:
            evaluation.entries.append(entry)
            evaluation.groups.append(group)
            continue
        entry.growth = story_growth(mailed[story_id], group, facts.get(story_id))
        if watchlist.updates and entry.growth:
            evaluation.updates.append((entry, group))
        else:
            evaluation.covered += group
    return evaluation


def group_by_story(articles: list[dict[str, Any]], threshold: float) -> list[list[dict]]:
    """Articles grouped by ``story_id``; syndicated copies join their story too.

    Groups keep the order of their first article. Articles without a story id (indexed
    before stories existed) are grouped by copies only.
    """
    copies = group_stories(articles, threshold)
    root: dict[str, int] = {}
    merged: list[list[dict[str, Any]]] = []
    for group in copies:
        ids = {a.get("story_id") for a in group if a.get("story_id")}
        target = next((root[i] for i in sorted(ids) if i in root), None)
        if target is None:
            target = len(merged)
            merged.append([])
        merged[target] += group
        for story_id in ids:
            root.setdefault(story_id, target)
    for group in merged:
        group.sort(key=lambda a: articles.index(a))
        story_id = next((a["story_id"] for a in group if a.get("story_id")), None)
        for article in group:
            article.setdefault("story_id", story_id)
    return merged


def story_facts(es: Elasticsearch, story_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Outlets, languages, fatality range and merged ids of stories, from the stories index.

    Keyed by the requested id; an id merged into another story gets the survivor's facts
    (``story_id`` is then the survivor's id)."""
    alias = f"{get_settings().es_index_prefix}-stories"
    if not story_ids or not es.indices.exists(index=alias):
        return {}
    fields = ["story_id", "status", "merged_into", "aliases", "outlets", "languages"]
    fields.append("incident.fatalities")
    current = {s: s for s in story_ids}
    found: dict[str, dict[str, Any]] = {}
    for _ in range(MAX_MERGE_HOPS):
        wanted = sorted(set(current.values()) - set(found))
        if not wanted:
            break
        for doc in es.mget(index=alias, ids=wanted, source=fields)["docs"]:
            if doc.get("found"):
                found[doc["_id"]] = doc["_source"]
        for requested, now in current.items():
            source = found.get(now) or {}
            if source.get("status") == "merged" and source.get("merged_into"):
                current[requested] = source["merged_into"]
    out = {}
    for requested, now in current.items():
        source = found.get(now)
        if source is None or source.get("status") == "merged":
            continue
        out[requested] = {
            "story_id": now,
            "aliases": source.get("aliases") or [],
            "outlets": source.get("outlets") or [],
            "languages": source.get("languages") or [],
            "fatalities": (source.get("incident") or {}).get("fatalities"),
        }
    return out


#: Merges followed from an old story id to the current one (merges chain rarely).
MAX_MERGE_HOPS = 5


def mailed_stories(
    es: Elasticsearch, watchlist_id: str, story_ids: list[str], facts: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """What was mailed of each story, under its id or under an id merged into it since.

    A story mailed as A that later absorbed B (or was absorbed into B) is one story mailed:
    what each mail told is united (outlets, languages; the latest mail's fatality range)."""
    ids = {s: [s, *(facts.get(s) or {}).get("aliases", [])] for s in story_ids}
    sent = state.sent_stories(
        es, watchlist_id, sorted({i for group in ids.values() for i in group})
    )
    out: dict[str, dict[str, Any]] = {}
    for story_id, group in ids.items():
        docs = sorted((sent[i] for i in group if i in sent), key=lambda d: d.get("sent_at") or "")
        if not docs:
            continue
        latest = docs[-1]
        out[story_id] = {
            **latest,
            "story_id": story_id,
            "outlets": sorted({o for d in docs for o in d.get("outlets") or []}),
            "languages": sorted({x for d in docs for x in d.get("languages") or []}),
        }
    return out


def _told(group: list[dict[str, Any]], facts: dict[str, Any] | None) -> dict[str, Any]:
    """What a mail tells of a story: the index's facts, else what its articles show."""
    story_id = group[0].get("story_id") or ""
    outlets = {a.get("outlet") for a in group if a.get("outlet")}
    languages = {a.get("language") for a in group if a.get("language")}
    if facts:
        outlets |= set(facts.get("outlets") or [])
        languages |= set(facts.get("languages") or [])
    return {
        "story_id": story_id,
        "outlets": sorted(outlets),
        "languages": sorted(languages),
        "fatalities": (facts or {}).get("fatalities"),
    }


def story_growth(
    mailed: dict[str, Any], group: list[dict[str, Any]], facts: dict[str, Any] | None
) -> list[str]:
    """What a mailed story gained: new outlets, new languages, a new fatality range."""
    told = _told(group, facts)
    growth = [f"+{o}" for o in told["outlets"] if o not in set(mailed.get("outlets") or [])]
    growth += [
        f"+{lang}" for lang in told["languages"] if lang not in set(mailed.get("languages") or [])
    ]
    fatalities = told["fatalities"]
    if fatalities and (fatalities.get("min"), fatalities.get("max")) != (
        mailed.get("fatalities_min"),
        mailed.get("fatalities_max"),
    ):
        low, high = fatalities.get("min"), fatalities.get("max")
        growth.append(f"killed {low}" if low == high else f"killed {low}–{high}")
    return growth


def render(
    evaluation: Evaluation, settings: AlertSettings, now: datetime, mail_from: str
) -> EmailMessage | None:
    """The mail for an evaluation (None when there is nothing new). A digest also lists the
    stories mailed before that grew (digests group by story: one mail a day)."""
    watchlist = evaluation.watchlist
    digest = watchlist.mode == "digest"
    grown = [entry for entry, _ in evaluation.updates] if digest else []
    if not evaluation.entries and not grown:
        return None
    return build_message(
        watchlist,
        evaluation.entries,
        mail_from=mail_from,
        discover_url=discover_url(get_settings().kibana_url, watchlist, settings),
        now=now,
        digest=digest,
        grown=grown,
    )


@dataclass(frozen=True)
class _Run:
    """What every watchlist of one run shares."""

    es: Elasticsearch
    settings: AlertSettings
    smtp: SmtpConfig
    mode: str
    now: datetime
    result: AlertRunResult


def _deliver(run: _Run, evaluation: Evaluation) -> bool:
    """Record pending, move the watermark, send, mark sent. True when nothing is left over."""
    watchlist = evaluation.watchlist
    covered = {a["doc_id"] for a in evaluation.covered}
    to_record = [
        a
        for a in evaluation.new
        if a["doc_id"] not in evaluation.previously_pending and a["doc_id"] not in covered
    ]
    state.record_matches(run.es, watchlist.id, to_record, state.PENDING, run.now)
    state.record_matches(
        run.es, watchlist.id, evaluation.duplicates + evaluation.covered, state.SENT, run.now
    )
    state.save_watchlist_state(
        run.es, watchlist.id, watermark=evaluation.watermark, last_evaluated_at=run.now
    )
    message = render(evaluation, run.settings, run.now, run.smtp.mail_from)
    if watchlist.mode == "digest":
        # the grown stories are inside the digest: one mail, its reports marked with it
        grown = {group[0]["story_id"] for _, group in evaluation.updates}
        whole = Evaluation(
            watchlist,
            evaluation.since,
            evaluation.watermark,
            evaluation.new,
            evaluation.duplicates,
            evaluation.entries,
            evaluation.previously_pending,
            groups=evaluation.groups + [group for _, group in evaluation.updates],
            facts=evaluation.facts,
        )
        return message is None or _send(run, whole, message, grown=grown)
    delivered = message is None or _send(run, evaluation, message)
    for entry, group in evaluation.updates:
        delivered = _send_update(run, evaluation, entry, group) and delivered
    return delivered


def _send_update(
    run: _Run, evaluation: Evaluation, entry: Entry, group: list[dict[str, Any]]
) -> bool:
    """The "story grew" mail of one story; its reports are marked sent once it went out."""
    watchlist = evaluation.watchlist
    message = build_message(
        watchlist,
        [entry],
        mail_from=run.smtp.mail_from,
        discover_url=discover_url(get_settings().kibana_url, watchlist, run.settings),
        now=run.now,
        update=True,
    )
    part = Evaluation(
        watchlist,
        evaluation.since,
        evaluation.watermark,
        group,
        [],
        [entry],
        evaluation.previously_pending,
        groups=[group],
        facts=evaluation.facts,
    )
    return _send(run, part, message, update=True)


def _send(
    run: _Run,
    evaluation: Evaluation,
    message: EmailMessage,
    update: bool = False,
    grown: set[str] | None = None,
) -> bool:
    """Send the mail; mark its matches sent, or note the failure and leave them pending.

    `grown`: stories of a digest listed as grown (recorded as updates)."""
    grown = grown or set()
    mailed = [a for group in evaluation.groups for a in group]
    watchlist, doc_ids = evaluation.watchlist, [a["doc_id"] for a in mailed]
    try:
        attempts = send_message(
            message,
            run.smtp,
            attempts=run.settings.smtp_attempts,
            backoff_seconds=run.settings.smtp_backoff_seconds,
        )
    except DeliveryError as exc:
        LOGGER.error("watchlist %s: %s; %d matches stay pending", watchlist.id, exc, len(doc_ids))
        state.record_failure(run.es, watchlist.id, doc_ids, str(exc), run.settings.smtp_attempts)
        run.result.pending += len(doc_ids)
        run.result.errors.append({"watchlist": watchlist.id, "stage": "send", "error": str(exc)})
        return False
    state.record_matches(run.es, watchlist.id, mailed, state.SENT, _utc(None))
    for group in evaluation.groups:
        story_id = group[0].get("story_id")
        if story_id:
            told = _told(group, evaluation.facts.get(story_id))
            state.record_story(run.es, watchlist.id, told, run.now, update or story_id in grown)
    run.result.emails_sent += 1
    run.result.updates_sent += int(update) + len(grown)
    run.result.entries_sent += len(evaluation.entries)
    LOGGER.info(
        "watchlist %s: sent %d entries (%d articles) in %d attempt(s)",
        watchlist.id,
        len(evaluation.entries),
        len(doc_ids),
        attempts,
    )
    return True


def _run_one(run: _Run, watchlist: Watchlist) -> None:
    if run.mode == "digest":
        saved = state.get_watchlist_state(run.es, watchlist.id)
        last_digest = _parse_time(saved.get("last_digest_at"))
        if not digest_due(watchlist.digest_schedule(), last_digest, run.now):
            LOGGER.info("watchlist %s: digest not due", watchlist.id)
            return
    evaluation = evaluate(run.es, watchlist, run.settings, run.now)
    delivered = _deliver(run, evaluation)
    if run.mode == "digest" and delivered:
        state.save_watchlist_state(run.es, watchlist.id, last_digest_at=run.now)


def run_alerts(
    *,
    es: Elasticsearch | None = None,
    mode: str = "immediate",
    now: datetime | None = None,
    watchlists_path: Path | None = None,
) -> AlertRunResult:
    """Evaluate the watchlists of this mode and send their alert mails.

    ``mode="immediate"`` evaluates the immediate watchlists; ``mode="digest"`` sends the
    digests that are due. Safe to call after every indexing run: a rerun sends nothing.
    Errors (an invalid watchlist or query, a failed send) are reported per watchlist in
    ``errors`` while the other watchlists still run.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    now = _utc(now)
    loaded = load_watchlists(watchlists_path)
    result = AlertRunResult(errors=list(loaded.errors))
    client = es or get_client()
    try:
        state.ensure_state_indices(client)
        if not client.indices.exists(index=articles_alias()):
            LOGGER.warning("no %s index yet: nothing to alert on", articles_alias())
            return result
        smtp = smtp_config(timeout=loaded.settings.smtp_timeout_seconds)
        run = _Run(client, loaded.settings, smtp, mode, now, result)
        for watchlist in loaded.watchlists:
            if watchlist.enabled and watchlist.mode == mode:
                _run_guarded(run, watchlist)
    finally:
        if es is None:
            client.close()
    LOGGER.info("alerts run (%s): %s", mode, result)
    return result


def _run_guarded(run: _Run, watchlist: Watchlist) -> None:
    """Run one watchlist; an Elasticsearch or rendering error is recorded, not raised."""
    try:
        _run_one(run, watchlist)
    except BadRequestError as exc:
        reason = f"query rejected by Elasticsearch: {es_error_reason(exc)}"
        LOGGER.error("watchlist %s: %s", watchlist.id, reason)
        run.result.errors.append({"watchlist": watchlist.id, "stage": "query", "error": reason})
    except (ApiError, TransportError) as exc:
        reason = es_error_reason(exc)
        LOGGER.error("watchlist %s failed: %s", watchlist.id, reason)
        run.result.errors.append({"watchlist": watchlist.id, "stage": "search", "error": reason})
    except ValueError as exc:
        LOGGER.error("watchlist %s: cannot build its mail: %s", watchlist.id, exc)
        run.result.errors.append({"watchlist": watchlist.id, "stage": "render", "error": str(exc)})


def dry_run(
    key: str,
    *,
    es: Elasticsearch | None = None,
    now: datetime | None = None,
    watchlists_path: Path | None = None,
) -> tuple[Evaluation, EmailMessage | None]:
    """What a watchlist would send now, without writing any state or sending anything."""
    loaded = load_watchlists(watchlists_path)
    watchlist = loaded.find(key)
    if watchlist is None:
        raise KeyError(f"no watchlist {key!r} in {loaded.path}")
    client = es or get_client()
    try:
        state.ensure_state_indices(client)
        now = _utc(now)
        evaluation = evaluate(client, watchlist, loaded.settings, now)
        message = render(evaluation, loaded.settings, now, get_settings().mail_from)
    finally:
        if es is None:
            client.close()
    return evaluation, message
