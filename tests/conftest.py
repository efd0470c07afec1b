"""Shared test set-up: quiet TensorFlow, the offline dataset mirror, small course fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_MIRROR = REPO_ROOT.parent / "shared" / "datasets"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
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


def course_copy(dest: Path) -> Path:
    """The repository's course config in a scratch folder, reading sources from assignments/."""
    dest.mkdir(parents=True)
    config = (REPO_ROOT / "course" / "nbgrader_config.py").read_text()
    source = REPO_ROOT / "assignments"
    (dest / "nbgrader_config.py").write_text(f"{config}\nc.CourseDirectory.source_directory = {str(source)!r}\n")
    return dest


def selected_assignments() -> list[str]:
    """Every source assignment, or only those named in DIFFTF_TEST_ASSIGNMENTS (comma-separated).

    The filter is for an author iterating on one assignment; `make test` leaves it unset.
    """
    names = sorted(p.name for p in (REPO_ROOT / "assignments").iterdir() if p.is_dir())
    wanted = [n for n in os.environ.get("DIFFTF_TEST_ASSIGNMENTS", "").split(",") if n]
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        raise pytest.UsageError(f"DIFFTF_TEST_ASSIGNMENTS names no folder in assignments/: {unknown}")
    return [n for n in names if n in wanted] if wanted else names


@pytest.fixture(scope="session")
def demo_class(tmp_path_factory: pytest.TempPathFactory):
    """`course demo` run once on a scratch copy of course/, with every wrong fixture in the class.

    Grading TensorFlow notebooks is the slow part of the suite, so one batch serves both
    the demo's tests and every assignment's invariants: the class is the committed
    example submissions plus ``fixture-wrong``, the wrong-but-plausible submission of
    each assignment from tests/fixtures/.
    """
    import shutil
    import subprocess

    from tests.nbgrader_course import BIN

    course = course_copy(tmp_path_factory.mktemp("demo") / "course")
    wanted = set(selected_assignments())
    for folder in sorted((REPO_ROOT / "course" / "submitted").glob("*/*")):
        if folder.is_dir() and folder.name in wanted:
            shutil.copytree(folder, course / "submitted" / folder.parent.name / folder.name)
    for notebook in sorted((REPO_ROOT / "tests" / "fixtures").glob("*/*.ipynb")):
        if notebook.parent.name not in wanted:
            continue
        folder = course / "submitted" / "fixture-wrong" / notebook.parent.name
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy2(notebook, folder / notebook.name)
    before = {p: p.read_bytes() for p in (course / "submitted").rglob("*") if p.is_file()}
    env = {**os.environ, "PATH": "/usr/bin:/bin"}  # called by full path, the venv is not on PATH
    proc = subprocess.run([str(BIN / "course"), "demo", "--course-dir", str(course), "--quiet"],
                          capture_output=True, text=True, env=env, timeout=1800)
    return course, proc, before


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each test's call report on the item, for fixtures that act on failure (test_browser's screenshots)."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.rep_call = report
