"""Hidden checks of housing_proximity, judged by the grader outside the student's kernel.

Under `course grade` the kernel sees the holdout's features only (its ocean_proximity
column is masked); the hidden test exports the trained model's class probabilities
and the accuracy is computed here against the true labels (see autograder/checks.py).
"""

import numpy as np

from difftf.data import holdout_labels

CLASSES = ["<1H OCEAN", "INLAND", "ISLAND", "NEAR BAY", "NEAR OCEAN"]  # prep["classes"]: sorted names


def holdout_accuracy(value: np.ndarray, ref) -> None:
    names = holdout_labels("housing")
    assert value.shape == (len(names), len(CLASSES)), (
        f"expected probabilities of shape ({len(names)}, {len(CLASSES)}), got {value.shape}")
    truth = np.array([CLASSES.index(name) for name in names])
    accuracy = float(np.mean(np.argmax(value, axis=1) == truth))
    ref.at_least("holdout_accuracy", accuracy, margin=0.03, what="accuracy on the holdout rows")


CHECKS = {"test_model": {"holdout_probs": holdout_accuracy}}
