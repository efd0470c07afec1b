"""The course's datasets: find a verified local copy, or download one.

Every notebook loads its data through this module so that a student, a grader and CI
all read the same bytes. The lookup order is

1. ``$COURSE_DATA_MIRROR/<name>/<file>``: an offline mirror an instructor or CI names;
2. the cache (``$COURSE_DATA_CACHE`` or ``datasets/cache/`` in the repository);
3. a download from the original URL in ``datasets/manifest.toml``.

The sha256 from the manifest is checked after every copy or download, because a
truncated download or a silently edited mirror would otherwise change every grade.
A file that fails the check is deleted from the cache (never from the mirror, which
is not ours) and the error names the URL and both hashes.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import shutil
import tarfile
import tempfile
import tomllib
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
MANIFEST_PATH = REPO_ROOT / "datasets" / "manifest.toml"
GRADING_DATA_ENV = "DIFFTF_GRADING_DATA"  # set by `course grade`: the kernel's only data (see grading_view)
MIRROR_ENV = "COURSE_DATA_MIRROR"
CACHE_ENV = "COURSE_DATA_CACHE"
DOWNLOAD_TIMEOUT_S = 60


class DatasetError(RuntimeError):
    """A dataset could not be found, fetched or verified; the message says how to fix it."""


@dataclass(frozen=True)
class DatasetSpec:
    """One manifest entry: where a file comes from and how to recognise it."""

    name: str
    url: str
    file: str
    sha256: str
    licence: str
    citation: str
    title: str = ""
    description: str = ""
    member: str | None = None


def load_manifest(path: Path = MANIFEST_PATH) -> dict[str, DatasetSpec]:
    """Read the manifest; a missing or malformed one is a clear error, not a KeyError later."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(
            f"Dataset manifest {path} is missing: run from a checkout of the course "
            "repository (pip install -e .)."
        ) from None
    specs = {}
    for name, entry in raw.items():
        try:
            specs[name] = DatasetSpec(name=name, **entry)
        except TypeError as exc:
            raise DatasetError(f"{path}: entry [{name}] is malformed: {exc}") from None
    return specs


def sha256_of(path: Path) -> str:
    """Hash a file in chunks so large archives do not need to fit in memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cache_dir() -> Path:
    """Where verified copies live: ``$COURSE_DATA_CACHE`` or the repository's git-ignored cache."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else REPO_ROOT / "datasets" / "cache"


def _verify(path: Path, spec: DatasetSpec, origin: str) -> None:
    """Delete ``path`` and raise when its hash is not the manifest's."""
    actual = sha256_of(path)
    if actual != spec.sha256:
        path.unlink(missing_ok=True)
        raise DatasetError(
            f"{spec.name}/{spec.file} from {origin} failed its checksum and was deleted.\n"
            f"  URL:      {spec.url}\n  expected: {spec.sha256}\n  actual:   {actual}\n"
            "The file is corrupted or truncated: replace it with a fresh copy from the URL."
        )


def _install(source: Path | None, url: str | None, dest: Path, spec: DatasetSpec) -> None:
    """Copy or download into a temporary file beside ``dest``, verify, then rename.

    Renaming only after the check means a crash or a bad file never leaves a
    half-written file in the cache that a later run would trust.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.file}.", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            if source is not None:
                with open(source, "rb") as src:
                    shutil.copyfileobj(src, out)
            else:
                assert url is not None
                with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
                    shutil.copyfileobj(response, out)
        _verify(tmp, spec, origin=str(source) if source is not None else url or "?")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def fetch(name: str, *, manifest: dict[str, DatasetSpec] | None = None) -> Path:
    """Return the path of a verified local copy of dataset ``name``'s file."""
    specs = manifest if manifest is not None else load_manifest()
    if name not in specs:
        raise DatasetError(f"Unknown dataset {name!r}; the manifest lists {sorted(specs)}.")
    spec = specs[name]
    dest = cache_dir() / spec.name / spec.file

    mirror = os.environ.get(MIRROR_ENV)
    if mirror:
        candidate = Path(mirror).expanduser() / spec.name / spec.file
        if candidate.is_file():
            _install(candidate, None, dest, spec)
            return dest

    if dest.is_file():
        try:
            _verify(dest, spec, origin=str(dest))
            return dest
        except DatasetError:
            pass  # deleted: fall through to a fresh download

    try:
        _install(None, spec.url, dest, spec)
    except OSError as exc:  # URLError, refused connections and timeouts are all OSErrors
        where = f"{MIRROR_ENV}={mirror} (looked for {spec.name}/{spec.file})" if mirror else f"{MIRROR_ENV} is not set"
        raise DatasetError(
            f"Could not download {spec.name} from {spec.url}: {exc}.\n"
            f"Offline? Place {spec.file} (sha256 {spec.sha256}) at {dest},\n"
            f"or set {MIRROR_ENV} to a folder that holds {spec.name}/{spec.file} ({where})."
        ) from exc
    return dest


def stratified_split(
    labels: np.ndarray, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a seeded split that keeps each class's share in both parts."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        n_test = round(len(idx) * test_fraction)
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


HOLDOUT_FRACTION = 0.15  # share of a dataset that graded assignments keep back for hidden tests
HOLDOUT_SEED = 2019  # fixed, and different from the students' split seed


def holdout_split(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, held_out) of the stratified holdout that hidden tests score models on.

    Assignments train on ``kept`` only, so a model is graded on rows its student never
    loaded: the released notebook cannot overfit them or copy their labels.
    """
    return stratified_split(labels, HOLDOUT_FRACTION, HOLDOUT_SEED)


MASKED_CLASS = "<1H OCEAN"  # what a graded kernel sees in the holdout's ocean_proximity column


class GradingDataError(DatasetError):
    """A graded kernel asked for data that stays with the grader (all rows, holdout labels)."""


def grading_view() -> Path | None:
    """The folder of data a graded kernel may load, when ``course grade`` runs it; else None.

    While grading, the kernel cannot read the dataset files (the sandbox hides the
    mirror and the cache): those hold the holdout's labels, which only the grader's
    hidden checks may use. It gets the kept rows and the holdout's features instead,
    written by :func:`write_grading_view`.
    """
    folder = os.environ.get(GRADING_DATA_ENV)
    return Path(folder) if folder else None


def write_grading_view(folder: Path) -> list[Path]:
    """Write what a graded kernel may load: kept rows, and the holdout without its labels."""
    folder.mkdir(parents=True, exist_ok=True)
    features, labels = _banknote_arrays()
    kept, held_out = holdout_split(labels)
    np.savez(folder / "banknote.npz", kept_features=features[kept], kept_labels=labels[kept],
             holdout_features=features[held_out])
    frame = _housing_frame()
    kept, held_out = holdout_split(frame["ocean_proximity"].astype(str).to_numpy())
    frame.iloc[np.sort(kept)].to_csv(folder / "housing_kept.csv")
    masked = frame.iloc[np.sort(held_out)].copy()
    masked["ocean_proximity"] = MASKED_CLASS
    masked.to_csv(folder / "housing_holdout.csv")
    return [folder / "banknote.npz", folder / "housing_kept.csv", folder / "housing_holdout.csv"]


def _refuse_while_grading(what: str) -> None:
    if grading_view() is not None:
        raise GradingDataError(
            f"{what} is not available while `course grade` runs: graded notebooks load part='kept' "
            "(and hidden tests the holdout's features); the holdout's labels stay with the grader."
        )


def holdout_labels(name: str) -> np.ndarray:
    """The true labels of a dataset's holdout, for the grader's hidden checks (never a graded kernel).

    banknote: float32 0/1 per note; housing: ``ocean_proximity`` names, in the holdout's row order.
    """
    _refuse_while_grading(f"the labels of the {name} holdout")
    return _holdout_labels(name).copy()


@functools.lru_cache(maxsize=4)
def _holdout_labels(name: str) -> np.ndarray:
    """Read once per grading process: every submission's checks ask again."""
    if name == "banknote":
        return load_banknote_holdout()[1]
    if name == "housing":
        return load_housing(part="holdout")["ocean_proximity"].astype(str).to_numpy()
    raise ValueError(f"no holdout for {name!r}: banknote or housing")


def _banknote_arrays() -> tuple[np.ndarray, np.ndarray]:
    data = np.loadtxt(fetch("banknote"), delimiter=",", dtype=np.float64)
    return data[:, :4].astype(np.float32), data[:, 4].astype(np.float32)


def load_banknote(
    test_fraction: float = 0.2, seed: int = 42, *, part: str = "all"
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The slides' ``loadBanknotedata()``: trainX, trainY, testX, testY as float32.

    X has the four wavelet features; Y is 1.0 for a forged note. The split is
    stratified and seeded, so every student sees the same train and test sets.
    Assignments pass ``part="kept"``: the split is then made from the rows outside
    the graders' holdout (see ``load_banknote_holdout``).
    """
    if part not in ("all", "kept"):
        raise ValueError(f"part must be 'all' or 'kept' (the holdout has its own loader), got {part!r}")
    view = grading_view()
    if view is not None and part == "kept":
        with np.load(view / "banknote.npz", allow_pickle=False) as data:
            features, labels = data["kept_features"], data["kept_labels"]
        train, test = stratified_split(labels, test_fraction, seed)
        return features[train], labels[train], features[test], labels[test]
    _refuse_while_grading("load_banknote(part='all')")
    features, labels = _banknote_arrays()
    if part == "kept":
        kept, _ = holdout_split(labels)
        features, labels = features[kept], labels[kept]
    train, test = stratified_split(labels, test_fraction, seed)
    return features[train], labels[train], features[test], labels[test]


def load_banknote_holdout() -> tuple[np.ndarray, np.ndarray | None]:
    """The banknote rows hidden tests score models on (X float32 (n, 4), y float32 (n,)).

    While ``course grade`` runs, y is None: the labels stay with the grader, whose
    hidden checks score the exported predictions (see ``holdout_labels``).
    """
    view = grading_view()
    if view is not None:
        with np.load(view / "banknote.npz", allow_pickle=False) as data:
            return data["holdout_features"], None
    features, labels = _banknote_arrays()
    _, held_out = holdout_split(labels)
    return features[held_out], labels[held_out]


def load_housing(*, part: str = "all"):  # -> pandas.DataFrame (pandas is imported lazily: it is slow)
    """California housing as a DataFrame, with the categorical ``ocean_proximity`` column.

    ``part="all"`` is the whole file (lectures). Assignments load ``part="kept"`` and
    hidden tests score on ``part="holdout"``: a stratified split by ``ocean_proximity``
    that students never load. Either part keeps the file's row labels as its index.
    """
    if part not in ("all", "kept", "holdout"):
        raise ValueError(f"part must be 'all', 'kept' or 'holdout', got {part!r}")
    view = grading_view()
    if view is not None and part != "all":
        import pandas as pd

        # While grading, the holdout's ocean_proximity is MASKED_CLASS: the true labels stay with the grader.
        return pd.read_csv(view / f"housing_{part}.csv", index_col=0)
    _refuse_while_grading("load_housing(part='all')")
    frame = _housing_frame()
    if part == "all":
        return frame
    kept, held_out = holdout_split(frame["ocean_proximity"].astype(str).to_numpy())
    return frame.iloc[np.sort(kept if part == "kept" else held_out)]


def _housing_frame():
    import pandas as pd

    spec = load_manifest()["housing"]
    with tarfile.open(fetch("housing"), "r:gz") as archive:
        member = archive.extractfile(spec.member or "housing.csv")
        if member is None:
            raise DatasetError(f"{spec.file} has no {spec.member}: the archive is not the expected one.")
        return pd.read_csv(io.BytesIO(member.read()))
