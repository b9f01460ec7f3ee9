"""Fixtures of the stories tests: the labelled story set, loaded once."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def labelled(shared_dir: Path):
    """(articles, stories) of tests/stories/labelled_*.yaml."""
    from kzmon.stories.evaluation import load_labelled

    return load_labelled(sorted(HERE.glob("labelled_*.yaml")), shared_dir)


BRIDGE_DAY = "2026-11-03"


@pytest.fixture
def bridge_records() -> list[dict]:
    """Two reports of one car bombing that share nothing, and a third that bridges them."""
    base = "https://example.org/bridge/"
    return [
        {
            "url": base + "a",
            "outlet": "rferl",
            "published_at": f"{BRIDGE_DAY}T08:00:00+00:00",
            "title": "Explosion reported in western Kazakhstan",
            "text": "An explosion went off near a police station in western Kazakhstan on "
            "November 3, officials said. The bomb was hidden in a parked car.",
        },
        {
            "url": base + "b",
            "outlet": "azattyq_ru",
            "published_at": f"{BRIDGE_DAY}T10:00:00+05:00",
            "title": "В Актау погиб полицейский",
            "text": "В Актау 3 ноября погиб сотрудник полиции, сообщили в МВД Мангистауской "
            "области. Подробности не сообщаются.",
        },
        {
            "url": base + "c",
            "outlet": "rferl",
            "published_at": f"{BRIDGE_DAY}T15:00:00+00:00",
            "title": "Car bomb explosion near police station in western Kazakhstan kills officer",
            "text": "A car bomb explosion near a police station in the Kazakh city of Aktau on "
            "November 3 killed one police officer, the Interior Ministry said. The bomb "
            "was hidden in a parked car outside the station.",
        },
    ]
