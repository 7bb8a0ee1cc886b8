"""Property-based fuzzing of the C++ bindings (``genomap_fast._core``) with malformed input.

Property: every call either returns the result a small dense numpy reference gives, or raises
ValueError/TypeError; never a crash (run under ASan/UBSan by ``make sanitize``), a hang or an
uncaught internal error. Profiles: tests/conftest.py (``--hypothesis-profile=long``).
"""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from genomap_fast import _core

ACCEPTED = (ValueError, TypeError)
small_int = st.integers(-3, 9)
threads = st.sampled_from([-1, 0, 1, 2, 1000])


def call(fn, *args, **kwargs):
    """fn(*args) or None when it raised an accepted error (anything else propagates)."""
    try:
        return fn(*args, **kwargs)
    except ACCEPTED as err:
        assert str(err), f"{type(err).__name__} without a message"
        return None


# ------------------------------------------------------------------------ rasterisation
@st.composite
def raster_case(draw):
    cells = draw(st.integers(0, 4))
    genes = draw(st.integers(1, 6))
    image = draw(st.integers(1, 8))
    x = draw(hnp.arrays(draw(st.sampled_from([np.float32, np.float64])), (cells, genes),
                        elements=st.floats(-1e3, 1e3, width=32) | st.just(np.nan)))
    dest = draw(hnp.arrays(np.int64, draw(st.sampled_from([genes, genes + 1, max(genes - 1, 0)])),
                           elements=st.integers(-2, image + 1)))
    if draw(st.booleans()):  # mostly one gene per pixel, as placements give
        dest = np.where(dest >= 0, np.arange(dest.size) % (image + 1), dest)
    out_rows = draw(st.sampled_from([cells, cells + 1]))
    out = np.zeros((out_rows, image), dtype=draw(st.sampled_from([np.float32, np.float64,
                                                                   np.int32])))
    return x, dest, out


def dense_reference(x, dest, image, scale):
    ref = np.zeros((x.shape[0], image))
    for g, d in enumerate(dest):
        if d >= 0:
            ref[:, d] = x[:, g].astype(np.float64) * scale
    return ref


@given(raster_case(), threads)
def test_rasterize_dense_never_writes_out_of_bounds(case, nt):
    x, dest, out = case
    bad = call(_core.rasterize_dense, x, dest, 2.0, out, nt)
    if bad is None:
        return
    # accepted only when every destination lies inside the image and the shapes agree
    assert dest.shape[0] == x.shape[1] and out.shape[0] == x.shape[0]
    assert ((dest >= -1) & (dest < out.shape[1])).all()
    assert np.unique(dest[dest >= 0]).size == (dest >= 0).sum()
    ref = dense_reference(x, dest, out.shape[1], 2.0)
    finite = np.isfinite(x).all(axis=1)
    assert bad == (-1 if finite.all() else int(np.argmin(finite)))
    if x.shape[0]:
        keep = np.flatnonzero(finite)
        np.testing.assert_allclose(out[keep], ref[keep].astype(out.dtype), rtol=1e-6)


@st.composite
def csr_case(draw):
    cells = draw(st.integers(0, 4))
    genes = draw(st.integers(1, 5))
    idx = draw(st.sampled_from([np.int32, np.int64]))
    ptr_dtype = draw(st.sampled_from([idx, np.int32, np.int64]))
    dense = draw(hnp.arrays(np.float64, (cells, genes),
                            elements=st.sampled_from([0.0, 0.0, 1.5, -2.0, np.inf])))
    m = sp.csr_matrix(dense)
    indptr, indices, data = (m.indptr.astype(ptr_dtype), m.indices.astype(idx),
                             m.data.astype(draw(st.sampled_from([np.float32, np.float64]))))
    corrupt = draw(st.sampled_from(["none", "indptr", "indices", "data", "first"]))
    if corrupt == "indptr" and indptr.size > 1:
        indptr[draw(st.integers(0, indptr.size - 1))] = draw(st.integers(-3, indices.size + 3))
    elif corrupt == "indices" and indices.size:
        indices[draw(st.integers(0, indices.size - 1))] = draw(st.sampled_from([-1, genes, 10**6]))
    elif corrupt == "data":
        data = data[:-1] if data.size else np.zeros(1)
    elif corrupt == "first":
        indptr = indptr + draw(st.sampled_from([-1, 1]))
    image = draw(st.integers(1, 6))
    dest = draw(hnp.arrays(np.int64, genes, elements=st.integers(-1, image - 1)))
    if draw(st.booleans()):
        dest = np.where(dest >= 0, draw(st.permutations(range(max(image, genes))))[:genes], -1)
        dest[dest >= image] = -1
    return dense, (indptr, indices, data), dest, image, corrupt


@given(csr_case(), threads)
def test_rasterize_csr_rejects_malformed_csr(case, nt):
    dense, (indptr, indices, data), dest, image, corrupt = case
    out = np.zeros((dense.shape[0], image))
    bad = call(_core.rasterize_csr, indptr, indices, data, dest, 1.0, out, nt)
    if bad is None:
        return
    assert np.unique(dest[dest >= 0]).size == (dest >= 0).sum()
    lo, hi = int(indptr[0]), int(indptr[-1])  # rows may start at any offset >= 0
    m = sp.csr_matrix((data[lo:hi], indices[lo:hi], indptr.astype(np.int64) - lo),
                      shape=dense.shape)
    ref = dense_reference(m.toarray(), dest, image, 1.0)
    finite = np.array([np.isfinite(m.data[m.indptr[c]:m.indptr[c + 1]]).all()
                       for c in range(dense.shape[0])], dtype=bool)
    assert bad == (-1 if finite.all() else int(np.argmin(finite)))
    np.testing.assert_allclose(out[finite], ref[finite], rtol=1e-6)


# ------------------------------------------------------------------ interaction matrix
def correlation_distance(X):
    Xc = X - X.mean(axis=0)
    norms = np.sqrt((Xc * Xc).sum(axis=0))
    const = norms == 0
    norms[const] = 1.0
    D = 1.0 - (Xc.T @ Xc) / np.outer(norms, norms)
    D[const, :] = 1.0
    D[:, const] = 1.0
    np.fill_diagonal(D, 0.0)
    return np.clip(D, 0.0, 2.0)


@given(st.data(), threads)
def test_accumulator_csr_malformed_or_exact(data, nt):
    cells = data.draw(st.integers(2, 6))
    genes = data.draw(st.integers(1, 5))
    dense = data.draw(hnp.arrays(np.float64, (cells, genes),
                                 elements=st.sampled_from([0.0, 0.0, 1.0, 3.0, -2.5])))
    m = sp.csr_matrix(dense)
    idx = data.draw(st.sampled_from([np.int32, np.int64]))
    indptr, indices, values = m.indptr.astype(idx), m.indices.astype(idx), m.data
    corrupt = data.draw(st.sampled_from(["none", "indptr", "indices", "shift", "unsorted"]))
    if corrupt == "indptr":
        indptr[data.draw(st.integers(0, cells))] = data.draw(st.integers(-4, indices.size + 4))
    elif corrupt == "indices" and indices.size:
        indices[data.draw(st.integers(0, indices.size - 1))] = data.draw(
            st.sampled_from([-1, genes, 2**31 - 1]))
    elif corrupt == "shift":
        indptr = indptr - data.draw(st.integers(1, 3))
    elif corrupt == "unsorted" and indices.size > 1:
        indices = indices[::-1].copy()
    acc = _core.CorrelationAccumulator(genes)
    block = data.draw(st.booleans())
    fn = acc.add_csr_block if block else acc.add_csr
    if call(lambda: fn(indptr, indices, values, nt) or True) is None:
        assert acc.count == 0  # refused before changing anything
        return
    lo, hi = int(indptr[0]), int(indptr[-1])  # rows may start at any offset >= 0
    ok = sp.csr_matrix((values[lo:hi], indices[lo:hi], indptr.astype(np.int64) - lo),
                       shape=dense.shape)
    ok.check_format(full_check=True)
    assert ok.has_sorted_indices
    D = acc.correlation_distance(1)
    np.testing.assert_allclose(D, correlation_distance(ok.toarray()), atol=1e-9)


@given(st.integers(-5, 4), st.data())
def test_accumulator_construction_and_state(n, data):
    acc = call(_core.CorrelationAccumulator, n)
    if acc is None:
        assert n < 1
        return
    state = acc.__getstate__()
    wrong = data.draw(st.sampled_from(["none", "shift", "sums", "cross", "n"]))
    items = list(state)
    if wrong == "n":
        items[0] = n + data.draw(st.sampled_from([-10, 1, 50]))
    elif wrong != "none":
        k = {"shift": 3, "sums": 4, "cross": 5}[wrong]
        items[k] = np.zeros(data.draw(st.sampled_from([0, 1, n * n + 1, (n + 1, n + 1)])))
    blob = pickle.dumps(acc)
    if wrong == "none":
        assert pickle.loads(blob).n_genes == n
        return
    restored = call(acc.__class__.__new__(acc.__class__).__setstate__, tuple(items))
    assert restored is None, f"accepted a state with wrong {wrong}"


@given(st.data())
def test_accumulator_dense_shapes(data):
    genes = data.draw(st.integers(1, 4))
    acc = _core.CorrelationAccumulator(genes)
    shape = data.draw(st.sampled_from([(0, genes), (3, genes), (3, genes + 1), (genes,),
                                       (2, 2, genes)]))
    chunk = np.ones(shape)
    if call(lambda: acc.add_dense(chunk, data.draw(threads)) or True) is not None:
        assert chunk.ndim == 2 and chunk.shape[1] == genes and acc.count == chunk.shape[0]
    if acc.count < 2:
        assert call(acc.correlation_distance) is None


# ------------------------------------------------------------------------------ grids
@given(small_int, small_int, st.integers(-2, 90), st.integers(-1, 4), st.booleans())
def test_grid_factories(rows, cols, n_used, tile, fft):
    ok = rows >= 1 and cols >= 1 and 1 <= n_used <= rows * cols
    for make in (lambda: _core.radial_grid(rows, cols, n_used),
                 lambda: _core.euclidean_grid(rows, cols, n_used, fft),
                 lambda: _core.euclidean_tiles(rows, cols, n_used, tile, fft)):
        g = call(make)
        if g is None:
            continue
        assert ok
        assert g.capacity.sum() == n_used and (g.capacity >= 1).all()
        assert np.isfinite(g.class_cost).all()
    assert call(_core.multilevel_tiles, rows, cols, n_used, tile, 3) is None or ok


@given(st.integers(-3, 3), st.integers(-3, 3), st.integers(0, 9))
def test_grid_huge_or_negative_sizes(rows, cols, n_used):
    big = 2**40
    for r, c in ((rows * big, cols), (rows, cols * big), (big, big)):
        # rows * cols overflows int64 for the last pair: must be rejected, not wrap around
        assert call(_core.radial_grid, r, c, max(n_used, 1) * big) is None


# ----------------------------------------------------------------------------- solvers
@st.composite
def transport_case(draw):
    n = draw(st.integers(0, 5))
    D = draw(st.integers(1, 4))
    cost = draw(hnp.arrays(np.float64, (n, D), elements=st.floats(-5, 5)
                           | st.sampled_from([np.nan, np.inf, 1e300])))
    cap = draw(hnp.arrays(np.int64, D, elements=st.integers(-2, n + 1)))
    prev = draw(st.none() | hnp.arrays(np.int64, n, elements=st.integers(-1, D)))
    pot = draw(st.none() | hnp.arrays(np.float64, draw(st.sampled_from([D, D + 1])),
                                      elements=st.floats(-3, 3)))
    return cost, cap, prev, pot


def transport_optimum(cost, cap):
    from scipy.optimize import linear_sum_assignment

    cols = np.repeat(np.arange(cost.shape[1]), cap)
    r, c = linear_sum_assignment(cost[:, cols])
    return cost[r, cols[c]].sum()


@given(transport_case())
def test_solve_transport(case):
    cost, cap, prev, pot = case
    res = call(_core.solve_transport, cost, cap, potentials=pot, previous=prev)
    if res is None:
        return
    assert np.isfinite(cost).all() and (cap >= 0).all() and cap.sum() == cost.shape[0]
    assert np.array_equal(np.bincount(res.assign, minlength=cap.size), cap)
    np.testing.assert_allclose(res.cost, transport_optimum(cost, cap), rtol=1e-9, atol=1e-9)


@given(transport_case(), st.floats(-1, 2) | st.just(np.nan), st.integers(-1, 50))
def test_sinkhorn_classes(case, reg, iters):
    cost, cap, _, _ = case
    res = call(_core.sinkhorn_classes, cost, cap, reg, iters, 1e-9, 1)
    if res is None:
        return
    T, n_iter, _ = res
    assert reg > 0 and np.isfinite(cost).all() and (cap >= 1).all()
    assert cap.sum() == cost.shape[0] and iters >= 1
    assert np.isfinite(T).all() and (T >= 0).all()


@st.composite
def gw_case(draw):
    rows, cols = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    n = draw(st.integers(1, rows * cols))
    m = draw(st.sampled_from([n, n, n + 1]))
    C1 = draw(hnp.arrays(np.float64, (n, m), elements=st.floats(0, 2)
                         | st.sampled_from([0.0, np.nan, np.inf, -1.0, 1e300])))
    C1 = (C1 + C1.T) / 2 if m == n else C1
    metric = draw(st.sampled_from(["radial", "euclidean"]))
    return rows, cols, n, C1, metric


def make_grid(rows, cols, n, metric):
    return (_core.radial_grid if metric == "radial" else _core.euclidean_grid)(rows, cols, n)


@given(gw_case(), st.integers(-1, 20), threads)
def test_gw_exact_and_placement(case, max_iter, nt):
    rows, cols, n, C1, metric = case
    grid = make_grid(rows, cols, n, metric)
    r = call(_core.solve_gw_exact, C1, grid, max_iter, nt)
    if r is None:
        return
    assert max_iter >= 1 and C1.shape == (n, n)
    assert np.isfinite(C1).all() and (C1 >= 0).all()
    assert np.isfinite(r.objective)
    assert np.array_equal(np.bincount(r.assign, minlength=grid.n_classes), grid.capacity)
    placed = _core.place_within_classes(C1, grid, r.assign, 3, nt)
    assert sorted(placed.pixel.tolist()) == list(range(n))


@given(gw_case(), st.data())
def test_place_within_classes_needs_a_feasible_assignment(case, data):
    rows, cols, n, C1, metric = case
    assume(C1.shape == (n, n) and np.isfinite(C1).all() and (C1 >= 0).all())
    grid = make_grid(rows, cols, n, metric)
    assign = data.draw(hnp.arrays(np.int64, n, elements=st.integers(0, grid.n_classes - 1)))
    res = call(_core.place_within_classes, C1, grid, assign, data.draw(st.integers(-1, 3)), 1)
    if res is not None:
        assert np.array_equal(np.bincount(assign, minlength=grid.n_classes), grid.capacity)
        assert sorted(res.pixel.tolist()) == list(range(n))


@given(gw_case(), st.floats(-1, 1) | st.sampled_from([np.nan, np.inf, 1e-300]),
       st.integers(-1, 5))
def test_gw_entropic(case, eps, max_iter):
    rows, cols, n, C1, metric = case
    grid = make_grid(rows, cols, n, metric)
    r = call(_core.solve_gw_entropic, C1, grid, eps, max_iter, 1e-9, 1)
    if r is None:
        return
    assert eps > 0 and np.isfinite(eps) and max_iter >= 1
    assert np.isfinite(C1).all() and (C1 >= 0).all()
    # a result with NaN would be a silent NaN image downstream
    assert np.isfinite(r.coupling).all() and np.isfinite(r.objective)


@given(gw_case(), st.data())
def test_euclidean_linear_term_shapes(case, data):
    rows, cols, n, C1, _ = case
    pixel = data.draw(hnp.arrays(np.int64, n, elements=st.integers(-1, rows * cols)))
    v = call(_core.euclidean_linear_term, C1, rows, cols, pixel, 1)
    if v is not None:
        assert C1.shape == (n, n) and ((pixel >= 0) & (pixel < rows * cols)).all()


@given(gw_case(), st.integers(0, 4), st.integers(-2, 3))
def test_multilevel_solver_arguments(case, min_tiles, max_levels):
    rows, cols, n, C1, _ = case
    grid = _core.euclidean_grid(rows, cols, n)
    r = call(_core.solve_gw_multilevel, C1, grid, 5, 1, min_tiles, max_levels)
    if r is not None:
        assert np.array_equal(np.bincount(r.assign, minlength=n), np.ones(n, dtype=int))


@pytest.mark.parametrize("metric", ["radial", "euclidean"])
def test_dense_grid_and_multilevel_reject_wrong_grids(metric):
    g = make_grid(3, 3, 9, metric)
    C1 = np.ones((9, 9)) - np.eye(9)
    if metric == "radial":
        with pytest.raises(ValueError, match="euclidean"):
            _core.solve_gw_multilevel(C1, g, 5, 1, 1, 2)
    with pytest.raises(ValueError, match="square"):
        _core.dense_grid(np.ones((3, 4)), 2, 2)
    with pytest.raises(ValueError):
        _core.dense_grid(np.ones((5, 5)), 2, 2)
