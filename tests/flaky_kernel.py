"""An nbgrader Execute preprocessor whose kernel "fails to start" a set number of times.

Two kernels started at the same moment can pick the same free port; the loser dies
before it answers ``kernel_info``. The grader must start such a kernel again rather
than give the student zero. Tests name this class as the execute class.
"""

from __future__ import annotations

from typing import Any

from nbgrader.preprocessors import Execute


class FailsToStart(Execute):
    """Raises nbclient's start-up error ``failures_left`` times, then executes normally."""

    failures_left = 0  # set by the test; class-level because the grader builds a new instance per attempt
    attempts = 0

    def preprocess(self, nb: Any, resources: Any = None, km: Any = None) -> Any:
        type(self).attempts += 1
        if type(self).failures_left > 0:
            type(self).failures_left -= 1
            raise RuntimeError("Kernel died before replying to kernel_info")
        return super().preprocess(nb, resources, km)
