"""Stories in Elasticsearch: the stories index, online assignment, re-clustering, look-up.

- ``<prefix>-stories-v<N>`` (template ``index_mappings/stories-template.json``) behind the
  alias ``<prefix>-stories``; the filtered alias ``<prefix>-incidents`` shows the stories
  with an incident record (Kibana's incidents data view).
- `assign_stories()` gives every indexed article without a ``story_id`` its story, in
  publication order: candidates come from the stories index (same keys, i.e. places,
  regions, actors, copy hashes, inside the candidate time window), so the cost per article
  does not grow with the archive. Stories touched in the run are kept in memory
  (`MemoryStore`) and written at the end with their incident records, then the articles'
  ``story_id`` (partial updates: searchers see every article throughout). An article that
  the indexer re-wrote without its ``story_id`` finds its story again through ``member_ids``,
  so reruns give the same ids. A merge writes the absorbed story as ``status: merged`` with
  ``merged_into``; its id stays resolvable (`resolve_story_id`).
- `recluster()` rebuilds every story from the archive into the next index version, moves
  the articles' ``story_id`` and swaps the aliases in one call.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch, helpers

from kzmon.es import get_client
from kzmon.indexer import mappings
from kzmon.indexer.names import get_names
from kzmon.stories.cluster import (
    EVENT_WINDOW_DAYS,
    PUBLISHED_WINDOW_DAYS,
    Clusterer,
    MemoryStore,
    candidate_keys,
)
from kzmon.stories.features import article_features
from kzmon.stories.incident import build_incident
from kzmon.stories.model import Member, Story, Tally

LOGGER = logging.getLogger(__name__)

#: Articles read per page while assigning.
PAGE_SIZE = 500
#: Candidate stories asked from the index per article (the best-placed by recency).
MAX_CANDIDATES = 50
ARTICLE_FIELDS = [
    "doc_id",
    "url",
    "canonical_url",
    "outlet",
    "language",
    "title",
    "text",
    "published_at",
    "fetched_at",
    "entities",
    "incident_types",
    "relevant",
    "relevance_score",
    "content_hash",
    "story_id",
]


def stories_alias() -> str:
    """The read/write alias of the stories index."""
    return f"{get_settings_prefix()}-stories"


def incidents_alias() -> str:
    """The filtered alias over stories with an incident record."""
    return f"{get_settings_prefix()}-incidents"


def get_settings_prefix() -> str:
    """The index prefix (``KZMON_INDEX_PREFIX``)."""
    return get_names().prefix


def stories_index(version: int) -> str:
    """The concrete stories index of one version."""
    return f"{stories_alias()}-v{version}"


def ensure_stories_setup(es: Elasticsearch) -> str:
    """Put the template, create ``-v1`` with both aliases unless they exist; the index name."""
    body = mappings.load_json("stories-template.json")
    body.pop("_meta", None)
    body["index_patterns"] = [
        p.replace("{prefix}", get_settings_prefix()) for p in body["index_patterns"]
    ]
    es.indices.put_index_template(name=stories_alias(), body=body)
    response = es.options(ignore_status=404).indices.get_alias(name=stories_alias())
    if response.meta.status != 404 and response.body:
        current = sorted(response.body)[-1]
        # Fields added to the template since the index was made (additive, e.g. ``rest``).
        es.indices.put_mapping(index=current, properties=body["template"]["mappings"]["properties"])
        return current
    index = stories_index(1)
    es.options(ignore_status=400).indices.create(index=index)
    es.indices.update_aliases(actions=_alias_actions(index))
    return index


def _alias_actions(index: str) -> list[dict[str, Any]]:
    return [
        {"add": {"index": index, "alias": stories_alias(), "is_write_index": True}},
        {
            "add": {
                "index": index,
                "alias": incidents_alias(),
                "filter": {"term": {"is_incident": True}},
            }
        },
    ]


def story_document(story: Story) -> dict[str, Any]:
    """The stories-index document of a story (with its incident record).

    Bounded whatever the story's size: at most `MAX_MEMBERS` member summaries, the
    `MAX_MEMBER_IDS` latest member ids and `MAX_KEYS` keys; the counts, outlets, languages
    and casualty figures cover every report (the story's `Tally`, kept as ``rest``)."""
    profile = story.profile
    tally = story.tally
    incident = build_incident(story)
    if incident and incident.get("location") and incident["location"].get("lat") is not None:
        location = incident["location"]
        location["geo"] = {"lat": location["lat"], "lon": location["lon"]}
    span = profile.event_span
    return {
        "story_id": story.id,
        "status": "active",
        "aliases": story.aliases,
        "member_ids": story.member_ids(),
        "keys": story.keys(),
        "title": story.members[0].title,
        "languages": sorted(profile.languages),
        "outlets": sorted(tally.outlets),
        "article_count": profile.size,
        "published_first": profile.first_published.isoformat(),
        "published_last": profile.last_published.isoformat(),
        "event_start": (span[0] if span else profile.pub_span[0]).isoformat(),
        "event_end": (span[1] if span else profile.pub_span[1]).isoformat(),
        "place_ids": sorted(profile.places),
        "admin1": sorted(profile.regions),
        "incident_types": sorted(profile.types),
        "is_incident": incident is not None,
        "incident": incident,
        "members": [m.to_dict() for m in story.members],
        "rest": story.rest.to_dict() if story.rest.size else None,
        "updated_at": datetime.now(UTC).isoformat(),
    }


def story_from_document(doc: dict[str, Any]) -> Story:
    """A story back from its stored document."""
    members = [Member.from_dict(raw) for raw in doc.get("members") or []]
    story = Story(
        id=doc["story_id"],
        aliases=list(doc.get("aliases") or []),
        rest=Tally.from_dict(doc.get("rest")),
    )
    story.members = sorted(members, key=lambda m: (m.published, m.doc_id))
    return story


def _overlap(start_field: str, end_field: str, lo: Any, hi: Any) -> dict[str, Any]:
    """Stories whose [start, end] overlaps [lo, hi]."""
    return {
        "bool": {
            "filter": [
                {"range": {end_field: {"gte": lo.isoformat()}}},
                {"range": {start_field: {"lte": hi.isoformat()}}},
            ]
        }
    }


class ElasticStore:
    """A `StoryStore` over the stories index, with this run's stories cached in memory."""

    def __init__(self, es: Elasticsearch, index: str) -> None:
        self.es = es
        self.index = index
        self.cache = MemoryStore()
        self.merged_away: dict[str, str] = {}
        self.dirty: set[str] = set()
        #: articles placed in this run (their ``story_id`` is written by `flush`)
        self.placed: dict[str, str] = {}
        #: ids of the articles of stories merged away in this run (they move to the survivor)
        self.moved: dict[str, list[str]] = {}

    def candidates(self, member: Member) -> list[Story]:
        """Stories of the index sharing a key with the article in its time window."""
        # From memory only the stories not yet written (this page's): the written ones are in
        # the index and come back through the capped search like any archive story. Taking every
        # cached story made a run's candidates grow with the run (O(n^2) over a batch).
        found = {s.id: s for s in self.cache.candidates(member) if s.id in self.dirty}
        missing: list[str] = []
        for hit in self._search(member):
            story_id = hit["_id"]  # a story's document id is its story_id (`flush`)
            if story_id in found or story_id in self.merged_away:
                continue
            cached = self.cache.stories.get(story_id)
            if cached is not None:
                found[story_id] = cached
            else:
                missing.append(story_id)
        if missing:  # only the stories this run has not read yet travel with their members
            for doc in self.es.mget(index=self.index, ids=missing)["docs"]:
                if doc.get("found"):
                    found[doc["_id"]] = story_from_document(doc["_source"])
        return [found[i] for i in sorted(found)]

    def _search(self, member: Member) -> list[dict[str, Any]]:
        keys = candidate_keys(member, lookup=True)
        if not keys:
            return []
        pub = member.pub_day
        windows = [
            _overlap(
                "published_first",
                "published_last",
                pub - timedelta(days=PUBLISHED_WINDOW_DAYS),
                pub + timedelta(days=1),
            )
        ]
        if member.event_stated:
            slack = timedelta(days=EVENT_WINDOW_DAYS)
            day = member.event_date
            windows.append(_overlap("event_start", "event_end", day - slack, day + slack))
        response = self.es.search(
            index=self.index,
            query={
                "bool": {
                    "filter": [{"terms": {"keys": keys}}, {"term": {"status": "active"}}],
                    "should": windows,
                    "minimum_should_match": 1,
                }
            },
            size=MAX_CANDIDATES,
            sort=[{"published_last": "desc"}, {"story_id": "asc"}],
            source=False,  # ids only: most candidates are this run's, cached (`candidates`)
        )
        return response["hits"]["hits"]

    def story_of(self, doc_id: str) -> Story | None:
        """The story an article belongs to (this run's, else the index's)."""
        cached = self.cache.story_of(doc_id)
        if cached is not None:
            return cached
        response = self.es.search(
            index=self.index,
            query={
                "bool": {
                    "filter": [{"term": {"member_ids": doc_id}}, {"term": {"status": "active"}}]
                }
            },
            size=1,
        )
        hits = response["hits"]["hits"]
        if not hits:
            return None
        story = story_from_document(hits[0]["_source"])
        self.cache.save(story)
        return story

    def save(self, story: Story) -> None:
        """Keep the story in memory; it is written by `flush`."""
        self.cache.save(story)
        self.dirty.add(story.id)

    def assigned(self, doc_id: str, story_id: str) -> None:
        """Remember where an article went (written by `flush`)."""
        self.placed[doc_id] = story_id

    def merged(self, survivor: Story, absorbed: Story) -> None:
        """Remember the merge (written by `flush`)."""
        self.cache.merged(survivor, absorbed)
        self.merged_away[absorbed.id] = survivor.id
        self.moved[absorbed.id] = absorbed.member_ids()
        self.dirty.discard(absorbed.id)

    def flush(self) -> list[tuple[str, str]]:
        """Write the changed and merged stories; ``(doc_id, story_id)`` of the articles whose
        story id is new: those placed in this run and those of stories merged away."""
        actions: list[dict[str, Any]] = []
        for story_id in sorted(self.dirty):
            story = self.cache.stories[story_id]
            actions.append(
                {
                    "_op_type": "index",
                    "_index": self.index,
                    "_id": story_id,
                    "_source": story_document(story),
                }
            )
        pairs = {doc_id: self.cache.resolve(s) for doc_id, s in self.placed.items()}
        for absorbed, doc_ids in self.moved.items():
            for doc_id in doc_ids:
                pairs.setdefault(doc_id, self.cache.resolve(absorbed))
        for absorbed, survivor in sorted(self.merged_away.items()):
            final = self.cache.resolve(survivor)
            actions.append(
                {
                    "_op_type": "index",
                    "_index": self.index,
                    "_id": absorbed,
                    "_source": {
                        "story_id": absorbed,
                        "status": "merged",
                        "merged_into": final,
                        "updated_at": datetime.now(UTC).isoformat(),
                    },
                }
            )
        if actions:
            helpers.bulk(self.es, actions, refresh=True)
        self.dirty.clear()
        self.merged_away.clear()
        self.placed.clear()
        self.moved.clear()
        return sorted(pairs.items())


@dataclass
class AssignReport:
    """What one assignment run did."""

    articles: int = 0
    new_stories: int = 0
    joined: int = 0
    merges: list[list[str]] = field(default_factory=list)
    stories_written: int = 0
    incidents: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (XCom) form."""
        return asdict(self)


def _unassigned(es: Elasticsearch, alias: str, everything: bool) -> Iterator[list[dict]]:
    """Articles (without a story unless `everything`), oldest first, page by page."""
    query: dict[str, Any] = {"match_all": {}}
    if not everything:
        query = {"bool": {"must_not": [{"exists": {"field": "story_id"}}]}}
    search_after = None
    while True:
        response = es.search(
            index=alias,
            query=query,
            size=PAGE_SIZE,
            sort=[{"published_at": {"order": "asc", "missing": "_first"}}, {"doc_id": "asc"}],
            source=ARTICLE_FIELDS,
            search_after=search_after,
        )
        hits = response["hits"]["hits"]
        if not hits:
            return
        yield [{**h["_source"], "doc_id": h["_id"]} for h in hits]
        search_after = hits[-1]["sort"]


def _update_articles(es: Elasticsearch, pairs: list[tuple[str, str]]) -> int:
    """Write ``story_id`` onto the articles (partial updates through the write alias)."""
    names = get_names()
    actions = [
        {
            "_op_type": "update",
            "_index": names.write_alias,
            "_id": doc_id,
            "doc": {"story_id": story_id},
        }
        for doc_id, story_id in dict(pairs).items()
    ]
    failed = 0
    for ok, item in helpers.streaming_bulk(es, actions, raise_on_error=False, chunk_size=500):
        if not ok:
            failed += 1
            LOGGER.error("story_id not written: %s", item)
    es.indices.refresh(index=names.read_alias)
    return failed


def assign_stories(es: Elasticsearch | None = None) -> AssignReport:
    """Give every indexed article without a story its story (idempotent)."""
    own = es is None
    es = es or get_client()
    try:
        index = ensure_stories_setup(es)
        store = ElasticStore(es, stories_alias())
        report = _run(es, store, get_names().read_alias, everything=False)
        LOGGER.info("stories assigned in %s: %s", index, report)
        return report
    finally:
        if own:
            es.close()


def _run(es: Elasticsearch, store: ElasticStore, alias: str, everything: bool) -> AssignReport:
    report = AssignReport()
    clusterer = Clusterer(store)
    if not es.indices.exists(index=alias):
        return report
    for page in _unassigned(es, alias, everything):
        for record in page:
            try:
                member = Member.from_features(article_features(record))
            except (ValueError, TypeError, KeyError) as exc:
                LOGGER.error("article %s: cannot read its features: %s", record.get("doc_id"), exc)
                report.failed += 1
                continue
            result = clusterer.assign(member)
            report.articles += 1
            report.new_stories += result.created
            report.joined += not result.created
            if result.merged:
                report.merges.append([result.story_id, *result.merged])
        written = store.flush()
        report.stories_written += len({s for _, s in written})
        report.failed += _update_articles(es, written)
    report.incidents = _count_incidents(es)
    return report


def _count_incidents(es: Elasticsearch) -> int:
    es.indices.refresh(index=stories_alias())
    return int(es.count(index=incidents_alias())["count"])


def resolve_story_id(es: Elasticsearch, story_id: str) -> str | None:
    """The current id of a story id (an old id of a merged story resolves to the survivor)."""
    seen: set[str] = set()
    while story_id not in seen:
        seen.add(story_id)
        response = es.options(ignore_status=404).get(index=stories_alias(), id=story_id)
        if response.meta.status == 404:
            hits = es.search(index=stories_alias(), query={"term": {"aliases": story_id}}, size=1)[
                "hits"
            ]["hits"]
            return hits[0]["_source"]["story_id"] if hits else None
        source = response.body["_source"]
        if source.get("status") != "merged":
            return story_id
        story_id = source["merged_into"]
    return None


def get_story(story_id: str, es: Elasticsearch | None = None) -> dict[str, Any] | None:
    """A story as stored (``members`` left out), following merges; None when unknown."""
    own = es is None
    es = es or get_client()
    try:
        if not es.indices.exists(index=stories_alias()):
            return None
        current = resolve_story_id(es, story_id)
        if current is None:
            return None
        source = dict(es.get(index=stories_alias(), id=current)["_source"])
        members = source.pop("members", [])
        source.pop("rest", None)  # the folded reports' tally: counts, not for reading
        source["articles"] = [
            {k: m.get(k) for k in ("doc_id", "url", "outlet", "language", "published", "title")}
            for m in members
        ]
        if current != story_id:
            source["requested_id"] = story_id
        return source
    finally:
        if own:
            es.close()


@dataclass
class ReclusterReport(AssignReport):
    """What a re-clustering did."""

    source_index: str = ""
    target_index: str = ""


def recluster(es: Elasticsearch | None = None) -> ReclusterReport:
    """Rebuild every story into the next stories index version; swap the aliases at once."""
    own = es is None
    es = es or get_client()
    try:
        source = ensure_stories_setup(es)
        version = int(source.rsplit("-v", 1)[1]) + 1
        target = stories_index(version)
        es.options(ignore_status=404).indices.delete(index=target)
        es.indices.create(index=target)
        store = ElasticStore(es, target)
        base = _run(es, store, get_names().read_alias, everything=True)
        actions = [
            {"remove": {"index": source, "alias": stories_alias()}},
            {"remove": {"index": source, "alias": incidents_alias()}},
            *_alias_actions(target),
        ]
        es.indices.update_aliases(actions=actions)
        es.indices.delete(index=source)
        report = ReclusterReport(**asdict(base), source_index=source, target_index=target)
        report.incidents = _count_incidents(es)
        return report
    finally:
        if own:
            es.close()
