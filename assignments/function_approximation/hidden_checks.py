"""Hidden checks of function_approximation, judged by the grader outside the student's kernel.

The hidden tests export what the student's code returned (difftf.export); these functions
judge it here. The trained model's predictions on fresh samples and on an even grid are
compared with the true function (x + 2)**2, with the bars of the notebook's in-kernel fallback
(see autograder/checks.py). The hidden tests' own data is regenerated here from the same seeds,
and the one SGD step on the mean absolute error is recomputed here with NumPy (forward pass,
MAE and its gradient for the tests' Dense(16, relu) -> Dense(1) network).
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


# Part 1: make_samples.

def seed_samples(value: np.ndarray, ref) -> None:
    assert value.shape == (5, 50, 1), f"expected x, y, x, y, x of shape (50, 1) each, got {value.shape}"
    xa, ya, xb, yb, xc = value
    assert np.array_equal(xa, xb) and np.array_equal(ya, yb), (
        "make_samples(50, seed=2024) gave different samples on two calls: use rng = np.random.default_rng(seed)"
    )
    assert not np.array_equal(xa, xc), "another seed must give other samples"


def many_samples(value: np.ndarray, ref) -> None:
    assert value.shape == (2, 20000, 1), f"expected x and y of shape (20000, 1) each, got {value.shape}"
    x, y = value
    assert -5.0 <= float(x.min()) < -4.99 and 0.99 < float(x.max()) <= 1.0, (
        f"20000 samples must fill [-5, 1] up to its ends, got values from {float(x.min())} to {float(x.max())}"
    )
    assert abs(float(x.mean()) - (-2.0)) < 0.05 and abs(float(x.std()) - 6.0 / np.sqrt(12.0)) < 0.05, (
        f"x must be uniform on [-5, 1] (mean -2, std {6.0 / np.sqrt(12.0):.4f}), got mean {float(x.mean()):.4f} "
        f"and std {float(x.std()):.4f}"
    )
    assert np.allclose(y, (x.astype(np.float64) + 2.0) ** 2, rtol=1e-5, atol=1e-5), "y must be target(x) = (x + 2)**2"


# Part 2: build_model.

def bend_outputs(value: np.ndarray, ref) -> None:
    assert value.shape == (3, 3, 1), f"expected three models' outputs of shape (3, 1), got {value.shape}"
    bend = max(abs(float(np.sum(out.astype(np.float64) * [[1.0], [-2.0], [1.0]]))) for out in value)
    assert bend > 1e-3, "the hidden layer needs activation='relu': without it the model is a straight line"


# Part 3: make_train_step.

def _step_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The hidden test's batch (x, y) and unseen batch (xn, yn), drawn from default_rng(3) in order."""
    rng = np.random.default_rng(3)
    x = rng.uniform(-5.0, 1.0, size=(32, 1)).astype(np.float32)
    xn = rng.uniform(-5.0, 1.0, size=(32, 1)).astype(np.float32)
    return x, (x + 2.0) ** 2, xn, (xn + 2.0) ** 2


def sixty_steps_predictions(value: np.ndarray, ref) -> None:
    assert value.shape == (2, 32, 1), f"expected the model's outputs before and after, (32, 1) each, got {value.shape}"
    yn = _step_data()[3].astype(np.float64)
    start, end = (float(np.mean((p.astype(np.float64) - yn) ** 2)) for p in value)
    assert end < 0.5 * start, (
        f"60 steps on one unseen batch must halve its MSE at least, but it went from {start:.6g} to {end:.6g}"
    )


SHAPES = [(1, 16), (16,), (16, 1), (1,)]  # the test network's kernel, bias, kernel, bias


def _unflatten(flat: np.ndarray) -> list[np.ndarray]:
    weights, start = [], 0
    for shape in SHAPES:
        size = int(np.prod(shape))
        weights.append(flat[start:start + size].reshape(shape))
        start += size
    return weights


def mae_sgd_step(value: np.ndarray, ref) -> None:
    n = sum(int(np.prod(shape)) for shape in SHAPES)
    assert value.shape == (1 + 2 * n,), f"expected the loss and 2 x {n} weights, got shape {value.shape}"
    loss = float(value[0])
    k1, b1, k2, b2 = (w.astype(np.float64) for w in _unflatten(value[1:1 + n]))
    after = _unflatten(value[1 + n:])
    x, y = (a.astype(np.float64) for a in _step_data()[:2])
    pre = x @ k1 + b1
    hidden = np.maximum(pre, 0.0)
    pred = hidden @ k2 + b2
    mae = float(np.mean(np.abs(y - pred)))
    assert abs(loss - mae) <= 1e-4 * max(1.0, mae), (
        f"with loss_fn = MeanAbsoluteError the step must return the MAE {mae:.6g}, got {loss:.6g}: "
        "compute the loss with loss_fn"
    )
    d_pred = np.sign(pred - y) / len(y)
    d_pre = (d_pred @ k2.T) * (pre > 0)
    grads = [x.T @ d_pre, d_pre.sum(axis=0), hidden.T @ d_pred, d_pred.sum(axis=0)]
    names = ("kernel 1", "bias 1", "kernel 2", "bias 2")
    for name, w, g, new in zip(names, (k1, b1, k2, b2), grads, after, strict=True):
        expected = w - 0.05 * g
        assert np.allclose(new, expected, rtol=1e-4, atol=1e-6), (
            f"SGD(learning_rate=0.05) must move every weight by -0.05 * the gradient of loss_fn, but {name} "
            f"differs from that by {np.abs(new - expected).max():.2e}"
        )


# Part 4: train.

def lr0_predictions_and_losses(value: np.ndarray, ref) -> None:
    assert value.ndim == 1 and value.size == 96 + 2, (
        f"expected 96 predictions and 2 epoch losses, got {value.size - 96} losses"
    )
    rng = np.random.default_rng(8)
    x = rng.uniform(-5.0, 1.0, size=(250, 1)).astype(np.float32)[:96]
    y = ((x + 2.0) ** 2).astype(np.float64)
    full = float(np.mean((value[:96].astype(np.float64) - y[:, 0]) ** 2))
    for v in value[96:]:
        assert abs(float(v) - full) <= 1e-4 * full, (
            f"with learning_rate=0 an epoch's loss must be the mean batch loss {full:.6g}, got {float(v):.6g}: "
            "average the losses of all batches of the epoch, not just the last one"
        )


CHECKS = {
    "test_make_samples": {"seed_samples": seed_samples, "many_samples": many_samples},
    "test_build_model": {"bend_outputs": bend_outputs},
    "test_make_train_step": {"sixty_steps_predictions": sixty_steps_predictions, "mae_sgd_step": mae_sgd_step},
    "test_train": {"lr0_predictions_and_losses": lr0_predictions_and_losses},
    "test_model": {"fresh_predictions": fresh_mse, "grid_predictions": grid_mse},
}
