"""Issue 8 part 3: an adversarial corpus graded by the real `course grade` pipeline.

All cases (tests/adversarial_cases.py) are graded in one batch. For every case:
the batch gives it exactly one row, the right score and status, leaves the submitted
files byte-identical, and shows none of the hidden test text in its feedback. Cases
whose correct outcome needs the grading sandbox are strict xfails where bubblewrap
cannot run (or ``ADVERSARIAL_GRADE_ARGS="--sandbox off"``): there they show what an
unfenced kernel can do.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from tests.adversarial_cases import (
    ASSIGNMENT,
    HIDDEN_MARKER,
    MAX_SCORE,
    NEEDS_SANDBOX,
    SLEEP_CHILD,
    SLEEP_FORK,
    TMP_INTRUDER,
    Case,
    Context,
    Outcome,
    build,
    cases,
    make_adv_course,
)
from tests.nbgrader_course import BIN, released, submit

CASES = cases()
# ADVERSARIAL_GRADE_ARGS adds flags, e.g. "--sandbox off" to see what the corpus does without the fence.
EXTRA_ARGS = os.environ.get("ADVERSARIAL_GRADE_ARGS", "").split()
LIMITS = ["--timeout", "20", "--cell-timeout", "3", "--memory-mb", "600", "--workers", "2", *EXTRA_ARGS]


def sandbox_works() -> bool:
    """Whether `course grade` fences kernels here (bubblewrap present and usable, not turned off)."""
    if "off" in EXTRA_ARGS:
        return False
    try:
        from autograder.sandbox import bwrap_problem
    except ImportError:
        return False
    return bwrap_problem() is None


SANDBOXED = sandbox_works()
BATCH_WALL_LIMIT = 300  # seconds; the fixture fails rather than hang when a case stalls the batch


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def sleepers(argument: str) -> list[int]:
    """Pids of this run's `sleep <argument>` processes (the argument is unique to the run)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            if (proc.info["cmdline"] or [])[-1:] == [argument]:
                found.append(proc.pid)
    return found


def course_run(course: Path, *args: str) -> subprocess.CompletedProcess:
    """Run the CLI; its output goes to files, not pipes.

    A process that student code leaves behind inherits the grader's stdout and stderr:
    reading them through pipes would wait for that process, not for the grader.
    """
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    out, err = course.parent / f"{args[0]}.stdout", course.parent / f"{args[0]}.stderr"
    with open(out, "w") as stdout, open(err, "w") as stderr:
        proc = subprocess.run([str(BIN / "course"), *args, "--course-dir", str(course)], env=env,
                              stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, timeout=BATCH_WALL_LIMIT)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out.read_text(), err.read_text())


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory):
    """Release the toy assignment, submit every case, grade them in one batch."""
    course = make_adv_course(tmp_path_factory.mktemp("adversarial") / "course")
    proc = course_run(course, "release", ASSIGNMENT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.setblocking(False)
    ctx = Context(released(course, ASSIGNMENT, "adv.ipynb"), course, listener.getsockname()[1])
    for case in CASES:
        folder = submit(course, case.student, build(case, ctx), assignment=ASSIGNMENT, name=case.name)
        for rel, data in case.extra_files.items():
            (folder / rel).write_bytes(data)
    before = tree_digest(course / "submitted")
    start = time.monotonic()
    try:
        proc = course_run(course, "grade", ASSIGNMENT, "--quiet", *LIMITS)
        seconds = time.monotonic() - start
        connections = 0
        with contextlib.suppress(BlockingIOError):
            while True:
                listener.accept()[0].close()
                connections += 1
        leftovers = {arg: sleepers(arg) for arg in (SLEEP_CHILD, SLEEP_FORK)}
        yield {"course": course, "proc": proc, "before": before, "seconds": seconds,
               "extra": {"connections": connections, "leftovers": leftovers}}
    finally:
        listener.close()
        for arg in (SLEEP_CHILD, SLEEP_FORK):  # what student code left running (this run's only)
            for pid in sleepers(arg):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        TMP_INTRUDER.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def rows(graded) -> dict[str, dict[str, str]]:
    proc = graded["proc"]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with open(graded["course"] / "reports" / ASSIGNMENT / "grades.csv", newline="", encoding="utf-8") as fh:
        return {row["student_id"]: row for row in csv.DictReader(fh)}


def test_one_batch_one_row_per_submission(graded, rows):
    assert len(CASES) >= 30
    assert sorted(rows) == sorted(case.student for case in CASES), "exactly one row per submission"
    assert all(row["max_score"] == f"{MAX_SCORE}" for row in rows.values())
    assert graded["seconds"] < BATCH_WALL_LIMIT


def ids(case: Case) -> str:
    return case.student


def params(needs: str) -> list:
    """One param per case, a strict xfail where the case's correct outcome ``needs`` a missing feature."""
    out = []
    for case in CASES:
        reason = getattr(case, needs)
        if reason == NEEDS_SANDBOX and SANDBOXED:
            reason = None  # the fence is here: the case must pass
        marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
        out.append(pytest.param(case, marks=marks, id=ids(case)))
    return out


@pytest.mark.parametrize("case", params("leak_needs"))
def test_submission_untouched_and_no_hidden_text_in_feedback(case: Case, graded, rows):
    assert case.student in rows, "the batch gave this submission no row"
    prefix = f"{case.student}/"
    before = {k: v for k, v in graded["before"].items() if k.startswith(prefix)}
    after = {k: v for k, v in tree_digest(graded["course"] / "submitted").items() if k.startswith(prefix)}
    assert before and after == before, "the submitted files changed"
    feedback = graded["course"] / "feedback" / case.student / ASSIGNMENT
    files = [p for p in feedback.rglob("*") if p.is_file()] if feedback.is_dir() else []
    if rows[case.student]["status"] not in ("missing", "invalid"):
        assert files, "a notebook that ran gets feedback"
    for path in files:
        assert HIDDEN_MARKER.encode() not in path.read_bytes(), f"hidden test text in {path.name}"


@pytest.mark.parametrize("case", params("needs"))
def test_outcome(case: Case, graded, rows):
    row = rows[case.student]
    assert row["status"] in case.status.split("|") and float(row["score"]) == case.score, row
    assert case.detail in row["detail"]
    if "all tests passed" in row["detail"]:
        assert float(row["score"]) == MAX_SCORE, "the detail says every test passed"
    if case.check is not None:
        stored = graded["course"] / "autograded" / case.student / ASSIGNMENT / "adv.ipynb"
        nb = nbformat.read(stored, as_version=4) if stored.is_file() else None
        case.check(Outcome(graded["course"], row, nb, graded["extra"]))
