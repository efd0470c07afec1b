"""The dataset loader: mirror, cache, download, and every way a file can be bad."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from difftf import data
from difftf.data import DatasetError, DatasetSpec
from tests.conftest import real_mirror

CONTENT = b"1.0,2.0,3.0,4.0,0\n" * 50 + b"5.0,6.0,7.0,8.0,1\n" * 50


def spec_for(content: bytes, url: str = "http://127.0.0.1:9/toy.csv") -> dict[str, DatasetSpec]:
    """A one-entry manifest for a toy file (port 9 on loopback refuses connections: offline)."""
    digest = hashlib.sha256(content).hexdigest()
    return {"toy": DatasetSpec("toy", url, "toy.csv", digest, "CC0", "test")}


def write_mirror(root: Path, content: bytes) -> Path:
    path = root / "toy" / "toy.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    return root


def test_good_mirror_is_copied_and_verified(tmp_path, isolated_cache, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(write_mirror(tmp_path / "mirror", CONTENT)))
    path = data.fetch("toy", manifest=spec_for(CONTENT))
    assert path == isolated_cache / "toy" / "toy.csv"
    assert path.read_bytes() == CONTENT


def test_corrupted_mirror_file_raises_and_leaves_no_copy(tmp_path, isolated_cache, monkeypatch):
    bad = CONTENT.replace(b"5.0", b"9.9")
    mirror = write_mirror(tmp_path / "mirror", bad)
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(mirror))
    manifest = spec_for(CONTENT)
    with pytest.raises(DatasetError) as err:
        data.fetch("toy", manifest=manifest)
    message = str(err.value)
    assert manifest["toy"].url in message
    assert manifest["toy"].sha256 in message
    assert hashlib.sha256(bad).hexdigest() in message
    assert not (isolated_cache / "toy" / "toy.csv").exists()
    assert (mirror / "toy" / "toy.csv").read_bytes() == bad, "the mirror is never modified"


def test_truncated_file_is_rejected(tmp_path, isolated_cache, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(write_mirror(tmp_path / "mirror", CONTENT[: len(CONTENT) // 2])))
    with pytest.raises(DatasetError, match="failed its checksum"):
        data.fetch("toy", manifest=spec_for(CONTENT))


def test_missing_mirror_offline_says_where_to_put_the_file(tmp_path, isolated_cache, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(tmp_path / "empty-mirror"))
    with pytest.raises(DatasetError) as err:
        data.fetch("toy", manifest=spec_for(CONTENT))
    message = str(err.value)
    assert "Could not download toy" in message
    assert str(isolated_cache / "toy" / "toy.csv") in message
    assert "COURSE_DATA_MIRROR" in message and "toy/toy.csv" in message


def test_no_mirror_variable_offline(isolated_cache, monkeypatch):
    monkeypatch.delenv("COURSE_DATA_MIRROR", raising=False)
    with pytest.raises(DatasetError, match="COURSE_DATA_MIRROR is not set"):
        data.fetch("toy", manifest=spec_for(CONTENT))


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[str]:
    """A loopback HTTP server serving tmp_path/www (the real download code path, offline)."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_download_verifies_and_caches(tmp_path, http_server, isolated_cache, monkeypatch):
    monkeypatch.delenv("COURSE_DATA_MIRROR", raising=False)
    (tmp_path / "www" / "toy.csv").write_bytes(CONTENT)
    manifest = spec_for(CONTENT, url=f"{http_server}/toy.csv")
    path = data.fetch("toy", manifest=manifest)
    assert path.read_bytes() == CONTENT
    (tmp_path / "www" / "toy.csv").unlink()  # the cached copy is used from now on
    assert data.fetch("toy", manifest=manifest).read_bytes() == CONTENT


def test_corrupted_download_is_deleted(tmp_path, http_server, isolated_cache, monkeypatch):
    monkeypatch.delenv("COURSE_DATA_MIRROR", raising=False)
    (tmp_path / "www" / "toy.csv").write_bytes(CONTENT[:-7])
    with pytest.raises(DatasetError, match="failed its checksum"):
        data.fetch("toy", manifest=spec_for(CONTENT, url=f"{http_server}/toy.csv"))
    assert not any(isolated_cache.rglob("*toy.csv*")), "no partial or bad file is left behind"


def test_corrupted_cache_is_replaced_by_a_fresh_download(tmp_path, http_server, isolated_cache, monkeypatch):
    monkeypatch.delenv("COURSE_DATA_MIRROR", raising=False)
    (tmp_path / "www" / "toy.csv").write_bytes(CONTENT)
    cached = isolated_cache / "toy" / "toy.csv"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"garbage")
    path = data.fetch("toy", manifest=spec_for(CONTENT, url=f"{http_server}/toy.csv"))
    assert path.read_bytes() == CONTENT


def test_unknown_dataset_names_the_known_ones():
    with pytest.raises(DatasetError, match="banknote"):
        data.fetch("no-such-dataset")


def test_manifest_lists_url_hash_licence_and_citation():
    manifest = data.load_manifest()
    assert set(manifest) >= {"banknote", "housing"}
    for spec in manifest.values():
        assert spec.url.startswith("https://")
        assert len(spec.sha256) == 64
        assert spec.licence and spec.citation


def test_stratified_split_keeps_class_shares():
    labels = np.array([0] * 762 + [1] * 610)
    train, test = data.stratified_split(labels, 0.2, seed=1)
    assert len(set(train) | set(test)) == len(labels) and not set(train) & set(test)
    assert (labels[test] == 0).sum() == 152 and (labels[test] == 1).sum() == 122
    again, _ = data.stratified_split(labels, 0.2, seed=1)
    assert np.array_equal(train, again), "the split is seeded"


needs_mirror = pytest.mark.skipif(
    real_mirror() is None, reason="no offline mirror of the real datasets (set COURSE_DATA_MIRROR)"
)


@needs_mirror
def test_banknote_matches_the_published_dataset(isolated_cache):
    train_x, train_y, test_x, test_y = data.load_banknote()
    assert train_x.dtype == np.float32 and test_y.dtype == np.float32
    assert train_x.shape == (1098, 4) and test_x.shape == (274, 4)
    assert train_y.shape == (1098,) and test_y.shape == (274,)
    assert int(train_y.sum() + test_y.sum()) == 610
    assert int(test_y.sum()) == 122


@needs_mirror
def test_housing_has_ocean_proximity(isolated_cache):
    frame = data.load_housing()
    assert frame.shape == (20640, 10)
    assert int(frame["total_bedrooms"].isna().sum()) == 207
    counts = frame["ocean_proximity"].value_counts().to_dict()
    assert counts == {"<1H OCEAN": 9136, "INLAND": 6551, "NEAR OCEAN": 2658, "NEAR BAY": 2290, "ISLAND": 5}


def test_holdouts_are_disjoint_stratified_and_hidden_from_the_kept_part():
    """Hidden tests score on rows a student never loads; both parts keep the class shares."""
    pytest.importorskip("pandas")
    if real_mirror() is None:
        pytest.skip("needs the real datasets: set COURSE_DATA_MIRROR (see ../shared/datasets/README.md)")
    from difftf.data import HOLDOUT_FRACTION, holdout_split, load_banknote, load_banknote_holdout, load_housing

    raw = np.loadtxt(data.fetch("banknote"), delimiter=",", dtype=np.float32)
    kept, held = holdout_split(raw[:, 4])
    assert sorted(np.concatenate([kept, held]).tolist()) == list(range(1372)), "the parts are disjoint and complete"
    kept_train, _, kept_test, _ = load_banknote(part="kept")
    hold_x, hold_y = load_banknote_holdout()
    assert np.array_equal(hold_x, raw[held, :4]) and np.array_equal(hold_y, raw[held, 4])

    def rows(x: np.ndarray) -> list[tuple[float, ...]]:
        return sorted(map(tuple, x.tolist()))

    assert rows(np.concatenate([kept_train, kept_test])) == rows(raw[kept, :4]), "students load only kept rows"
    assert abs(len(hold_x) / 1372 - HOLDOUT_FRACTION) < 0.01 and abs(hold_y.mean() - 610 / 1372) < 0.01

    full, kept, held = load_housing(), load_housing(part="kept"), load_housing(part="holdout")
    assert len(kept) + len(held) == len(full) and not set(kept.index) & set(held.index)
    share = held["ocean_proximity"].value_counts(normalize=True)
    expected = full["ocean_proximity"].value_counts(normalize=True)
    assert (share - expected).abs().max() < 0.01
    with pytest.raises(ValueError, match="part must be"):
        load_housing(part="test")


@needs_mirror
def test_the_grading_view_holds_kept_rows_and_unlabelled_holdout_features(tmp_path, monkeypatch):
    """What a graded kernel loads (course grade sets DIFFTF_GRADING_DATA): the same kept data, no holdout labels."""
    import pandas as pd

    before = (data.load_banknote(part="kept"), data.load_banknote_holdout(), data.load_housing(part="kept"),
              data.load_housing(part="holdout"))
    labels = data.holdout_labels("banknote"), data.holdout_labels("housing")
    assert np.array_equal(labels[0], before[1][1])
    assert labels[1].tolist() == before[3]["ocean_proximity"].astype(str).tolist()
    with pytest.raises(ValueError, match="no holdout"):
        data.holdout_labels("mnist")
    data.write_grading_view(tmp_path)
    monkeypatch.setenv(data.GRADING_DATA_ENV, str(tmp_path))
    assert all(np.array_equal(a, b) for a, b in zip(data.load_banknote(part="kept"), before[0], strict=True))
    hold_x, hold_y = data.load_banknote_holdout()
    assert np.array_equal(hold_x, before[1][0]) and hold_y is None
    pd.testing.assert_frame_equal(data.load_housing(part="kept"), before[2])
    masked = data.load_housing(part="holdout")
    pd.testing.assert_frame_equal(masked.drop(columns="ocean_proximity"), before[3].drop(columns="ocean_proximity"))
    assert set(masked["ocean_proximity"]) == {data.MASKED_CLASS}
    for refused in (lambda: data.holdout_labels("banknote"), lambda: data.load_banknote(part="all"),
                    lambda: data.load_housing()):
        with pytest.raises(data.GradingDataError, match="course grade"):
            refused()
