"""Large euclidean grids: displacement-table costs, tiled coarse grids, incremental linear terms
and the coarse-to-fine solver, each against a dense numpy oracle or the plain solver."""
import numpy as np
import pytest

import genomap_fast as gf
from genomap_fast import _core
from genomap_fast.placement import make_grid


def _c1(small, n):
    X, _ = small
    if n <= X.shape[1]:
        return gf.interaction_matrix(X[:, :n]).distance
    rng = np.random.default_rng(n)
    return gf.interaction_matrix(rng.normal(size=(60, n)) @ rng.normal(size=(n, n)) * 0.1
                                 + rng.normal(size=(60, n))).distance


def _pixel_xy(rows, cols, n_used):
    k = np.arange(n_used)
    return np.stack([k % rows, k // rows], axis=1).astype(float)


@pytest.mark.parametrize("rows,cols,n", [(16, 16, 256), (13, 18, 230), (1, 20, 20)])
def test_fft_grid_keeps_a_displacement_table_not_dense_matrices(rows, cols, n):
    fft = make_grid(rows, cols, n, "euclidean", fft=True)
    blas = make_grid(rows, cols, n, "euclidean", fft=False)
    assert not fft.stores_dense_cost and blas.stores_dense_cost
    xy = _pixel_xy(rows, cols, n)
    dist = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1))
    np.testing.assert_allclose(fft.class_cost, dist, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(fft.class_cost, blas.class_cost)
    log = np.log(dist + 1e-15)
    np.fill_diagonal(log, 0.0)
    np.testing.assert_array_equal(fft.log_cost, log)
    np.testing.assert_array_equal(blas.log_cost, log)
    np.testing.assert_allclose(fft.mean_cost, dist.mean(), rtol=1e-13)
    np.testing.assert_allclose(blas.mean_cost, dist.mean(), rtol=1e-13)


def test_entropic_steps_by_fft_equal_blas(small):
    C1 = _c1(small, 144)
    r = [_core.solve_gw_entropic(C1, make_grid(12, 12, 144, "euclidean", fft=f), 0.05, 30, 1e-9, 2)
         for f in (False, True)]
    np.testing.assert_allclose(r[1].coupling, r[0].coupling, rtol=0, atol=1e-12)
    np.testing.assert_allclose(r[1].objective, r[0].objective, rtol=1e-10)


@pytest.mark.parametrize("tile", [1, 2, 3])
@pytest.mark.parametrize("rows,cols,n", [(8, 8, 64), (9, 7, 60), (6, 10, 31)])
def test_tiled_grid_costs_are_means_over_pixel_pairs(rows, cols, n, tile):
    g = _core.euclidean_tiles(rows, cols, n, tile)
    k = np.arange(n)
    tile_rows = -(-rows // tile)
    expect = (k % rows) // tile + ((k // rows) // tile) * tile_rows
    np.testing.assert_array_equal(g.class_of_pixel, expect)
    assert g.n_classes == expect.max() + 1 and g.n_used == n
    np.testing.assert_array_equal(g.capacity, np.bincount(expect))
    assert g.rows == tile_rows and g.cols == -(-cols // tile)
    # oracle: full tiles on an unbounded grid, mean over distinct pixel pairs
    off = np.array([(a, b) for b in range(tile) for a in range(tile)], float)
    for d in range(g.n_classes):
        for e in range(g.n_classes):
            shift = np.array([e % g.rows - d % g.rows, e // g.rows - d // g.rows]) * tile
            diff = off[None, :, :] + shift - off[:, None, :]
            dist = np.sqrt((diff ** 2).sum(-1))
            mask = dist > 0
            want = np.log(dist[mask]).mean() if mask.any() else 0.0
            np.testing.assert_allclose(g.log_cost[d, e], want, rtol=1e-12, atol=1e-13)
            np.testing.assert_allclose(g.class_cost[d, e], dist[mask].mean() if mask.any() else 0,
                                       rtol=1e-12)
    if tile == 1:  # the pixel grid itself
        pix = make_grid(rows, cols, n, "euclidean", fft=False)
        np.testing.assert_allclose(g.log_cost, pix.log_cost, atol=1e-13)
        np.testing.assert_allclose(g.mean_cost, pix.mean_cost, rtol=1e-12)


@pytest.mark.parametrize("tile", [2, 4])
def test_tiled_grid_fft_products_equal_blas(small, tile):
    C1 = _c1(small, 150)
    fft, blas = (_core.euclidean_tiles(13, 12, 150, tile, fft=f) for f in (True, False))
    assert fft.uses_fft and not blas.uses_fft
    rng = np.random.default_rng(tile)
    assign = rng.integers(0, fft.n_classes, size=150)
    A = [_core.linear_term_assignment(C1, g, assign, 2) for g in (fft, blas)]
    np.testing.assert_allclose(A[0], A[1], rtol=0, atol=1e-12 * np.abs(A[1]).max())


@pytest.mark.parametrize("metric", ["radial", "euclidean-fft", "euclidean-blas", "dense"])
def test_incremental_linear_term_equals_full_product(small, metric):
    rows, cols, n = 17, 16, 272
    C1 = _c1(small, n)
    if metric == "dense":
        rng = np.random.default_rng(3)
        pts = rng.normal(size=(n, 2))
        grid = make_grid(rows, cols, n, np.sqrt(((pts[:, None] - pts[None]) ** 2).sum(-1)))
    else:
        grid = make_grid(rows, cols, n, metric.split("-")[0], fft=metric.endswith("fft")
                         if metric != "radial" else None)
    rng = np.random.default_rng(7)
    had = rng.permutation(n) % grid.n_classes
    A = _core.linear_term_assignment(C1, grid, had, 1)
    for moved in (0, 1, 5, 60):
        assign = had.copy()
        idx = rng.choice(n, size=moved, replace=False)
        assign[idx] = rng.permutation(assign[idx])  # classes keep their counts
        got = _core.update_linear_term(C1, grid, had, assign, A, 2)
        want = _core.linear_term_assignment(C1, grid, assign, 1)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-11 * np.abs(want).max())
        assert np.array_equal(got, _core.update_linear_term(C1, grid, had, assign, A, 1))
    with pytest.raises(ValueError, match="out of range"):
        _core.update_linear_term(C1, grid, had, np.full(n, grid.n_classes), A, 1)
    with pytest.raises(ValueError, match="linear term"):
        _core.update_linear_term(C1, grid, had, had, A[:, :-1], 1)


def test_multilevel_tiles_schedule():
    assert list(_core.multilevel_tiles(100, 100, 10000, 2000, 4)) == [2, 1]
    assert list(_core.multilevel_tiles(100, 100, 10000, 256, 4)) == [4, 2, 1]
    assert list(_core.multilevel_tiles(100, 100, 10000, 256, 2)) == [2, 1]
    assert list(_core.multilevel_tiles(12, 12, 144, 256, 4)) == [1]
    assert list(_core.multilevel_tiles(100, 100, 10000, 1, 1)) == [1]


@pytest.mark.parametrize("rows,cols,n", [(16, 16, 256), (15, 17, 250)])
def test_multilevel_placement_is_a_converged_permutation_with_its_objective(small, rows, cols, n,
                                                                           objective):
    C1 = _c1(small, n)
    grid = make_grid(rows, cols, n, "euclidean")
    r = _core.solve_gw_multilevel(C1, grid, 1000, 2, 16, 3)
    assert list(r.tiles) == [4, 2, 1]
    assert len(r.level_iter) == 3 and r.n_iter == sum(r.level_iter)
    assert r.converged
    assign = r.assign
    assert np.array_equal(np.sort(assign), np.arange(n))
    T = np.zeros((n, n))
    T[np.arange(n), assign] = 1.0 / n
    C2 = gf.pixel_distance_matrix(rows, cols, n, "euclidean")
    np.testing.assert_allclose(r.objective, objective(C1, C2, T), rtol=1e-10)
    # thread count does not change the result
    r1 = _core.solve_gw_multilevel(C1, grid, 1000, 1, 16, 3)
    assert np.array_equal(r1.assign, assign)


def test_multilevel_needs_a_pixel_euclidean_grid(small):
    C1 = _c1(small, 120)
    with pytest.raises(ValueError, match="euclidean grid"):
        _core.solve_gw_multilevel(C1, make_grid(11, 11, 120, "radial"), 10, 1)


def test_solve_placement_multilevel_option(small, objective):
    C1 = _c1(small, 150)
    rows, cols = 10, 15
    ml = gf.solve_placement(C1, rows, cols, "euclidean", multilevel=True)
    plain = gf.solve_placement(C1, rows, cols, "euclidean", multilevel=False)
    default = gf.solve_placement(C1, rows, cols, "euclidean")  # multilevel is opt-in
    assert np.array_equal(default.pixel, plain.pixel)
    assert ml.converged and np.array_equal(np.sort(ml.pixel), np.arange(150))
    C2 = gf.pixel_distance_matrix(rows, cols, 150, "euclidean")
    np.testing.assert_allclose(ml.objective, objective(C1, C2, ml.coupling()), rtol=1e-10)
    # both are fixed points of the same iteration: the multilevel one keeps most of the plain
    # iteration's improvement over its first step (-3% to +20% of it on these data)
    assert ml.objective - plain.objective < 0.3 * (plain.trace[0] - plain.objective)
    with pytest.raises(ValueError, match="multilevel placement needs grid_metric='euclidean'"):
        gf.solve_placement(C1, rows, cols, "radial", multilevel=True)


def test_genomap_multilevel_parameter_round_trips(small, tmp_path):
    X, _ = small
    with pytest.raises(ValueError, match="needs grid_metric='euclidean'"):
        gf.Genomap(10, 15, multilevel=True)
    gm = gf.Genomap(10, 15, grid_metric="euclidean", multilevel=True).fit(X)
    ref = gf.solve_placement(gf.interaction_matrix(X).distance, 10, 15, "euclidean",
                             multilevel=True)
    assert np.array_equal(gm.placement_, ref.pixel)
    gm.save(tmp_path / "gm")
    back = gf.Genomap.load(tmp_path / "gm")
    assert back.multilevel is True
    np.testing.assert_array_equal(back.transform(X[:5]), gm.transform(X[:5]))
