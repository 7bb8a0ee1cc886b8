"""genoMOIvis counted from a fresh process, as a first call would be: CellBench's five batches
(1,041 cells, 11,533 genes, five lung cancer cell lines; needs a clone of LuyiTian/sc_mixology
under $GENOMAP_FAST_REAL_DATA, see real_datasets.py) in a new Python process that imports the
package, runs ``genoMOIvis`` with the true number of cell lines and exits. The wall time runs
from the process's start to its end (interpreter start and imports included, the input's .npz
read excluded and reported apart), with where it goes: imports, pre-alignment (scanorama),
GenoDEC, UMAP. Four runs: numba's cache empty (the first call after installing: umap's
functions are compiled and cached) with the warm-up helper off (``GENOMAP_FAST_UMAP_WARMUP=0``:
the process compiles them itself) and on (the default: a helper process compiles them while the
network trains), filled (every later process), and filled with training on a team of two
threads (``GENOMAP_FAST_TRAINING_THREADS=2``). Goal: <= 30 s per 1,000 cells.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest

SUITE = "test_moi_fresh"
SCRIPT = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
data = np.load(sys.argv[1])
arrays = [data[f"batch{i}"] for i in range(int(data["n"]))]
t_read = time.perf_counter() - t0
from genomap_fast.cnn import cluster, embedding, genoMOIvis, moi
t_import = time.perf_counter() - t0 - t_read
times = {}
def timed(name, fn):
    def wrapper(*a, **k):
        t = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            times[name] = times.get(name, 0.0) + time.perf_counter() - t
    return wrapper
moi.prealign = timed("prealign", moi.prealign)
cluster.GenoDEC.fit = timed("GenoDEC", cluster.GenoDEC.fit)
embedding.umap_2d = timed("UMAP", embedding.umap_2d)
kw = json.loads(sys.argv[2])
emb, labels, _ = genoMOIvis(*arrays, **kw)
np.save(sys.argv[3], np.column_stack([emb, labels]))
print(json.dumps({"read": t_read, "imports": t_import, **times}))
"""


def test_genomoivis_fresh_process(record, quick, tmp_path):
    from sklearn.metrics import adjusted_rand_score
    from test_real_tasks import _batch_mixing, load_batches

    _, X, arrays, y, batch, names = load_batches()
    if quick:
        arrays = [a[:40] for a in arrays]
        y = np.concatenate([y[batch == b][:40] for b in names])
        batch = np.concatenate([batch[batch == b][:40] for b in names])
    data = tmp_path / "batches.npz"
    np.savez(data, n=len(arrays), **{f"batch{i}": a for i, a in enumerate(arrays)})
    kw = {"n_clusters": int(len(np.unique(y))), "seed": 0}
    if quick:
        kw.update(epoch=1, maxiter=5)
    n = sum(len(a) for a in arrays)
    with tempfile.TemporaryDirectory() as folder:
        base = {k: v for k, v in os.environ.items()
                if k not in ("GENOMAP_FAST_TRAINING_THREADS", "GENOMAP_FAST_UMAP_WARMUP")}
        for run, cache, extra in (
                ("numba cache empty, warm-up helper off", "a", {"GENOMAP_FAST_UMAP_WARMUP": "0"}),
                ("numba cache empty (warm-up helper on, the default)", "b", {}),
                ("numba cache filled", "b", {}),
                ("numba cache filled, GENOMAP_FAST_TRAINING_THREADS=2", "b",
                 {"GENOMAP_FAST_TRAINING_THREADS": "2"})):
            env = {**base, "NUMBA_CACHE_DIR": os.path.join(folder, cache), **extra}
            out = tmp_path / "out.npy"
            t0 = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", SCRIPT, str(data), json.dumps(kw),
                                   str(out)], env=env, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            if done.returncode:
                pytest.fail(done.stderr[-2000:])
            parts = json.loads(done.stdout.strip().splitlines()[-1])
            res = np.load(out)
            labels = res[:, 2].astype(np.int64)
            record(SUITE, f"CellBench, {n} cells, {len(arrays)} batches, {run}", "genomap_fast",
                   wall - parts["read"],
                   **{"s per 1,000 cells": round((wall - parts["read"]) / n * 1000, 1),
                      **{f"{k} (s)": round(v, 2) for k, v in parts.items()},
                      "ARI": round(float(adjusted_rand_score(y, labels)), 4),
                      "batch mixing": round(float(_batch_mixing(res[:, :2], batch)), 4)})
