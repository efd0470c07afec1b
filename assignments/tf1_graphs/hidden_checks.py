"""Hidden checks of tf1_graphs, judged by the grader outside the student's kernel (autograder/checks.py).

Each hidden block of the notebook hands in (``difftf.export``) the numbers the student's
graphs and functions produced at unseen points; under ``course grade`` they are judged
here, with the tolerances and messages of the in-kernel fallback asserts that follow each
export. The structural asserts (a fresh graph per call, placeholder names, op types, the
graph not growing, eager execution still on) stay in the kernel.
"""

import numpy as np


def _number(value: np.ndarray) -> float:
    assert value.size == 1, f"expected one number, got an array of shape {value.shape}"
    return float(value.reshape(-1)[0])


def _shaped(value: np.ndarray, shape: tuple[int, ...], what: str) -> list:
    assert value.shape == shape, f"expected {what} (shape {shape}), got an array of shape {value.shape}"
    return value.astype(float).tolist()


# Part 1: build_graph, f = x*x*y + y + 2 at unseen points.
F_POINTS = (((-1.5, 0.5), 3.625), ((0.0, 0.0), 2.0), ((2.0, -3.0), -13.0), ((0.25, 8.0), 10.5))


def _build_graph_f_values(v, ref):
    values = _shaped(v, (len(F_POINTS),), "one value of f per point")
    for ((a, b), want), got in zip(F_POINTS, values, strict=True):
        assert abs(got - want) < 1e-5, f"f({a}, {b}) = {want}, got {got}"


# Part 2: evaluate.
EVALUATE_POINTS = (((-1.5, 0.5), 3.625), ((0.0, 0.0), 2.0), ((2.0, -3.0), -13.0), ((3.0, 4.0), 42.0))


def _evaluate_values(v, ref):
    values = _shaped(v, (len(EVALUATE_POINTS),), "one value of evaluate per feed")
    for ((a, b), want), got in zip(EVALUATE_POINTS, values, strict=True):
        assert abs(got - want) < 1e-5, f"f({a}, {b}) = {want}, got {got!r}"


def _evaluate_follows_feeds(v, ref):
    first, second = _shaped(v, (2,), "evaluate at (1, 1) and at (2, 1)")
    assert first != second, (
        f"evaluate gave the same value {first!r} for the feeds (1, 1) and (2, 1) on the same graph, "
        "where f is 4 and 6: the value must follow the feeds x_value and y_value"
    )


def _evaluate_other_graph(v, ref):
    first, second = _shaped(v, (2,), "evaluate of g = a - 3b + ab at (1, 2) and at (-2, 0.5)")
    assert abs(first - (-3.0)) < 1e-5, (
        f"evaluate must run the tensor f it is given: g = a - 3b + ab at (1, 2) is -3, got {first!r}"
    )
    assert abs(second - (-4.5)) < 1e-5, (
        f"evaluate must run the tensor f it is given: g = a - 3b + ab at (-2, 0.5) is -4.5, got {second!r}"
    )


# Part 3: gradients_at, df/dx = 2xy and df/dy = x**2 + 1.
GRADIENT_POINTS = ((-1.5, 0.5), (0.0, 0.0), (2.5, -4.0), (-3.0, -2.0))


def _gradients_values(v, ref):
    values = _shaped(v, (len(GRADIENT_POINTS), 2), "a pair (df/dx, df/dy) per point")
    for (a, b), (dx, dy) in zip(GRADIENT_POINTS, values, strict=True):
        assert abs(dx - 2 * a * b) < 1e-5 and abs(dy - (a * a + 1)) < 1e-5, (
            f"at ({a}, {b}) expected ({2 * a * b}, {a * a + 1}), got ({dx}, {dy})"
        )


def _gradients_other_function(v, ref):
    dx, dy = _shaped(v, (2,), "the pair (dh/dx, dh/dy)")
    assert abs(dx - (4.0 + float(np.cos(0.5)))) < 1e-5 and abs(dy - (-2.0)) < 1e-5, (
        f"for h = x*y*y + sin(x) at (0.5, -2) expected ({4.0 + float(np.cos(0.5)):.5f}, -2.0), got ({dx}, {dy}): "
        "gradients_at must differentiate the f it is given with tf.compat.v1.gradients"
    )


# Part 4: train_slope.

def _slope_100_steps(v, ref):
    w = _number(v)
    assert abs(w - 3.0) < 1e-3, f"100 steps on y = 3x must reach w = 3, got {w}"


def _slope_2_steps(v, ref):
    w = _number(v)
    assert abs(w - (0.28 + 0.02 * (14.0 / 3.0) * 2.72)) < 1e-5, f"two steps must give 0.53387, got {w}"


def _slope_0_steps(v, ref):
    w = _number(v)
    assert w == 0.0, f"with steps=0, w stays 0.0, got {w!r}"


NOISY_X = np.array([-2.0, -1.0, 0.5, 1.0, 3.0])
NOISY_Y = np.array([4.1, 1.8, -1.2, -2.1, -5.9])


def _slope_noisy(v, ref):
    w = _number(v)
    best = float(np.sum(NOISY_X * NOISY_Y) / np.sum(NOISY_X * NOISY_X))
    assert abs(w - best) < 1e-4, (
        f"least-squares slope {best:.5f}, got {w} (noisy data of 5 points, learning_rate 0.05, 200 steps)"
    )


CHECKS = {
    "test_build_graph": {
        "build_graph_f_values": _build_graph_f_values,
    },
    "test_evaluate": {
        "evaluate_values": _evaluate_values,
        "evaluate_follows_feeds": _evaluate_follows_feeds,
        "evaluate_other_graph": _evaluate_other_graph,
    },
    "test_gradients_at": {
        "gradients_values": _gradients_values,
        "gradients_other_function": _gradients_other_function,
    },
    "test_train_slope": {
        "slope_100_steps": _slope_100_steps,
        "slope_2_steps": _slope_2_steps,
        "slope_0_steps": _slope_0_steps,
        "slope_noisy": _slope_noisy,
    },
}
