"""Fixtures of the issue #17 outlet tests: the replay site (the outlets list is in the modules)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def site(shared_dir: Path):
    """The offline replay site (all outlets)."""
    from spiders.replay.site import load_site

    return load_site(shared_dir)
