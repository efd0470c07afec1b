"""Hidden checks of banknote_apis, judged by the grader outside the student's kernel.

The hidden tests export the models' probabilities (difftf.export); these functions
score them against labels the student's kernel never had: the holdout's true labels
(difftf.data.holdout_labels) and the fresh problem's, regenerated from its seed.
Margins and metric names are those of the notebook's in-kernel fallback, which
`course reference` measures (see autograder/checks.py).
"""

import numpy as np

from difftf.data import holdout_labels


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


CHECKS = {
    "test_train": {"fresh_probs_train": fresh_accuracy_train},
    "test_trained_models": {f"holdout_probs_{api}": holdout_accuracy(api)
                            for api in ("sequential", "functional", "subclassed")},
}
