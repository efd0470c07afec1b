"""Step 4's second half: hidden checks judged outside the student's kernel.

A hidden test that judges a model or a numeric answer exports what it measured
(``difftf.export``: ``.npy`` files, no pickle) into a folder the grader names for
each notebook. After the kernel is gone, the worker (a process that never ran
student code) loads those arrays and runs the assignment's ``hidden_checks.py``::

    CHECKS = {
        "test_newton_solve": {                     # the test cell's grade_id
            "newton_pos": lambda v, ref: close(v, 3.0, 1e-9),
        },
        "test_trained_models": {
            "holdout_probs": holdout_accuracy_at_least("holdout_accuracy", margin=0.03),
        },
    }

Each check gets the exported array and a ``difftf.Reference`` built from the
instructor's pristine reference.json (never the copy in the kernel's folder, which
student code could rewrite), and raises ``AssertionError`` with a message when the
answer is wrong. Labels of hidden data are loaded here, never in the kernel. A
failed or missing export adds an error output to its test cell, so nbgrader's own
rule gives that cell zero: whatever the student patched in the kernel (``assert``,
``numpy.testing``, ``difftf``, ``export`` itself, the test cells' text), the points
of these checks are decided here.

``hidden_checks.py`` lives beside the source notebook; the course configuration
never releases it and the grader never copies it into the kernel's folder.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import nbformat
import numpy as np

CHECKS_FILE = "hidden_checks.py"
ERROR_NAME = "HiddenCheckFailed"
Check = Callable[[np.ndarray, Any], None]


def load_checks(text: str, origin: str = CHECKS_FILE) -> dict[str, dict[str, Check]]:
    """Run the instructor's hidden_checks.py (trusted code) and return its CHECKS table."""
    namespace: dict[str, Any] = {"__name__": "hidden_checks", "__file__": origin}
    exec(compile(text, origin, "exec"), namespace)
    checks = namespace.get("CHECKS")
    if not isinstance(checks, Mapping) or not all(isinstance(v, Mapping) for v in checks.values()):
        raise ValueError(f"{origin} must define CHECKS = {{grade_id: {{export_name: check}}}}")
    return {str(cell): dict(exports) for cell, exports in checks.items()}


def reference_from(files: Mapping[str, bytes]) -> Any:
    """The thresholds of the instructor's reference.json, from the task's pristine copy."""
    from difftf.reference import Reference

    data = files.get("reference.json")
    metrics = json.loads(data)["metrics"] if data else {}
    return Reference(metrics=metrics)


def judge(checks: Mapping[str, Mapping[str, Check]], exports: Path, reference: Any) -> dict[str, list[str]]:
    """Run every check on its export; return the failure messages per test cell (empty: passed)."""
    failures: dict[str, list[str]] = {}
    for grade_id, table in checks.items():
        messages = failures.setdefault(grade_id, [])
        for name, check in table.items():
            path = exports / f"{name}.npy"
            if not path.is_file():
                messages.append(f"{name}: the hidden test handed in nothing (it did not run to that point)")
                continue
            try:
                value = np.load(path, allow_pickle=False)
            except (OSError, ValueError) as exc:
                messages.append(f"{name}: the handed-in file is not plain numbers ({exc})")
                continue
            try:
                check(value, reference)
            except AssertionError as exc:
                messages.append(f"{name}: {exc}" if str(exc) else f"{name}: wrong answer")
            except Exception as exc:  # a shape or type the check cannot use is a wrong answer too
                messages.append(f"{name}: {type(exc).__name__}: {exc}")
    return failures


def apply(nb: nbformat.NotebookNode, failures: Mapping[str, list[str]]) -> list[str]:
    """Add an error output to each test cell whose checks failed; return those cells' grade_ids."""
    failed = []
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if cell.cell_type != "code" or not failures.get(grade_id):
            continue
        message = "; ".join(failures[grade_id])
        cell.setdefault("outputs", []).append(nbformat.v4.new_output(
            "error", ename=ERROR_NAME, evalue=message, traceback=[f"{ERROR_NAME}: {message}"]))
        failed.append(grade_id)
    return failed


def close(value: np.ndarray, expected: float, tol: float) -> None:
    """A scalar answer within ``tol`` of ``expected`` (a helper for hidden_checks.py)."""
    assert value.shape == () or value.size == 1, f"expected one number, got shape {value.shape}"
    got = float(value.reshape(-1)[0])
    assert abs(got - expected) <= tol, f"got {got:.6g}, expected {expected:.6g} (tolerance {tol:g})"


def ensure_checks(source: Path) -> None:
    """Refuse to grade when hidden_checks.py cannot be loaded or names a cell the notebooks lack.

    A broken file must stop the batch before anything is graded: otherwise its
    checks would silently not run and the export-only hidden tests would pass.
    """
    from autograder.coursedir import CourseError

    path = source / CHECKS_FILE
    if not path.is_file():
        return
    try:
        checks = load_checks(path.read_text(encoding="utf-8"), str(path))
    except Exception as exc:
        raise CourseError(f"{path} could not be loaded ({type(exc).__name__}: {exc}): "
                          "fix it (nothing was graded).") from exc
    cells = set()
    for notebook in sorted(source.glob("*.ipynb")):
        for cell in nbformat.read(notebook, as_version=4).cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade") and meta.get("grade_id"):
                cells.add(meta["grade_id"])
    unknown = sorted(set(checks) - cells)
    if unknown:
        raise CourseError(f"{path} checks test cell(s) {unknown} that no notebook of {source.name} has "
                          f"(graded cells: {sorted(cells)}): fix the grade_ids (nothing was graded).")
