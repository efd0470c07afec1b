"""Printing and plotting helpers that keep notebook outputs stable and small.

nbval compares a lecture's printed numbers with the committed ones; the last digits
of a float differ between CPUs, so lectures print numbers rounded to four
significant digits. Figures use one small, consistent style so that committed
notebooks stay light.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def round_sig(value: Any, digits: int = 4) -> Any:
    """Round a number, array or tensor (or nested lists of them) to ``digits`` significant digits."""
    if hasattr(value, "numpy"):
        value = value.numpy()
    if isinstance(value, np.ndarray):
        return [round_sig(v, digits) for v in value.tolist()] if value.ndim else round_sig(value.item(), digits)
    if isinstance(value, (list, tuple)):
        return type(value)(round_sig(v, digits) for v in value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    value = float(value)
    if value == 0.0 or not math.isfinite(value):
        return value + 0.0  # turns -0.0 into 0.0 so it prints the same everywhere
    rounded = round(value, digits - 1 - math.floor(math.log10(abs(value))))
    return rounded + 0.0


def use_course_style() -> None:
    """Small, readable figures with a light grid; called once per notebook."""
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "figure.figsize": (6.0, 3.5),
            "figure.dpi": 80,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    )


def line_plot(
    series: Mapping[str, Sequence[float]],
    *,
    title: str = "",
    xlabel: str = "step",
    ylabel: str = "",
    logy: bool = False,
    logx: bool = False,
    x: Sequence[float] | None = None,
    ax: Any = None,
) -> Any:
    """Plot one or more named curves on ``ax`` (a new figure if None) and return the axes.

    ``x`` gives the horizontal positions shared by all series (default: the step index).
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    for label, ys in series.items():
        ys = np.asarray(ys, dtype=float)
        ax.plot(np.arange(len(ys)) if x is None else np.asarray(x, dtype=float), ys, label=label)
    if logy:
        ax.set_yscale("log")
    if logx:
        ax.set_xscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if len(series) > 1:
        ax.legend()
    return ax
