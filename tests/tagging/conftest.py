"""Fixtures of the tagging tests: the process-wide tagger."""

from __future__ import annotations

import pytest

from enrich.tagging import Tagger, get_tagger


@pytest.fixture(scope="session")
def tagger() -> Tagger:
    """The cached tagger (builds the automaton once)."""
    return get_tagger()
