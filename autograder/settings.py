"""Grading limits and parallelism, configurable in nbgrader_config.py and on the command line.

    c.CourseGrader.timeout = 1800     # seconds per submission
    c.CourseGrader.memory_mb = 4096   # resident memory per kernel
    c.CourseGrader.workers = 0        # 0: one per CPU core
    c.CourseGrader.sandbox = "auto"   # bwrap when it works here, else unsandboxed with a warning

The per-cell limit is nbgrader's own ``c.Execute.timeout``; ``--cell-timeout``
overrides it for one run.
"""

from __future__ import annotations

import os

from traitlets import Enum, Integer
from traitlets.config import Configurable


class CourseGrader(Configurable):
    """Defaults for ``course grade``; command-line flags override them."""

    timeout = Integer(1800, help="Seconds one submission may run in total (0: no limit).").tag(config=True)
    memory_mb = Integer(4096, help="Memory (MB) one kernel and its children may use (0: no limit).").tag(
        config=True
    )
    workers = Integer(0, help="Submissions graded at once on this machine (0: one per CPU core).").tag(config=True)
    sandbox = Enum(
        ["auto", "bwrap", "off"],
        "auto",
        help="Fence each kernel with bubblewrap: 'auto' (when available, else warn), 'bwrap' (required), 'off'.",
    ).tag(config=True)


def default_workers() -> int:
    """One worker per core this process may use (a kernel keeps a core busy)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)
