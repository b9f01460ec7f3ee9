"""The silence-by-language rule on its own (no Elasticsearch): `assess_language` and its tail."""

from __future__ import annotations

import math

import pytest

from kzmon.ops.health import (
    LANGUAGE_BASELINE_DAYS,
    LanguageVolume,
    assess_language,
    poisson_lower_tail,
)

KK_OUTLETS = ["azattyq_kk", "kazinform", "tengrinews_kk"]


def _volume(now: int, usual: list[int], outlets_now=KK_OUTLETS, outlets_usual=KK_OUTLETS):
    return LanguageVolume(
        articles=now, baseline=usual, outlets_now=set(outlets_now), outlets_usual=set(outlets_usual)
    )


def test_poisson_lower_tail_matches_the_closed_form() -> None:
    assert poisson_lower_tail(0, 5) == pytest.approx(math.exp(-5))
    assert poisson_lower_tail(1, 10) == pytest.approx(11 * math.exp(-10))
    assert poisson_lower_tail(3, 0) == 1.0
    assert 0.0 <= poisson_lower_tail(50, 2000) < 1e-300 or poisson_lower_tail(50, 2000) == 0.0
    assert poisson_lower_tail(2000, 2000) == pytest.approx(0.5, abs=0.02)


def test_all_sources_of_a_language_going_quiet_is_flagged_with_the_silent_outlets() -> None:
    usual = [30, 28, 35, 31, 0, 29, 33, 30, 27, 34, 31, 32, 30, 29]  # one outage day in there
    health = assess_language("kk", _volume(2, usual, outlets_now=["kazinform"]), KK_OUTLETS)
    assert health.status == "quiet"
    assert health.usual_articles == 30.0
    assert health.quiet_outlets == ["azattyq_kk", "tengrinews_kk"]
    [problem] = health.problems
    assert "2 kk article(s) in the last 6 h, usually 30 at these hours" in problem
    assert "azattyq_kk, tengrinews_kk" in problem


@pytest.mark.parametrize(
    ("now", "why"),
    [
        (15, "a weekend or holiday: half the usual volume"),
        (10, "a third: a big drop, but not near-silence"),
    ],
)
def test_a_quieter_day_is_not_silence(now: int, why: str) -> None:
    usual = [30] * LANGUAGE_BASELINE_DAYS
    assert assess_language("kk", _volume(now, usual), KK_OUTLETS).status == "ok", why


def test_a_small_language_volume_is_not_judged() -> None:
    health = assess_language("en", _volume(0, [2, 3, 1, 4, 2, 3, 2, 0, 1, 2, 3, 2, 2, 1]), ["x"])
    assert health.status == "insufficient_history"
    assert health.problems == []


def test_chance_is_ruled_out_before_paging() -> None:
    """A median of 5: 0 articles has p = 0.007, not improbable enough; with 10, 1 article is."""
    assert assess_language("ru", _volume(0, [5] * 14)).status == "ok"
    assert assess_language("ru", _volume(1, [10] * 14)).status == "quiet"
    assert assess_language("ru", _volume(2, [10] * 14)).status == "ok"


def test_new_deployment_without_history_is_not_quiet() -> None:
    health = assess_language("kk", _volume(40, [0] * 14), KK_OUTLETS)
    assert health.status == "insufficient_history" and health.articles == 40
