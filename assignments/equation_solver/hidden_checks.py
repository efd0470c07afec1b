"""Hidden checks of equation_solver, judged by the grader outside the student's kernel (autograder/checks.py).

Each hidden block of the notebook hands in (``difftf.export``) the numbers the student's
functions returned on unseen equations; under ``course grade`` they are judged here, with
the tolerances and messages of the in-kernel fallback asserts that follow each export.
"""

import itertools

import numpy as np


def _number(value: np.ndarray) -> float:
    assert value.size == 1, f"expected one number, got an array of shape {value.shape}"
    return float(value.reshape(-1)[0])


def _losses(value: np.ndarray) -> list[float]:
    assert value.ndim == 1 and value.size > 0, (
        f"losses must be a list of Python floats, one per step, got an array of shape {value.shape}"
    )
    return value.astype(float).tolist()


def _near(value: np.ndarray, expected: float, tol: float, what: str) -> None:
    got = _number(value)
    assert abs(got - expected) < tol, f"{what}: got {got!r}, expected {expected!r} (tolerance {tol:g})"


def _decreasing(losses: list[float], slack: float) -> None:
    rises = [i for i, (a, b) in enumerate(itertools.pairwise(losses)) if not b <= a + slack]
    assert not rises, (
        f"losses must decrease, but losses[{rises[0] + 1}] = {losses[rises[0] + 1]!r} is above "
        f"losses[{rises[0]}] = {losses[rises[0]]!r}" if rises else ""
    )


# Part 1: squared_residual.

def _sr_poly_loss(v, ref):
    _near(v, 25.0, 1e-5, "squared_residual(lambda x: x**2 - 9.0, x) at x = 2 must be (2**2 - 9)**2 = 25")


def _sr_poly_grad(v, ref):
    _near(v, -40.0, 1e-4, "the tape's gradient of squared_residual(lambda x: x**2 - 9.0, x) at x = 2 "
          "must be 2 * f * f' = 2 * (-5) * 4 = -40")


def _sr_negative(v, ref):
    _near(v, 6.25, 1e-6, "a negative residual must become positive: f(x) = x + 4 at x = -1.5 gives "
          "(-1.5 + 4)**2 = 6.25 (square it: not abs, not the residual itself)")


def _sr_cos(v, ref):
    _near(v, 1.0, 1e-6, "a non-polynomial f: f(x) = cos(x) - x at x = 0 gives (cos(0) - 0)**2 = 1")


def _sr_float64(v, ref):
    _near(v, 49.0, 1e-12, "a float64 input: f(x) = x * x - 2 at x = 3.0 (tf.float64) gives (9 - 2)**2 = 49")


# Part 2: gradient_descent.

def _gd_pos_root(v, ref):
    _near(v, 3.0, 1e-3, "gradient descent on x**2 - 9 from x0 = 1 (learning_rate 0.01, 100 steps) must reach 3")


def _gd_pos_losses(v, ref):
    losses = _losses(v)
    assert abs(losses[0] - 64.0) < 1e-4, (
        f"on x**2 - 9 from x0 = 1, losses[0] must be (1 - 9)**2 = 64, got {losses[0]!r}"
    )
    _decreasing(losses, 1e-6)
    assert losses[-1] < 1e-6, f"on x**2 - 9 from x0 = 1 the last loss must be below 1e-6, got {losses[-1]!r}"


def _gd_neg_root(v, ref):
    _near(v, -3.0, 1e-3, "gradient descent on x**2 - 9 from x0 = -1 (learning_rate 0.01, 100 steps) "
          "must reach the negative root -3")


def _gd_steps5_losses(v, ref):
    assert v.shape == (5,) and abs(float(v[0]) - 64.0) < 1e-4, (
        f"with steps=5 losses must have 5 entries, starting at 64, got {v.tolist()}"
    )


def _gd_cos_root(v, ref):
    _near(v, 0.7390851, 1e-3, "gradient descent on cos(x) - x from x0 = 0 (learning_rate 0.1, 50 steps) "
          "must reach the root 0.7390851 of cos(x) = x")


def _gd_cos_losses(v, ref):
    losses = _losses(v)
    assert abs(losses[0] - 1.0) < 1e-6 and losses[-1] < 1e-8, (
        f"cos(x) = x: losses must start at 1 and reach about 0, got {losses[0]!r} ... {losses[-1]!r}"
    )
    _decreasing(losses, 1e-6)


def _gd_double_root(v, ref):
    got = _number(v)
    assert 0.6 < got < 0.75, (
        f"gradient descent on the double root (x - 1)**2 from x0 = 0 (learning_rate 0.01, 100 steps) "
        f"stalls near 0.67 (between 0.6 and 0.75), got {got!r}"
    )
    assert abs(got - 1.0) > 0.2, "gradient descent cannot reach a double root in 100 steps"


def _gd_double_losses(v, ref):
    losses = _losses(v)
    assert abs(losses[0] - 1.0) < 1e-6, (
        f"losses must decrease from (0 - 1)**4 = 1 on (x - 1)**2 from x0 = 0, got losses[0] = {losses[0]!r}"
    )
    _decreasing(losses, 1e-9)


# Part 3: newton_solve.

def _newton_pos(v, ref):
    _near(v, 3.0, 1e-9, "x**2 - 9 from x0 = 1 must reach 3")


def _newton_neg(v, ref):
    _near(v, -3.0, 1e-9, "x**2 - 9 from x0 = -1 must reach -3")


def _newton_cos(v, ref):
    _near(v, 0.7390851332151607, 1e-9, "Newton on cos(x) - x from x0 = 0 must reach the root of cos(x) = x")


def _newton_flat_start(v, ref):
    got = _number(v)
    assert bool(np.isfinite(got)), f"newton_solve must stop when f'(x) == 0, got {got}"


def _newton_on_root(v, ref):
    got = _number(v)
    assert got == 3.0, f"starting on the root, newton_solve must return it: x - 3 from x0 = 3 gave {got!r}"


def _newton_steps0(v, ref):
    got = _number(v)
    assert got == 1.0, f"with steps=0 newton_solve must return x0 as a float, got {got!r}"


def _newton_double_factored(v, ref):
    _near(v, 1.0, 1e-4, "Newton must reach the double root of (x - 1)**2 (from x0 = 0)")


def _newton_double_expanded(v, ref):
    got = _number(v)
    assert bool(np.isfinite(got)) and abs(got - 1.0) < 1e-4, (
        f"Newton on x**2 - 2x + 1 (the double root 1, expanded: needs float64) from x0 = 0 "
        f"must reach 1 within 1e-4, got {got!r}"
    )


def _newton_double_from_right(v, ref):
    _near(v, -3.0, 1e-4, "Newton on x**2 + 6x + 9 (double root -3) from x0 = 0 with steps=40 must reach -3")


def _newton_double_from_left(v, ref):
    _near(v, -3.0, 1e-4, "Newton on x**2 + 6x + 9 (double root -3) from x0 = -7 with steps=40 must reach -3")


def _newton_double_10_steps(v, ref):
    _near(v, -2.0 + 2.0 / 2**10, 1e-9, "linear convergence on a double root: 10 Newton steps on (x + 2)**2 "
          "from x0 = 0 halve the distance 2 ten times")


# Part 4: the double root from the slide.

def _slide_stall(v, ref):
    got = _number(v)
    assert abs(got - (-1.6564)) < 0.05, (
        f"slide_stall = {got} differs from the reference run: use x0 = 0.0, learning_rate=0.01, steps=100"
    )
    assert abs(got - (-2.0)) > 0.2, "slide_stall must be the stalled value, not the root"


def _newton_double_root_and_recomputed(v, ref):
    assert v.shape == (2,), f"expected newton_double_root and newton_solve's value, got shape {v.shape}"
    stored, again = float(v[0]), float(v[1])
    assert stored == again, (
        "newton_double_root must be the value newton_solve returns for x**2 + 4x + 4, x0 = 0.0, steps=40 "
        f"(newton_double_root = {stored!r}, newton_solve gives {again!r})"
    )


CHECKS = {
    "test_squared_residual": {
        "sr_poly_loss": _sr_poly_loss,
        "sr_poly_grad": _sr_poly_grad,
        "sr_negative": _sr_negative,
        "sr_cos": _sr_cos,
        "sr_float64": _sr_float64,
    },
    "test_gradient_descent": {
        "gd_pos_root": _gd_pos_root,
        "gd_pos_losses": _gd_pos_losses,
        "gd_neg_root": _gd_neg_root,
        "gd_steps5_losses": _gd_steps5_losses,
        "gd_cos_root": _gd_cos_root,
        "gd_cos_losses": _gd_cos_losses,
        "gd_double_root": _gd_double_root,
        "gd_double_losses": _gd_double_losses,
    },
    "test_newton_solve": {
        "newton_pos": _newton_pos,
        "newton_neg": _newton_neg,
        "newton_cos": _newton_cos,
        "newton_flat_start": _newton_flat_start,
        "newton_on_root": _newton_on_root,
        "newton_steps0": _newton_steps0,
        "newton_double_factored": _newton_double_factored,
        "newton_double_expanded": _newton_double_expanded,
        "newton_double_from_right": _newton_double_from_right,
        "newton_double_from_left": _newton_double_from_left,
        "newton_double_10_steps": _newton_double_10_steps,
    },
    "test_slide_stall": {
        "slide_stall": _slide_stall,
    },
    "test_newton_double_root": {
        "newton_double_root_and_recomputed": _newton_double_root_and_recomputed,
    },
}
