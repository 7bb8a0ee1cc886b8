"""Grid costs (genomap_fast.placement.make_grid, the C++ GridProducts): every kind of grid
applies its own products, and the solvers give the results they gave before the grid seam, when
gw.cpp still branched on the grid kind.

The snapshot ``data/grid_seam_snapshot.npz`` holds solver outputs of the build before the seam
(commit d43e6b3) on the seeded problems below; written by ``python tests/test_grid.py
OUT.npz`` against that build. Assignments must be equal and objectives equal to rounding (on
the machine that wrote it they are bit-identical); regenerate it only for a deliberate change
of the solvers' arithmetic.
"""
import pathlib
import sys

import numpy as np
import pytest

import genomap_fast as gf
from genomap_fast import _core
from genomap_fast.placement import make_grid

SNAPSHOT = pathlib.Path(__file__).parent / "data" / "grid_seam_snapshot.npz"
# kind, rows, cols, genes (every kind of products: dense BLAS, rings, FFT, tiles)
CASES = [("radial", 8, 8, 60), ("radial", 12, 12, 144), ("radial", 10, 13, 120),
         ("euc_blas", 10, 10, 100), ("euc_fft", 12, 12, 144), ("euc_fft", 13, 18, 230),
         ("euc_blas", 9, 11, 95), ("dense", 7, 7, 49)]


def _get(result, name):  # the snapshot's build returned dicts
    return result[name] if isinstance(result, dict) else getattr(result, name)


def _c1(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(80, n)) @ rng.normal(size=(n, n)) * 0.1 + rng.normal(size=(80, n))
    return gf.interaction_matrix(X).distance


def _problem(i):
    kind, rows, cols, n = CASES[i]
    if kind == "dense":
        P = np.random.default_rng(99).normal(size=(n, 3))
        grid = make_grid(rows, cols, n, np.sqrt(((P[:, None] - P[None]) ** 2).sum(-1)))
    elif kind == "radial":
        grid = make_grid(rows, cols, n, "radial")
    else:
        grid = make_grid(rows, cols, n, "euclidean", fft=kind == "euc_fft")
    return f"{kind}_{rows}x{cols}_{n}", _c1(n, i), grid


def _outputs(i):
    """The solver outputs compared with the snapshot, by name."""
    key, C1, grid = _problem(i)
    kind, rows, cols, n = CASES[i]
    out = {}
    r = _core.solve_gw_exact(C1, grid, 1000, 2)
    for f in ("assign", "objective", "n_iter", "trace"):
        out[f"{key}/exact2/{f}"] = np.asarray(_get(r, f))
    placed = _core.place_within_classes(C1, grid, _get(r, "assign"), 10, 2)
    out[f"{key}/place/pixel"] = np.asarray(_get(placed, "pixel"))
    out[f"{key}/place/euclidean_after"] = np.asarray(_get(placed, "euclidean_after"))
    e = _core.solve_gw_entropic(C1, grid, 0.05, 40, 1e-9, 2)
    out[f"{key}/ent/objective"] = np.asarray(_get(e, "objective"))
    out[f"{key}/ent/n_iter"] = np.asarray(_get(e, "n_iter"))
    if kind.startswith("euc"):
        m = _core.solve_gw_multilevel(C1, grid, 1000, 2, 16, 3)
        for f in ("assign", "objective", "tiles", "level_iter"):
            out[f"{key}/ml/{f}"] = np.asarray(_get(m, f))
        for t in (2, 3):
            tiles = _core.euclidean_tiles(rows, cols, n, t, kind == "euc_fft")
            rt = _core.solve_gw_exact(_c1(n, 50 + t), tiles, 1000, 2)
            out[f"{key}/tiles{t}/assign"] = np.asarray(_get(rt, "assign"))
            out[f"{key}/tiles{t}/objective"] = np.asarray(_get(rt, "objective"))
    return out


@pytest.mark.parametrize("i", range(len(CASES)), ids=[f"{c[0]}-{c[1]}x{c[2]}" for c in CASES])
def test_solvers_give_the_results_of_the_build_before_the_seam(i):
    want = np.load(SNAPSHOT)
    got = _outputs(i)
    assert got.keys() <= set(want.files)
    for name, value in got.items():
        if value.dtype.kind == "f":
            np.testing.assert_allclose(value, want[name], rtol=1e-12, atol=0, err_msg=name)
        else:
            np.testing.assert_array_equal(value, want[name], err_msg=name)


@pytest.mark.parametrize("i", range(len(CASES)), ids=[f"{c[0]}-{c[1]}x{c[2]}" for c in CASES])
def test_each_grid_applies_its_own_log_cost_product(i):
    """linear_term_assignment (the grid's apply_log_cost) equals (C1 S) L in numpy, and an
    incremental update (the grid's log-cost rows) equals the full product, for every kind."""
    _, C1, grid = _problem(i)
    kind = CASES[i][0]
    assert grid.products == ("fft" if kind == "euc_fft" else "blas")
    assert grid.stores_dense_cost == (kind != "euc_fft")
    assert grid.has_coarse_levels == kind.startswith("euc")
    rng = np.random.default_rng(i)
    D = grid.n_classes
    assign = rng.permutation(np.repeat(np.arange(D), grid.capacity))
    S = np.zeros((C1.shape[0], D))
    S[np.arange(C1.shape[0]), assign] = 1.0
    want = (C1 @ S) @ grid.log_cost
    A = _core.linear_term_assignment(C1, grid, assign, 2)
    np.testing.assert_allclose(A, want, rtol=1e-11, atol=1e-11)
    moved = assign.copy()
    swap = rng.choice(C1.shape[0], size=6, replace=False)
    moved[swap] = moved[np.roll(swap, 1)]
    updated = _core.update_linear_term(C1, grid, assign, moved, A, 2)
    np.testing.assert_allclose(updated, _core.linear_term_assignment(C1, grid, moved, 2),
                               rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("fft", [False, True])
def test_tiles_apply_their_products_like_their_dense_matrices(small, fft):
    tiles = _core.euclidean_tiles(13, 12, 150, 2, fft)
    assert tiles.products == ("fft" if fft else "blas") and not tiles.has_coarse_levels
    C1 = gf.interaction_matrix(small[0]).distance
    assign = np.asarray(tiles.class_of_pixel)
    S = np.zeros((150, tiles.n_classes))
    S[np.arange(150), assign] = 1.0
    np.testing.assert_allclose(_core.linear_term_assignment(C1, tiles, assign, 1),
                               (C1 @ S) @ tiles.log_cost, rtol=1e-11, atol=1e-11)


def test_tile_size_is_checked_before_use():
    with pytest.raises(ValueError, match="tile size"):
        _core.euclidean_tiles(5, 5, 25, 0)


if __name__ == "__main__":  # writes the snapshot from the installed build
    arrays = {}
    for i in range(len(CASES)):
        arrays.update(_outputs(i))
    np.savez_compressed(sys.argv[1], **arrays)
