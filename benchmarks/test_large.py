"""Large genomaps: placement time and peak memory from 33x33 to 141x141 (1,089 to 19,881 genes).

Each case runs ``Genomap(side, side).fit(X)`` (streaming interaction matrix, exact GW placement,
within-ring tie-breaking) in a fresh subprocess on synthetic log-normalised counts with gene
modules, reporting wall time, GW iterations and peak RSS. The reference (genomap 1.3.6,
num_iter=200) is measured in the same run where it finishes within 10 minutes (33x33) and
extrapolated beyond it with the cost law of docs/design.md (time ~ genes^2.1), stated as such.
"""
import json
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from genomap_fast.datasets import synthetic_counts

SUITE = "test_large"
N_CELLS = 1000
SIDES = [33, 64, 100, 141]
QUICK_SIDES = [12, 20]
EXPONENT = 2.1
_REFERENCE = {}

_CHILD = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    import genomap_fast as gf
    from genomap_fast.datasets import synthetic_counts
    side, cells, metric = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    multilevel = sys.argv[4] == "on"
    X, _ = synthetic_counts(cells, side * side, n_types=8, n_modules=60, seed=0)
    t0 = time.perf_counter()
    gm = gf.Genomap(side, side, grid_metric=metric, multilevel=multilevel).fit(X)
    seconds = time.perf_counter() - t0
    # VmHWM: this process's own peak (ru_maxrss keeps the parent's peak across fork + exec)
    peak = [int(l.split()[1]) * 1024 for l in open('/proc/self/status') if l.startswith('VmHWM')][0]
    print(json.dumps({"seconds": seconds, "n_iter": gm.n_iter_, "objective": gm.objective_,
                      "peak_bytes": peak, "converged": gm.converged_}))
""")


def _ours(side, cells, metric="radial", multilevel="off"):
    out = subprocess.run([sys.executable, "-c", _CHILD, str(side), str(cells), metric, multilevel],
                         capture_output=True, text=True, check=True, timeout=1800)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("side", SIDES + QUICK_SIDES)
def test_large_placement(benchmark, record, quick, side):
    sides = QUICK_SIDES if quick else SIDES
    if side not in sides:
        pytest.skip("not in this mode")
    cells = 200 if quick else N_CELLS
    anchor = sides[0]
    case = f"{side}x{side} ({side * side} genes, {cells} cells)"
    benchmark.group = case
    result = {}

    def run():
        result.update(_ours(side, cells))

    benchmark.pedantic(run, rounds=1, iterations=1)
    metrics = {"GW iterations": float(result["n_iter"]),
               "peak RSS GiB": result["peak_bytes"] / 2**30}
    if side == anchor:
        from genomap.genomap import construct_genomap_returnT

        X, _ = synthetic_counts(cells, side * side, n_types=8, n_modules=60, seed=0)
        t0 = time.perf_counter()
        construct_genomap_returnT(X.astype(np.float64), side, side, num_iter=200)
        _REFERENCE["seconds"] = time.perf_counter() - t0
        record(SUITE, case, "reference", _REFERENCE["seconds"])
    elif "seconds" in _REFERENCE:
        extrapolated = _REFERENCE["seconds"] * (side / anchor) ** (2 * EXPONENT)
        record(SUITE, case + " [reference extrapolated]", "reference", extrapolated)
        case = case + " [reference extrapolated]"
    record(SUITE, case, "genomap_fast", result["seconds"], **metrics)
    assert result["converged"] or result["n_iter"] == 1000


EUCLIDEAN_SIDES = [33, 48, 64]


@pytest.mark.parametrize("side", EUCLIDEAN_SIDES + QUICK_SIDES)
@pytest.mark.parametrize("solver", ["plain", "multilevel"])
def test_large_placement_euclidean(benchmark, record, quick, side, solver):
    """grid_metric="euclidean" (true pixel distances; no reference counterpart): products by
    FFT convolution (or by the moved genes only); the single-level iteration ("plain", the
    default) against the coarse-to-fine one (``multilevel=True``: 2x2-pixel tiles first), with
    both objectives reported (lower is better)."""
    if side not in (QUICK_SIDES if quick else EUCLIDEAN_SIDES):
        pytest.skip("not in this mode")
    cells = 200 if quick else N_CELLS
    case = f"euclidean {side}x{side} ({side * side} genes, {cells} cells), {solver}"
    benchmark.group = case
    result = {}
    benchmark.pedantic(
        lambda: result.update(_ours(side, cells, "euclidean",
                                    "on" if solver == "multilevel" else "off")),
        rounds=1, iterations=1)
    record(SUITE, case, "genomap_fast", result["seconds"],
           **{"GW iterations": float(result["n_iter"]), "objective": result["objective"],
              "peak RSS GiB": result["peak_bytes"] / 2**30})
    assert result["converged"]


@pytest.mark.parametrize("side", [64, 100] + QUICK_SIDES)
def test_euclidean_products_fft_vs_blas(benchmark, record, quick, side):
    """One GW linear term (C1 S) log(C2) on the euclidean grid: FFT convolution vs BLAS."""
    from genomap_fast import _core
    from genomap_fast.interaction import interaction_matrix
    from genomap_fast.placement import make_grid

    if side not in (QUICK_SIDES if quick else [64, 100]):
        pytest.skip("not in this mode")
    n = side * side
    X, _ = synthetic_counts(200, n, n_types=8, n_modules=60, seed=0)
    C1 = interaction_matrix(X).distance
    assign = np.random.default_rng(0).permutation(n)
    times, out = {}, {}

    def product(fft):
        grid = make_grid(side, side, n, "euclidean", fft=fft)
        t0 = time.perf_counter()
        out[fft] = _core.linear_term_assignment(C1, grid, assign, 2)
        times[fft] = time.perf_counter() - t0

    product(False)
    case = f"euclidean GW product {side}x{side}: FFT (ours) vs BLAS"
    benchmark.group = case
    benchmark.pedantic(product, args=(True,), rounds=1, iterations=1)
    rel = float(np.abs(out[True] - out[False]).max() / np.abs(out[False]).max())
    assert rel < 1e-12
    record(SUITE, case, "genomap_fast", times[True], blas_s=round(times[False], 3),
           fft_speedup=round(times[False] / times[True], 1), max_rel_difference=rel)
