"""The reference's genoTraj and genoMOIvis (genomap 1.3.6, TensorFlow/Keras 2, in the
benchmark-only environment of ``benchmarks/reference_tf.py``) side by side with ours, on the
data and arguments of ``test_traj_quality`` and ``test_real_tasks``:

- genoTraj on PHATE's DLA tree (5 branches x 200 cells, 100 genes, 10x10; branch-order score),
  on the Deng embryo time course and on the Klein 2015 ES-cell differentiation (Spearman of
  the distance from the earliest cells with the stage or day), with the reference's default of
  33 states and with the number of states that our ``n_clusters=None`` estimates (Louvain on a
  kNN graph of the z-scored genes), given to both; ours with its other defaults;
- genoMOIvis on CellBench's 5 batches (true number of cell lines; ARI and batch mixing).

The reference takes no seed; it runs once per case. Where it raises, the row says so (the
exception) instead of failing the benchmark. Real sets need ``GENOMAP_FAST_REAL_DATA`` (see
real_datasets.py); each case skips cleanly without its data or without the environment.
"""
import os
import sys
import time

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

sys.path.insert(0, os.path.dirname(__file__))
import reference_tf  # noqa: E402

SUITE = "test_reference_traj_moi"


def _reference_or_skip():
    pytest.importorskip("torch")
    py, why = reference_tf.reference_python()
    if py is None:
        pytest.skip(why)


def _run_reference(record, case, task, arrays, score, **kw):
    """Records the reference's score and time, or the exception it raised."""
    try:
        out, seconds = reference_tf.run_reference(task, arrays, **kw)
    except RuntimeError as err:
        last = str(err).strip().splitlines()[-1].strip()
        record(SUITE, case, "reference", None, outcome=f"raised {last}")
        return None
    record(SUITE, case, "reference", seconds, outcome="ran", **score(out))
    return out


def _ours(record, case, fn, score):
    """fn() returns the reference's result keys (``embedding``, ``labels``)."""
    t0 = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t0
    record(SUITE, case, "genomap_fast", seconds, **score(out))


def _trajectory_data(name, quick):
    from test_real_tasks import _load, _side, _time_score
    from test_traj_quality import branch_order_score

    if name == "DLA tree":
        import phate

        X, branch = phate.tree.gen_dla(n_dim=100, n_branch=5, branch_length=40 if quick else 200,
                                       seed=37)
        return X, 10, "DLA tree, branch-order score", lambda e: branch_order_score(e, branch)
    ad, X, _ = _load(name)
    keep = X.std(0) > 0
    X, day = X[:, keep], ad.obs["day"].to_numpy()
    what = ("embryo time course, Spearman with the stage" if name == "timecourse" else
            "ES-cell differentiation (Klein 2015), Spearman with the day")
    return X, _side(X.shape[1]), what, lambda e: _time_score(e, day)


@pytest.mark.parametrize("name", ["DLA tree", "timecourse", "esc_klein"])
def test_genotraj_side_by_side(record, quick, name):
    _reference_or_skip()
    from genomap_fast.cnn import estimate_n_clusters, genoTraj

    X, side, what, metric = _trajectory_data(name, quick)
    sd = X.std(0, ddof=1)
    k_est, _ = estimate_n_clusters((X - X.mean(0)) / np.where(sd > 0, sd, 1.0), seed=0)
    kw = {"pretrain_epochs": 3, "maxiter": 10} if quick else {}

    def score(out):
        return {"score": round(float(metric(out["embedding"])), 4)}

    for k, label in ((33, "33 states (the reference's default)"),
                     (k_est, f"{k_est} states (our n_clusters=None estimate)")):
        case = f"genoTraj, {what}, {label}"
        _run_reference(record, case, "genoTraj", {"X": X}, score, n_clusters=k, rowNum=side,
                       colNum=side, **kw)
        _ours(record, case, lambda k=k: {"embedding": genoTraj(
            X, n_clusters=k, rowNum=side, colNum=side, seed=0, **kw)}, score)


def test_genomoivis_side_by_side(record, quick):
    _reference_or_skip()
    from test_real_tasks import _batch_mixing, compile_umap, load_batches

    from genomap_fast.cnn import genoMOIvis

    _, _, arrays, y, batch, names = load_batches()
    k = len(np.unique(y))
    kw = {"epoch": 3} if quick else {}

    def score(out):
        return {"ARI": round(float(adjusted_rand_score(y, out["labels"])), 4),
                "batch mixing": round(_batch_mixing(out["embedding"], batch), 4)}

    def ours():
        emb, labels, _ = genoMOIvis(*arrays, n_clusters=k, **kw)
        return {"embedding": emb, "labels": labels}

    case = f"genoMOIvis, CellBench ({len(names)} batches, {k} cell lines), scanorama"
    _run_reference(record, case, "genoMOIvis", {f"batch{i:02d}": a for i, a in
                                                enumerate(arrays)}, score, n_clusters=k, **kw)
    compile_umap()  # the reference pays its own in a fresh process, as a first call would
    _ours(record, case, ours, score)
