"""Hidden checks of housing_proximity, judged by the grader outside the student's kernel.

Under `course grade` the kernel sees the holdout's features only (its ocean_proximity
column is masked); the hidden test exports the trained model's class probabilities
and the accuracy is computed here against the true labels (see autograder/checks.py).

The other hidden tests export what the student's functions returned. Where the inputs are
rows of the kept frame chosen by the student's own split (val_frame), the export carries the
rows' index labels or which rows of frame a part holds, and the inputs are reloaded here from
difftf.load_housing(part="kept") (whose labels are not masked); where the expected numbers
depend on the student's prep (Part 1), the export carries prep's numbers with the answer and
the check compares the two. The random inputs are regenerated here from the tests' seeds.
No check here uses a label derived in the kernel from the holdout.
"""

from functools import cache

import numpy as np

from difftf.data import holdout_labels, load_housing

CLASSES = ["<1H OCEAN", "INLAND", "ISLAND", "NEAR BAY", "NEAR OCEAN"]  # prep["classes"]: sorted names


def holdout_accuracy(value: np.ndarray, ref) -> None:
    names = holdout_labels("housing")
    assert value.shape == (len(names), len(CLASSES)), (
        f"expected probabilities of shape ({len(names)}, {len(CLASSES)}), got {value.shape}")
    truth = np.array([CLASSES.index(name) for name in names])
    accuracy = float(np.mean(np.argmax(value, axis=1) == truth))
    ref.at_least("holdout_accuracy", accuracy, margin=0.03, what="accuracy on the holdout rows")


FEATURES = [
    "longitude", "latitude", "housing_median_age", "total_rooms", "total_bedrooms",
    "population", "households", "median_income", "median_house_value",
]
LABEL = "ocean_proximity"
BED = FEATURES.index("total_bedrooms")


@cache
def _kept():
    """The notebook's frame: difftf.load_housing(part="kept"), with its true labels."""
    return load_housing(part="kept")


# Part 1: split_frame and fit_preprocessing.

def small_prep_numbers(value: np.ndarray, ref) -> None:
    assert value.shape == (3,), f"expected fill_bedrooms, mean[0] and std[0], got shape {value.shape}"
    fill, mean0, std0 = (float(v) for v in value)
    assert fill == 10.0, (
        f"fill_bedrooms of total_bedrooms [10, nan, 30, 2, nan] must be their median 10 (skipping nan), got {fill}"
    )
    assert np.allclose(mean0, 3.0) and np.allclose(std0, np.std([1.0, 2.0, 3.0, 4.0, 5.0]), rtol=0.2), (
        f"for a column [1, 2, 3, 4, 5] mean must be 3 and std about {np.std([1.0, 2.0, 3.0, 4.0, 5.0]):.4f}, "
        f"got {mean0} and {std0}"
    )


def split_seed7_val_rows(value: np.ndarray, ref) -> None:
    frame = _kept()
    assert value.shape == (3, len(frame)), f"expected 3 row masks of length {len(frame)}, got {value.shape}"
    va7, va7b, val = value.astype(bool)
    assert np.array_equal(va7, va7b), "the same seed must give the same split"
    assert not np.array_equal(va7, val), "another seed must give another split"
    labels = frame[LABEL].to_numpy()
    for name, count in frame[LABEL].value_counts().items():
        n_val = int(va7[labels == name].sum())
        assert abs(n_val - 0.2 * count) <= 1, f"{name}: {n_val} of {count} rows in val_frame, not stratified"


def split_half(value: np.ndarray, ref) -> None:
    frame = _kept()
    n = len(frame)
    assert value.shape == (2 + 2 * n,), f"expected 2 sizes and 2 row masks of length {n}, got {value.shape}"
    n_train, n_val = int(value[0]), int(value[1])
    assert abs(n_val - 0.5 * n) <= 5 and n_train + n_val == n, (
        f"split_frame(frame, 3, val_fraction=0.5) must put about {0.5 * n:.0f} of {n} rows in val_frame "
        f"and the rest in train_frame, got {n_train} + {n_val} rows"
    )
    labels = frame[LABEL].to_numpy()
    classes = set(labels)
    for part, mask in (("train_frame", value[2:2 + n]), ("val_frame", value[2 + n:])):
        missing = sorted(classes - set(labels[mask.astype(bool)]))
        assert not missing, f"with val_fraction=0.5 every class must be in {part} too, {missing} is not"


# Part 2: transform.

def hand_prep_rows(value: np.ndarray, ref) -> None:
    n_features = len(FEATURES)
    assert value.shape == (6, 1 + n_features + 1), (
        f"expected X of shape (6, {n_features}) and y of shape (6,) for 6 rows, got {value.shape[1] - 1} columns in all"
    )
    rows = _kept().loc[value[:, 0].astype(np.int64)].copy()
    rows.iloc[0, rows.columns.get_loc("total_bedrooms")] = np.nan
    x, y = value[:, 1:1 + n_features], value[:, -1]
    expected = (rows[FEATURES].fillna({"total_bedrooms": 500.0}).to_numpy() - np.arange(n_features)) / 2.0
    assert np.allclose(x, expected, rtol=1e-6, atol=1e-6), "transform must use prep's statistics"
    assert x[0, BED] == (500.0 - BED) / 2.0, "a missing total_bedrooms is filled with prep['fill_bedrooms']"
    expected_y = [CLASSES.index(name) for name in rows[LABEL]]
    assert y.tolist() == expected_y, (
        f"y must be the positions of the rows' classes in prep['classes'], {expected_y}, got {y.tolist()}"
    )


def single_row(i: int):
    def check(value: np.ndarray, ref) -> None:
        n_features = len(FEATURES)
        assert value.shape == (2 * n_features + 2,), f"row {i} alone: expected {n_features} features, got {value.shape}"
        alone, whole = value[:n_features], value[n_features:2 * n_features]
        assert np.allclose(alone, whole, atol=1e-5), f"row {i} alone"
        assert value[-2] == value[-1], f"row {i} alone: class id {value[-2]:g}, but {value[-1]:g} in y_val"
    return check


def shifted_longitude(value: np.ndarray, ref) -> None:
    n_features = len(FEATURES)
    assert value.shape == (1 + 2 * 50 * n_features,), (
        f"expected X of shape (50, {n_features}) for 50 rows, got {(value.size - 1) // 2} numbers"
    )
    std0 = value[0]
    shifted = value[1:1 + 50 * n_features].reshape(50, n_features)
    x_val = value[1 + 50 * n_features:].reshape(50, n_features)
    assert np.allclose(shifted[:, 0] - x_val[:, 0], 1.0 / std0, atol=1e-4), "shifted longitude"
    assert np.allclose(shifted[:, 1:], x_val[:, 1:], atol=1e-5), (
        "only longitude was shifted: the other columns must stay as in X_val"
    )


def missing_bedrooms(value: np.ndarray, ref) -> None:
    assert value.shape == (3 + 5,), f"expected X of 5 rows, got {value.size - 3} values of total_bedrooms"
    fill, mean, std = value[:3]
    filled_value = (fill - mean) / std
    assert np.allclose(value[3:], filled_value, atol=1e-5), "missing values: the training median"


@cache
def _holdout_rows() -> int:
    return len(load_housing(part="holdout"))


def holdout_x(value: np.ndarray, ref) -> None:
    shape = (_holdout_rows(), len(FEATURES))
    assert value.shape == shape, f"transform of the holdout must give X of shape {shape}, got {value.shape}"
    assert not np.isnan(value).any(), (
        "transform of the holdout gives nan: fill its missing total_bedrooms with prep['fill_bedrooms']"
    )


# Part 3: build_classifier on other sizes.

def fresh_classifier_probs(value: np.ndarray, ref) -> None:
    assert value.shape == (7, 3) and np.all(value >= 0) and np.allclose(value.sum(axis=1), 1.0, atol=2e-3), (
        f"build_classifier(4, 3) on 7 rows must give probabilities of shape (7, 3) (rows summing to 1), got {value}"
    )


# Part 4: confusion_matrix and per_class_recall.

def _confusion(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    """Rows = true, columns = predicted, as tf.math.confusion_matrix."""
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


CM_CASES = [(200, 5), (57, 3), (1, 4)]


@cache
def _cm_random() -> dict[tuple[int, int], np.ndarray]:
    rng = np.random.default_rng(2021)
    expected = {}
    for n, k in CM_CASES:
        t = rng.integers(0, k, size=n)
        p = rng.integers(0, k, size=n)
        expected[n, k] = _confusion(t, p, k)
    return expected


def cm_random(n: int, k: int):
    def check(value: np.ndarray, ref) -> None:
        theirs = _cm_random()[n, k]
        assert value.shape == theirs.shape and np.array_equal(value, theirs), (
            f"differs from tf.math.confusion_matrix:\n{value}\nvs\n{theirs}"
        )
    return check


def cm_one_mistake(value: np.ndarray, ref) -> None:
    assert value.tolist() == [[0, 0, 1], [0, 0, 0], [0, 0, 0]], (
        f"one mistake, true 0 predicted as 2, goes to row 0, column 2: expected [[0, 0, 1], [0, 0, 0], [0, 0, 0]], "
        f"got {value.tolist()}"
    )


def cm_absent_classes(value: np.ndarray, ref) -> None:
    assert (value.shape == (5, 5) and value[1, 3] == 1 and value[3, 1] == 2 and value[1, 1] == 1
            and int(value.sum()) == 4), (
        f"true [1, 1, 3, 3] and predicted [3, 1, 1, 1] with n_classes=5 give ones at [1, 3] and [1, 1] and 2 at "
        f"[3, 1], got\n{value}"
    )


def cm_val_sized(value: np.ndarray, ref) -> None:
    assert value.ndim == 1 and value.size >= 1, f"expected the labels and the matrix, got shape {value.shape}"
    n = int(value[0])
    assert value.size == 1 + n + 25, f"with n_classes=5 the matrix has 25 entries, got {value.size - 1 - n}"
    y_val = value[1:1 + n].astype(np.int64)
    assert np.all((y_val >= 0) & (y_val < 5)), "y_val must hold class ids 0 to 4"
    pred = (y_val + (np.arange(n) % 3 == 0)) % 5
    theirs = _confusion(y_val, pred, 5)
    mine = value[1 + n:].reshape(5, 5)
    assert np.array_equal(mine, theirs), (
        f"differs from tf.math.confusion_matrix:\n{mine.astype(np.int64)}\nvs\n{theirs}"
    )


def recall_empty_row(value: np.ndarray, ref) -> None:
    assert value.shape == (3,) and np.all(np.isfinite(value)), f"an empty row must give recall 0.0, got {value}"
    assert np.allclose(value, [5 / 6, 0.0, 0.5]), (
        f"for [[5, 1, 0], [0, 0, 0], [2, 0, 2]] the recalls are [5/6, 0, 0.5], got {value}"
    )


def recall_random(value: np.ndarray, ref) -> None:
    m = np.random.default_rng(7).integers(1, 20, size=(5, 5))
    expected = np.diag(m) / m.sum(axis=1)
    assert value.shape == (5,) and np.allclose(value, expected), (
        f"recall of class i is cm[i, i] / cm[i].sum(): expected {expected.round(4)} for a random 5 x 5 matrix, "
        f"got {value}"
    )


CHECKS = {
    "test_part1": {
        "small_prep_numbers": small_prep_numbers,
        "split_seed7_val_rows": split_seed7_val_rows,
        "split_half": split_half,
    },
    "test_transform": {
        "hand_prep_rows": hand_prep_rows,
        **{f"single_row_{i}": single_row(i) for i in (0, 3, 17)},
        "shifted_longitude": shifted_longitude,
        "missing_bedrooms": missing_bedrooms,
        "holdout_X": holdout_x,
    },
    "test_model": {"holdout_probs": holdout_accuracy, "fresh_classifier_probs": fresh_classifier_probs},
    "test_confusion_matrix": {
        **{f"cm_random_{n}_{k}": cm_random(n, k) for n, k in CM_CASES},
        "cm_one_mistake": cm_one_mistake,
        "cm_absent_classes": cm_absent_classes,
        "cm_val_sized": cm_val_sized,
    },
    "test_per_class_recall": {"recall_empty_row": recall_empty_row, "recall_random": recall_random},
}
