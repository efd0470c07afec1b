"""Hidden checks of regularisation, judged by the grader outside the student's kernel (autograder/checks.py).

Under `course grade` each hidden block only exports what the student's functions returned.
The inputs are regenerated here from the same seeds as in the hidden blocks, the expected
values computed here (Keras' one-step L2 update and L1 penalty are their formulas, which Keras
implements in float32), and the early-stopping model's fresh MSE is computed here from its
exported predictions and compared with reference.json as the in-kernel fallback does.
"""

from functools import cache

import numpy as np

# --- Part 1: l2_gradient_step --------------------------------------------------------------------------

L2_CASES = [(0.0, 0.05), (0.01, 0.1), (0.3, 0.02)]  # (l2, learning_rate) of the k = 3 loop


@cache
def _l2_data():
    """The hidden block's draws from default_rng(2024): three float32 k = 3 cases, then one float64 case."""
    rng = np.random.default_rng(2024)
    cases = []
    for _ in L2_CASES:
        w = rng.normal(size=(5, 3)).astype(np.float32)
        b = rng.normal(size=(3,)).astype(np.float32)
        x = rng.normal(size=(32, 5)).astype(np.float32)
        y = rng.normal(size=(32, 3)).astype(np.float32)
        cases.append((w, b, x, y))
    w = rng.normal(size=(7, 2))
    b = rng.normal(size=(2,))
    x = rng.normal(size=(50, 7))
    y = rng.normal(size=(50, 2))
    return cases, (w, b, x, y)


def _l2_step(w, b, x, y, learning_rate, l2):
    """One SGD step on mean((x @ w + b - y)**2) + l2 * sum(w**2), in float64 (what Keras does in float32)."""
    w, b, x, y = (np.asarray(a, dtype=np.float64) for a in (w, b, x, y))
    err = x @ w + b - y
    new_w = w - learning_rate * (2.0 / err.size * x.T @ err + 2.0 * l2 * w)
    new_b = b - learning_rate * (2.0 / err.size * err.sum(axis=0))
    return new_w, new_b


def _l2_k3(i: int, part: str):
    def check(value: np.ndarray, ref) -> None:
        l2, lr = L2_CASES[i]
        expected = _l2_step(*_l2_data()[0][i], learning_rate=lr, l2=l2)[0 if part == "w" else 1]
        shape = (5, 3) if part == "w" else (3,)
        assert value.shape == shape, f"k = 3 outputs: new_{part} must have shape {shape}, got {value.shape}"
        if part == "w":
            assert np.allclose(value, expected, atol=1e-5), (
                f"k = 3 outputs, l2 = {l2}: w differs from Keras by {np.abs(value - expected).max():.2e} "
                "(average the squared error over all n * k entries)"
            )
        else:
            assert np.allclose(value, expected, atol=1e-5), (
                f"k = 3 outputs, l2 = {l2}: b differs from Keras by {np.abs(value - expected).max():.2e}"
            )
    return check


def _l2_float64(part: str):
    def check(value: np.ndarray, ref) -> None:
        expected = _l2_step(*_l2_data()[1], learning_rate=0.01, l2=1.5)[0 if part == "w" else 1]
        assert value.shape == expected.shape, f"new_{part} must have shape {expected.shape}, got {value.shape}"
        formula = ("w - learning_rate * (2 / (n * k) * x.T @ err + 2 * l2 * w)" if part == "w"
                   else "b - learning_rate * 2 / (n * k) * err.sum(axis=0) (the bias is not penalised)")
        assert np.allclose(value, expected, rtol=1e-5, atol=1e-6), (
            f"float64 inputs (n = 50, d = 7, k = 2), learning_rate = 0.01, l2 = 1.5: new_{part} differs from "
            f"{formula} by {np.abs(value - expected).max():.2e}"
        )
    return check


def _l2_zero_rate(part: str):
    def check(value: np.ndarray, ref) -> None:
        w, b, _, _ = _l2_data()[1]
        original = w if part == "w" else b
        assert value.shape == original.shape, f"new_{part} must have shape {original.shape}, got {value.shape}"
        assert np.allclose(value, original), (
            f"learning_rate = 0 must leave {part} where it was, but it moved by {np.abs(value - original).max():.2e}"
        )
    return check


# --- Part 2: l1_penalty, count_small ---------------------------------------------------------------------

L1_CASES = [((50,), 0.01), ((8, 6), 0.3), ((3, 4, 5), 2.0), ((10,), 0.0)]
TOLS = (0.1, 0.5, 1.0)


@cache
def _l1_weights():
    rng = np.random.default_rng(77)
    return [rng.normal(size=shape).astype(np.float32) for shape, _ in L1_CASES]


def _one(value: np.ndarray, what: str) -> float:
    assert value.size == 1, f"{what} must be one number, got an array of shape {value.shape}"
    return float(value.reshape(-1)[0])


def _l1_penalty(i: int):
    def check(value: np.ndarray, ref) -> None:
        shape, l1 = L1_CASES[i]
        got = _one(value, "l1_penalty")
        expected = l1 * float(np.sum(np.abs(_l1_weights()[i].astype(np.float64))))  # keras.regularizers.L1(l1)
        assert abs(got - expected) < 1e-4 * max(1.0, abs(got)), (
            f"l1_penalty of random weights of shape {shape} with l1 = {l1}: expected {expected:.6g} "
            f"(as keras.regularizers.L1), got {got:.6g}"
        )
    return check


def _count_small(i: int, tol: float):
    def check(value: np.ndarray, ref) -> None:
        got = _one(value, "count_small")
        expected = int(np.sum(np.abs(_l1_weights()[i]) < tol))
        assert got == expected, (
            f"count_small on random weights with negative entries, tol={tol}: got {got:g}, "
            f"expected {expected} (compare |w| with tol)"
        )
    return check


def _count(expected: int, what: str):
    def check(value: np.ndarray, ref) -> None:
        got = _one(value, "count_small")
        assert got == expected, f"{what}: expected {expected}, got {got:g}"
    return check


# --- Part 2: train_linear ----------------------------------------------------------------------------------

USEFUL = np.zeros(12, dtype=bool)
USEFUL[[4, 7]] = True
TRAIN_CASES = {  # export prefix -> keyword arguments of the hidden block's calls
    "train_l2": {"l2": 0.3, "learning_rate": 0.05, "steps": 800},
    "train_l1": {"l1": 0.3, "learning_rate": 0.05, "steps": 800},
    "train_l1_l2": {"l1": 0.1, "l2": 0.1, "learning_rate": 0.02, "steps": 300},
}


@cache
def _reference_train(case: str):
    """The hidden block's _reference_train on its fresh data (default_rng(31))."""
    rng = np.random.default_rng(31)
    X = rng.normal(size=(150, 12))
    y = 5.0 - 1.5 * X[:, 4] + 2.5 * X[:, 7] + 0.4 * rng.normal(size=150)
    kw = TRAIN_CASES[case]
    l1, l2, learning_rate = kw.get("l1", 0.0), kw.get("l2", 0.0), kw["learning_rate"]
    n, d = X.shape
    w, b = np.zeros(d), 0.0
    for _ in range(kw["steps"]):
        err = X @ w + b - y
        w, b = (w - learning_rate * (2.0 / n * X.T @ err + l1 * np.sign(w) + 2.0 * l2 * w),
                b - learning_rate * 2.0 / n * err.sum())
    return w, b


def _penalties(case: str) -> str:
    return ", ".join(f"{k} = {v}" for k, v in TRAIN_CASES[case].items() if k in ("l1", "l2"))


def _train_b(case: str, tol: float):
    def check(value: np.ndarray, ref) -> None:
        got = _one(value, "b")
        rb = _reference_train(case)[1]
        assert abs(got - rb) < tol, (
            f"with an offset of 5 and {_penalties(case)}, b = {got:.4f} but {rb:.4f} is right: do not penalise the bias"
        )
    return check


def _train_w(case: str):
    def check(value: np.ndarray, ref) -> None:
        rw = _reference_train(case)[0]
        assert value.shape == rw.shape, f"w must have shape {rw.shape}, got {value.shape}"
        if case == "train_l2":
            assert np.allclose(value, rw, atol=1e-3), (
                f"with {_penalties(case)}: w = {np.round(value, 4)}, but {np.round(rw, 4)} is right "
                "(the L2 gradient is 2 * l2 * w)"
            )
            return
        if case == "train_l1":
            small = int(np.sum(np.abs(value[~USEFUL]) < 0.02))
            assert small >= 9, (
                f"with {_penalties(case)} at least 9 of the 10 useless weights should be about zero (|w| < 0.02), "
                f"got {small}: w = {np.round(value, 3)}"
            )
        assert np.allclose(value[USEFUL], rw[USEFUL], atol=0.02), (
            f"with {_penalties(case)}: the useful weights w[4], w[7] = {value[USEFUL]}, but {rw[USEFUL]} is right"
        )
    return check


# --- Part 3: inverted_dropout ------------------------------------------------------------------------------

RATES = (0.8, 0.2)


@cache
def _dropout_x() -> np.ndarray:
    return np.random.default_rng(5).normal(size=(3, 400, 50)).astype(np.float32)


def _dropout_rate(rate: float):
    def check(value: np.ndarray, ref) -> None:
        xr = _dropout_x()
        assert value.shape == (2, *xr.shape), f"expected your output and Keras' of shape {xr.shape}, got {value.shape}"
        out, keras_out = value[0], value[1]
        dropped = float(np.mean(out == 0))
        assert abs(dropped - rate) < 0.01, (
            f"rate = {rate}: the fraction of zeros must be about {rate}, got {dropped:.3f} "
            "(rate is the probability to drop, not to keep)"
        )
        kept = out != 0
        assert np.allclose(out[kept], xr[kept] / (1.0 - rate), rtol=1e-6), (
            f"rate = {rate}: kept values must be x / (1 - rate)"
        )
        keras_zeros = float(np.mean(keras_out == 0))
        assert abs(dropped - keras_zeros) < 0.015, (
            f"rate = {rate}: your fraction of zeros {dropped:.3f} differs from Keras' Dropout {keras_zeros:.3f}"
        )
    return check


def _dropout_ones(rate: float):
    def check(value: np.ndarray, ref) -> None:
        assert value.size > 0, "inverted_dropout returned an empty array"
        mean = float(value.mean())
        assert abs(mean - 1.0) < 0.05, f"rate = {rate}: the mean must stay 1, got {mean:.3f}"
    return check


def _equals_x(message: str):
    def check(value: np.ndarray, ref) -> None:
        assert np.array_equal(value, _dropout_x()), message
    return check


def _seed_masks(value: np.ndarray, ref) -> None:
    assert value.ndim >= 1 and len(value) == 2, f"expected two masks, got shape {value.shape}"
    assert not np.array_equal(value[0], value[1]), (
        "seeds 1 and 2 gave the same dropout mask: draw with rng = np.random.default_rng(seed)"
    )


def _dropout_1d(value: np.ndarray, ref) -> None:
    assert value.shape == (10000,), f"a 1-D input of 10000 entries must give shape (10000,), got {value.shape}"
    zeros = float(np.mean(value == 0))
    assert np.allclose(value[value != 0], 7.5) and abs(zeros - 0.6) < 0.03, (
        f"1-D input of 3.0s, rate = 0.6: kept values must be 3 / (1 - 0.6) = 7.5 and about 60% zeros, "
        f"got the values {np.unique(value[value != 0])[:5]} and {zeros:.3f} zeros"
    )


# --- Part 4: train_with_early_stopping ---------------------------------------------------------------------

N_VAL = 100


@cache
def _overfit_val_targets() -> np.ndarray:
    """y_val of make_overfit_problem(seed=3, n_train=20, n_features=10) (data only, no model)."""
    rng = np.random.default_rng(3)
    n_train, n_val, n_features = 20, N_VAL, 10
    X_all = rng.normal(size=(n_train + n_val, n_features)).astype(np.float32)
    y_all = (X_all[:, :1] - 0.5 * X_all[:, 1:2] + rng.normal(size=(n_train + n_val, 1))).astype(np.float32)
    return y_all[n_train:]


@cache
def _fresh_targets() -> np.ndarray:
    rng = np.random.default_rng(1011)
    Xf = rng.normal(size=(2000, 10)).astype(np.float32)
    return (Xf[:, :1] - 0.5 * Xf[:, 1:2] + rng.normal(size=(2000, 1))).astype(np.float32)


def _mse(predictions: np.ndarray, targets: np.ndarray) -> float:
    """Keras' loss "mse" as model.evaluate reports it: the mean of the squared errors over all entries."""
    assert predictions.size == targets.size, (
        f"expected {targets.size} predictions (one per row), got an array of shape {predictions.shape}"
    )
    diff = predictions.reshape(targets.shape).astype(np.float64) - targets.astype(np.float64)
    return float(np.mean(diff**2))


def _val_losses(value: np.ndarray) -> np.ndarray:
    assert value.ndim == 1 and value.size > 0, f"expected the list of val_loss values, got shape {value.shape}"
    return value.astype(np.float64)


def _early_stopping_epochs(value: np.ndarray, ref) -> None:
    val = _val_losses(value)
    best = int(np.argmin(val))
    assert val[-1] > val.min(), "the validation loss should have risen at the end"
    assert len(val) < 80, "training must stop early"
    assert len(val) == best + 1 + 2, f"best epoch {best}, patience 2: expected {best + 3} epochs, {len(val)} ran"


def _early_stopping_restored(value: np.ndarray, ref) -> None:
    assert value.ndim == 1 and value.size > N_VAL, (
        f"expected {N_VAL} predictions and the val_loss list, got shape {value.shape}"
    )
    final = _mse(value[:N_VAL], _overfit_val_targets())
    best = float(value[N_VAL:].min())
    assert abs(final - best) < 1e-4 * max(1.0, best), (
        f"after training the model's validation loss is {final:.5f}, but the best epoch had {best:.5f}: "
        "pass restore_best_weights=True to EarlyStopping"
    )


def _early_stopping_fresh(value: np.ndarray, ref) -> None:
    mse = _mse(value, _fresh_targets())
    ref.at_most("early_stopping_fresh_mse", mse, factor=1.15)


def _two_epochs(value: np.ndarray, ref) -> None:
    assert value.ndim == 1 and len(value) == 2, (
        f"with max_epochs=2 exactly 2 epochs must run, got {value.size} val_loss values"
    )


CHECKS = {
    "test_l2_gradient_step": {
        **{f"l2_step_k3_{part}_{i}": _l2_k3(i, part) for i in range(len(L2_CASES)) for part in ("w", "b")},
        "l2_step_float64_w": _l2_float64("w"),
        "l2_step_float64_b": _l2_float64("b"),
        "l2_step_zero_rate_w": _l2_zero_rate("w"),
        "l2_step_zero_rate_b": _l2_zero_rate("b"),
    },
    "test_l1_tools": {
        **{f"l1_penalty_{i}": _l1_penalty(i) for i in range(len(L1_CASES))},
        **{f"count_small_{i}_{tol}": _count_small(i, tol) for i in range(len(L1_CASES)) for tol in TOLS},
        "count_small_negative": _count(2, "count_small([-5, -0.5, 0.05, -0.05], 0.1): large negative weights "
                                          "are not small"),
        "count_small_strict": _count(1, "count_small([0.1, -0.1, 0.0999], 0.1): the bound is strict (|w| < tol)"),
    },
    "test_train_linear": {
        "train_l2_b": _train_b("train_l2", 1e-3),
        "train_l2_w": _train_w("train_l2"),
        "train_l1_b": _train_b("train_l1", 0.02),
        "train_l1_w": _train_w("train_l1"),
        "train_l1_l2_b": _train_b("train_l1_l2", 0.02),
        "train_l1_l2_w": _train_w("train_l1_l2"),
    },
    "test_inverted_dropout": {
        **{f"dropout_{rate}_and_keras": _dropout_rate(rate) for rate in RATES},
        **{f"dropout_ones_{rate}": _dropout_ones(rate) for rate in RATES},
        "dropout_rate_zero": _equals_x("rate = 0 must drop nothing and scale nothing: return x unchanged"),
        "dropout_inference": _equals_x("at inference (training=False) inverted_dropout must return x unchanged"),
        "dropout_input_after_call": _equals_x("inverted_dropout must not modify x in place"),
        "dropout_seed_masks": _seed_masks,
        "dropout_1d": _dropout_1d,
    },
    "test_train_with_early_stopping": {
        "early_stopping_val_loss": _early_stopping_epochs,
        "early_stopping_restored": _early_stopping_restored,
        "early_stopping_fresh_predictions": _early_stopping_fresh,
        "early_stopping_two_epochs_val_loss": _two_epochs,
    },
}
