"""Parity with the reference's TensorFlow tasks, run side by side in the same session: genomap
1.3.6's genoVis (ConvIDEC on its own genomaps, Keras 2) in the benchmark-only environment that
``benchmarks/reference_tf.py`` creates, and ours (``genomap_fast.cnn.genoVis``, the same
architecture, schedule and stopping rule in PyTorch, trained on one thread and on a team of two)
on the same cells with the true number of clusters and the same grid. ARI and NMI against the
known cell types; wall time of the task (imports excluded for both; UMAP's compilation included
for both: ours is read from numba's on-disk cache once a first process has written it).
genoTraj and genoMOIvis side by side: test_reference_traj_moi.py.

The reference's genoVis takes no seed (TensorFlow and UMAP draw their own), so it is run
``REF_RUNS`` times; ours with seeds 0..SEEDS-1. Skips (with the reason) when the environment
cannot be built, e.g. without network access.
"""
import os
import sys
import time

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from genomap_fast.datasets import pbmc68k_reduced

sys.path.insert(0, os.path.dirname(__file__))
import reference_tf  # noqa: E402

SUITE = "test_reference_tasks"
REF_RUNS = 2
SEEDS = 2


def _pbmc(quick):
    ad = pbmc68k_reduced()
    X = np.asarray(ad.X, dtype=np.float64)
    y = ad.obs["bulk_labels"].astype(str).to_numpy()
    return (X[:200], y[:200]) if quick else (X, y)


def _scores(y, labels):
    return {"ARI": round(float(adjusted_rand_score(y, labels)), 4),
            "NMI": round(float(normalized_mutual_info_score(y, labels)), 4)}


def test_genovis_reference(record, quick):
    py, why = reference_tf.reference_python()
    if py is None:
        pytest.skip(why)
    X, y = _pbmc(quick)
    kw = {"pretrain_epochs": 2, "maxiter": 10} if quick else {}
    runs = 1 if quick else REF_RUNS
    for r in range(runs):
        out, seconds = reference_tf.run_reference(
            "genoVis", {"X": X}, n_clusters=int(len(np.unique(y))), colNum=28, rowNum=28, **kw)
        record(SUITE, f"pbmc68k_reduced genoVis, reference run {r + 1} (unseeded)", "reference",
               seconds, **_scores(y, out["labels"]))


@pytest.mark.parametrize("team", [None, "2"])
def test_genovis_ours(record, quick, team, monkeypatch):
    """Training on one thread (the default) and on a team of two
    (GENOMAP_FAST_TRAINING_THREADS=2, as the reference's TensorFlow uses both cores)."""
    torch = pytest.importorskip("torch")
    from genomap_fast.cnn import genoVis

    if team is None:
        monkeypatch.delenv("GENOMAP_FAST_TRAINING_THREADS", raising=False)
    else:
        monkeypatch.setenv("GENOMAP_FAST_TRAINING_THREADS", team)
    torch.set_num_threads(2)
    X, y = _pbmc(quick)
    kw = {"pretrain_epochs": 2, "maxiter": 10} if quick else {}
    how = "training on 1 thread" if team is None else f"training on {team} threads"
    for seed in range(1 if quick else SEEDS):
        t0 = time.perf_counter()
        _, labels = genoVis(X, n_clusters=len(np.unique(y)), rowNum=28, colNum=28, seed=seed,
                            **kw)
        record(SUITE, f"pbmc68k_reduced genoVis, ours seed {seed}, {how}", "genomap_fast",
               time.perf_counter() - t0, **_scores(y, labels))

