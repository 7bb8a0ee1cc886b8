"""Atlas scale through the CLI: ``genomap-fast construct atlas.h5ad -o out.zarr --rows 33 --cols
33`` on 1M and 10M cells x 1,089 genes (raw counts, CSR float32, ~11% non-zeros), each in a
fresh process; on demand only (the 10M input takes 8 GB of disk and ~12 minutes to write once).

    GENOMAP_FAST_ATLAS_SCALE=1000000,10000000 \\
    GENOMAP_FAST_ATLAS_DIR=/big/disk \\
    .venv/bin/python -m pytest benchmarks/test_atlas_scale.py -p no:cacheprovider -s

- ``GENOMAP_FAST_ATLAS_SCALE``: cell counts to run (skipped when unset).
- ``GENOMAP_FAST_ATLAS_DIR``: where the inputs ``atlas_<n>.h5ad`` are written by
  ``datasets.write_synthetic_atlas`` (seed 0) and reused by later runs (default: a temporary
  folder, deleted afterwards).
- ``GENOMAP_FAST_ATLAS_CLUSTER=1`` (or a list of sizes, e.g. ``1000000``): also run each size
  (those sizes) on a dask LocalCluster (2 workers, 1 thread each) with ``--scheduler``, and check
  its store equals the single-process one, byte for byte.

Recorded per size: wall time and peak RSS (VmHWM of the CLI process, read at its exit; imports
included), store size, cells/s. Checked: peak RSS <= 0.5 GiB and, when both sizes run, the
largest size's peak within 10% of the smallest's; the streamed store of a 100k-cell file equals,
byte for byte, the store of the same cells read whole by anndata in memory.
"""
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

SUITE = "test_atlas_scale"
GENES, SIDE = 1089, 33
SIZES = [int(s) for s in os.environ.get("GENOMAP_FAST_ATLAS_SCALE", "").split(",") if s.strip()]
pytestmark = pytest.mark.skipif(not SIZES, reason="on demand: set GENOMAP_FAST_ATLAS_SCALE")

_CLI = textwrap.dedent("""
    import json, sys, time
    t0 = time.perf_counter()
    from genomap_fast.cli import main
    rc = main(sys.argv[1:])
    wall = time.perf_counter() - t0
    # VmHWM: this process's own peak (ru_maxrss would keep the parent's peak across fork + exec)
    peak = [int(l.split()[1]) * 1024 for l in open('/proc/self/status') if l.startswith('VmHWM')]
    print(json.dumps({"rc": rc, "wall_s": wall, "peak_gib": peak[0] / 2**30,
                      "anndata_imported": "anndata" in sys.modules}))
""")

_IN_MEMORY = textwrap.dedent("""
    import sys
    import anndata, numpy as np
    import genomap_fast as gf
    adata = anndata.read_h5ad(sys.argv[1])  # the anndata path: everything in memory
    gm = gf.Genomap(33, 33, dtype=np.float32).fit(adata)
    gm.write_zarr(sys.argv[2], adata)
""")


def _cli(*args):
    out = subprocess.run([sys.executable, "-c", _CLI, "construct", *map(str, args), "--rows",
                          str(SIDE), "--cols", str(SIDE), "-q"], capture_output=True, text=True,
                         timeout=7200)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _size(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def _same_bytes(a, b):
    def files(root):
        return {os.path.relpath(os.path.join(d, f), root): os.path.join(d, f)
                for d, _, fs in os.walk(root) for f in fs}

    fa, fb = files(a), files(b)
    assert sorted(fa) == sorted(fb)
    for rel in fa:
        with open(fa[rel], "rb") as x, open(fb[rel], "rb") as y:
            assert x.read() == y.read(), rel


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    given = os.environ.get("GENOMAP_FAST_ATLAS_DIR")
    path = given or str(tmp_path_factory.mktemp("atlas_scale"))
    os.makedirs(path, exist_ok=True)
    yield path
    if not given:
        shutil.rmtree(path, ignore_errors=True)


def _input(root, n):
    from genomap_fast.datasets import write_synthetic_atlas

    path = os.path.join(root, f"atlas_{n}.h5ad")
    if not os.path.exists(path):  # written atomically: present means complete
        write_synthetic_atlas(path, n, GENES, seed=0, progress=True)
    return path


PEAKS: dict = {}


@pytest.mark.parametrize("n_cells", SIZES)
def test_cli_h5ad_to_zarr(benchmark, record, root, tmp_path, n_cells):
    path = _input(root, n_cells)
    case = f"{n_cells:,} cells x {GENES} genes, sparse .h5ad -> zarr, genomap-fast construct"
    benchmark.group = case
    store = tmp_path / "genomaps.zarr"
    result = {}
    benchmark.pedantic(lambda: result.update(_cli(path, "-o", store)), rounds=1, iterations=1)
    assert result["rc"] == 0 and not result["anndata_imported"]
    size = _size(store)
    record(SUITE, case, "genomap_fast", result["wall_s"], peak_rss_gib=round(result["peak_gib"], 3),
           store_gib=round(size / 2**30, 3), cells_per_s=round(n_cells / result["wall_s"]),
           input_gib=round(os.path.getsize(path) / 2**30, 2))
    PEAKS[n_cells] = result["peak_gib"]
    if _on_cluster(n_cells):  # before the memory checks: its result stands on its own
        _cluster_run(record, path, store, tmp_path, n_cells)
    shutil.rmtree(store)
    assert result["peak_gib"] <= 0.5
    if len(PEAKS) == len(SIZES) and len(SIZES) > 1:  # the goal: flat in cells
        assert PEAKS[max(PEAKS)] <= 1.10 * PEAKS[min(PEAKS)], PEAKS


def _on_cluster(n_cells):
    value = os.environ.get("GENOMAP_FAST_ATLAS_CLUSTER", "").strip()
    if value in ("", "0"):
        return False
    return value == "1" or str(n_cells) in value.split(",")


def _cluster_run(record, path, single, tmp_path, n_cells):
    import distributed

    case = f"{n_cells:,} cells, dask LocalCluster (2 workers x 1 thread), --scheduler"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        out = tmp_path / "cluster.zarr"
        result = _cli(path, "-o", out, "--scheduler", cluster.scheduler_address)
    assert result["rc"] == 0
    _same_bytes(out, single)
    record(SUITE, case, "genomap_fast", result["wall_s"],
           peak_rss_gib=round(result["peak_gib"], 3), cells_per_s=round(n_cells / result["wall_s"]),
           store_equals_single_process=True)
    shutil.rmtree(out)


def test_streamed_store_equals_in_memory_anndata(record, root, tmp_path):
    """100k cells: the CLI's streamed store is the anndata in-memory path's, byte for byte."""
    from genomap_fast.datasets import write_synthetic_atlas

    path = str(tmp_path / "atlas_100000.h5ad")
    write_synthetic_atlas(path, 100_000, GENES, seed=1)
    streamed = tmp_path / "streamed.zarr"
    result = _cli(path, "-o", streamed)
    in_memory = tmp_path / "in_memory.zarr"
    subprocess.run([sys.executable, "-c", _IN_MEMORY, path, str(in_memory)], check=True,
                   timeout=3600)
    _same_bytes(streamed, in_memory)
    record(SUITE, "100,000 cells: streamed store == anndata in-memory store, byte for byte",
           "genomap_fast", result["wall_s"], peak_rss_gib=round(result["peak_gib"], 3),
           store_equals_in_memory=True)
