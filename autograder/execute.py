"""Step 3, execute: run one notebook in its own kernel, bounded by the cell timeout.

The kernel is nbgrader's configured ``Execute`` preprocessor (an nbclient client), so
errors in a cell are recorded in that cell and execution goes on, exactly as in
``nbgrader autograde``. What nbgrader does not survive, a kernel that dies, is
turned into error outputs on the cells that never ran, so that nbgrader's scoring
rule gives them zero instead of crediting an empty test cell.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.kernelspec import NoSuchKernel
from nbclient.exceptions import DeadKernelError
from nbgrader.utils import setenv
from traitlets.utils.importstring import import_item

TIMEOUT_ENAME = "CellTimeoutError"


@dataclass
class Execution:
    """An executed notebook and what happened to its kernel."""

    notebook: nbformat.NotebookNode
    status: str  # "graded", "timeout", "crashed" or "error"
    detail: str
    seconds: float


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


def execute_notebook(
    nb_json: str, workdir: Path, execute_class: str, config: Any, env: dict[str, str]
) -> Execution:
    """Execute a prepared notebook with cwd ``workdir``; never raises for student faults."""
    nb = nbformat.reads(nb_json, as_version=4)
    running = [0]  # index of the cell the kernel is working on, for post-mortems

    def on_cell_start(cell: Any, cell_index: int) -> None:
        running[0] = cell_index

    executor = import_item(execute_class)(config=config, on_cell_start=on_cell_start)
    start = time.monotonic()
    status, detail = "graded", ""
    try:
        with setenv(**env):
            executor.preprocess(nb, {"metadata": {"path": str(workdir)}})
    except DeadKernelError:
        first = mark_unexecuted(nb, running[0], "the kernel died while running this cell")
        status, detail = "crashed", f"kernel died in {first or 'an unknown cell'}"
    except NoSuchKernel as exc:
        mark_unexecuted(nb, 0, "not executed: no such kernel")
        status, detail = "error", f"kernel {exc} is not installed"
    except Exception as exc:  # anything else nbclient raises ends this notebook, not the batch
        first = mark_unexecuted(nb, running[0], f"not executed: {type(exc).__name__}")
        status, detail = "error", f"execution stopped at {first or 'the end'}: {type(exc).__name__}: {exc}"
    seconds = time.monotonic() - start
    timeouts = timed_out_cells(nb)
    if timeouts and status == "graded":
        status, detail = "timeout", f"cell timeout in {', '.join(timeouts)}"
    return Execution(notebook=nb, status=status, detail=detail, seconds=seconds)
