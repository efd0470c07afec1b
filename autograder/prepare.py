"""Step 2, prepare: turn a submission into a self-contained grading task.

``RepairCells`` (autograder/repair.py) first undoes students' edits of graded cells
(deleted, duplicated, split, retyped, moved); then nbgrader's own sanitizing
preprocessors (ClearOutput, DeduplicateIds,
OverwriteKernelspec, OverwriteCells, CheckCellMetadata, or whatever the course
configures) restore locked and test cells, hidden tests included, from the
gradebook. The result is plain data (notebook JSON and file bytes) so the same task
can run in a local worker or on a Dask cluster that never sees the gradebook.
The submitted files are only read, never modified.
"""

from __future__ import annotations

import copy
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbgrader.utils import find_all_files
from traitlets.config import Config

from autograder.checks import CHECKS_FILE
from autograder.collect import Submission
from autograder.coursedir import Course
from autograder.execute import Limits
from autograder.steps import (
    autograde_preprocessors,
    notebook_resources,
    run_preprocessors,
    sanitize_preprocessors,
    to_json,
)


@dataclass
class GradingTask:
    """Everything a worker needs to execute and score one submission."""

    student_id: str
    assignment_id: str
    notebooks: dict[str, str] = field(default_factory=dict)  # notebook id -> prepared JSON
    problems: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (status, detail)
    repairs: dict[str, str] = field(default_factory=dict)  # id -> what RepairCells changed, for the detail
    files: dict[str, bytes] = field(default_factory=dict)  # relative path -> content
    execute_class: str = "nbgrader.preprocessors.Execute"
    config: dict[str, Any] = field(default_factory=dict)  # the course's merged traitlets config
    env: dict[str, str] = field(default_factory=dict)  # extra environment for the kernel
    limits: Limits = field(default_factory=Limits)  # time and memory bounds of the kernel
    checks: str = ""  # the assignment's hidden_checks.py, judged outside the kernel (autograder/checks.py)


def support_files(course: Course, submission: Submission) -> dict[str, bytes]:
    """The submission's other files, overlaid with the source's (as nbgrader autograde copies them)."""
    files: dict[str, bytes] = {}
    ignore = list(course.coursedir.ignore)
    for path in find_all_files(str(submission.folder), ignore):
        rel = Path(path).relative_to(submission.folder).as_posix()
        if Path(path).suffix != ".ipynb":
            files[rel] = Path(path).read_bytes()
    source = course.source_dir(submission.assignment_id)
    excluded = set(course.config.Autograde.get("exclude_overwriting", {}).get(submission.assignment_id, []))
    for path in find_all_files(str(source), [*ignore, "*.ipynb", CHECKS_FILE]):
        rel = Path(path).relative_to(source).as_posix()
        if rel not in excluded:
            files[rel] = Path(path).read_bytes()
    return files


GRADING_DATA_FOLDER = ".grading-data"  # in the kernel's folder: difftf's loaders read it (DIFFTF_GRADING_DATA)
USES_DATA = re.compile(r"load_(banknote|housing)")


def uses_data(source: Path) -> bool:
    """True when the assignment's notebooks load a course dataset (then kernels get a data view)."""
    return any(USES_DATA.search(p.read_text(encoding="utf-8")) for p in Path(source).glob("*.ipynb"))


def grading_data_files() -> dict[str, bytes]:
    """The data a graded kernel may load: the kept rows and the holdout's features, never its labels.

    See difftf.data.write_grading_view; the sandbox hides the dataset files themselves
    (raw_data_paths). A batch builds this once, when its first task is prepared.
    """
    from difftf.data import write_grading_view

    with tempfile.TemporaryDirectory(prefix="course-data-view-") as tmp:
        paths = write_grading_view(Path(tmp))
        return {f"{GRADING_DATA_FOLDER}/{p.name}": p.read_bytes() for p in paths}


def raw_data_paths() -> list[str]:
    """Where the dataset files (holdout labels included) live: hidden from a graded kernel."""
    from difftf.data import MIRROR_ENV, cache_dir

    paths = [str(cache_dir())]
    if os.environ.get(MIRROR_ENV):
        paths.append(os.environ[MIRROR_ENV])
    return [str(Path(p).resolve()) for p in paths]


def hidden_checks(course: Course, assignment_id: str) -> str:
    """The text of the assignment's hidden_checks.py, or "" when it has none."""
    path = course.source_dir(assignment_id) / CHECKS_FILE
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def kernel_environment(gpu_env: dict[str, str] | None = None, threads: int | None = None) -> dict[str, str]:
    """Variables every grading kernel gets: nbgrader's marker, quiet TensorFlow, GPU sharing.

    ``threads`` caps each kernel's compute threads when several kernels share the
    cores, so that they do not fight over them (TensorFlow, OpenMP and BLAS pools).
    """
    env = {"NBGRADER_EXECUTION": "autograde", "TF_CPP_MIN_LOG_LEVEL": "3", **(gpu_env or {})}
    if threads:
        for name in ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = str(threads)
        env["TF_NUM_INTEROP_THREADS"] = str(max(2, threads))  # one inter-op thread can deadlock some ops
    return env


def execution_config(course: Course, cell_timeout: int | None = None) -> Config:
    """The course's config, with the kernel's own log quietened and its history in memory.

    ipykernel logs warnings (for example about its TCP transport) to the grader's
    terminal; they say nothing about the submission, so they are hidden unless the
    course configures the kernel's log level itself. A kernel that keeps its input
    history in memory does not create and lock an SQLite file at start-up.
    """
    config = copy.deepcopy(course.config)
    extra = list(config.Execute.get("extra_arguments", []))
    if not any("log_level" in arg for arg in extra):
        extra.append("--IPKernelApp.log_level=ERROR")
    if not any("hist_file" in arg for arg in extra):  # nbgrader's advice: no history database per kernel
        extra.append("--HistoryManager.hist_file=:memory:")
    config.Execute.extra_arguments = extra
    if cell_timeout is not None:
        config.Execute.timeout = cell_timeout
    return config


def prepare(
    course: Course,
    submission: Submission,
    *,
    limits: Limits | None = None,
    cell_timeout: int | None = None,
    gpu_env: dict[str, str] | None = None,
    threads: int | None = None,
    config: Config | None = None,
    execute_class: str | None = None,
) -> GradingTask:
    """Sanitize each submitted notebook with nbgrader's preprocessors; note unusable ones.

    A batch computes ``config`` (execution_config) and ``execute_class`` once and
    passes them in; alone, they are derived from the course here.
    """
    if execute_class is None:
        execute_cls, _ = autograde_preprocessors(course)
        execute_class = f"{execute_cls.__module__}.{execute_cls.__qualname__}"
    task = GradingTask(
        student_id=submission.student_id,
        assignment_id=submission.assignment_id,
        execute_class=execute_class,
        config=config if config is not None else execution_config(course, cell_timeout),
        env=kernel_environment(gpu_env, threads),
        limits=limits or Limits(),
        files=support_files(course, submission),
        checks=hidden_checks(course, submission.assignment_id),
    )
    for notebook_id in submission.missing:
        task.problems[notebook_id] = ("missing", f"{notebook_id}.ipynb was not submitted")
    sanitizers = sanitize_preprocessors(course)
    for notebook_id, path in submission.notebooks.items():
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception as exc:  # invalid JSON, empty file, not a notebook at all
            task.problems[notebook_id] = ("invalid", f"{path.name} is not a readable notebook: {exc}")
            continue
        resources = notebook_resources(
            course, submission.student_id, submission.assignment_id, notebook_id, str(submission.folder)
        )
        # RepairCells (autograder/repair.py) takes the cells' order and ids from the source notebook
        resources["source_notebook"] = str(course.source_dir(submission.assignment_id) / path.name)
        try:
            nb, resources = run_preprocessors(sanitizers, nb, resources, course.config)
        except Exception as exc:  # e.g. nbgrader's checks refuse edited metadata
            task.problems[notebook_id] = ("invalid", f"{path.name} could not be prepared: {exc}")
            continue
        if resources.get("repairs"):
            task.repairs[notebook_id] = "repaired: " + "; ".join(resources["repairs"])
        task.notebooks[notebook_id] = to_json(nb)
    return task
