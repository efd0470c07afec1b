"""`course reference`: measure an assignment's solution and write its reference.json.

Hidden tests that grade a student's model compare it with the instructor's solution
(``difftf.Reference``). This module runs the *source* notebook, solutions and hidden
tests included, in one kernel on the best device present (a GPU with mixed precision
and XLA when there is one, else the CPU), with ``DIFFTF_REFERENCE_RUN=1`` so that the
checks record their metrics instead of asserting them. It refuses to write anything
when a test cell of the solution fails: thresholds from a broken solution would be
wrong for every student.

reference.json holds the metrics and how they were measured (device, versions, wall
time, seed, the margin each hidden test allows), so that an instructor can see at a
glance what a threshold means and whether a re-run on other hardware moved it.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import nbformat

from autograder.coursedir import Course, CourseError
from autograder.execute import Limits, execute_notebook
from autograder.prepare import execution_config, kernel_environment
from autograder.score import score_notebook
from autograder.steps import autograde_preprocessors
from difftf.device import AcceleratorPlan, accelerator_plan, visible_gpu_ids
from difftf.reference import METRICS_FILE_ENV, REFERENCE_FILE, REFERENCE_RUN_ENV
from difftf.seeding import DEFAULT_SEED

BUDGET_KEY = "budget_seconds"  # notebook metadata: difftf.budget_seconds, the compute budget on 2 CPU cores


@dataclass
class ReferenceRun:
    """What one reference run measured."""

    assignment_id: str
    metrics: dict[str, float]
    checks: dict[str, dict[str, Any]]  # metric -> how hidden tests compare with it
    plan: AcceleratorPlan
    wall_seconds: float
    budget_seconds: float | None

    @property
    def within_budget(self) -> bool:
        return self.budget_seconds is None or self.wall_seconds <= self.budget_seconds

    def as_json(self) -> dict[str, Any]:
        return {
            "assignment": self.assignment_id,
            "metrics": {name: round_metric(value) for name, value in sorted(self.metrics.items())},
            "checks": dict(sorted(self.checks.items())),
            "device": self.plan.device,
            "mixed_precision": self.plan.mixed_precision,
            "xla": self.plan.xla,
            "device_detail": self.plan.reason,
            "tensorflow": package_version("tensorflow"),
            "keras": package_version("keras"),
            "python": platform.python_version(),
            "cpu_count": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "seed": DEFAULT_SEED,
            "wall_seconds": round(self.wall_seconds, 1),
            "budget_seconds": self.budget_seconds,
        }


def round_metric(value: float) -> float:
    """Six significant digits: enough for any threshold, stable in a diff."""
    return float(f"{value:.6g}")


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def budget_of(notebooks: list[Path]) -> float | None:
    """The assignment's compute budget: the sum of its notebooks' ``difftf.budget_seconds``."""
    budgets = [nbformat.read(path, as_version=4).metadata.get("difftf", {}).get(BUDGET_KEY) for path in notebooks]
    return float(sum(budgets)) if budgets and all(b is not None for b in budgets) else None


def read_metrics(path: Path) -> tuple[dict[str, float], dict[str, dict[str, Any]]]:
    """Metric values and their comparison settings from the kernel's metrics file."""
    metrics: dict[str, float] = {}
    checks: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return metrics, checks
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        name, value = entry.pop("name"), float(entry.pop("value"))
        if name in metrics:
            raise CourseError(f"metric {name!r} was recorded twice: give each hidden check its own name.")
        if not math.isfinite(value):
            raise CourseError(f"the reference solution measured {name} = {value}: fix the solution first.")
        metrics[name], checks[name] = value, entry
    return metrics, checks


def run_reference(
    course: Course,
    assignment_id: str,
    *,
    gpu_ids: list[str] | None = None,
    timeout: float | None = None,
) -> ReferenceRun:
    """Execute the assignment's source notebooks as a reference run and collect their metrics."""
    source = course.source_dir(assignment_id)
    notebooks = sorted(source.glob("*.ipynb"))
    if not notebooks:
        raise CourseError(f"{source} has no notebook: is {assignment_id!r} the name of a folder in assignments/?")
    plan = accelerator_plan(visible_gpu_ids() if gpu_ids is None else gpu_ids)
    execute_cls, _ = autograde_preprocessors(course)
    config = execution_config(course)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="course-reference-") as tmp:
        workdir = Path(tmp) / assignment_id
        shutil.copytree(source, workdir, ignore=shutil.ignore_patterns(*course.coursedir.ignore, REFERENCE_FILE))
        metrics_file = Path(tmp) / "metrics.jsonl"
        env = {
            **kernel_environment(),
            **plan.env,
            REFERENCE_RUN_ENV: "1",
            METRICS_FILE_ENV: str(metrics_file),
        }
        env.pop("NBGRADER_EXECUTION")  # the solution runs as the instructor's notebook, not as a graded copy
        for path in notebooks:
            execution = execute_notebook(
                path.read_text(encoding="utf-8"),
                workdir,
                f"{execute_cls.__module__}.{execute_cls.__qualname__}",
                config,
                env,
                Limits(submission_timeout=timeout),
            )
            tests = score_notebook(execution.notebook)
            failed = [f"{t.grade_id} ({t.error or 'partial'})" for t in tests if not t.passed]
            if execution.status != "graded" or failed:
                raise CourseError(
                    f"the solution in {path} does not pass its own tests ({execution.detail or ', '.join(failed)}): "
                    "fix the source notebook; reference.json was not written."
                )
        metrics, checks = read_metrics(metrics_file)
    return ReferenceRun(assignment_id, metrics, checks, plan, time.monotonic() - start, budget_of(notebooks))


def write_reference(run: ReferenceRun, path: Path) -> None:
    path.write_text(json.dumps(run.as_json(), indent=2) + "\n", encoding="utf-8")


def source_assignments(course: Course) -> list[str]:
    """Every assignment with a source folder, in name order."""
    root = course.source_dir("x").parent
    folders = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted(p.name for p in folders if any(p.glob("*.ipynb")))



CHECK_CALL = re.compile(r"\.at_(?:least|most)\(\s*[\"']([^\"']+)[\"']")


def checked_metrics(notebooks: list[Path]) -> set[str]:
    """Metric names the notebooks' hidden tests compare with the reference."""
    names: set[str] = set()
    for path in notebooks:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                names.update(CHECK_CALL.findall(cell.source))
    return names


def ensure_reference(course: Course, assignment_id: str) -> None:
    """Refuse to grade when hidden tests need metrics that reference.json lacks.

    Without this, every student would lose the points of each model check to a
    ReferenceError, and the instructor would find out from the complaints.
    """
    source = course.source_dir(assignment_id)
    needed = checked_metrics(sorted(source.glob("*.ipynb")))
    if not needed:
        return
    path = source / REFERENCE_FILE
    try:
        have = set(json.loads(path.read_text(encoding="utf-8"))["metrics"])
    except (OSError, ValueError, KeyError, TypeError):
        have = set()
    if needed - have:
        raise CourseError(
            f"{path} lacks the metric(s) {sorted(needed - have)} that the hidden tests of {assignment_id} compare "
            f"with: run `course reference {assignment_id}` first (nothing was graded)."
        )
