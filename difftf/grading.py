"""Hidden tests hand plain numbers to the grader, which judges them outside the kernel.

A check that runs in the student's kernel can be fooled by the student's code: an
object whose ``__eq__`` is always true, a patched ``numpy.testing`` or ``difftf``,
an input transformer that empties the test cells. So for ``course grade`` a hidden
test only *exports* what it measured (predictions, numbers, arrays) with
:func:`export`; the grader then loads those files in its own process and runs the
assignment's ``hidden_checks.py`` on them (see ``autograder/checks.py``). The
files are ``.npy`` arrays written without pickle, so they carry data, never code.

Outside ``course grade`` (``nbgrader autograde``, the instructor running the source
notebook, ``course reference``) nothing is collected: :func:`export` returns False
and the hidden test checks in the kernel as before::

    _x = newton_solve(lambda x: x**2 - 9.0, 1.0)
    if not difftf.export("newton_pos", _x):
        assert abs(_x - 3.0) < 1e-9
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

EXPORT_DIR_ENV = "DIFFTF_EXPORT_DIR"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")


def collecting() -> bool:
    """True while ``course grade`` collects exports (it names the folder in the environment)."""
    return bool(os.environ.get(EXPORT_DIR_ENV))


def export(name: str, value: Any) -> bool:
    """Save ``value`` as ``<name>.npy`` for the grader; True when a grader collects it.

    Only numbers (anything ``numpy.asarray`` turns into a numeric or boolean array)
    can be exported: an object that merely claims to equal the answer cannot.
    """
    folder = os.environ.get(EXPORT_DIR_ENV)
    if not folder:
        return False
    if not _NAME.match(name):
        raise ValueError(f"export name {name!r}: use letters, digits, '_', '.' and '-'")
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name}: only numbers can be handed in, got {type(value).__name__} ({array.dtype})")
    np.save(Path(folder) / f"{name}.npy", array, allow_pickle=False)
    return True
