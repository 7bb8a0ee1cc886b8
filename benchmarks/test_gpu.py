"""GPU backend benchmark: 1,000,000 x 1,089 rasterisation and interaction matrix, 100x100
placement; each case next to the CPU path (all cores) and, for the placement, POT's GW on
torch-CUDA, in the same run. Writes benchmarks/results/test_gpu.md with the device name.

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
GOALS = {"rasterise": 1.0, "interaction": 5.0, "placement": 10.0}
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


def test_placement(quick):
    side = 12 if quick else 100
    from genomap_fast.datasets import synthetic_counts

    X, _ = synthetic_counts(2000, side * side, n_types=8, n_modules=60, seed=0)
    cpu, ref = _timed(lambda: gf.Genomap(side, side).fit(X))
    _record("placement", "cpu", cpu, f"{ref.n_iter_} GW iterations")
    cupy = _cupy()
    if cupy is None:
        pytest.skip(f"no GPU: {CUDA.get('reason', 'cupy missing')}")
    gf.Genomap(8, 8, device="cuda").fit(X[:, :64])  # warm-up
    gpu, ours = _timed(lambda: gf.Genomap(side, side, device="cuda").fit(X))
    from genomap_fast import _gpu

    cpu_stats, _ = _timed(lambda: gf.interaction_matrix(X))
    gpu_stats, _ = _timed(lambda: _gpu.interaction_matrix(X))
    _record("placement", "cpu", cpu, f"{ref.n_iter_} GW iterations, statistics {cpu_stats:.2f} s")
    _record("placement", "gpu_device", gpu,
            f"statistics on the GPU ({gpu_stats:.2f} s), GW on the CPU")
    np.testing.assert_array_equal(ours.placement_, ref.placement_)
    try:
        import ot
        import torch
    except ImportError:
        return
    if not torch.cuda.is_available():
        return
    # POT's entropic GW on torch-CUDA, same costs (POT's exact GW solves its linear programs on
    # the CPU, hours at 10,000 genes); a fixed 20 outer iterations, labelled as such.
    from genomap_fast.placement import pixel_distance_matrix

    n = side * side
    C1 = torch.as_tensor(_gpu.interaction_matrix(X).distance, device="cuda")
    C2 = torch.as_tensor(pixel_distance_matrix(side, side, n, "radial"), device="cuda")
    C2 = C2 / C2.max()
    p = torch.full((n,), 1.0 / n, dtype=torch.float64, device="cuda")
    torch.cuda.synchronize()
    pot, _ = _timed(lambda: ot.gromov.entropic_gromov_wasserstein(
        C1, C2, p, p, "kl_loss", epsilon=5e-3, max_iter=20), torch.cuda.synchronize)
    _record("placement", "pot_torch_cuda", pot, "POT entropic GW, 20 outer iterations")


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
        lines.append("| " + " | ".join([case, *cells, f"<= {GOALS[case]:g}", notes]) + " |")
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
        f"{side * side:,} genes (float32); placement: 100x100 grid (10,000 genes), 2,000 cells, "
        "radial, exact.\nReproduce: `benchmarks/gpu/run.sh`.\n\n"
    )
    here = os.path.dirname(__file__)
    os.makedirs(os.path.join(here, "results"), exist_ok=True)
    with atomic_path(os.path.join(here, "results", f"{SUITE}.md")) as tmp:
        with open(tmp, "w") as fh:
            fh.write(header + table + "\n")
