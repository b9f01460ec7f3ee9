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
