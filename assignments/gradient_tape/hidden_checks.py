"""Hidden checks of gradient_tape, judged by the grader outside the student's kernel (autograder/checks.py).

Under `course grade` each hidden block only exports what the student's functions returned
(x, losses, the optimizer's iteration count, solutions, derivatives); the checks below
judge those numbers with the tolerances and messages of the in-kernel fallback asserts.
"""

import numpy as np


def _number(value: np.ndarray, what: str) -> float:
    assert value.size == 1, f"{what} must be one number, got an array of shape {value.shape}"
    return float(value.reshape(-1)[0])


def _losses(value: np.ndarray, steps: int | None = None) -> np.ndarray:
    """The exported losses list as a flat array (one number per step); ``steps``: its required length."""
    assert value.ndim >= 1, f"losses must be a list with one entry per step, got a single number {value}"
    if steps is not None:
        assert len(value) == steps, f"losses must have one entry per step ({steps} here), got {len(value)}"
    assert value.size == len(value), f"every entry of losses must be one number, got an array of shape {value.shape}"
    return value.reshape(-1).astype(np.float64)


def _iterations(expected: int):
    def check(value: np.ndarray, ref) -> None:
        got = _number(value, "the optimizer's iteration count")
        assert got == expected, (
            f"the optimizer passed in made {got:g} updates, but it must make all {expected} (one per step): "
            "call optimizer.apply_gradients of the optimizer you were given once per step, not a new optimizer's"
        )
    return check


def _scalar(expected: float, tol: float, message: str):
    """``abs(x - expected) < tol``; ``message`` may use {got}."""
    def check(value: np.ndarray, ref) -> None:
        got = _number(value, "x_final")
        assert abs(got - expected) < tol, message.format(got=got, expected=expected, tol=tol)
    return check


def _first_loss(expected: float, tol: float, steps: int | None = None):
    def check(value: np.ndarray, ref) -> None:
        losses = _losses(value, steps)
        assert len(losses) >= 1, "losses is empty"
        assert abs(losses[0] - expected) < tol, (
            f"losses[0] must be f(x0)**2 = {expected:g} (the loss before the first update), got {losses[0]}"
        )
    return check


def _sgd_negative_losses(value: np.ndarray, ref) -> None:
    losses = _losses(value)
    rising = [i for i in range(1, len(losses)) if not losses[i] <= losses[i - 1] + 1e-6]
    assert not rising, (
        f"SGD losses must decrease here, but losses[{rising[0]}] = {losses[rising[0]]:.6g} > "
        f"losses[{rising[0] - 1}] = {losses[rising[0] - 1]:.6g}"
    )


def _close_pair(expected, atol: float, what: str, rtol: float = 1e-5):
    """``np.allclose(value, expected, rtol, atol)`` as in the in-kernel assert."""
    def check(value: np.ndarray, ref) -> None:
        assert np.allclose(value, expected, rtol=rtol, atol=atol), (
            f"{what}: expected {np.asarray(expected)}, got {value} (tolerance {atol:g})"
        )
    return check


def _derivatives(d1: float, d2: float, tol1: float, tol2: float, what: str):
    def check(value: np.ndarray, ref) -> None:
        assert value.size == 2, f"second_derivative must return two numbers (f', f''), got shape {value.shape}"
        got1, got2 = (float(v) for v in value.reshape(-1))
        assert abs(got1 - d1) < tol1 and abs(got2 - d2) < tol2, (
            f"{what}: expected (f', f'') = ({float(d1)!r}, {float(d2)!r}), got ({got1!r}, {got2!r}) "
            f"(tolerances {tol1:g}, {tol2:g}); compute f'' with a second tape around the first, in float64"
        )
    return check


def _float64(value: np.ndarray) -> None:
    assert value.dtype == np.float64, f"keep v in a tf.Variable of dtype tf.float64, got {value.dtype}"


def _newton_trig(value: np.ndarray, ref) -> None:
    _float64(value)
    assert value.shape == (2,), f"newton_system must return shape (2,), got {value.shape}"
    x, y = value
    residual = np.abs([x - np.cos(y), y - np.sin(x)]).max()
    assert residual < 1e-10, (
        f"x = cos(y), y = sin(x) from (1, 1): the residuals of {value} are up to {residual:.3g}, not < 1e-10"
    )
    assert np.allclose(value, [0.768169156736796, 0.694819690730788], rtol=0, atol=1e-9), (
        f"x = cos(y), y = sin(x) from (1, 1): expected (0.768169156736796, 0.694819690730788), got {value}"
    )


def _newton_zero_steps(value: np.ndarray, ref) -> None:
    _float64(value)
    assert np.array_equal(value, [0.5, 2.5]), f"steps=0 must return the start (0.5, 2.5) unchanged, got {value}"


def _exactly(expected: float, what: str):
    def check(value: np.ndarray, ref) -> None:
        got = _number(value, "the result")
        assert got == expected, f"{what}: expected exactly {expected!r}, got {got!r}"
    return check


CHECKS = {
    "test_solve_with_optimizer": {
        "adam_one_step_x": _scalar(
            1.1, 1e-4, "one Adam(0.1) step from 1 on x**2 - 9 gives 1.1, got {got}: use the optimizer passed in"),
        "adam_one_step_iterations": _iterations(1),
        "adam_x": _scalar(3.0, 1e-3, "Adam(0.1), 200 steps from 1 on x**2 - 9 should reach 3, got {got}"),
        "adam_losses": _first_loss(64.0, 1e-4, steps=200),
        "adam_iterations": _iterations(200),
        "sgd_negative_x": _scalar(-3.0, 1e-3, "SGD(0.01), 100 steps from -1 on x**2 - 9 should reach -3, got {got}"),
        "sgd_negative_losses": _sgd_negative_losses,
        "rmsprop_x": _scalar(0.7390851, 1e-3, "RMSprop(0.01), 150 steps from 0 on cos(x) - x should reach "
                                              "0.7390851, got {got}"),
        "rmsprop_losses": _first_loss(1.0, 1e-6),
        "rmsprop_iterations": _iterations(150),
        "momentum_losses": _first_loss(64.0, 1e-4, steps=7),
        "momentum_iterations": _iterations(7),
    },
    "test_solve_system": {
        "circle_line_other_start": _close_pair([-1.0, -2.0], 1e-3, "x**2 + y**2 = 5, x - y = 1 from (-1, -3)"),
        "circle_line_int_start": _close_pair([2.0, 1.0], 1e-3, "integer start (3, 0)"),
        "circle_line_int_array_step": _close_pair(
            [3.0 - 0.02 * 2 * (6 * 4.0 + 2.0), 0.0 - 0.02 * 2 * (0.0 - 2.0)], 1e-5,
            "one SGD(0.02) step from the integer array (3, 0)"),
        "sum_prod_adam": _close_pair([1.0, 2.0], 1e-3, "x + y = 3, x * y = 2 with Adam(0.05) from (0.5, 2.5)"),
        "sum_prod_adam_iterations": _iterations(200),
        "sum_prod_sgd_step": _close_pair([0.875, 2.575], 1e-5,
                                         "one SGD(0.1) step on x + y = 3, x * y = 2 from (0.5, 2.5)"),
    },
    "test_second_derivative": {
        "derivatives_sin": _derivatives(np.cos(0.7), -np.sin(0.7), 1e-10, 1e-10, "sin at 0.7"),
        "derivatives_exp": _derivatives(np.exp(1.3), np.exp(1.3), 1e-9, 1e-9, "exp at 1.3"),
        "derivatives_quartic": _derivatives(12.5, 27.0, 1e-9, 1e-9, "x**4 - x at 1.5"),
        "derivatives_reciprocal": _derivatives(-0.25, -0.25, 1e-12, 1e-9, "1 / x at -2"),
        "derivatives_int_point": _derivatives(-1.0, -1.0, 1e-12, 1e-9, "cos(x) - x at the integer point 0"),
    },
    "test_newton_system": {
        "newton_sum_prod": _close_pair([1.0, 2.0], 1e-8, "x + y = 3, x * y = 2 from (0.5, 2.5)", rtol=0),
        "newton_sum_prod_one_step": _close_pair(
            [0.875, 2.125], 1e-12, "one Newton step on x + y = 3, x * y = 2 from (0.5, 2.5) "
            "(J = [[1, 1], [2.5, 0.5]] is not symmetric: do not transpose tape.jacobian)", rtol=0),
        "newton_circle_line": _close_pair([2.0, 1.0], 1e-8, "x**2 + y**2 = 5, x - y = 1 from (3, 0.5)", rtol=0),
        "newton_circle_line_int_start": _close_pair([-1.0, -2.0], 1e-8, "integer start (-2, -3)", rtol=0),
        "newton_trig": _newton_trig,
        "newton_zero_steps": _newton_zero_steps,
    },
    "test_newton_multiple_root": {
        "double_root_3": _scalar(3.0, 1e-6, "double root 3 of x**2 - 6x + 9, 5 steps from 0: got {got}"),
        "double_root_minus_2.5": _scalar(-2.5, 1e-6, "double root -2.5 of x**2 + 5x + 6.25 from 1: got {got}"),
        "double_root_1.5_one_step": _scalar(1.5, 1e-12, "(x - 1.5)**2 from -4: one step must land on 1.5, got {got}"),
        "triple_root": _scalar(1.0, 1e-9, "triple root of (x - 1)**3: {got}"),
        "simple_root_sqrt2": _scalar(2.0**0.5, 1e-11, "simple root sqrt(2) of x**2 - 2, 10 steps from 1: got {got}"),
        "simple_root_cos": _scalar(0.7390851332151607, 1e-11, "simple root of cos(x) - x from 0: got {got}"),
        "double_root_exp": _scalar(1.0, 1e-7, "double root 1 of exp(x - 1) - x from 0: got {got}"),
        "zero_steps": _exactly(1.0, "steps=0 must return x0 = 1 as a float"),
        "start_on_root": _exactly(-2.0, "starting on the root -2 of (x + 2)**2 must stay there"),
    },
}
