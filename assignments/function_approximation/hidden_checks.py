"""Hidden checks of function_approximation, judged by the grader outside the student's kernel.

The hidden test exports the trained model's predictions on fresh samples and on an
even grid; the errors against the true function (x + 2)**2 are computed here, with
the bars of the notebook's in-kernel fallback (see autograder/checks.py).
"""

import numpy as np


def mse_against_truth(x: np.ndarray, value: np.ndarray) -> float:
    assert value.shape == x.shape, f"expected predictions of shape {x.shape}, got {value.shape}"
    assert bool(np.all(np.isfinite(value))), "the predictions contain inf or nan"
    return float(np.mean((value.astype(np.float64) - (x.astype(np.float64) + 2.0) ** 2) ** 2))


def fresh_mse(value: np.ndarray, ref) -> None:
    x = np.random.default_rng(20_190_917).uniform(-5.0, 1.0, size=(4000, 1)).astype(np.float32)
    ref.at_most("fresh_mse", mse_against_truth(x, value), factor=3.0, floor=0.05, what="MSE on fresh samples")


def grid_mse(value: np.ndarray, ref) -> None:
    x = np.linspace(-5.0, 1.0, 601, dtype=np.float32).reshape(-1, 1)
    ref.at_most("grid_mse", mse_against_truth(x, value), factor=3.0, floor=0.05,
                what="MSE on an even grid over [-5, 1]")


CHECKS = {"test_model": {"fresh_predictions": fresh_mse, "grid_predictions": grid_mse}}
