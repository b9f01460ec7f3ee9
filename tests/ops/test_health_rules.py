"""The health rules on their own: quiet outlets and error-rate jumps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kzmon.ops.health import assess_outlet

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def _run(fetched=10, failed=0, pages=10, extraction_failed=0, empty_text=0) -> dict:
    return {
        "fetched": fetched,
        "failed": failed,
        "pages": pages,
        "extraction_failed": extraction_failed,
        "empty_text": empty_text,
    }


def test_fresh_outlet_is_ok() -> None:
    last_new = (NOW - timedelta(hours=2)).isoformat()
    health = assess_outlet("rferl", 1.0, (5, None), last_new, [_run()], NOW)
    assert health.status == "ok"
    assert health.hours_since_last_article == 2.0


def test_outlet_silent_for_three_cadences_is_quiet() -> None:
    last_new = (NOW - timedelta(hours=19)).isoformat()
    health = assess_outlet("jamestown", 6.0, (5, None), last_new, [_run()], NOW)
    assert health.status == "quiet"
    assert "19.0 h" in health.problems[0]


def test_outlet_never_new_is_quiet() -> None:
    health = assess_outlet("katehon", 4.0, (0, None), None, [_run()], NOW)
    assert health.status == "quiet"


def test_outlet_without_any_run_yet_is_pending_not_quiet() -> None:
    """The first health run after `make up` comes before any outlet run: no false alarm."""
    health = assess_outlet("katehon", 4.0, (0, None), None, [], NOW)
    assert health.status == "pending"
    assert health.problems == []


def test_fetch_error_rate_jump_is_flagged() -> None:
    last_new = (NOW - timedelta(hours=1)).isoformat()
    runs = [_run(fetched=2, failed=8), _run(fetched=9, failed=1), _run(fetched=10, failed=1)]
    health = assess_outlet("moscowtimes", 6.0, (5, None), last_new, runs, NOW)
    assert health.status == "errors"
    assert any("fetch error rate jumped to 80%" in p for p in health.problems)


def test_steady_error_rate_is_not_a_jump() -> None:
    last_new = (NOW - timedelta(hours=1)).isoformat()
    runs = [_run(fetched=8, failed=2)] * 3
    health = assess_outlet("moscowtimes", 6.0, (5, None), last_new, runs, NOW)
    assert health.status == "ok"
    assert health.fetch_error_rate == 0.2


def test_extraction_failure_jump_is_flagged() -> None:
    last_new = (NOW - timedelta(hours=1)).isoformat()
    runs = [_run(pages=10, extraction_failed=7), _run(pages=10, extraction_failed=0)]
    health = assess_outlet("globalvoices", 2.0, (5, None), last_new, runs, NOW)
    assert any("extraction failure rate jumped" in p for p in health.problems)
