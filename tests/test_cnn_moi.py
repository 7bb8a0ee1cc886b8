"""Multi-batch integration (genoMOIvis / genoMOItraj, tl.genomoi): tiny, real outcomes."""
import numpy as np
import pytest

pytest.importorskip("torch", reason="the CNN tasks need torch (installed by `make test`)")

from sklearn.metrics import adjusted_rand_score  # noqa: E402

import genomap_fast as gf  # noqa: E402
from genomap_fast.cnn import genoMOItraj, genoMOIvis, prealign  # noqa: E402
from genomap_fast.datasets import synthetic_counts  # noqa: E402

FAST = {"epoch": 15, "maxiter": 40}


@pytest.fixture(scope="module")
def batches():
    X, y = synthetic_counts(300, 64, n_types=3, n_modules=8, seed=51)
    X = X.astype(np.float64)
    shift = np.random.default_rng(0).normal(0, 2, size=64)  # a strong batch effect
    return X[:150], X[150:] + shift, y[:150], y[150:]


def test_prealign_removes_batch_offsets(batches):
    a, b, _, _ = batches
    Z = prealign(a, b, method="zscore")
    assert Z.shape == (300, 64)
    np.testing.assert_allclose(Z[:150].mean(0), 0, atol=1e-9)
    np.testing.assert_allclose(Z[150:].mean(0), 0, atol=1e-9)
    with pytest.raises(ValueError, match="same genes"):
        prealign(a, b[:, :10], method="zscore")
    with pytest.raises(ValueError, match="prealign_method"):
        prealign(a, b, method="magic")


def test_genomoivis_clusters_across_batches(batches):
    a, b, ya, yb = batches
    emb, labels, feats = genoMOIvis(a, b, n_clusters=3, rowNum=8, colNum=8,
                                    prealign_method="zscore", **FAST)
    assert emb.shape == (300, 2) and labels.shape == (300,) and feats.shape == (300, 32)
    truth = np.concatenate([ya, yb])
    assert adjusted_rand_score(truth, labels) > 0.3
    traj, tl, _ = genoMOItraj(a, b, n_clusters=3, rowNum=8, colNum=8, prealign_method="zscore",
                              **FAST)
    assert traj.shape == (300, 2) and np.isfinite(traj).all() and tl.shape == (300,)


def test_scanorama_prealignment(batches):
    a, b, _, _ = batches
    Z = prealign(a, b, method="scanorama")
    assert Z.shape == (300, 64) and np.isfinite(Z).all()


def test_tl_genomoi_keeps_cell_order(batches):
    import anndata

    a, b, ya, yb = batches
    X = np.concatenate([a, b])
    order = np.random.default_rng(1).permutation(300)
    ad = anndata.AnnData(X=X[order])
    ad.obs["batch"] = np.repeat(["one", "two"], 150)[order]
    gf.tl.genomoi(ad, "batch", n_clusters=3, rows=8, cols=8, prealign_method="zscore", **FAST)
    assert ad.obsm["X_genomoi"].shape == (300, 2)
    assert ad.obsm["X_genomoi_features"].shape == (300, 32)
    truth = np.concatenate([ya, yb])[order]
    assert adjusted_rand_score(truth, ad.obs["genomoi_cluster"].astype(int)) > 0.3


def test_genomaps_take_the_most_variable_prealigned_genes(batches):
    """After pre-alignment every z-scored gene has variance 1, so the genes are chosen before:
    by variance of the corrected data, or (zscore) by the within-batch variance of the input."""
    from genomap_fast.cnn.moi import _fit, select_variable_genes

    a, b, ya, yb = batches
    rng = np.random.default_rng(3)
    quiet = rng.choice(64, 20, replace=False)  # 20 genes of tiny variance within each batch
    a, b = a.copy(), b.copy()
    a[:, quiet] = 5 + 1e-3 * rng.normal(size=(150, 20))
    b[:, quiet] = 9 + 1e-3 * rng.normal(size=(150, 20))
    keep = select_variable_genes([a, b], prealign(a, b, method="zscore"), 36, "zscore")
    assert len(keep) == 36 and np.all(np.diff(keep) > 0) and not set(quiet) & set(keep)
    data = np.concatenate([a, b])
    keep = select_variable_genes([a, b], data, 36, "scanorama")
    np.testing.assert_array_equal(keep, np.sort(np.argsort(-data.var(0))[:36]))
    assert np.array_equal(select_variable_genes([a, b], data, 64, "zscore"), np.arange(64))
    Z, dec = _fit([a, b], 3, 32, 6, 6, 15, "zscore", 0, {"maxiter": 40})
    assert Z.shape == (300, 36) and dec.genomap_.n_genes_in_ == 36
    assert adjusted_rand_score(np.concatenate([ya, yb]), dec.labels_) > 0.3
