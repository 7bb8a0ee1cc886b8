"""Parity with the reference, genomap 1.3.6 (installed without its deep-learning stack)."""
import inspect
import warnings

import numpy as np
import pytest
from genomap import genomap as ref
from sklearn.metrics import pairwise_distances

import genomap_fast as gf
from genomap_fast import _core
from genomap_fast.datasets import synthetic_counts


def _radii(rows, cols, n):
    """Distance from the grid centre of the first n pixels, in the reference's order."""
    xs = np.arange(rows) - (rows // 2 if rows % 2 == 0 else (rows - 1) // 2)
    ys = np.arange(cols) - (cols // 2 if cols % 2 == 0 else (cols - 1) // 2)
    xx, yy = np.meshgrid(xs, ys)
    return np.sqrt(xx**2 + yy**2).ravel()[:n]


def _check_exact_parity(X, rows, cols, gw_objective):
    n = X.shape[1]
    # The ring assignment settles within ~10 iterations; 100 keeps the reference's run short.
    G, T = gf.construct_genomap_returnT(X, rows, cols, num_iter=100)
    Gr, Tr = ref.construct_genomap_returnT(X, rows, cols, num_iter=100)
    assert G.shape == Gr.shape == (X.shape[0], rows, cols, 1)
    assert G.dtype == Gr.dtype == np.float64
    assert T.shape == Tr.shape == (n, n)
    C1 = pairwise_distances(X.T, metric="correlation")
    C2 = ref.createMeshDistance(rows, cols)[:n, :n]
    ours, theirs = gw_objective(C1, C2, T), gw_objective(C1, C2, Tr)
    assert ours <= theirs + 1e-9 * abs(theirs)
    # every gene sits on a pixel of the same radius as in the reference
    rad = _radii(rows, cols, n)
    np.testing.assert_array_equal(rad[T.argmax(1)], rad[Tr.argmax(1)])
    # each cell's image holds the same multiset of values; the reference leaves the last
    # cell's genomap at zero (its loop stops one cell early), ours fills it
    for i in range(X.shape[0] - 1):
        np.testing.assert_allclose(np.sort(G[i].ravel()), np.sort(Gr[i].ravel()), rtol=1e-12,
                                   atol=1e-12)
    assert not Gr[-1].any()
    expected_last = np.sort(np.concatenate([X[-1] * rows * cols / n, np.zeros(rows * cols - n)]))
    np.testing.assert_allclose(np.sort(G[-1].ravel()), expected_last, rtol=1e-12, atol=1e-12)


def test_pbmc_28x28_matches_reference(pbmc, objective):
    X, _ = pbmc
    _check_exact_parity(X, 28, 28, objective)


@pytest.mark.parametrize("rows,cols", [(13, 12), (12, 15), (11, 11)])
def test_rectangular_and_fewer_genes_than_pixels(small, rows, cols, objective):
    X, _ = small
    _check_exact_parity(X[:, : min(150, rows * cols - 7)], rows, cols, objective)


def test_grid_cost_matches_reference():
    for rows, cols in [(28, 28), (7, 10), (10, 7), (9, 9)]:
        n = rows * cols - 3
        ours = gf.pixel_distance_matrix(rows, cols, n, "radial")
        theirs = ref.createMeshDistance(rows, cols)[:n, :n]
        np.testing.assert_allclose(ours, theirs, atol=1e-11, rtol=0)
        np.testing.assert_array_equal(ours == 0, theirs == 0)


def test_interaction_matrix_matches_sklearn(small):
    X, _ = small
    ours = gf.interaction_matrix(X, chunk_size=37).distance
    theirs = pairwise_distances(X.T, metric="correlation")
    np.testing.assert_allclose(ours, np.clip(theirs, 0, 2), atol=1e-11)


def test_signatures_match_reference():
    for name in ("construct_genomap", "construct_genomap_returnT"):
        ours = inspect.signature(getattr(gf, name))
        theirs = inspect.signature(getattr(ref, name))
        n = len(theirs.parameters)
        assert list(ours.parameters)[:n] == list(theirs.parameters)
        for p in theirs.parameters:
            assert ours.parameters[p].default == theirs.parameters[p].default
        # our opt-in extras (solver="anneal", ...) are keyword-only and default to the
        # reference's behaviour, so every reference call means the same
        extras = list(ours.parameters.values())[n:]
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in extras)
        assert ours.parameters["solver"].default == "exact"


def _reference_finite(T, n):
    """The reference's plain-domain Sinkhorn gives up on underflow and returns a non-coupling
    (rows no longer sum to 1/n); elsewhere it ends on a row update, so rows are exact."""
    return np.isfinite(T).all() and np.allclose(T.sum(1), 1 / n, rtol=1e-9, atol=0)


@pytest.mark.parametrize("epsilon", [0.05, 0.01])
def test_entropic_coupling_matches_reference(epsilon):
    X, _ = synthetic_counts(200, 90, n_types=3, n_modules=8, seed=3)
    X = X.astype(np.float64)
    G, T = gf.construct_genomap_returnT(X, 10, 10, epsilon=epsilon, num_iter=60)
    Gr, Tr = ref.construct_genomap_returnT(X, 10, 10, epsilon=epsilon, num_iter=60)
    assert _reference_finite(Tr, 90), "choose epsilon where the reference is finite"
    np.testing.assert_allclose(T, Tr, atol=1e-6, rtol=0)
    assert G.shape == Gr.shape
    np.testing.assert_allclose(G[:-1], Gr[:-1], atol=1e-6 * np.abs(Gr).max())


def _first_step_cost(X, rows, cols):
    """The reference's first linearised cost (from T = p q^T), expanded over pixels."""
    n = X.shape[1]
    C1 = pairwise_distances(X.T, metric="correlation")
    C2 = ref.createMeshDistance(rows, cols)[:n, :n]
    T0 = np.full((n, n), 1.0 / n**2)
    tens = -C1 @ T0 @ np.log(C2 + 1e-15).T
    return tens - tens.min()


def test_sinkhorn_matches_pot_knopp_and_log():
    import ot

    X, _ = synthetic_counts(150, 70, n_types=3, n_modules=6, seed=5)
    n = 70
    M = _first_step_cost(X.astype(np.float64), 9, 9)
    grid = gf.placement.make_grid(9, 9, n, "radial")
    cls, cap = grid.class_of_pixel, grid.capacity
    Mc = np.zeros((n, grid.n_classes))
    Mc[:, cls] = M  # columns of one class are equal
    a = b = np.full(n, 1.0 / n)
    for reg, it in [(1e-2, 50), (1e-3, 300), (1e-4, 300)]:
        Tc, _, _ = _core.sinkhorn_classes(Mc, cap, reg, it, 1e-9)
        ours = Tc[:, cls] / cap[cls]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            knopp = ot.bregman.sinkhorn_knopp(a, b, M, reg, numItermax=it, stopThr=1e-9)
        log = ot.bregman.sinkhorn_log(a, b, M, reg, numItermax=it, stopThr=1e-9)
        np.testing.assert_allclose(ours, log, atol=1e-9, rtol=0)
        if np.isfinite(knopp).all() and np.allclose(knopp.sum(1), a, rtol=1e-9):
            np.testing.assert_allclose(ours, knopp, atol=1e-9, rtol=0)
        else:  # the plain-domain kernel underflowed: POT's knopp fails, ours stays finite
            assert reg <= 1e-3
        assert np.isfinite(ours).all()
        np.testing.assert_allclose(ours.sum(1), a, rtol=1e-9)


def test_entropic_stays_finite_where_reference_underflows():
    X, _ = synthetic_counts(200, 90, n_types=3, n_modules=8, seed=3)
    X = X.astype(np.float64)
    eps = 2e-4
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, Tr = ref.construct_genomap_returnT(X, 10, 10, epsilon=eps, num_iter=20)
    assert not _reference_finite(Tr, 90)
    _, T = gf.construct_genomap_returnT(X, 10, 10, epsilon=eps, num_iter=20)
    assert np.isfinite(T).all()
    np.testing.assert_allclose(T.sum(1), 1 / 90, rtol=1e-9)
    np.testing.assert_allclose(T.sum(), 1.0, rtol=1e-9)
