"""Hidden checks of banknote_apis, judged by the grader outside the student's kernel.

The hidden tests export what the student's code returned (difftf.export); these functions
judge it here. Trained models' probabilities are scored against labels the student's kernel
never had: the holdout's true labels (difftf.data.holdout_labels) and the fresh problem's,
regenerated from its seed. Margins and metric names are those of the notebook's in-kernel
fallback, which `course reference` measures (see autograder/checks.py). The standardiser's
answers are compared with statistics computed here, from the same kept rows the notebook
loads (difftf.load_banknote(part="kept")) and the unseen data regenerated from its seed;
the models' outputs on unseen inputs must be probabilities.
"""

from functools import cache

import numpy as np

from difftf.data import holdout_labels, load_banknote


def probabilities(value: np.ndarray, rows: int) -> np.ndarray:
    assert value.shape == (rows, 1), f"expected probabilities of shape ({rows}, 1), got {value.shape}"
    assert bool(np.all((value >= 0.0) & (value <= 1.0))), "outputs must be probabilities in [0, 1]"
    return value[:, 0]


def fresh_accuracy_train(value: np.ndarray, ref) -> None:
    rng = np.random.default_rng(2024)  # the hidden test's fresh problem, drawn in the same order
    w = np.array([1.0, -2.0, 0.5], dtype=np.float32)
    rng.normal(size=(512, 3))  # the training inputs
    x_new = rng.normal(size=(1000, 3)).astype(np.float32)
    y_new = x_new @ w > 0
    accuracy = float(np.mean((probabilities(value, 1000) > 0.5) == y_new))
    ref.at_least("fresh_accuracy_train", accuracy, margin=0.05, what="accuracy of train() on a fresh linear problem")


def holdout_accuracy(api: str):
    def check(value: np.ndarray, ref) -> None:
        labels = holdout_labels("banknote")
        accuracy = float(np.mean((probabilities(value, len(labels)) > 0.5) == (labels > 0.5)))
        ref.at_least(f"holdout_accuracy_{api}", accuracy, margin=0.03, what=f"holdout accuracy of the {api} model")
    return check


# Part 1: fit_standardiser and standardise.

@cache
def _banknote_kept() -> tuple[np.ndarray, np.ndarray]:
    """trainX and testX of the notebook: difftf.load_banknote(part="kept")."""
    train_x, _, test_x, _ = load_banknote(part="kept")
    return train_x, test_x


@cache
def _unseen() -> np.ndarray:
    """The hidden test's unseen data: 3 columns from default_rng(7), the middle one constant."""
    rng = np.random.default_rng(7)
    return np.column_stack([rng.normal(5.0, 3.0, 50), np.full(50, 2.5), rng.uniform(-1.0, 1.0, 50)]).astype(np.float32)


def standardise_given_stats(value: np.ndarray, ref) -> None:
    assert value.shape == (1, 2) and np.allclose(value, [[1.0, 1.5]]), (
        "standardise must use the mean and std it is given: ([3, 8] - [1, 2]) / [2, 4] = [[1, 1.5]], "
        f"got {value.tolist()}"
    )


def train_mean_std(value: np.ndarray, ref) -> None:
    train_x = _banknote_kept()[0]
    assert value.shape == (2, 4), f"expected mean and std of shape (4,) each, got {value.shape}"
    mu, sd = train_x.mean(axis=0), train_x.std(axis=0)
    assert np.allclose(value[0], mu, atol=1e-5) and np.allclose(value[1], sd, atol=1e-5), (
        f"mean and std must be the column means and standard deviations of trainX ({mu.round(4)} and "
        f"{sd.round(4)}), got {value[0].round(4)} and {value[1].round(4)}"
    )


def standardised_test_set(value: np.ndarray, ref) -> None:
    train_x, test_x = _banknote_kept()
    expected = (test_x - train_x.mean(axis=0)) / train_x.std(axis=0)
    assert value.shape == expected.shape, f"testXs must have the shape of testX, {expected.shape}, got {value.shape}"
    assert np.allclose(value, expected, atol=1e-5), "testXs must use the training statistics"


def unseen_mean(value: np.ndarray, ref) -> None:
    u = _unseen()
    assert value.shape == (3,) and np.allclose(value, u.mean(axis=0), atol=1e-5), (
        f"fit_standardiser on unseen data (3 columns): the mean must be {u.mean(axis=0).round(5)}, got {value}"
    )


def unseen_std(value: np.ndarray, ref) -> None:
    u = _unseen()
    assert value.shape == (3,), f"std needs one entry per column (shape (3,) here), got {value.shape}"
    assert value[1] == 1.0 and np.allclose(value[[0, 2]], u.std(axis=0)[[0, 2]], atol=1e-5), (
        f"a constant column gets std 1, got {value}"
    )


def unseen_standardised(value: np.ndarray, ref) -> None:
    assert value.shape == (50, 3), f"standardise must keep the shape of X, (50, 3) here, got {value.shape}"
    assert bool(np.all(np.isfinite(value))), "a constant column must not give inf or nan"
    assert np.allclose(value[:, 1], 0.0) and np.allclose(value[:, 0].std(), 1.0, atol=1e-4), (
        "standardised with its own statistics, a constant column must become 0 and the others get std 1, got "
        f"column stds {value.std(axis=0).round(4)}"
    )


def row_at_mean(value: np.ndarray, ref) -> None:
    assert value.size == 4 and np.allclose(value, 0.0, atol=1e-6), (
        f"a row at the training mean must map to 0 with the stored statistics, got {value}"
    )


# Parts 2-4: the untrained models' outputs on unseen inputs.

def unseen_probabilities(value: np.ndarray, ref) -> None:
    assert value.shape == (300, 1) and bool(np.all((value >= 0.0) & (value <= 1.0))), "outputs must be probabilities"


def unseen_probs_twice_subclassed(value: np.ndarray, ref) -> None:
    assert value.shape == (2, 300, 1), f"expected two outputs of shape (300, 1), got {value.shape}"
    p, again = value
    assert bool(np.all((p >= 0.0) & (p <= 1.0))), (
        f"outputs must be probabilities in [0, 1], got values from {p.min():.3g} to {p.max():.3g}: "
        "the output layer needs activation='sigmoid'"
    )
    assert np.array_equal(again, p), "calling the model twice must give the same output"


# Part 5a: train, the History and the optimizer.

def train_loss_history(value: np.ndarray, ref) -> None:
    assert value.ndim == 1 and len(value) == 8, "epochs must be passed to fit"
    assert value[-1] < value[0], "the loss must decrease during training"


def train_learning_rate(value: np.ndarray, ref) -> None:
    assert value.size == 1 and abs(float(value.reshape(-1)[0]) - 0.01) < 1e-6, (
        "the learning_rate argument must reach Adam"
    )


CHECKS = {
    "test_standardiser": {
        "standardise_given_stats": standardise_given_stats,
        "train_mean_std": train_mean_std,
        "test_standardised": standardised_test_set,
        "unseen_mean": unseen_mean,
        "unseen_std": unseen_std,
        "unseen_standardised": unseen_standardised,
        "row_at_mean": row_at_mean,
    },
    "test_build_sequential": {"unseen_probs_sequential": unseen_probabilities},
    "test_build_functional": {"unseen_probs_functional": unseen_probabilities},
    "test_build_subclassed": {"unseen_probs_twice_subclassed": unseen_probs_twice_subclassed},
    "test_train": {
        "fresh_probs_train": fresh_accuracy_train,
        "train_loss_history": train_loss_history,
        "train_learning_rate": train_learning_rate,
    },
    "test_trained_models": {f"holdout_probs_{api}": holdout_accuracy(api)
                            for api in ("sequential", "functional", "subclassed")},
}
