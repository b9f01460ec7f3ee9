"""The `hostile` route set crawled end to end (issue 13, items 3 and 8): real Scrapy
subprocesses against the replay, every case from spiders/replay/routesets/hostile.yaml.

Each case must end with its expected outcome (article URLs: their frontier row; discovery
documents: an error record of that kind), the summary must reconcile every discovered URL with
an outcome, each cap must be recorded when hit, and nothing a case redirects or points to
outside the outlet may ever be requested.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spiders.canonical import canonicalize
from spiders.frontier import read_outcomes
from spiders.replay.routesets import load_route_set
from spiders.replay.server import read_requests
from tests.crawl.conftest import RealSites

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: Entries read per source in these crawls: the route set's 300-entry feed and sitemap exceed it.
SOURCE_CAP = 100


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@pytest.fixture(scope="module")
def hostile_run(real_sites: RealSites, tmp_path_factory: pytest.TempPathFactory):
    before = len(read_requests(real_sites.run_dir))
    result = real_sites.crawl(
        "hostile",
        run_id="hostile-1",
        data_dir=tmp_path_factory.mktemp("hostile"),
        overrides={"KZMON_SOURCE_MAX_ITEMS": SOURCE_CAP},
    )
    requests = read_requests(real_sites.run_dir)[before:]
    return result, requests, load_route_set("hostile", real_sites.info.url)


def test_every_hostile_case_ends_with_its_named_outcome(hostile_run) -> None:
    result, _, routes = hostile_run
    outcomes = read_outcomes(result.run_dir / "frontier.sqlite")
    errors: dict[str, set[str]] = {}
    for error in _lines(result.errors_path):
        errors.setdefault(error["url"], set()).add(error["kind"])
    wrong = {}
    for url, expected in routes.expectations().items():
        outcome = outcomes.get(canonicalize(url), (None, None))[0]
        if expected != outcome and expected not in errors.get(url[:2100], set()):
            wrong[url[:120]] = (expected, outcome, errors.get(url[:2100]))
    assert not wrong
    assert len(routes.expectations()) >= 30


def test_the_summary_reconciles_every_discovered_url(hostile_run) -> None:
    result, _, _ = hostile_run
    counts = result.summary["counts"]
    assert counts["reconciled"]
    assert sum(counts["outcomes"].values()) == counts["discovered"]
    assert None not in read_outcomes(result.run_dir / "frontier.sqlite").values()
    failures = {k: v for k, v in counts["outcomes"].items() if k not in ("fetched", "unchanged")}
    assert counts["failed"] >= sum(failures.values())  # each failed URL has an error record
    assert set(result.summary["limits_hit"]) >= {"source_cap", "sitemap_depth"}


def test_nothing_outside_the_outlet_is_ever_requested(hostile_run, real_sites: RealSites) -> None:
    result, requests, routes = hostile_run
    asked = {r["url"] for r in requests}
    assert not asked & set(routes.never_requested())
    assert all(r["url"].startswith("https://hostile.kzmon.test/") for r in requests)
    kinds = {e["kind"] for e in _lines(result.errors_path)}
    assert not kinds & {"dns", "download", "connection"}  # no request left for the network


def test_caps_per_run_and_on_discovery_documents_are_recorded(
    real_sites: RealSites, tmp_path_factory: pytest.TempPathFactory
) -> None:
    result = real_sites.crawl(
        "hostile",
        run_id="tight",
        data_dir=tmp_path_factory.mktemp("hostile-tight"),
        overrides={"KZMON_SOURCE_MAX_ITEMS": 20, "KZMON_MAX_PAGES": 10, "KZMON_MAX_SOURCES": 6},
    )
    counts, limits = result.summary["counts"], result.summary["limits_hit"]
    assert set(limits) >= {"page_cap", "discovery_cap", "source_cap"}
    assert counts["requested"] == 10 and counts["outcomes"]["capped"] > 0 and counts["reconciled"]
    kinds = {e["kind"] for e in _lines(result.errors_path)}
    assert {"page_cap", "discovery_cap", "source_cap"} <= kinds
    assert counts["failed"] == sum(
        n
        for k, n in counts["errors_by_kind"].items()
        if k not in ("page_cap", "discovery_cap", "source_cap", "sitemap_depth")
    )
