"""Step 3, execute: run one notebook in its own kernel, bounded by the cell timeout.

The kernel is nbgrader's configured ``Execute`` preprocessor (an nbclient client), so
errors in a cell are recorded in that cell and execution goes on, exactly as in
``nbgrader autograde``. What nbgrader does not survive, a kernel that dies, is
turned into error outputs on the cells that never ran, so that nbgrader's scoring
rule gives them zero instead of crediting an empty test cell.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import logging
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import nbformat
import psutil
from jupyter_client.kernelspec import NoSuchKernel
from nbclient.exceptions import DeadKernelError
from nbgrader.utils import setenv
from traitlets.utils.importstring import import_item

log = logging.getLogger(__name__)

TIMEOUT_ENAME = "CellTimeoutError"


def cell_label(nb: nbformat.NotebookNode, index: int) -> str:
    """A name a student recognises: the nbgrader grade_id, else the cell number."""
    meta = nb.cells[index].get("metadata", {}).get("nbgrader", {})
    return meta.get("grade_id") or f"cell {index + 1}"


def mark_unexecuted(nb: nbformat.NotebookNode, first_index: int, reason: str) -> str | None:
    """Add error outputs from cell ``first_index`` on (the cell that was running and all later ones).

    nbgrader credits a test cell with no error output, so a test the kernel never
    reached must carry an error to get zero. Returns the first marked cell's label.
    """
    first = None
    for index, cell in enumerate(nb.cells):
        if index < first_index or cell.cell_type != "code" or not cell.source.strip():
            continue
        text = reason if first is None else "not executed: the kernel had died"
        error = nbformat.v4.new_output("error", ename="KernelDied", evalue=text, traceback=[f"KernelDied: {text}"])
        cell.setdefault("outputs", []).append(error)
        first = first or cell_label(nb, index)
    return first


def timed_out_cells(nb: nbformat.NotebookNode) -> list[str]:
    """Labels of cells that nbclient interrupted after the cell timeout."""
    return [
        cell_label(nb, i)
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and any(o.get("ename") == TIMEOUT_ENAME for o in cell.get("outputs", []))
    ]


@dataclass(frozen=True)
class Limits:
    """Bounds on one submission's kernel (0 or None: no bound of that kind)."""

    submission_timeout: float | None = None  # seconds for the whole notebook
    memory_mb: int | None = None  # resident memory of the kernel and its children
    grace: float = 30.0  # after the deadline, how long an interrupt may take before the kill
    sandbox: str = "off"  # "auto", "bwrap" or "off": see autograder/sandbox.py
    hidden_paths: tuple[str, ...] = ()  # what a sandboxed kernel must not see (course, sources, gradebook)


@dataclass
class Execution:
    """An executed notebook and what happened to its kernel."""

    notebook: nbformat.NotebookNode
    status: str  # "graded", "timeout", "out of memory", "crashed" or "error"
    detail: str
    seconds: float
    peak_memory_mb: float = 0.0


class SubmissionTimeout(Exception):
    """Raised from a cell-start hook: the submission's time budget is spent."""


class KernelWatchdog(threading.Thread):
    """Kill the kernel when it uses too much memory or outlives the hard deadline.

    A cell timeout interrupts the kernel, but a kernel stuck in C code may ignore
    the interrupt, and nothing in nbclient bounds memory; this thread does both by
    polling the kernel's process tree, so one submission can never stall or starve
    the batch.
    """

    def __init__(self, executor: Any, limits: Limits, deadline: float | None, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.executor, self.interval = executor, interval
        self.memory_bytes = (limits.memory_mb or 0) * 1024 * 1024
        self.hard_deadline = None if deadline is None else deadline + limits.grace
        self.reason: str | None = None
        self.peak_bytes = 0
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)

    def kernel_process(self) -> psutil.Process | None:
        provisioner = getattr(getattr(self.executor, "km", None), "provisioner", None)
        pid = getattr(provisioner, "pid", None)
        try:
            return psutil.Process(pid) if pid else None
        except psutil.NoSuchProcess:
            return None

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            proc = self.kernel_process()
            if proc is None:
                continue
            try:
                tree = [proc, *proc.children(recursive=True)]
                rss = sum(p.memory_info().rss for p in tree)
            except psutil.Error:
                continue
            self.peak_bytes = max(self.peak_bytes, rss)
            if self.memory_bytes and rss > self.memory_bytes:
                self.kill(tree, "out of memory")
                return
            if self.hard_deadline is not None and time.monotonic() > self.hard_deadline:
                self.kill(tree, "timeout")
                return

    def kill(self, tree: list[psutil.Process], reason: str) -> None:
        self.reason = reason
        for p in reversed(tree):
            with contextlib.suppress(psutil.Error):
                p.kill()


@functools.cache
def _warn_unsandboxed(why: str) -> None:
    """Once per worker process, not once per notebook (the batch also warns in its report)."""
    log.warning("grading WITHOUT a sandbox: %s", why)


OUTPUT_CAP_CHARS = 1_000_000  # stream and display output kept per cell; the rest is dropped with a notice


def cap_output(executor: Any, cap: int = OUTPUT_CAP_CHARS) -> None:
    """Keep at most ``cap`` characters of printed and displayed output per cell.

    A cell that prints gigabytes would otherwise fill the grader's memory, the
    autograded notebook, the feedback page and the result cache. Errors and
    execute results are always kept: nbgrader scores from them.
    """
    original = executor.output
    used: dict[int, int] = {}

    def output(outs: list, msg: dict, display_id: str | None, cell_index: int) -> Any:
        if msg["msg_type"] not in ("stream", "display_data"):
            return original(outs, msg, display_id, cell_index)
        size = len(str(msg.get("content", {})))
        before = used.get(cell_index, 0)
        used[cell_index] = before + size
        if before + size <= cap:
            return original(outs, msg, display_id, cell_index)
        if before <= cap:  # the first message over the cap leaves a notice in its place
            notice = nbformat.v4.new_output(
                "stream", name="stdout",
                text=f"\n[output truncated by the grader: more than {cap:,} characters in this cell]\n")
            outs.append(notice)
            return notice
        return None

    executor.output = output


KERNEL_START_ATTEMPTS = 3  # a kernel that dies before its first cell is started again, this often in all


def _run_once(
    nb: nbformat.NotebookNode,
    workdir: Path,
    execute_class: str,
    config: Any,
    env: dict[str, str],
    limits: Limits,
    deadline: float | None,
    running: list[int],
    on_cell_start: Any,
) -> tuple[str, str, KernelWatchdog, bool]:
    """One kernel, one pass over ``nb`` (executed in place).

    Returns (status, detail, watchdog, retry): ``retry`` is true when the kernel failed
    before its first cell started, so no student code ran and starting again is fair.
    """
    executor = import_item(execute_class)(config=config, on_cell_start=on_cell_start)
    cap_output(executor)
    if deadline is not None:  # no cell may run past the submission's deadline
        cell_timeout = executor.timeout

        def timeout_func(cell: Any) -> int:
            remaining = max(1, int(deadline - time.monotonic() + 0.999))
            return min(cell_timeout, remaining) if cell_timeout and cell_timeout > 0 else remaining

        executor.timeout_func = timeout_func
    watchdog = KernelWatchdog(executor, limits, deadline)
    watchdog.start()
    status, detail, retry = "graded", "", False
    try:
        with setenv(**env):
            executor.preprocess(nb, {"metadata": {"path": str(workdir)}})
    except SubmissionTimeout:
        first = mark_unexecuted(nb, max(running[0], 0), "not executed: the submission's time limit was reached")
        status, detail = "timeout", f"submission time limit ({limits.submission_timeout:g} s) reached before {first}"
    except DeadKernelError:
        retry = running[0] < 0
        first = mark_unexecuted(nb, max(running[0], 0), "the kernel died while running this cell")
        status, detail = "crashed", f"kernel died in {first or 'an unknown cell'}"
    except NoSuchKernel as exc:
        mark_unexecuted(nb, 0, "not executed: no such kernel")
        status, detail = "error", f"kernel {exc} is not installed"
    except Exception as exc:  # anything else nbclient raises ends this notebook, not the batch
        retry = running[0] < 0
        first = mark_unexecuted(nb, max(running[0], 0), f"not executed: {type(exc).__name__}")
        status, detail = "error", f"execution stopped at {first or 'the end'}: {type(exc).__name__}: {exc}"
    finally:
        watchdog.stop()
    return status, detail, watchdog, retry and watchdog.reason is None


def execute_notebook(
    nb_json: str,
    workdir: Path,
    execute_class: str,
    config: Any,
    env: dict[str, str],
    limits: Limits = Limits(),
    started: float | None = None,
) -> Execution:
    """Execute a prepared notebook with cwd ``workdir``; never raises for student faults.

    ``started`` is when the submission's clock started (its other notebooks share the
    time budget); by default, now.
    """
    if limits.sandbox != "off":
        from autograder.sandbox import resolve

        use, why = resolve(limits.sandbox)
        if use:
            return execute_sandboxed(nb_json, workdir, execute_class, config, env, limits, started)
        _warn_unsandboxed(why)
    nb = nbformat.reads(nb_json, as_version=4)
    start = time.monotonic()
    budget_start = start if started is None else started
    deadline = budget_start + limits.submission_timeout if limits.submission_timeout else None
    running = [0]  # index of the cell the kernel is working on, for post-mortems

    def on_cell_start(cell: Any, cell_index: int) -> None:
        running[0] = cell_index
        if deadline is not None and time.monotonic() >= deadline:
            raise SubmissionTimeout

    for attempt in range(1, KERNEL_START_ATTEMPTS + 1):
        running[0] = -1  # no cell has started yet
        work = copy.deepcopy(nb)
        status, detail, watchdog, retry = _run_once(work, workdir, execute_class, config, env, limits, deadline,
                                                    running, on_cell_start)
        if not retry or attempt == KERNEL_START_ATTEMPTS:
            break
        # The kernel failed before any cell ran (e.g. two kernels started at once picked the
        # same free port): no student code has run, so starting again is safe and fair.
        time.sleep(0.5 * attempt)
    nb = work
    running[0] = max(running[0], 0)
    seconds = time.monotonic() - start
    peak_mb = watchdog.peak_bytes / 2**20
    if watchdog.reason == "out of memory":
        label = cell_label(nb, running[0])
        status, detail = "out of memory", f"kernel killed in {label}: memory above {limits.memory_mb} MB"
    elif watchdog.reason == "timeout":
        label = cell_label(nb, running[0])
        status, detail = "timeout", f"kernel killed in {label}: it ignored the interrupt at the time limit"
    timeouts = timed_out_cells(nb)
    if timeouts and status == "graded":
        status, detail = "timeout", f"cell timeout in {', '.join(timeouts)}"
    return Execution(notebook=nb, status=status, detail=detail, seconds=seconds, peak_memory_mb=peak_mb)


def execute_sandboxed(
    nb_json: str,
    workdir: Path,
    execute_class: str,
    config: Any,
    env: dict[str, str],
    limits: Limits,
    started: float | None,
) -> Execution:
    """execute_notebook, run by this worker's sandbox server (autograder/sandbox.py)."""
    from autograder.sandbox import run_sandboxed

    start = time.monotonic()
    started = start if started is None else started
    request = {"nb_json": nb_json, "workdir": str(workdir), "execute_class": execute_class, "config": config,
               "env": env, "limits": asdict(limits), "started": started}
    wall = None
    if limits.submission_timeout:  # the child's own watchdog ends it first; this is the backstop
        wall = max(1.0, started + limits.submission_timeout - start) + limits.grace + 60
    result = run_sandboxed(request, workdir, limits.hidden_paths, wall)
    notebook = nbformat.reads(result["notebook"], as_version=4) if result.get("notebook") else None
    if notebook is None:
        notebook = nbformat.reads(nb_json, as_version=4)
        mark_unexecuted(notebook, 0, f"not executed: {result['detail']}")
    return Execution(notebook=notebook, status=result["status"], detail=result["detail"],
                     seconds=result.get("seconds", time.monotonic() - start),
                     peak_memory_mb=result.get("peak_memory_mb", 0.0))
