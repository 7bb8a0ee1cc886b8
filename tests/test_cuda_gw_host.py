"""The GW placement of the CUDA backend on every machine: its iterations (cuda/gw_loop.hpp)
with the kernels' bodies run on the CPU (cuda/host_gw.cpp) equal the C++ core's solvers, the
auction is an exact transport, and device="cuda" is wired through without a GPU."""
import numpy as np
import pytest

import genomap_fast as gf
from genomap_fast import _core
from genomap_fast.backends import backends
from genomap_fast.datasets import synthetic_counts
from genomap_fast.placement import make_grid, solve_on_grid

_cuda = pytest.importorskip(
    "genomap_fast._cuda",
    reason="built without the CUDA backend (no CUDA compiler at install, or GENOMAP_FAST_CUDA=OFF)",
)


def _C1(n, seed=0):
    X, _ = synthetic_counts(n_cells=200, n_genes=n, seed=seed)
    return gf.interaction_matrix(X).distance


def _grid_args(grid):
    from genomap_fast import _gpu_gw

    return _gpu_gw.grid_arguments(grid)


CASES = [(6, 6, 36, "radial", None), (8, 8, 60, "radial", None), (10, 10, 97, "radial", None),
         (6, 7, 42, "euclidean", False), (9, 9, 81, "euclidean", False),
         (5, 4, 20, "euclidean", True), (6, 7, 40, "euclidean", True),
         (9, 9, 81, "euclidean", True)]


@pytest.mark.parametrize("rows,cols,n,metric,fft", CASES)
def test_host_exact_iteration_equals_the_core(rows, cols, n, metric, fft):
    C1 = _C1(n, seed=rows + n)
    grid = make_grid(rows, cols, n, metric, fft=fft)
    args = _grid_args(grid)
    assert args["fft"] == bool(fft)
    core = _core.solve_gw_exact(C1, grid, 1000, 1)
    host = _cuda.host_gw_exact(C1, max_iter=1000, **args)
    # same first step, linear terms, stopping rule and transport optimum: the same fixed point
    np.testing.assert_array_equal(host["assign"], core.assign)
    assert host["n_iter"] == core.n_iter and host["converged"] == core.converged
    assert host["objective"] == pytest.approx(core.objective, rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(host["trace"], core.trace, rtol=1e-12, atol=1e-12)
    assert host["auction_rounds"] > 0
    assert set(host["seconds"]) == {"setup", "products", "transport"}


@pytest.mark.parametrize("rows,cols,n,metric,fft", [CASES[0], CASES[3], CASES[6]])
def test_host_entropic_iteration_equals_the_core(rows, cols, n, metric, fft):
    C1 = _C1(n, seed=1)
    grid = make_grid(rows, cols, n, metric, fft=fft)
    core = _core.solve_gw_entropic(C1, grid, 0.05, 1000, 1e-9, 1)
    host = _cuda.host_gw_entropic(C1, epsilon=0.05, max_iter=1000, tol=1e-9,
                                  **_grid_args(grid))
    np.testing.assert_allclose(host["coupling"], core.coupling, rtol=0, atol=1e-6)
    assert np.abs(host["coupling"] - core.coupling).max() < 1e-12  # in fact far closer
    assert host["n_iter"] == core.n_iter
    assert host["objective"] == pytest.approx(core.objective, rel=1e-10)


@pytest.mark.parametrize("n,D,integer", [(30, 7, False), (50, 50, False), (80, 13, False),
                                         (40, 5, True), (60, 60, True), (1, 1, False)])
def test_host_auction_is_an_exact_transport(n, D, integer):
    rng = np.random.default_rng(n + D)
    cap = np.bincount(np.arange(n) % D, minlength=D).astype(np.int64)
    # integer benefits: many ties, where auctions can cycle without epsilon scaling
    A = rng.integers(-3, 4, size=(n, D)).astype(float) if integer else rng.normal(size=(n, D))
    classes, rounds = _cuda.host_auction(A, cap)
    np.testing.assert_array_equal(np.bincount(classes, minlength=D), cap)
    best = _core.solve_transport(-A, cap, None, None).assign
    gain = A[np.arange(n), classes].sum()
    assert gain >= A[np.arange(n), best].sum() - 1e-9 * max(1.0, np.abs(A).max())
    assert rounds >= 1
    again, _ = _cuda.host_auction(A, cap)  # deterministic
    np.testing.assert_array_equal(again, classes)


def test_displacement_table_is_the_dense_log_cost():
    rows, cols, n = 5, 4, 18
    fft = make_grid(rows, cols, n, "euclidean", fft=True)
    dense = make_grid(rows, cols, n, "euclidean", fft=False)
    table = fft.log_cost_table
    assert table.shape == (2 * cols - 1, 2 * rows - 1) and table.dtype == np.float64
    assert dense.log_cost_table is None and make_grid(5, 4, 18, "radial").log_cost_table is None
    L = dense.log_cost
    for d in range(n):
        for e in range(n):
            dr, dc = e % rows - d % rows, e // rows - d // rows
            assert table[dc + cols - 1, dr + rows - 1] == L[d, e]


def test_bad_grid_descriptions_are_value_errors():
    C1 = _C1(12)
    grid = make_grid(4, 3, 12, "radial")
    args = _grid_args(grid)
    with pytest.raises(ValueError, match="capacities must sum"):
        _cuda.host_gw_exact(C1, max_iter=10, **{**args, "capacity": args["capacity"] + 1})
    with pytest.raises(ValueError, match="dense log-cost"):
        _cuda.host_gw_exact(C1, max_iter=10, **{**args, "log_cost": args["log_cost"][:2]})
    with pytest.raises(ValueError, match="square"):
        _cuda.host_gw_exact(C1[:5], max_iter=10, **args)
    with pytest.raises(ValueError, match="max_iter"):
        _cuda.host_gw_exact(C1, max_iter=0, **args)
    with pytest.raises(ValueError, match="epsilon"):
        _cuda.host_gw_entropic(C1, epsilon=0.0, max_iter=10, tol=1e-9, **args)
    with pytest.raises(ValueError, match="displacement table"):
        _cuda.host_gw_exact(C1, max_iter=10, **{**args, "fft": True})
    bad = C1.copy()
    bad[1, 2] = np.nan  # NaN benefits would keep the auction bidding forever
    for call in (_cuda.host_gw_exact, _cuda.gw_exact):  # checked before any device call
        with pytest.raises(ValueError, match="finite"):
            call(bad, max_iter=10, **args)
    with pytest.raises(ValueError, match="non-negative"):
        _cuda.host_gw_exact(-C1, max_iter=10, **args)
    with pytest.raises(ValueError, match="log_cost must be finite"):
        _cuda.host_gw_exact(C1, max_iter=10, **{**args, "log_cost": args["log_cost"] * np.inf})
    with pytest.raises(ValueError, match="A must be finite"):
        _cuda.host_auction(np.full((3, 3), np.nan), np.ones(3, dtype=np.int64))


def test_math_libraries_report_themselves():
    from genomap_fast import _gpu_gw

    ok, reason = _gpu_gw.math_libraries()
    if ok:
        paths = _cuda.math_library_paths()
        assert any("cublas" in p for p in paths) and any("cufft" in p for p in paths)
    else:
        assert "libcublas" in reason or "libcufft" in reason or "symbol" in reason


@pytest.mark.skipif(backends()["cuda"]["available"], reason="a CUDA device is present")
def test_steps_without_a_device_all_run_on_the_cpu():
    steps = backends()["cuda"]["steps"]
    assert set(steps) == {"statistics", "placement", "rasterisation", "anneal", "refinement"}
    assert set(steps.values()) == {"cpu"}


def test_solve_on_grid_checks_device():
    C1 = _C1(12)
    grid = make_grid(4, 3, 12, "radial")
    with pytest.raises(ValueError, match="device"):
        solve_on_grid(C1, grid, device="gpu")
    assert solve_on_grid(C1, grid).device == "cpu"
