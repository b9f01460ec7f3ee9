"""Idempotent set-up of the article and ops index templates, the first index and its aliases.

Safe to run any number of times (the docker-compose init service and every DAG run call it):
templates are PUT again (same body, same result), and the first article index is created only
when the read alias points nowhere. Fields added to the mapping since the write index was
created (e.g. ``text_truncated``) are added to that index too: the mapping is strict, so a
document carrying a field the index does not know would be rejected.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from elasticsearch import BadRequestError, Elasticsearch

from kzmon.es import cluster_info, get_client
from kzmon.indexer import mappings
from kzmon.indexer.names import Names, get_names

LOGGER = logging.getLogger(__name__)


@dataclass
class SetupReport:
    """What `ensure_setup` applied, skipped and created."""

    component_templates: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    index_templates: list[str] = field(default_factory=list)
    created_index: str | None = None
    read_index: str | None = None
    write_index: str | None = None


def ensure_setup(es: Elasticsearch | None = None) -> SetupReport:
    """Apply the templates and make sure the read and write aliases point at an index."""
    es = es or get_client()
    names = get_names()
    report = SetupReport()
    components = _put_components(es, names, report)
    es.indices.put_index_template(
        name=names.articles_template, body=mappings.index_template(names, components)
    )
    es.indices.put_index_template(name=names.ops_template, body=mappings.ops_template(names))
    report.index_templates = [names.articles_template, names.ops_template]
    _ensure_first_index(es, names, report)
    _add_new_fields(es, report.write_index, components)
    LOGGER.info(
        "set-up done: components=%s skipped=%s read=%s write=%s created=%s",
        report.component_templates,
        report.skipped,
        report.read_index,
        report.write_index,
        report.created_index,
    )
    return report


def _put_components(es: Elasticsearch, names: Names, report: SetupReport) -> list[str]:
    """PUT every component template the cluster can take; return the parts applied."""
    info = cluster_info(es)
    applied: list[str] = []
    for part in mappings.ARTICLE_COMPONENTS:
        required = mappings.OPTIONAL_COMPONENTS.get(part)
        if required and not info.has(required):
            reason = f"cluster has no {required} module"
            LOGGER.info("skipping component template %s: %s", names.component(part), reason)
            report.skipped[names.component(part)] = reason
            continue
        es.cluster.put_component_template(
            name=names.component(part), body=mappings.component_template(part)
        )
        applied.append(part)
        report.component_templates.append(names.component(part))
    return applied


def alias_targets(es: Elasticsearch, alias: str) -> list[str]:
    """The concrete indices an alias points at (empty when it does not exist)."""
    resp = es.options(ignore_status=404).indices.get_alias(name=alias)
    if resp.meta.status == 404:
        return []
    return sorted(resp.body)


def write_index_of(es: Elasticsearch, names: Names) -> str | None:
    """The index the write alias writes to."""
    resp = es.options(ignore_status=404).indices.get_alias(name=names.write_alias)
    if resp.meta.status == 404:
        return None
    for index, body in resp.body.items():
        spec = body.get("aliases", {}).get(names.write_alias, {})
        if spec.get("is_write_index", len(resp.body) == 1):
            return index
    return None


def _ensure_first_index(es: Elasticsearch, names: Names, report: SetupReport) -> None:
    """Create ``<prefix>-articles-v1`` with both aliases unless the aliases already exist."""
    read = alias_targets(es, names.read_alias)
    write = write_index_of(es, names)
    if read and write:
        report.read_index, report.write_index = ",".join(read), write
        return
    first = names.articles_index(1)
    target = write or (read[-1] if read else first)
    if not es.indices.exists(index=target):
        try:
            es.indices.create(index=target)
            report.created_index = target
            LOGGER.info("created %s", target)
        except BadRequestError as exc:
            if exc.error != "resource_already_exists_exception":
                raise
            LOGGER.info("%s was created concurrently", target)
    es.indices.update_aliases(
        actions=[
            {"add": {"index": target, "alias": names.read_alias}},
            {"add": {"index": target, "alias": names.write_alias, "is_write_index": True}},
        ]
    )
    report.read_index, report.write_index = target, target


def _add_new_fields(es: Elasticsearch, index: str | None, components: list[str]) -> None:
    """PUT the template's field mapping on the write index (new fields only; no-op otherwise).

    A conflicting change (a field whose type changed) is refused by Elasticsearch: it is
    logged, and needs a new index version (``retag`` copies into one).
    """
    if not index:
        return
    properties = mappings.article_properties(with_analysis="analysis" in components)
    try:
        es.indices.put_mapping(index=index, properties=properties)
    except BadRequestError as exc:
        LOGGER.warning("mapping of %s not updated (needs a new index version): %s", index, exc)
