"""Every CNN task gives the same model and the same labels with 1 and 2 threads (the caller's
PyTorch thread count and ``num_threads``), for the same seed."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from genomap_fast.datasets import synthetic_counts  # noqa: E402


@pytest.fixture(scope="module")
def cells():
    # 28x28 genomaps in batches of 64: large enough that PyTorch splits its reductions between
    # threads (smaller problems ran on one thread anyway and could not show the difference)
    X, y = synthetic_counts(n_cells=192, n_genes=784, n_types=4, seed=5, dtype=np.float64)
    return X, y


def at_threads(n, fn):
    """fn() with the caller's PyTorch thread count set to n (restored afterwards)."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        return fn(n)
    finally:
        torch.set_num_threads(before)


def same_at_1_and_2_threads(fn):
    one, two = at_threads(1, fn), at_threads(2, fn)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    return one


def test_classifier_and_regressor(cells):
    from genomap_fast.cnn import GenoNetClassifier, GenoNetRegressor

    X, y = cells

    def run(n):
        clf = GenoNetClassifier(28, 28, epochs=2, batch_size=64, seed=1, num_threads=n).fit(X, y)
        reg = GenoNetRegressor(28, 28, epochs=2, batch_size=64, seed=1, num_threads=n).fit(
            X, y.astype(np.float64))
        weights = torch.cat([p.detach().flatten() for p in clf.model_.parameters()])
        return clf.predict_proba(X), weights.numpy(), reg.predict(X)

    same_at_1_and_2_threads(run)


def test_genodec_and_genovis_labels(cells):
    from genomap_fast.cnn import GenoDEC

    X, _ = cells

    def run(n):
        dec = GenoDEC(28, 28, n_clusters=4, pretrain_epochs=2, maxiter=20, update_interval=5,
                      seed=2, num_threads=n).fit(X)
        return dec.features_, dec.labels_

    same_at_1_and_2_threads(run)


def test_genotraj(cells):
    from genomap_fast.cnn import genoTraj

    X, _ = cells
    same_at_1_and_2_threads(lambda n: (genoTraj(X, n_clusters=4, rowNum=28, colNum=28,
                                                pretrain_epochs=6, maxiter=20, seed=0,
                                                num_threads=n),))


def test_genomoivis(cells):
    from genomap_fast.cnn import genoMOIvis

    X, _ = cells
    same_at_1_and_2_threads(lambda n: genoMOIvis(X[:96], X[96:] + 0.5, n_clusters=4, rowNum=28,
                                                 colNum=28, epoch=2, maxiter=10, seed=0,
                                                 prealign_method="zscore", num_threads=n))


def test_genosig():
    from test_cnn import marked_genomaps

    from genomap_fast.cnn import genoSig

    G, T, label, names = marked_genomaps(cells=120, shift=2.0)
    same_at_1_and_2_threads(lambda n: (genoSig(G, T, label, np.array(["marked"]), names,
                                               epochs=3, seed=0)["marked_importance"],))


def test_training_leaves_the_callers_thread_count(cells):
    from genomap_fast.cnn import GenoNetClassifier

    X, y = cells
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        GenoNetClassifier(8, 8, epochs=1, seed=0).fit(X, y)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_a_team_of_two_is_also_independent_of_the_callers_threads(cells, monkeypatch):
    from genomap_fast.cnn import GenoDEC
    from genomap_fast.cnn.training import training_threads

    monkeypatch.setenv("GENOMAP_FAST_TRAINING_THREADS", "2")
    X, _ = cells

    def run(n):
        with training_threads():
            assert torch.get_num_threads() == 2
        assert torch.get_num_threads() == n
        dec = GenoDEC(28, 28, n_clusters=4, pretrain_epochs=2, maxiter=20, update_interval=5,
                      seed=2, num_threads=n).fit(X)
        return dec.features_, dec.labels_

    same_at_1_and_2_threads(run)


@pytest.mark.parametrize("value", ["0", "-2", "65", "99999999999999999999", "two", "1.5"])
def test_a_bad_team_size_is_a_clear_error(value, monkeypatch, cells):
    from genomap_fast.cnn import GenoNetClassifier
    from genomap_fast.cnn.training import training_thread_count

    monkeypatch.setenv("GENOMAP_FAST_TRAINING_THREADS", value)
    with pytest.raises(ValueError, match="GENOMAP_FAST_TRAINING_THREADS"):
        training_thread_count()
    X, y = cells
    before = torch.get_num_threads()
    with pytest.raises(ValueError, match="GENOMAP_FAST_TRAINING_THREADS"):
        GenoNetClassifier(8, 8, epochs=1, seed=0).fit(X[:20], y[:20])
    assert torch.get_num_threads() == before


def test_team_size_default_and_blank(monkeypatch):
    from genomap_fast.cnn.training import DEFAULT_TRAINING_THREADS, training_thread_count

    monkeypatch.delenv("GENOMAP_FAST_TRAINING_THREADS", raising=False)
    assert training_thread_count() == DEFAULT_TRAINING_THREADS == 1
    monkeypatch.setenv("GENOMAP_FAST_TRAINING_THREADS", " ")
    assert training_thread_count() == 1
    monkeypatch.setenv("GENOMAP_FAST_TRAINING_THREADS", "3")
    assert training_thread_count() == 3
