"""Property-based fuzzing of the public Python API with odd shapes, dtypes, memory layouts,
sparse formats, non-finite and huge values, and bad arguments.

Property: a correct result (checked against a small dense numpy reference) or a
ValueError/TypeError whose message names the offending argument; never a crash, a hang, a
silent NaN image or an uncaught internal error.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_fuzz_core import correlation_distance

import genomap_fast as gf
from genomap_fast.interaction import interaction_matrix

DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.float16, np.float32,
          np.float64, np.bool_]


def raises_naming(fn, *names):
    """fn() -> result, or None when it raised ValueError/TypeError whose message names one of
    ``names`` (the offending argument)."""
    try:
        return fn()
    except (ValueError, TypeError) as err:
        msg = str(err)
        assert any(n in msg for n in names), f"{type(err).__name__} {msg!r} names none of {names}"
        return None


@st.composite
def matrices(draw, max_cells=7, max_genes=9, nonfinite=True):
    """(array as given to the API, the same values as a float64 C array)."""
    cells = draw(st.integers(0, max_cells))
    genes = draw(st.integers(0, max_genes))
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    if dtype.kind == "b":
        elems = st.booleans()
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        elems = st.integers(max(info.min, -50), min(info.max, 50))
    else:
        special = [np.nan, np.inf, -np.inf] if nonfinite else []
        if dtype.itemsize == 8:
            special.append(1e300)
        elems = st.sampled_from([0.0, 0.0, 1.0, 2.5, -3.0] + special) | st.floats(
            -100, 100, width=16 if dtype.itemsize == 2 else 32)
    X = draw(hnp.arrays(dtype, (cells, genes), elements=elems))
    if draw(st.booleans()):  # a constant or all-zero gene
        if genes:
            X[:, draw(st.integers(0, genes - 1))] = draw(st.sampled_from([0, 1]))
    ref = X.astype(np.float64)
    layout = draw(st.sampled_from(["C", "F", "neg", "slice", "readonly", "csr", "csc", "coo",
                                   "csr64", "unsorted", "dups"]))
    if layout == "F":
        X = np.asfortranarray(X)
    elif layout == "neg":
        X, ref = X[::-1, ::-1], ref[::-1, ::-1]
    elif layout == "slice":
        big = np.zeros((2 * cells, 2 * genes), dtype=X.dtype)
        big[::2, ::2] = X
        X = big[::2, ::2]
    elif layout == "readonly":
        X = X.copy()
        X.flags.writeable = False
    elif dtype.kind != "b" and dtype.itemsize >= 4 and layout != "C":
        m = sp.coo_matrix(X)
        r, c, v = m.row, m.col, m.data
        if layout == "dups" and v.size:  # duplicates that sum to the value, explicit zeros
            r, c = np.concatenate([r, r, r[:1]]), np.concatenate([c, c, c[:1]])
            v = np.concatenate([v, np.zeros_like(v), v[:1] * 0])
        m = sp.coo_matrix((v, (r, c)), shape=X.shape)
        if layout in ("csr", "csr64", "unsorted", "dups"):
            m = m.tocsr() if layout != "dups" else sp.csr_matrix((v, (r, c)), shape=X.shape)
            if layout == "csr64":
                m.indices, m.indptr = m.indices.astype(np.int64), m.indptr.astype(np.int64)
            if layout == "unsorted":
                for i in range(m.shape[0]):
                    lo, hi = m.indptr[i], m.indptr[i + 1]
                    m.indices[lo:hi] = m.indices[lo:hi][::-1].copy()
                    m.data[lo:hi] = m.data[lo:hi][::-1].copy()
                m.has_sorted_indices = False
        elif layout == "csc":
            m = m.tocsc()
        X = m
    return X, ref


def reference_images(ref, T, rows, cols):
    """The reference's images: X @ T * rows * cols on the first n pixels, Fortran reshape."""
    n_img = ref.shape[0]
    flat = np.zeros((n_img, rows * cols))
    flat[:, : T.shape[1]] = ref @ T * rows * cols
    return flat.reshape(n_img, rows, cols, order="F")[..., None]


grid_side = st.integers(1, 4) | st.sampled_from([0, -1, 2.0, True, "3", None])


@given(matrices(), grid_side, grid_side, st.sampled_from([0, 0, 0.1, -1.0, np.nan]),
       st.sampled_from([1000, 5, 1, 0, -3]))
def test_construct_genomap_returnT(pair, rows, cols, epsilon, num_iter):
    X, ref = pair
    res = raises_naming(lambda: gf.construct_genomap_returnT(X, rows, cols, epsilon, num_iter),
                        "data", "rows", "cols", "epsilon", "num_iter", "genes", "cells",
                        "pixels")
    if res is None:
        return
    images, T = res
    assert np.isfinite(ref).all() and 0 <= epsilon and num_iter >= 1
    assert images.shape == (ref.shape[0], rows, cols, 1) and images.dtype == np.float64
    assert np.isfinite(images).all() and np.isfinite(T).all()
    np.testing.assert_allclose(T.sum(axis=1), 1.0 / ref.shape[1], rtol=1e-6)
    np.testing.assert_allclose(images, reference_images(ref, T, rows, cols), rtol=1e-6,
                               atol=1e-9 * max(1.0, np.abs(ref).max()))


@given(matrices(nonfinite=False), st.integers(1, 4), st.integers(1, 4),
       st.sampled_from(["radial", "euclidean"]), st.sampled_from([None, "variance"]),
       st.sampled_from([None, 1, 2, 1000]), st.sampled_from([None, 1, 3]))
def test_genomap_fit_transform_any_layout(pair, rows, cols, metric, select, nt, chunk):
    X, ref = pair
    gm = gf.Genomap(rows, cols, grid_metric=metric, select_genes=select, num_threads=nt,
                    chunk_size=chunk)
    if raises_naming(lambda: gm.fit(X), "data", "genes", "cells", "pixels") is None:
        return
    assert ref.shape[0] >= 2 and ref.shape[1] >= 1
    img = gm.transform(X)
    assert img.shape == (ref.shape[0], 1, rows, cols) and np.isfinite(img).all()
    # dense layouts: the placement and images of a C-contiguous float64 copy, single-threaded
    # (sparse input is accumulated unshifted, so exact distance ties may break differently)
    if not sp.issparse(X):
        plain = gf.Genomap(rows, cols, grid_metric=metric, select_genes=select,
                           num_threads=1).fit(np.ascontiguousarray(ref))
        assert np.array_equal(plain.placement_, gm.placement_)
        np.testing.assert_allclose(img, plain.transform(ref), rtol=1e-6)
    # each placed gene lands on its pixel, scaled by pixels / placed genes
    p, genes = gm.placement_, gm.genes_
    scale = rows * cols / genes.size
    np.testing.assert_allclose(img[:, 0][:, p[genes] % rows, p[genes] // rows],
                               (ref[:, genes] * scale).astype(np.float32), rtol=1e-6)


@given(matrices(), st.sampled_from([None, 1, 2]), st.sampled_from([None, 1, 1000]))
def test_interaction_matrix_matches_numpy(pair, chunk, nt):
    X, ref = pair
    stats = raises_naming(lambda: interaction_matrix(X, chunk, nt), "data", "cells", "genes")
    if stats is None:
        return
    assert np.isfinite(ref).all() and ref.shape[0] >= 2
    scale = np.abs(ref).max() if ref.size else 1.0
    assert np.isfinite(stats.distance).all()
    if scale < 1e100:
        np.testing.assert_allclose(stats.distance, correlation_distance(ref), atol=1e-7)


@given(st.integers(1, 9), st.data())
def test_solve_placement_bad_arguments(n, data):
    C1 = data.draw(hnp.arrays(np.float64, (n, data.draw(st.sampled_from([n, n, n + 1]))),
                              elements=st.floats(0, 2) | st.sampled_from([np.nan, -1.0, 1e300])))
    rows = data.draw(st.integers(-1, 4))
    cols = data.draw(st.integers(-1, 4))
    eps = data.draw(st.sampled_from([0.0, 0.5, -0.1, np.nan, np.inf]))
    max_iter = data.draw(st.sampled_from([10, 0, -1]))
    nt = data.draw(st.sampled_from([None, 1, 0, -1, 1000, 1.5]))
    multilevel = data.draw(st.booleans())
    metric = data.draw(st.sampled_from(["radial", "euclidean", "bogus"]))
    p = raises_naming(lambda: gf.solve_placement(C1, rows, cols, metric, eps, max_iter,
                                                 num_threads=nt, multilevel=multilevel),
                      "C1", "interaction", "rows", "cols", "epsilon", "max_iter",
                      "num_threads", "multilevel", "grid_metric", "pixels")
    if p is None:
        return
    assert C1.shape == (n, n) and np.isfinite(C1).all() and (C1 >= 0).all()
    assert 1 <= rows and 1 <= cols and n <= rows * cols and eps >= 0 and max_iter >= 1
    assert np.isfinite(p.objective) and np.isfinite(p.coupling()).all()


@pytest.mark.parametrize("kwargs,name", [
    ({"max_iter": 0}, "max_iter"), ({"max_iter": -5}, "max_iter"),
    ({"num_threads": 0}, "num_threads"), ({"num_threads": -1}, "num_threads"),
    ({"epsilon": -1e-3}, "epsilon"), ({"refine_rounds": -1}, "refine_rounds"),
    ({"chunk_size": 0}, "chunk_size"), ({"chunk_size": -4}, "chunk_size"),
    ({"rows": -2}, "rows"), ({"cols": 0}, "cols"),
])
def test_genomap_bad_parameters_fail_at_construction(kwargs, name):
    args = {"rows": 3, "cols": 3, **kwargs}
    with pytest.raises((ValueError, TypeError), match=name):
        gf.Genomap(**args)


@given(st.sampled_from([0, -1, 1.5, "2"]))
def test_construct_genomap_bad_num_iter(num_iter):
    X = np.random.default_rng(0).random((5, 4))
    with pytest.raises((ValueError, TypeError), match="num_iter"):
        gf.construct_genomap(X, 2, 2, num_iter=num_iter)


@given(matrices(nonfinite=False, max_genes=6), st.data())
def test_save_load_transform_round_trip(tmp_path_factory, pair, data):
    X, ref = pair
    if ref.shape[0] < 2 or ref.shape[1] < 1:
        return
    gm = gf.Genomap(3, 3, select_genes="variance", epsilon=data.draw(st.sampled_from([0, 0.2])))
    gm.fit(X)
    path = tmp_path_factory.mktemp("m") / "model.npz"
    gm.save(path)
    back = gf.Genomap.load(path)
    np.testing.assert_array_equal(back.transform(X), gm.transform(X))
    # transform input that does not fit the model
    bad = data.draw(st.sampled_from(["genes", "nan", "dims"]))
    if bad == "genes":
        Y = np.ones((2, ref.shape[1] + 1))
    elif bad == "nan":
        Y = ref.copy()
        Y[-1, -1] = np.nan
    else:
        Y = np.ones(ref.shape[1])
    with pytest.raises((ValueError, TypeError), match="data|genes|X"):
        back.transform(Y)


@given(st.binary(max_size=300), st.sampled_from(["model.npz", "model", "dir"]))
def test_load_garbage(tmp_path_factory, blob, name):
    d = tmp_path_factory.mktemp("g")
    path = d / name
    if name == "dir":
        path.mkdir()
    else:
        path.write_bytes(blob)
    with pytest.raises(ValueError, match="not a"):
        gf.Genomap.load(path)


def test_save_to_a_directory_or_missing_parent(tmp_path):
    gm = gf.Genomap(2, 2).fit(np.random.default_rng(0).random((5, 4)))
    with pytest.raises((IsADirectoryError, ValueError, OSError)):
        gm.save(tmp_path)
    with pytest.raises((FileNotFoundError, OSError)):
        gm.save(tmp_path / "missing" / "m.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@given(matrices(nonfinite=False, max_genes=6), st.sampled_from([1, 2, 0, -1]))
def test_tl_genomap(pair, rows):
    import anndata

    X, ref = pair
    if ref.shape[0] == 0 or ref.shape[1] == 0 or sp.issparse(X) and X.format == "coo":
        return
    adata = anndata.AnnData(X=np.asarray(ref, dtype=np.float32) if not sp.issparse(X) else
                            sp.csr_matrix(ref, dtype=np.float32))
    res = raises_naming(lambda: gf.tl.genomap(adata, rows, 3, select_genes="variance",
                                              store_images=True),
                        "data", "rows", "cells", "genes")
    if res is None and "genomap" not in adata.uns:
        return
    img = adata.obsm["X_genomap"]
    assert img.shape == (ref.shape[0], rows * 3) and np.isfinite(img).all()
    placed = adata.var["genomap_pixel"].to_numpy()
    assert ((placed >= -1) & (placed < rows * 3)).all()
