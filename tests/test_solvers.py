"""The C++ solvers on their own terms: optimality, objectives, stopping, tie-breaking."""
import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

import genomap_fast as gf
from genomap_fast import _core
from genomap_fast.placement import make_grid


def _optimal_total(cost, cap):
    """The optimum by scipy on the expanded problem (one column per pixel)."""
    expanded = np.repeat(cost, cap, axis=1)
    r, c = linear_sum_assignment(expanded)
    return expanded[r, c].sum()


@pytest.mark.parametrize("seed", range(6))
def test_class_transport_is_optimal(seed):
    rng = np.random.default_rng(seed)
    D = int(rng.integers(1, 9))
    cap = rng.integers(1, 6, size=D)
    n = int(cap.sum())
    cost = rng.normal(size=(n, D))
    if seed % 2:
        cost = np.round(cost, 1)  # many ties
    t = _core.solve_transport(cost, cap)
    assign, total = t.assign, t.cost
    assert np.array_equal(np.bincount(assign, minlength=D), cap)
    np.testing.assert_allclose(total, cost[np.arange(n), assign].sum())
    np.testing.assert_allclose(total, _optimal_total(cost, cap), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_class_transport_is_optimal_larger(seed):
    rng = np.random.default_rng(100 + seed)
    D = 25
    cap = rng.integers(1, 20, size=D)
    n = int(cap.sum())
    # low-rank structure plus noise, like a linearised GW cost
    cost = rng.normal(size=(n, 3)) @ rng.normal(size=(3, D)) + 0.1 * rng.normal(size=(n, D))
    t = _core.solve_transport(cost, cap)
    assign, total = t.assign, t.cost
    assert np.array_equal(np.bincount(assign, minlength=D), cap)
    np.testing.assert_allclose(total, _optimal_total(cost, cap), rtol=1e-12)


@pytest.mark.parametrize("D,ties", [(131, False), (67, True)])
def test_class_transport_is_optimal_many_classes(D, ties):
    # More classes than one block of Dijkstra keys (64) with a ragged tail, so the blocked
    # minimum search and the four-lane relaxation are both exercised (one pixel per class:
    # test_linear_assignment_is_optimal).
    rng = np.random.default_rng(D)
    cap = rng.integers(1, 4, size=D)
    n = int(cap.sum())
    cost = rng.normal(size=(n, 2)) @ rng.normal(size=(2, D)) + 0.05 * rng.normal(size=(n, D))
    if ties:
        cost = np.round(cost, 1)
    t = _core.solve_transport(cost, cap)
    assign, total = t.assign, t.cost
    assert np.array_equal(np.bincount(assign, minlength=D), cap)
    np.testing.assert_allclose(total, _optimal_total(cost, cap), rtol=1e-12, atol=1e-12)
    # warm start from these potentials on a perturbed cost: still optimal
    cost2 = cost + 0.01 * rng.normal(size=cost.shape)
    t2 = _core.solve_transport(cost2, cap, potentials=t.potentials)
    assign2, total2 = t2.assign, t2.cost
    assert np.array_equal(np.bincount(assign2, minlength=D), cap)
    np.testing.assert_allclose(total2, _optimal_total(cost2, cap), rtol=1e-12, atol=1e-12)


def test_transport_rejects_bad_capacities():
    with pytest.raises(ValueError, match="capacities"):
        _core.solve_transport(np.zeros((3, 2)), np.array([1, 1]))
    with pytest.raises(ValueError, match="one capacity per class"):
        _core.solve_transport(np.zeros((3, 2)), np.array([3]))


def _c1(small, n):
    X, _ = small
    return gf.interaction_matrix(X[:, :n]).distance


@pytest.mark.parametrize("metric", ["radial", "euclidean"])
def test_reported_objective_equals_dense_formula(small, metric, objective):
    C1 = _c1(small, 120)
    p = gf.solve_placement(C1, 11, 12, metric=metric, max_iter=50)
    C2 = gf.pixel_distance_matrix(11, 12, 120, metric)
    assert np.array_equal(np.sort(p.pixel), np.arange(120))  # a permutation of used pixels
    np.testing.assert_allclose(p.objective, objective(C1, C2, p.coupling()), rtol=1e-10)
    # the returned placement is the best seen, and iterating improved on the first step
    assert p.objective == pytest.approx(p.trace.min(), rel=1e-12)
    assert p.objective <= p.trace[0]
    assert p.n_iter <= 50


def test_entropic_objective_equals_dense_formula(small, objective):
    C1 = _c1(small, 60)
    p = gf.solve_placement(C1, 8, 8, epsilon=0.02, max_iter=30)
    C2 = gf.pixel_distance_matrix(8, 8, 60, "radial")
    np.testing.assert_allclose(p.objective, objective(C1, C2, p.coupling()), rtol=1e-10)


def test_exact_stops_when_assignment_repeats(small):
    C1 = _c1(small, 150)
    p = gf.solve_placement(C1, 13, 13, max_iter=1000)
    assert p.converged and p.n_iter < 1000
    capped = gf.solve_placement(C1, 13, 13, max_iter=2)
    assert capped.n_iter == 2 and not capped.converged


def test_tie_breaking_keeps_rings_and_improves_2d_objective(small):
    C1 = _c1(small, 150)
    grid = make_grid(13, 13, 150, "radial")
    r = _core.solve_gw_exact(C1, grid, 100, 1)
    plain = _core.place_within_classes(C1, grid, r.assign, 0, 1)
    refined = _core.place_within_classes(C1, grid, r.assign, 10, 1)
    cls = grid.class_of_pixel
    assert np.array_equal(cls[plain.pixel], r.assign)
    assert np.array_equal(cls[refined.pixel], r.assign)
    assert refined.euclidean_after > plain.euclidean_after
    # the radial objective cannot tell pixels of a ring apart
    assert _core.objective_assignment(C1, grid, cls[refined.pixel], 1) == pytest.approx(
        r.objective, rel=1e-12)
    # deterministic
    again = _core.place_within_classes(C1, grid, r.assign, 10, 2)
    assert np.array_equal(again.pixel, refined.pixel)


def test_threads_do_not_change_results(small):
    X, _ = small
    a = gf.Genomap(13, 13, num_threads=1).fit(X[:, :150])
    b = gf.Genomap(13, 13, num_threads=2).fit(X[:, :150])
    assert np.array_equal(a.placement_, b.placement_)
    assert a.objective_ == b.objective_
    ea = gf.Genomap(10, 10, epsilon=0.02, max_iter=20, num_threads=1).fit(X[:, :90])
    eb = gf.Genomap(10, 10, epsilon=0.02, max_iter=20, num_threads=2).fit(X[:, :90])
    assert np.array_equal(ea.coupling_, eb.coupling_)
    assert np.array_equal(a.transform(X[:, :150]), gf.Genomap.transform(b, X[:, :150]))


def test_euclidean_grid_is_true_pixel_distance():
    C2 = gf.pixel_distance_matrix(5, 4, 20, "euclidean")
    k = np.arange(20)
    r, c = k % 5, k // 5
    expected = np.hypot(r[:, None] - r[None, :], c[:, None] - c[None, :])
    np.testing.assert_allclose(C2, expected, atol=1e-12)


def test_grid_validation():
    with pytest.raises(ValueError, match="grid_metric"):
        make_grid(4, 4, 10, "manhattan")
    with pytest.raises(ValueError, match="used pixels"):
        make_grid(4, 4, 17, "radial")


def test_structured_and_dense_paths_agree(small):
    """The ring-structured radial cost and the same cost given as a dense pixel matrix (one
    class per pixel, BLAS products, n x n assignments) reach the same GW objective."""
    C1 = _c1(small, 110)
    structured = gf.solve_placement(C1, 11, 11, metric="radial", max_iter=60)
    C2 = gf.pixel_distance_matrix(11, 11, 110, "radial")
    dense = gf.solve_placement(C1, 11, 11, metric=C2, max_iter=60)
    assert dense.objective == pytest.approx(structured.objective, rel=1e-6)
    grid = make_grid(11, 11, 110, "radial")
    cls = grid.class_of_pixel
    assert np.array_equal(cls[dense.pixel], cls[structured.pixel])


def test_dense_grid_cost_validation(small):
    C1 = _c1(small, 20)
    with pytest.raises(ValueError, match=r"grid cost must be \(20, 20\)"):
        gf.solve_placement(C1, 5, 5, metric=np.zeros((5, 5)))
    bad = np.arange(400.0).reshape(20, 20)
    with pytest.raises(ValueError, match="symmetric"):
        gf.solve_placement(C1, 5, 5, metric=bad)


@pytest.mark.parametrize("rows,cols,n", [(11, 12, 132), (11, 12, 120), (7, 20, 140), (1, 9, 9),
                                         (16, 16, 256)])
def test_fft_products_equal_blas_products(small, rows, cols, n):
    """The euclidean GW linear term by 2-D FFT convolution == the dense BLAS product."""
    rng = np.random.default_rng(n)
    X, _ = small
    C1 = gf.interaction_matrix(X[:, rng.permutation(150)[:n]] if n <= 150 else
                               rng.normal(size=(50, n))).distance
    blas = make_grid(rows, cols, n, "euclidean", fft=False)
    fft = make_grid(rows, cols, n, "euclidean", fft=True)
    assert fft.uses_fft and not blas.uses_fft
    assign = rng.permutation(n)
    A_blas = _core.linear_term_assignment(C1, blas, assign, 1)
    A_fft = _core.linear_term_assignment(C1, fft, assign, 1)
    np.testing.assert_allclose(A_fft, A_blas, rtol=0, atol=1e-12 * np.abs(A_blas).max())
    assert np.array_equal(A_fft, _core.linear_term_assignment(C1, fft, assign, 3))  # threads
    np.testing.assert_allclose(A_blas, (C1 @ np.eye(n)[assign]) @ blas.log_cost, rtol=1e-12,
                               atol=1e-12)


def test_fft_and_blas_paths_give_the_same_placement(small):
    C1 = _c1(small, 144)
    res = [_core.solve_gw_exact(C1, make_grid(12, 12, 144, "euclidean", fft=f), 200, 2)
           for f in (False, True)]
    np.testing.assert_allclose(res[1].objective, res[0].objective, rtol=1e-6)
    assert make_grid(16, 16, 256, "euclidean").uses_fft  # automatic from 256 pixels on
    assert not make_grid(15, 15, 225, "euclidean").uses_fft


@pytest.mark.parametrize("seed", range(12))
def test_linear_assignment_is_optimal(seed):
    """One pixel per class (the euclidean metric's steps), cold and warm-started from a
    previous assignment with its potentials, against scipy's linear_sum_assignment."""
    rng = np.random.default_rng(300 + seed)
    # the last seeds span several 64-class blocks of Dijkstra keys, with ragged tails
    n = int(rng.integers(1, 80)) if seed < 8 else 63 + 45 * (seed - 8)
    cost = rng.normal(size=(n, 4)) @ rng.normal(size=(4, n)) + 0.2 * rng.normal(size=(n, n))
    if seed % 3 == 0:
        cost = np.round(cost, 1)  # many ties
    cap = np.ones(n, dtype=np.int64)
    r, c = linear_sum_assignment(cost)
    best = cost[r, c].sum()
    t = _core.solve_transport(cost, cap)
    assign, total = t.assign, t.cost
    assert np.array_equal(np.sort(assign), np.arange(n))
    np.testing.assert_allclose(total, best, rtol=1e-12, atol=1e-12)
    # a perturbed cost, warm-started from the last assignment (as consecutive GW steps are)
    cost2 = cost + 0.3 * rng.normal(size=(n, n))
    r, c = linear_sum_assignment(cost2)
    t2 = _core.solve_transport(cost2, cap, potentials=t.potentials, previous=assign)
    assign2, total2 = t2.assign, t2.cost
    assert np.array_equal(np.sort(assign2), np.arange(n))
    np.testing.assert_allclose(total2, cost2[r, c].sum(), rtol=1e-12, atol=1e-12)
