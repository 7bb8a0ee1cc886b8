"""GPU backend benchmark: 1,000,000 x 1,089 rasterisation and interaction matrix; 100x100
placements (radial and euclidean, 2,000 cells) and pbmc68k_reduced's 33x33, each the whole fit
with the GW iteration on the GPU; a million cells from a .h5ad to a zarr store. Each case next
to the CPU path (all cores) and, for the placements, POT's GW on torch-CUDA, in the same run.
Writes benchmarks/results/test_gpu.md with the device name.

Run on a GPU machine with ``benchmarks/gpu/run.sh`` (or ``pytest benchmarks/test_gpu.py``).
Without a CUDA device only the CPU column is measured and no results file is written;
``--bench-quick`` uses small sizes to check the code paths.
"""
import datetime
import os
import platform
import time

import numpy as np
import pytest

import genomap_fast as gf
from genomap_fast._atomic import atomic_path
from genomap_fast.backends import backends

SUITE = "test_gpu"
GOALS = {"rasterise": 1.0, "interaction": 5.0, "placement_radial": 1.0,
         "placement_euclidean": 1.0, "placement_euclidean_64": float("nan"),
         "placement_pbmc": 0.1, "atlas_h5ad_zarr": float("nan")}
ROWS: dict = {}
CUDA = backends()["cuda"]


def _sizes(quick):
    return (20_000, 10) if quick else (1_000_000, 33)  # cells, grid side (33*33 = 1,089 genes)


def _timed(fn, sync=None):
    t0 = time.perf_counter()
    out = fn()
    if sync is not None:
        sync()
    return time.perf_counter() - t0, out


def _cupy():
    if not CUDA["available"]:
        return None
    try:
        import cupy
    except ImportError:
        return None
    return cupy


def _record(case, impl, seconds, note=""):
    ROWS.setdefault(case, {})[impl] = (seconds, note)


@pytest.fixture(scope="module", autouse=True)
def _needs_gpu(quick):
    """Full sizes only where there is a GPU (the CPU column alone would take minutes here)."""
    if not quick and not CUDA["available"]:
        pytest.skip(f"no GPU: {CUDA.get('reason')} (--bench-quick checks the code paths)")


@pytest.fixture(scope="module")
def data(quick):
    cells, side = _sizes(quick)
    rng = np.random.default_rng(0)
    genes = side * side
    base = rng.standard_normal((cells, 16)).astype(np.float32)
    X = base @ rng.standard_normal((16, genes)).astype(np.float32)
    X += rng.uniform(0, 5, genes).astype(np.float32)
    gm = gf.Genomap(side, side).fit(X[:20_000])
    return X, gm, side


def test_rasterise(data):
    X, gm, side = data
    cpu, ref = _timed(lambda: gm.transform(X))
    _record("rasterise", "cpu", cpu)
    cupy = _cupy()
    if cupy is None:
        pytest.skip(f"no GPU: {CUDA.get('reason', 'cupy missing')}")
    meta, arrays = gm.to_state()  # the same fitted placement, rasterised on the GPU
    gpu_gm = gf.Genomap.from_state({**meta, "params": {**meta["params"], "device": "cuda"}},
                                   arrays)
    Xd = cupy.asarray(X)
    gpu_gm.transform(Xd[:1000])  # warm-up (module load, context)
    sync = cupy.cuda.Device().synchronize
    dev, out = _timed(lambda: gpu_gm.transform(Xd), sync)
    np.testing.assert_array_equal(out.get(), ref)
    _record("rasterise", "gpu_device", dev)
    # host arrays streamed through the device (Genomap rasterises host arrays on the CPU, since
    # this round trip is slower than the gather there)
    from genomap_fast import _gpu

    dest, scale = _gpu.placement_dest(gm.placement_obj_, gm.genes_, gm.n_genes_in_)
    out = np.empty_like(ref)
    host, _ = _timed(lambda: _gpu.rasterize_host_block(X, dest, scale, out))
    np.testing.assert_array_equal(out, ref)
    _record("rasterise", "gpu_host", host)


def test_interaction(data):
    X, gm, side = data
    cpu, ref = _timed(lambda: gf.interaction_matrix(X))
    _record("interaction", "cpu", cpu)
    cupy = _cupy()
    if cupy is None:
        pytest.skip(f"no GPU: {CUDA.get('reason', 'cupy missing')}")
    from genomap_fast import _gpu

    Xd = cupy.asarray(X)
    _gpu.interaction_matrix(Xd[:1000])  # warm-up
    dev, out = _timed(lambda: _gpu.interaction_matrix(Xd))
    np.testing.assert_allclose(out.distance, ref.distance, rtol=0, atol=1e-10)
    _record("interaction", "gpu_device", dev)
    host, out = _timed(lambda: _gpu.interaction_matrix(X))
    np.testing.assert_allclose(out.distance, ref.distance, rtol=0, atol=1e-10)
    _record("interaction", "gpu_host", host)


def _placement_case(case, X, side, metric, quick, cpu_path=True):
    """One placement case: the whole fit on the CPU path and with device="cuda" (statistics and
    GW iteration on the GPU), the device iteration's own breakdown, and POT's entropic GW on
    torch-CUDA with the same costs. Without ``cpu_path`` the CPU column is left out (the CPU's
    exact euclidean iteration at 100x100 takes many minutes: benchmarks/results/test_large.md)."""
    ref = None
    if cpu_path:
        cpu, ref = _timed(lambda: gf.Genomap(side, side, grid_metric=metric).fit(X))
        _record(case, "cpu", cpu, f"{ref.n_iter_} GW iterations, objective {ref.objective_:.6f}")
    cupy = _cupy()
    if cupy is None:
        pytest.skip(f"no GPU: {CUDA.get('reason', 'cupy missing')}")
    from genomap_fast import _gpu, _gpu_gw
    from genomap_fast.placement import make_grid

    gf.Genomap(8, 8, grid_metric=metric, device="cuda").fit(X[:, :64])  # warm-up
    gpu, ours = _timed(lambda: gf.Genomap(side, side, grid_metric=metric, device="cuda").fit(X))
    assert ours.placement_obj_.device == "cuda", gf.backends()["cuda"]["steps"]
    stats_s, stats = _timed(lambda: _gpu.interaction_matrix(X))
    grid = make_grid(side, side, side * side, metric)
    place_s, placed = _timed(lambda: _gpu_gw.place_exact(stats.distance, grid, 1000))
    sec = placed["seconds"]
    _record(case, "gpu_host", gpu,
            f"whole fit with device='cuda': statistics {stats_s:.3f} s, GW {place_s:.3f} s "
            f"(setup {sec['setup']:.3f}, products {sec['products']:.3f}, auction "
            f"{sec['transport']:.3f}; {placed['n_iter']} steps, {placed['auction_rounds']} "
            f"auction rounds), objective {ours.objective_:.6f}"
            + (f" vs the CPU's {ref.objective_:.6f}" if ref is not None else ""))
    if ref is not None:
        assert ours.objective_ <= ref.objective_ + 1e-9
    try:
        import ot
        import torch
    except ImportError:
        return
    if not torch.cuda.is_available() or quick:
        return
    # POT's entropic GW on torch-CUDA, same costs (POT's exact GW solves its linear programs on
    # the CPU, hours at 10,000 genes); a fixed 20 outer iterations, labelled as such.
    from genomap_fast.placement import pixel_distance_matrix

    n = side * side
    C1 = torch.as_tensor(stats.distance, device="cuda")
    C2 = torch.as_tensor(pixel_distance_matrix(side, side, n, metric), device="cuda")
    C2 = C2 / C2.max()
    p = torch.full((n,), 1.0 / n, dtype=torch.float64, device="cuda")
    torch.cuda.synchronize()
    pot, _ = _timed(lambda: ot.gromov.entropic_gromov_wasserstein(
        C1, C2, p, p, "kl_loss", epsilon=5e-3, max_iter=20), torch.cuda.synchronize)
    _record(case, "pot_torch_cuda", pot, "POT entropic GW, 20 outer iterations")


@pytest.mark.parametrize("case", ["placement_radial", "placement_euclidean",
                                  "placement_euclidean_64"])
def test_placement(quick, case):
    side = 12 if quick else (64 if case.endswith("64") else 100)
    from genomap_fast.datasets import synthetic_counts

    X, _ = synthetic_counts(2000, side * side, n_types=8, n_modules=60, seed=0)
    metric = "radial" if case == "placement_radial" else "euclidean"
    _placement_case(case, X, side, metric, quick, cpu_path=quick or case != "placement_euclidean")


def test_placement_pbmc(quick):
    from genomap_fast.datasets import pbmc68k_reduced

    X = np.asarray(pbmc68k_reduced().X, dtype=np.float64)
    side = 6 if quick else 33
    _placement_case("placement_pbmc", X[:, : side * side], side, "radial", quick)


def test_atlas_h5ad_to_zarr(quick, tmp_path):
    """A million cells from a host .h5ad to a zarr store of genomaps with device="cuda" (the
    command line's construct): the time and where it goes."""
    if _cupy() is None:
        pytest.skip(f"no GPU: {CUDA.get('reason', 'cupy missing')}")
    h5py = pytest.importorskip("h5py")
    pytest.importorskip("zarr")
    cells = 20_000 if quick else int(os.environ.get("GENOMAP_FAST_ATLAS_CELLS", 1_000_000))
    side = 10 if quick else 33
    genes = side * side
    path = tmp_path / "atlas.h5ad"
    rng = np.random.default_rng(0)
    loadings = rng.standard_normal((16, genes)).astype(np.float32)
    with h5py.File(path, "w") as f:  # a minimal AnnData layout: dense X, obs/var indices
        f.attrs.update({"encoding-type": "anndata", "encoding-version": "0.1.0"})
        X = f.create_dataset("X", (cells, genes), dtype="float32", chunks=(4096, genes))
        X.attrs.update({"encoding-type": "array", "encoding-version": "0.2.0"})
        for lo in range(0, cells, 100_000):
            hi = min(cells, lo + 100_000)
            X[lo:hi] = rng.standard_normal((hi - lo, 16)).astype(np.float32) @ loadings + 3
        for group, n in (("obs", cells), ("var", genes)):
            g = f.create_group(group)
            g.attrs.update({"encoding-type": "dataframe", "encoding-version": "0.2.0",
                            "_index": "_index", "column-order": np.array([], dtype="S1")})
            g.create_dataset("_index", data=np.array([f"{group}{i}" for i in range(n)],
                                                     dtype="S"))
    from genomap_fast.estimator import Genomap
    from genomap_fast.io import read_table
    from genomap_fast.store import write_zarr

    t0 = time.perf_counter()
    table = read_table(str(path), backed=True)
    gm = Genomap(side, side, device="cuda", dtype=np.float32, layout="nchw")
    fit_s, _ = _timed(lambda: gm.fit(table.X))
    write_s, _ = _timed(lambda: write_zarr(str(tmp_path / "out.zarr"), gm, table.X))
    total = time.perf_counter() - t0
    _record("atlas_h5ad_zarr", "gpu_host", total,
            f"{cells:,} cells x {genes:,} genes: fit {fit_s:.2f} s (statistics and GW on the "
            f"GPU, read from the .h5ad), images to zarr {write_s:.2f} s (host rasterisation)")


@pytest.fixture(scope="module", autouse=True)
def _write_table(quick):
    yield
    if not ROWS:
        return
    impls = [("cpu", "CPU path (s)"), ("gpu_device", "GPU, device arrays (s)"),
             ("gpu_host", "GPU, host arrays streamed (s)"),
             ("pot_torch_cuda", "POT GW on torch-CUDA (s)")]
    head = ["case"] + [h for _, h in impls] + ["goal (s)", "notes"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for case, got in ROWS.items():
        cells = [f"{got[k][0]:.3f}" if k in got else "-" for k, _ in impls]
        notes = "; ".join(f"{k}: {v[1]}" for k, v in got.items() if v[1])
        goal = f"<= {GOALS[case]:g}" if GOALS[case] == GOALS[case] else "report"
        lines.append("| " + " | ".join([case, *cells, goal, notes]) + " |")
    table = "\n".join(lines)
    print(f"\n\n{SUITE}\n{table}\n")
    if quick or not CUDA["available"]:
        return
    cells, side = _sizes(False)
    header = (
        f"# {SUITE}\n\nMeasured {datetime.date.today()} on {', '.join(CUDA['devices'])} "
        f"(CUDA runtime {CUDA['runtime_version']}, driver CUDA {CUDA['driver_version']}), "
        f"host {platform.machine()} with {os.cpu_count()} cores, Python "
        f"{platform.python_version()}. Rasterisation and interaction matrix: {cells:,} cells x "
        f"{side * side:,} genes (float32); placements: 100x100 grids (10,000 genes), 2,000 "
        "cells, radial and euclidean, and pbmc68k_reduced on 33x33, exact, the whole fit.\n"
        "Reproduce: `benchmarks/gpu/run.sh`.\n\n"
    )
    here = os.path.dirname(__file__)
    os.makedirs(os.path.join(here, "results"), exist_ok=True)
    with atomic_path(os.path.join(here, "results", f"{SUITE}.md")) as tmp:
        with open(tmp, "w") as fh:
            fh.write(header + table + "\n")
