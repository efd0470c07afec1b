"""Model-quality checks in hidden tests, calibrated by the reference solution.

A hidden test that grades a student's *model* needs a threshold: "accuracy on the
held-out notes is at least ...". Guessed thresholds are either unfair (a correct
model trained on another CPU misses them) or toothless. Here the number comes from
the assignment's ``reference.json``, which ``course reference ASSIGNMENT`` writes by
running the source notebook (the instructor's solution), and the test states its
margin explicitly::

    ref = difftf.Reference()
    ref.at_least("holdout_accuracy", accuracy, margin=0.03)   # >= reference - 0.03
    ref.at_most("fresh_mse", mse, factor=3.0)                 # <= 3 x reference

Two modes, chosen by environment variables that ``course reference`` sets:

* grading (the default): the value is compared with the threshold and a failing
  comparison raises ``AssertionError`` with a message the student can act on;
* reference run (``DIFFTF_REFERENCE_RUN=1``): nothing is compared; every value is
  appended to ``$DIFFTF_METRICS_FILE`` so that the runner can write reference.json.

nbgrader copies the source folder's files over the submission before grading, so
the ``reference.json`` a hidden test reads is always the instructor's, never a
student's edited copy.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

REFERENCE_FILE = "reference.json"
REFERENCE_RUN_ENV = "DIFFTF_REFERENCE_RUN"
METRICS_FILE_ENV = "DIFFTF_METRICS_FILE"


class ReferenceError(RuntimeError):
    """reference.json is missing or lacks a metric: the instructor must run ``course reference``."""


def is_reference_run() -> bool:
    """True while ``course reference`` executes the source notebook to measure it."""
    return os.environ.get(REFERENCE_RUN_ENV, "") == "1"


def record_metric(name: str, value: float, **details: Any) -> None:
    """Append one measured metric to the runner's metrics file (a no-op outside reference runs)."""
    target = os.environ.get(METRICS_FILE_ENV)
    if not target:
        return
    with open(target, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"name": name, "value": float(value), **details}) + "\n")


class Reference:
    """Thresholds for one assignment, read from its reference.json (default: the working folder)."""

    def __init__(self, path: str | os.PathLike[str] = REFERENCE_FILE, *,
                 metrics: dict[str, float] | None = None) -> None:
        """``metrics`` (instead of a file) is how the grader passes the instructor's values to outside checks."""
        self.path = Path(path)
        self._metrics: dict[str, float] | None = None if metrics is None else {k: float(v) for k, v in metrics.items()}

    def metric(self, name: str) -> float:
        """The reference solution's measured value of ``name``."""
        if self._metrics is None:
            try:
                self._metrics = {k: float(v) for k, v in json.loads(self.path.read_text("utf-8"))["metrics"].items()}
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise ReferenceError(
                    f"{self.path.resolve()} is missing or unreadable ({exc}): the instructor runs "
                    "`course reference ASSIGNMENT` to measure the reference solution and write it."
                ) from exc
        if name not in self._metrics:
            raise ReferenceError(
                f"{self.path.resolve()} has no metric {name!r} (it has {sorted(self._metrics)}): "
                "run `course reference ASSIGNMENT` again after changing the hidden tests."
            )
        return self._metrics[name]

    def threshold(self, name: str, *, margin: float | None = None, factor: float | None = None,
                  floor: float = 0.0) -> float:
        """The bar a hidden test sets: ``reference - margin`` or ``max(factor * reference, floor)``."""
        if (margin is None) == (factor is None):
            raise ValueError("give exactly one of margin (at_least) or factor (at_most)")
        if margin is not None:
            return self.metric(name) - margin
        return max(float(factor) * self.metric(name), floor)

    def at_least(self, name: str, value: float, *, margin: float, what: str = "") -> None:
        """Assert ``value >= reference - margin`` (higher is better, e.g. accuracy).

        Returns None on purpose: nbgrader reads a number that a test cell's last line
        displays as partial credit, so a check must never evaluate to one.
        """
        value = float(value)
        if is_reference_run():
            record_metric(name, value, direction="min", margin=margin)
            return
        threshold = self.threshold(name, margin=margin)
        assert value >= threshold, (
            f"{what or name} = {value:.4g}, but at least {threshold:.4g} is needed "
            f"(the reference solution reaches {self.metric(name):.4g}; the allowed margin is {margin:g})"
        )

    def at_most(self, name: str, value: float, *, factor: float, floor: float = 0.0, what: str = "") -> None:
        """Assert ``value <= max(factor * reference, floor)`` (lower is better, e.g. an error). Returns None."""
        value = float(value)
        if is_reference_run():
            record_metric(name, value, direction="max", factor=factor, floor=floor)
            return
        threshold = self.threshold(name, factor=factor, floor=floor)
        assert value <= threshold, (
            f"{what or name} = {value:.4g}, but at most {threshold:.4g} is allowed "
            f"(the reference solution reaches {self.metric(name):.4g}; the allowed factor is {factor:g})"
        )
