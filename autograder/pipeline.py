"""The grading pipeline: collect -> prepare -> execute/score (task) -> record -> report.

This module only wires the steps together. One submission's failure, in any step,
becomes that submission's row with status ``error``; the batch always finishes.
"""

from __future__ import annotations

import hashlib
import logging
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.converters import GenerateAssignment
from nbgrader.converters.base import NbGraderException
from tqdm.auto import tqdm

from autograder.cache import ResultCache, environment_fingerprint, folder_files, submission_key
from autograder.checks import ensure_checks
from autograder.collect import Submission, collect
from autograder.coursedir import Course, CourseError
from autograder.execute import Limits
from autograder.prepare import (
    GradingTask,
    execution_config,
    grading_data_files,
    kernel_environment,
    prepare,
    raw_data_paths,
    uses_data,
)
from autograder.record import GradeRow, record
from autograder.reference import ensure_reference
from autograder.release_check import find_leaks
from autograder.report import write_csv
from autograder.settings import default_workers
from autograder.steps import autograde_preprocessors
from autograder.task import TaskResult, run_task
from autograder.workers import open_workers
from difftf.device import kernel_gpu_env, visible_gpu_ids

CACHE_FOLDER = ".grading-cache"

log = logging.getLogger("course")


def assignment_notebooks(course: Course, assignment_id: str) -> tuple[list[str], float]:
    """The notebook ids and max score nbgrader's gradebook holds for an assignment."""
    with Gradebook(course.db_url, course.coursedir.course_id) as gb:
        try:
            assignment = gb.find_assignment(assignment_id)
        except MissingEntry:
            return [], 0.0
        return sorted(nb.name for nb in assignment.notebooks), assignment.max_score


def release(course: Course, assignment_id: str) -> Path:
    """Generate the student version with nbgrader and check it for leaks."""
    source = course.source_dir(assignment_id)
    if not source.is_dir():
        raise CourseError(f"No source for assignment {assignment_id!r}: expected the folder {source}.")
    generator = GenerateAssignment(coursedir=course.coursedir, config=course.config)
    generator.force = True
    generator.create_assignment = True
    previous = course.coursedir.assignment_id
    course.coursedir.assignment_id = assignment_id
    try:
        generator.start()
    except NbGraderException as exc:
        raise CourseError(f"nbgrader could not generate {assignment_id} from {source}: {exc}") from exc
    finally:
        course.coursedir.assignment_id = previous
    released = course.release_dir(assignment_id)
    for notebook in sorted(released.glob("*.ipynb")):
        leaks = find_leaks(source / notebook.name, notebook)
        if leaks:
            raise CourseError(f"{notebook} leaks {len(leaks)} secret(s): {'; '.join(leaks[:5])}")
    return released


def ensure_assignment(course: Course, assignment_id: str) -> tuple[list[str], float]:
    """Make sure the gradebook knows the assignment (generating it from source if needed)."""
    notebooks, max_score = assignment_notebooks(course, assignment_id)
    if notebooks:
        return notebooks, max_score
    if not course.source_dir(assignment_id).is_dir():
        raise CourseError(
            f"Assignment {assignment_id!r} is neither in the gradebook ({course.db_url}) nor in "
            f"{course.source_dir(assignment_id)}: check the name or run nbgrader generate_assignment."
        )
    log.info("%s is not in the gradebook yet: generating it from source", assignment_id)
    release(course, assignment_id)
    return assignment_notebooks(course, assignment_id)


@dataclass
class GradeOptions:
    """How one ``course grade`` run executes: parallelism, limits, cache."""

    workers: int = 1
    scheduler: str | None = None  # tcp://host:port of a Dask scheduler
    timeout: float | None = None  # seconds per submission
    cell_timeout: int | None = None  # overrides nbgrader's Execute.timeout
    memory_mb: int | None = None
    force: bool = False  # ignore cached results
    progress: bool = True
    sandbox: str = "auto"  # see autograder/sandbox.py


def error_row(submission: Submission, max_score: float, exc: BaseException) -> GradeRow:
    return GradeRow(submission.student_id, 0.0, max_score, "error", f"grader error: {type(exc).__name__}: {exc}")


def write_log(folder: Path, row: GradeRow, result: TaskResult | None, extra: str = "") -> None:
    """One readable log per submission: the row, each notebook's tests, and any grader error."""
    lines = [f"student: {row.student_id}", f"status: {row.status}", f"score: {row.score:g} / {row.max_score:g}",
             f"detail: {row.detail}", f"seconds: {row.seconds}", f"peak kernel memory (MB): {row.peak_memory_mb}",
             f"from cache: {row.cached}"]
    for outcome in result.outcomes if result else []:
        lines.append(f"\n[{outcome.notebook_id}] {outcome.status} in {outcome.seconds:.1f} s: {outcome.detail}")
        lines += [f"  {t.grade_id}: {t.points}/{t.max_points} {t.error}".rstrip() for t in outcome.tests]
    if extra:
        lines.append("\n" + extra)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{safe_name(row.student_id)}.log").write_text("\n".join(lines) + "\n", encoding="utf-8")


def safe_name(student_id: str) -> str:
    """A file name for any student id (ids may hold spaces, unicode, even slashes from an LMS)."""
    return "".join(ch if ch.isalnum() or ch in "-_.@ " else "_" for ch in student_id) or "_"


def autograded_hashes(course: Course, submission: Submission) -> dict[str, str]:
    folder = course.path(course.coursedir.autograded_directory, submission.student_id, submission.assignment_id)
    return {rel: hashlib.sha256(data).hexdigest() for rel, data in folder_files(folder).items()}


def recorded_state(course: Course, submission: Submission, row: GradeRow) -> dict[str, Any]:
    """What a later run checks before it trusts that this row is still in the gradebook."""
    return {"db_url": course.db_url, "row": asdict(row), "autograded": autograded_hashes(course, submission)}


def still_recorded(course: Course, submission: Submission, state: dict[str, Any] | None) -> GradeRow | None:
    """The recorded row, if the gradebook and autograded files still hold exactly what was recorded."""
    if not state or state.get("db_url") != course.db_url:
        return None
    if autograded_hashes(course, submission) != state.get("autograded"):
        return None
    row = GradeRow(**{**state["row"], "cached": True})
    with Gradebook(course.db_url, course.coursedir.course_id) as gb:
        try:
            found = gb.find_submission(submission.assignment_id, submission.student_id)
        except MissingEntry:
            return None
        if abs((found.score or 0.0) - row.raw_score) > 1e-9:
            return None
    return row


def hidden_paths(course: Course, source: Path) -> tuple[str, ...]:
    """What a sandboxed kernel must not see: the course folder (gradebook, submissions,
    feedback), the assignment sources (solutions, hidden tests) and a SQLite gradebook
    kept elsewhere."""
    paths = [course.root, Path(source).parent]
    url = str(course.db_url)
    if url.startswith("sqlite:///"):
        paths.append(Path(url.removeprefix("sqlite:///")))
    return tuple(str(Path(p).resolve()) for p in paths)


def warn_if_unsandboxed(options: GradeOptions, reports: Path) -> None:
    """Say loudly, in the log and in the report folder, when kernels run without the sandbox.

    A cluster's workers decide for themselves; this checks the machine that grades locally.
    """
    from autograder.sandbox import resolve

    notice = reports / "SANDBOX-WARNING.txt"
    use, why = (True, "") if options.scheduler else resolve(options.sandbox)
    if use:
        notice.unlink(missing_ok=True)
        return
    message = (f"WARNING: student code runs WITHOUT the grading sandbox: {why}. It can read the course "
               "folder, the sources and the gradebook, and use the network.")
    log.warning(message)
    reports.mkdir(parents=True, exist_ok=True)
    notice.write_text(message + "\n", encoding="utf-8")


def grade(course: Course, assignment_id: str, options: GradeOptions | None = None) -> tuple[list[GradeRow], Path]:
    """Grade every submission of ``assignment_id``; return the rows and the CSV path.

    Tasks are prepared here, run by the workers (in any order), and recorded here as
    they finish, so the gradebook has exactly one writer. Results are cached as soon
    as they arrive: a run that is killed and started again only re-runs what was lost.
    """
    options = options or GradeOptions()
    ensure_reference(course, assignment_id)
    ensure_checks(course.source_dir(assignment_id))
    notebooks, max_score = ensure_assignment(course, assignment_id)
    submissions = collect(course, assignment_id, notebooks)
    reports = course.reports_dir(assignment_id)
    logs = reports / "logs"
    cache = ResultCache(course.root / CACHE_FOLDER / assignment_id)
    fingerprint = environment_fingerprint()
    source = course.source_dir(assignment_id)
    with_data = uses_data(source)  # kernels then get a data view; the dataset files (labels) stay hidden
    data_view: dict[str, bytes] | None = None  # built when the first task is prepared (not on a cached re-run)
    hidden = hidden_paths(course, source) + (tuple(raw_data_paths()) if with_data else ())
    limits = Limits(submission_timeout=options.timeout or None, memory_mb=options.memory_mb or None,
                    sandbox=options.sandbox, hidden_paths=hidden)
    warn_if_unsandboxed(options, reports)
    execute_cls, _ = autograde_preprocessors(course)
    execute_class = f"{execute_cls.__module__}.{execute_cls.__qualname__}"
    config = execution_config(course, options.cell_timeout)  # once per batch, shared by key and tasks
    gpus = [] if options.scheduler else visible_gpu_ids()
    # Local kernels share this machine's cores; a cluster's workers size themselves.
    threads = None if options.scheduler else max(1, default_workers() // max(1, options.workers))
    rows: dict[str, GradeRow] = {}
    failures = 0
    bar = tqdm(total=len(submissions), desc=f"grading {assignment_id}", unit="submission", disable=not options.progress)

    def finish(row: GradeRow, result: TaskResult | None, extra: str = "") -> None:
        nonlocal failures
        rows[row.student_id] = row
        failures += row.status != "graded"
        write_log(logs, row, result, extra)
        bar.set_postfix_str(f"failures={failures}")
        bar.update(1)

    def record_safely(submission: Submission, task: GradingTask, result: TaskResult, key: str, cached: bool) -> None:
        try:
            row = record(course, submission, task, result)
            row.cached = cached
            cache.store_row(key, recorded_state(course, submission, row))
            finish(row, result)
        except Exception as exc:
            log.exception("recording %s failed", submission.student_id)
            finish(error_row(submission, max_score, exc), result, traceback.format_exc())

    pending: dict[Any, tuple[Submission, GradingTask, str]] = {}
    workers = None
    try:
        for slot, submission in enumerate(submissions):
            gpu_env = kernel_gpu_env(slot, gpus)
            try:
                settings = {"config": config, "env": kernel_environment(gpu_env, threads), "limits": asdict(limits),
                            "execute": execute_class}
                key = submission_key(submission.student_id, assignment_id, submission.folder, source, settings,
                                     fingerprint)
                cached = None if options.force else cache.load(key)
                if cached is not None:
                    row = still_recorded(course, submission, cache.load_row(key))
                    if row is not None:  # result and gradebook both unchanged: nothing to do
                        finish(row, cached)
                        continue
                task = prepare(course, submission, limits=limits, gpu_env=gpu_env, threads=threads,
                               config=config, execute_class=execute_class)
                if with_data:
                    data_view = grading_data_files() if data_view is None else data_view
                    task.files.update(data_view)
            except Exception as exc:
                log.exception("preparing %s failed", submission.student_id)
                finish(error_row(submission, max_score, exc), None, traceback.format_exc())
                continue
            if cached is not None:
                record_safely(submission, task, cached, key, cached=True)
                continue
            if workers is None:
                workers = open_workers(options.workers, options.scheduler)
                log.info("grading on %s", workers.description)
            pending[workers.submit(run_task, task)] = (submission, task, key)
        if workers is not None:
            for future in workers.as_completed(list(pending)):
                submission, task, key = pending.pop(future)
                try:
                    result = future.result()
                except Exception as exc:  # the worker itself failed (not the student's code)
                    log.exception("worker failed on %s", submission.student_id)
                    finish(error_row(submission, max_score, exc), None, traceback.format_exc())
                    continue
                cache.store(key, result)
                record_safely(submission, task, result, key, cached=False)
    finally:
        bar.close()
        if workers is not None:
            workers.close()
    ordered = [rows[s.student_id] for s in submissions if s.student_id in rows]
    csv_path = write_csv(ordered, reports / "grades.csv")
    return ordered, csv_path
