"""Online, incremental story clustering over a store of stories.

`Clusterer.assign(member)` asks the store for candidate stories (stories sharing a place,
region, actor, day or copy hash with the article inside a time window: the store's index
keeps this bounded, so the cost per article does not grow with the archive), scores each
(`kzmon.stories.scoring`), joins the best one or founds a new story, and merges stories that
a bridging report shows to be one. A merged story keeps the older story's id; the other id
becomes an alias that still resolves.

Two stores implement `StoryStore`: `MemoryStore` here (the ``cluster`` command, a batch
without Elasticsearch) and `kzmon.stories.store.ElasticStore` (the stories index).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Protocol

from kzmon.stories.model import Member, Story, story_id_for
from kzmon.stories.scoring import JOIN_SCORE, MERGE_SCORE, SAME, VETO, compatible, score

LOGGER = logging.getLogger(__name__)

#: Candidate windows (days): stories reported up to this long before the article, and
#: stories whose event span is this close to the article's stated event date.
PUBLISHED_WINDOW_DAYS = 30
EVENT_WINDOW_DAYS = 3
#: Weeks are the time buckets of the in-memory index.
BUCKET_DAYS = 7
#: Title/lead terms used as index keys.
TERM_KEYS = 16
#: Name keys (kzmon.stories.names) used as index keys: reports in other languages of a story
#: the taxonomy has no id for (a plane crash, a tennis final) are found through them.
NAME_KEYS = 6


class StoryStore(Protocol):
    """Where stories live while clustering (memory or the stories index)."""

    def candidates(self, member: Member) -> list[Story]:
        """Stories that may hold this article (bounded, in a stable order)."""
        ...

    def story_of(self, doc_id: str) -> Story | None:
        """The story an article already belongs to."""
        ...

    def save(self, story: Story) -> None:
        """Record a new or changed story."""
        ...

    def merged(self, survivor: Story, absorbed: Story) -> None:
        """Record that `absorbed` became part of `survivor`."""
        ...

    def assigned(self, doc_id: str, story_id: str) -> None:
        """Record that an article was placed in a story (again, for a rerun)."""
        ...


def candidate_keys(member: Member, lookup: bool = False) -> list[str]:
    """The index keys of an article: its places, regions, groups/people, copy hash, names.

    Articles that name no place and no actor are filed under their title/lead terms too;
    `lookup` keys always include the terms, so that such stories are found.
    """
    keys = [f"p:{ref}" for ref in member.place_weights]
    keys += [f"r:{ref}" for ref in member.region_weights]
    keys += [f"a:{ref}" for ref, kind in member.actors.items() if kind != "organization"]
    if member.content_hash:
        keys.append(f"h:{member.content_hash}")
    keys += [f"k:{value}" for value in member.sketch[:4]]
    keys += [f"n:{name}" for name in member.names if not name.startswith("#")][:NAME_KEYS]
    if lookup or (not member.place_weights and not member.actors):
        keys += [f"t:{member.language}:{term}" for term in member.terms[:TERM_KEYS]]
    return keys


def _bucket(day: date) -> int:
    return day.toordinal() // BUCKET_DAYS


def member_buckets(member: Member) -> set[int]:
    """Time buckets an article is looked up in (publication window and stated event days)."""
    pub = member.pub_day
    buckets = {
        _bucket(pub - timedelta(days=d)) for d in range(-1, PUBLISHED_WINDOW_DAYS + 1, BUCKET_DAYS)
    }
    buckets.add(_bucket(pub - timedelta(days=PUBLISHED_WINDOW_DAYS)))
    buckets.add(_bucket(pub + timedelta(days=1)))
    if member.event_stated:
        for d in (-EVENT_WINDOW_DAYS, 0, EVENT_WINDOW_DAYS):
            buckets.add(_bucket(member.event_date + timedelta(days=d)))
    return buckets


def story_buckets(story: Story) -> set[int]:
    """Time buckets a story is filed under (its publication and event days)."""
    days = {m.pub_day for m in story.members}
    days |= {m.event_date for m in story.members if m.event_stated}
    return {_bucket(day) for day in days}


@dataclass
class MemoryStore:
    """Stories in memory with an inverted index of (key, week) → story ids."""

    stories: dict[str, Story] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    membership: dict[str, str] = field(default_factory=dict)
    _index: dict[tuple[str, int], set[str]] = field(default_factory=dict)

    def candidates(self, member: Member) -> list[Story]:
        """Stories sharing a key with the article in one of its time buckets."""
        buckets = member_buckets(member)
        found: set[str] = set()
        for key in candidate_keys(member, lookup=True):
            for bucket in buckets:
                found |= self._index.get((key, bucket), set())
        return [self.stories[i] for i in sorted(found) if i in self.stories]

    def story_of(self, doc_id: str) -> Story | None:
        """The story an article was assigned to."""
        story_id = self.membership.get(doc_id)
        return self.stories.get(self.resolve(story_id)) if story_id else None

    def resolve(self, story_id: str) -> str:
        """The current id of a story id (follows merges)."""
        seen = set()
        while story_id in self.aliases and story_id not in seen:
            seen.add(story_id)
            story_id = self.aliases[story_id]
        return story_id

    def save(self, story: Story) -> None:
        """File the story under every key of its members."""
        self.stories[story.id] = story
        buckets = story_buckets(story)
        for member in story.members:
            self.membership[member.doc_id] = story.id
            for key in candidate_keys(member):
                for bucket in buckets:
                    self._index.setdefault((key, bucket), set()).add(story.id)

    def assigned(self, doc_id: str, story_id: str) -> None:
        """Membership is kept by `save`."""

    def merged(self, survivor: Story, absorbed: Story) -> None:
        """Forget the absorbed story; its id resolves to the survivor."""
        self.stories.pop(absorbed.id, None)
        self.aliases[absorbed.id] = survivor.id
        for alias in absorbed.aliases:
            self.aliases[alias] = survivor.id


@dataclass(frozen=True)
class Assignment:
    """Where one article went."""

    doc_id: str
    story_id: str
    created: bool
    merged: tuple[str, ...] = ()


class Clusterer:
    """Assigns articles to stories in a store, one at a time."""

    def __init__(self, store: StoryStore) -> None:
        self.store = store

    def assign(self, member: Member) -> Assignment:
        """Put one article into its story (an article already assigned stays where it is)."""
        existing = self.store.story_of(member.doc_id)
        if existing is not None:
            existing.add(member)
            self.store.save(existing)
            self.store.assigned(member.doc_id, existing.id)
            return Assignment(member.doc_id, existing.id, created=False)
        scored = self._scored(member)
        if not scored or scored[0][0] < JOIN_SCORE:
            story = Story(id=story_id_for(member.doc_id), members=[member])
            self.store.save(story)
            self.store.assigned(member.doc_id, story.id)
            return Assignment(member.doc_id, story.id, created=True)
        best = scored[0][1]
        best.add(member)
        merged = self._merge_bridged(best, [s for value, s in scored[1:] if value >= MERGE_SCORE])
        self.store.save(merged[0])
        self.store.assigned(member.doc_id, merged[0].id)
        return Assignment(member.doc_id, merged[0].id, False, tuple(s.id for s in merged[1:]))

    def _scored(self, member: Member) -> list[tuple[float, Story]]:
        out = []
        for story in self.store.candidates(member):
            value = score(member, story)
            if value != VETO:
                out.append((value, story))
        out.sort(key=lambda item: (-item[0], item[1].founded, item[1].id))
        if out and out[0][0] == SAME:
            return out[:1]
        return out

    def _merge_bridged(self, best: Story, others: Iterable[Story]) -> list[Story]:
        """Merge the other stories the article also fits into the oldest one."""
        survivor, absorbed = best, []
        for other in others:
            if other.id == survivor.id or not compatible(survivor, other):
                continue
            older, newer = sorted((survivor, other), key=lambda s: (s.founded, s.id))
            older.absorb(newer)
            self.store.merged(older, newer)
            LOGGER.info("story %s merged into %s", newer.id, older.id)
            absorbed.append(newer)
            survivor = older
        return [survivor, *absorbed]


def cluster_members(members: list[Member]) -> tuple[dict[str, str], MemoryStore]:
    """Cluster a batch in memory: ``{doc_id: story_id}`` (merges resolved) and the store.

    Articles are taken in publication order (ties by doc_id), so the earliest report of a
    story founds it and the result does not depend on the order of the input.
    """
    store = MemoryStore()
    clusterer = Clusterer(store)
    for member in sorted(members, key=lambda m: (m.published, m.doc_id)):
        clusterer.assign(member)
    return {m.doc_id: store.resolve(store.membership[m.doc_id]) for m in members}, store
