"""The grading task a worker runs: execute, then score, one submission.

It takes and returns plain data (no gradebook, no open files), so a local worker
and a Dask worker on another machine run exactly this function. It never raises
for anything a student did: every outcome becomes a status and a detail.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import nbformat

from autograder.checks import CHECKS_FILE, judge, load_checks, reference_from
from autograder.checks import apply as apply_checks
from autograder.execute import execute_notebook
from autograder.prepare import GRADING_DATA_FOLDER, GradingTask
from autograder.sandbox import scratch_parent
from autograder.score import TestResult, first_error, score_notebook, summarise
from difftf.data import GRADING_DATA_ENV
from difftf.grading import EXPORT_DIR_ENV


@dataclass
class NotebookOutcome:
    """What happened to one notebook of a submission."""

    notebook_id: str
    status: str  # graded, timeout, crashed, error, invalid, missing
    detail: str
    notebook: str | None = None  # the executed notebook as JSON, when it ran
    tests: list[TestResult] = field(default_factory=list)
    seconds: float = 0.0
    peak_memory_mb: float = 0.0


@dataclass
class TaskResult:
    """Every notebook outcome of one submission."""

    student_id: str
    assignment_id: str
    outcomes: list[NotebookOutcome]
    seconds: float


def materialise(task: GradingTask, workdir: Path) -> None:
    """Write the task's files and notebooks into the kernel's working folder."""
    for rel, data in task.files.items():
        parts = PurePosixPath(rel).parts
        if PurePosixPath(rel).is_absolute() or ".." in parts:
            continue  # never write outside the working folder
        target = workdir.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    for notebook_id, nb_json in task.notebooks.items():
        (workdir / f"{notebook_id}.ipynb").write_text(nb_json, encoding="utf-8")


def outside_checks(task: GradingTask) -> tuple[dict, str]:
    """The assignment's hidden checks, or ({}, why not) when its hidden_checks.py is broken."""
    if not task.checks:
        return {}, ""
    try:
        return load_checks(task.checks), ""
    except Exception as exc:  # the instructor's file: say so, and grade what the kernel can
        return {}, f"{CHECKS_FILE} of the assignment failed to load ({type(exc).__name__}: {exc})"


def run_task(task: GradingTask) -> TaskResult:
    """Execute and score every notebook of one submission in a scratch folder."""
    start = time.monotonic()
    outcomes = [
        NotebookOutcome(notebook_id, status, detail) for notebook_id, (status, detail) in task.problems.items()
    ]
    # Inside this worker's scratch folder: its long-lived sandbox server sees it (autograder/sandbox.py).
    with tempfile.TemporaryDirectory(prefix="course-grade-", dir=scratch_parent()) as tmp:
        workdir = Path(tmp)
        materialise(task, workdir)
        checks, problem = outside_checks(task)
        base_env = dict(task.env)
        if any(name.startswith(GRADING_DATA_FOLDER + "/") for name in task.files):
            base_env[GRADING_DATA_ENV] = str(workdir / GRADING_DATA_FOLDER)  # what difftf's loaders read
        for notebook_id, nb_json in task.notebooks.items():
            env = dict(base_env)
            if checks:  # a fresh folder per notebook for what its hidden tests export
                exports = Path(tempfile.mkdtemp(prefix=".exports-", dir=workdir))
                env[EXPORT_DIR_ENV] = str(exports)
            # started=start: the time budget is shared by all notebooks of the submission
            execution = execute_notebook(
                nb_json, workdir, task.execute_class, task.config, env, task.limits, started=start
            )
            if checks:  # judged here, in a process where no student code ran, after the kernel is gone
                apply_checks(execution.notebook, judge(checks, exports, reference_from(task.files)))
            tests = score_notebook(execution.notebook)
            detail = execution.detail or summarise(tests)
            if problem:
                detail = f"{problem}; {detail}"
            error = first_error(execution.notebook)
            if execution.status == "graded" and error:
                detail = f"first error in {error}; {detail}"  # the cause first, its effects after
            outcomes.append(
                NotebookOutcome(
                    notebook_id,
                    execution.status,
                    detail,
                    notebook=nbformat.writes(execution.notebook),
                    tests=tests,
                    seconds=execution.seconds,
                    peak_memory_mb=round(execution.peak_memory_mb, 1),
                )
            )
    return TaskResult(task.student_id, task.assignment_id, outcomes, time.monotonic() - start)
