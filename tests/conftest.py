"""Shared test set-up: quiet TensorFlow, the offline dataset mirror, small course fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_MIRROR = REPO_ROOT.parent / "shared" / "datasets"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Tests read the course's datasets from the offline mirror when one exists beside the repo.
if "COURSE_DATA_MIRROR" not in os.environ and SHARED_MIRROR.is_dir():
    os.environ["COURSE_DATA_MIRROR"] = str(SHARED_MIRROR)

# Notebooks under tests/ are fixtures (graded by the tests), not lectures for nbval.
collect_ignore_glob = ["fixtures/*"]


@pytest.fixture
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private dataset cache so tests never touch (or depend on) the developer's cache."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("COURSE_DATA_CACHE", str(cache))
    return cache


def real_mirror() -> Path | None:
    """The mirror of the real datasets, or None (tests that need it then skip and say why)."""
    mirror = os.environ.get("COURSE_DATA_MIRROR")
    return Path(mirror) if mirror and Path(mirror).is_dir() else None
