"""The Genomap estimator: shapes, layouts, sparse input, persistence, and bad input."""
import os

import numpy as np
import pytest
import scipy.sparse as sp

import genomap_fast as gf
from genomap_fast.datasets import synthetic_counts


@pytest.fixture(scope="module")
def data():
    X, y = synthetic_counts(240, 100, n_types=4, n_modules=10, seed=7)
    return X, y


def test_transform_shapes_and_layouts(data):
    X, _ = data
    gm = gf.Genomap(10, 12).fit(X)
    img = gm.transform(X)
    assert img.shape == (240, 1, 10, 12) and img.dtype == np.float32
    nhwc = gm.transform(X, layout="nhwc")
    assert nhwc.shape == (240, 10, 12, 1)
    np.testing.assert_array_equal(nhwc[..., 0], img[:, 0])
    g64 = gf.Genomap(10, 12, dtype=np.float64).fit(X)
    assert g64.transform(X).dtype == np.float64
    # each gene on its own pixel, scaled by pixels / genes (the reference's T * rows * cols)
    rows, cols = 10, 12
    p = gm.placement_
    assert len(np.unique(p)) == 100 and p.min() >= 0 and p.max() < 100
    expected = X[5] * (rows * cols / 100)
    np.testing.assert_allclose(img[5, 0][p % rows, p // rows], expected, rtol=1e-6)
    mask = np.ones((rows, cols), bool)
    mask[p % rows, p // rows] = False
    assert not img[:, 0][:, mask].any()


def test_transform_new_cells_and_batches(data):
    X, _ = data
    gm = gf.Genomap(10, 10).fit(X[:200])
    new = X[200:]
    a = gm.transform(new)
    b = gm.transform(new, batch_size=7)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(gm.fit_transform(X[:200]), gm.transform(X[:200]))


def test_sparse_equals_dense(data):
    X, _ = data
    dense = gf.Genomap(10, 10).fit(X)
    for conv in (sp.csr_matrix, sp.csc_matrix, sp.coo_matrix, sp.csr_array):
        Xs = conv(X)
        sparse = gf.Genomap(10, 10).fit(Xs)
        assert np.array_equal(sparse.placement_, dense.placement_)
        np.testing.assert_array_equal(sparse.transform(Xs), dense.transform(X))


def test_chunked_fit_equals_one_chunk(data):
    X, _ = data
    whole = gf.Genomap(10, 10, chunk_size=10_000).fit(X)
    chunked = gf.Genomap(10, 10, chunk_size=17).fit(X)
    assert np.array_equal(whole.placement_, chunked.placement_)
    np.testing.assert_allclose(whole.objective_, chunked.objective_, rtol=1e-12)


def test_save_load_round_trip(tmp_path, data):
    X, _ = data
    for kwargs in ({}, {"epsilon": 0.02, "max_iter": 20}, {"grid_metric": "euclidean"}):
        gm = gf.Genomap(10, 11, **kwargs).fit(X)
        path = tmp_path / "model.npz"
        gm.save(path)
        back = gf.Genomap.load(path)
        assert back.rows == 10 and back.cols == 11 and back.grid_metric == gm.grid_metric
        assert np.array_equal(back.placement_, gm.placement_)
        assert np.array_equal(back.coupling_, gm.coupling_)
        assert back.objective_ == gm.objective_ and back.n_iter_ == gm.n_iter_
        np.testing.assert_array_equal(back.transform(X), gm.transform(X))
    assert [f for f in os.listdir(tmp_path) if f != "model.npz"] == []  # no temp files left
    umask = os.umask(0)
    os.umask(umask)
    assert (path.stat().st_mode & 0o777) == (0o666 & ~umask)  # like any file the user creates


def test_load_rejects_corrupt_files(tmp_path, data):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file at all")
    with pytest.raises(ValueError, match="not a readable Genomap"):
        gf.Genomap.load(bad)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.arange(3))
    with pytest.raises(ValueError, match="not a readable Genomap"):
        gf.Genomap.load(other)
    with pytest.raises(ValueError, match="not a readable Genomap"):
        gf.Genomap.load(tmp_path / "missing.npz")


def test_save_is_atomic_on_failure(tmp_path, data, monkeypatch):
    X, _ = data
    gm = gf.Genomap(10, 10).fit(X)
    path = tmp_path / "model.npz"

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        gm.save(path)
    assert list(tmp_path.iterdir()) == []


def test_more_genes_than_pixels(data):
    X, _ = data
    with pytest.raises(ValueError, match="100 genes but a 9x9 genomap has only 81 pixels"):
        gf.Genomap(9, 9).fit(X)
    gm = gf.Genomap(9, 9, select_genes="variance").fit(X)
    var = X.astype(np.float64).var(axis=0)
    assert set(gm.genes_) == set(np.argsort(-var, kind="stable")[:81])
    assert (gm.placement_ >= 0).sum() == 81
    assert gm.transform(X).shape == (240, 1, 9, 9)


def test_constant_genes_are_documented_not_nan(data):
    X, _ = data
    X = X.astype(np.float64).copy()
    X[:, 3] = 2.5
    X[:, 50] = 0.0
    stats = gf.interaction_matrix(X)
    assert stats.constant[[3, 50]].all() and stats.constant.sum() == 2
    row = stats.distance[3]
    assert row[3] == 0 and np.all(np.delete(row, 3) == 1.0)
    gm = gf.Genomap(10, 10).fit(X)
    assert gm.constant_genes_[[3, 50]].all()
    assert np.isfinite(gm.objective_) and np.isfinite(gm.transform(X)).all()


def test_two_cells_and_one_cell():
    X = np.array([[1.0, 2.0, 3.0, 0.5], [2.0, 1.0, 0.0, 0.7]])
    gm = gf.Genomap(2, 2).fit(X)
    assert gm.transform(X[:1]).shape == (1, 1, 2, 2)
    with pytest.raises(ValueError, match="at least 2 cells"):
        gf.Genomap(2, 2).fit(X[:1])


@pytest.mark.parametrize(
    "bad, exc, match",
    [
        (np.zeros((0, 5)), ValueError, "no cells"),
        (np.zeros((5, 0)), ValueError, "no genes"),
        (np.zeros(5), ValueError, "2-D"),
        (np.zeros((2, 3, 4)), ValueError, "2-D"),
        (np.array([["a", "b"], ["c", "d"]]), TypeError, "dtype"),
        (np.ones((3, 3), dtype=complex), TypeError, "dtype"),
    ],
)
def test_bad_input_shapes_and_dtypes(bad, exc, match):
    with pytest.raises(exc, match=match):
        gf.Genomap(4, 4).fit(bad)


def test_nan_and_inf_are_located(data):
    X, _ = data
    X = X.astype(np.float64).copy()
    X[37, 12] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf \(first at cell 37, gene 12"):
        gf.Genomap(10, 10, chunk_size=16).fit(X)
    with pytest.raises(ValueError, match=r"rows 32-47"):
        gf.Genomap(10, 10, chunk_size=16).fit(X)
    X[37, 12] = np.inf
    with pytest.raises(ValueError, match="cell 37, gene 12"):
        gf.Genomap(10, 10).fit(sp.csr_matrix(X))
    good = gf.Genomap(10, 10).fit(np.nan_to_num(X, posinf=0))
    with pytest.raises(ValueError, match="cell 37, gene 12"):
        good.transform(X)


def test_integer_input_is_converted(data):
    X, _ = data
    Xi = np.round(X * 3).astype(np.int32)
    a = gf.Genomap(10, 10).fit(Xi)
    b = gf.Genomap(10, 10).fit(Xi.astype(np.float64))
    assert np.array_equal(a.placement_, b.placement_)


def test_mismatched_genes_and_not_fitted(data):
    X, _ = data
    with pytest.raises(gf.NotFittedError, match="not fitted"):
        gf.Genomap(10, 10).transform(X)
    gm = gf.Genomap(10, 10).fit(X)
    with pytest.raises(ValueError, match="99 genes but this Genomap was fitted on 100"):
        gm.transform(X[:, :99])


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"rows": 0, "cols": 4}, ValueError, "rows must be >= 1"),
        ({"rows": 4.5, "cols": 4}, TypeError, "rows must be an integer"),
        ({"rows": 4, "cols": 4, "grid_metric": "manhattan"}, ValueError, "grid_metric"),
        ({"rows": 4, "cols": 4, "epsilon": -1}, ValueError, "epsilon"),
        ({"rows": 4, "cols": 4, "epsilon": float("nan")}, ValueError, "epsilon"),
        ({"rows": 4, "cols": 4, "layout": "nwhc"}, ValueError, "layout"),
        ({"rows": 4, "cols": 4, "select_genes": "random"}, ValueError, "select_genes"),
        ({"rows": 4, "cols": 4, "dtype": np.int32}, TypeError, "dtype"),
        ({"rows": 4, "cols": 4, "num_threads": 0}, ValueError, "num_threads"),
    ],
)
def test_bad_parameters(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        gm = gf.Genomap(**kwargs)
        gm.fit(np.random.default_rng(0).normal(size=(10, 8)))


def test_compat_layout_and_last_cell(data):
    X, _ = data
    X = X.astype(np.float64)
    G = gf.construct_genomap(X, 10, 10)
    assert G.shape == (240, 10, 10, 1) and G.dtype == np.float64
    assert G[-1].any()  # the reference leaves the last cell at zero; we do not
    with pytest.raises(ValueError, match="pixels"):
        gf.construct_genomap(X, 9, 9)


def test_memory_estimate_warns_before_a_run_that_would_not_fit(data, monkeypatch):
    from genomap_fast import _memory

    X, _ = data
    monkeypatch.setattr(_memory, "available_bytes", lambda: 1000)
    with pytest.warns(gf.MemoryEstimateWarning, match=r"needs about .* GiB but only"):
        gf.Genomap(10, 10).fit(X)
    need = _memory.fit_bytes(20000, 19881, 2000, 1000)
    assert need > 8 * 19881**2  # at least the interaction matrix
    # an FFT grid keeps no classes x classes matrices
    assert _memory.fit_bytes(20000, 19881, 2000, 1000, dense_grid=False) == need - 16 * 2000**2


def test_selection_correlates_only_selected_genes(data):
    X, _ = data
    gm = gf.Genomap(9, 9, select_genes="variance").fit(X)
    sub = gf.Genomap(9, 9).fit(X[:, gm.genes_])
    assert np.array_equal(sub.placement_, gm.placement_[gm.genes_])
    assert gm.mean_.shape == (81,) and gm.constant_genes_.shape == (81,)


def test_standardize_on_the_fly(data):
    X, _ = data
    X = X.astype(np.float64)
    gm = gf.Genomap(10, 10, standardize=True).fit(X)
    plain = gf.Genomap(10, 10).fit(X)
    assert np.array_equal(gm.placement_, plain.placement_)  # correlation ignores z-scoring
    Z = (X - X.mean(0)) / X.std(0, ddof=1)
    np.testing.assert_allclose(gm.transform(X), plain.transform(Z), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gm.transform(sp.csr_matrix(X), batch_size=33),
                               gm.transform(X), rtol=1e-6)
    bad = X.copy()
    bad[50, 7] = np.nan
    with pytest.raises(ValueError, match="cell 50, gene 7"):
        gm.transform(bad, batch_size=16)
    back = gf.Genomap.load(_save(gm))
    np.testing.assert_array_equal(back.transform(X), gm.transform(X))


def _save(gm):
    import tempfile

    path = os.path.join(tempfile.mkdtemp(), "m.npz")
    gm.save(path)
    return path


def test_fit_on_a_reproducible_sample(data):
    X, _ = data
    a = gf.Genomap(10, 10).fit(X, sample=120, random_state=3)
    b = gf.Genomap(10, 10).fit(X, sample=120, random_state=3)
    rows = np.sort(np.random.default_rng(3).choice(240, 120, replace=False))
    c = gf.Genomap(10, 10).fit(X[rows])
    assert np.array_equal(a.placement_, b.placement_) and np.array_equal(a.placement_,
                                                                          c.placement_)
    assert a.n_cells_ == 120
    with pytest.raises(ValueError, match="sample must be"):
        gf.Genomap(10, 10).fit(X, sample=1)


def test_placement_by_gene_name(data):
    import pandas as pd

    X, _ = data
    names = [f"G{i}" for i in range(100)]
    gm = gf.Genomap(10, 10).fit(pd.DataFrame(X, columns=names))
    r, c = gm.pixel_of(["G3", "G7"])
    assert r[0] == gm.placement_[3] % 10 and c[1] == gm.placement_[7] // 10
    assert list(gf.Genomap.load(_save(gm)).feature_names_in_[:2]) == ["G0", "G1"]
    with pytest.raises(ValueError, match="unknown genes"):
        gm.pixel_of("nope")
    with pytest.raises(ValueError, match="without gene names"):
        gf.Genomap(10, 10).fit(X).pixel_of("G1")
    with pytest.raises(ValueError, match="3 gene names for 100 genes"):
        gf.Genomap(10, 10).fit(X, gene_names=["a", "b", "c"])
