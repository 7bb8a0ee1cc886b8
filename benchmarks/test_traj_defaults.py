"""genoTraj's defaults, measured: the number of states (33 as the reference, or estimated) and
the autoencoder (the reference's network or the compact one), seeds 0-2, against PHATE alone,
on PHATE's DLA tree (the benchmarks' tree), a second DLA tree and the Deng 2014 embryo time
course (needs a clone of gcyuan/SCUBA under $GENOMAP_FAST_REAL_DATA; see real_datasets.py).

Scores: the branch-order score on the trees (test_traj_quality.branch_order_score) and the
Spearman correlation of the distance from the earliest cells with the stage on the time
course (test_real_tasks._time_score). This is the table behind docs/guide/genotraj.md.
"""
import time

import numpy as np
import pytest

SUITE = "test_traj_defaults"
CONFIGS = {  # name: genoTraj keywords
    "33 states, reference network (the reference's settings)": {
        "n_clusters": 33, "architecture": "reference"},
    "estimated states, reference network": {"n_clusters": None, "architecture": "reference"},
    "estimated states, compact network (the default)": {},
}


def _cases(quick):
    import phate
    from test_traj_quality import branch_order_score

    length = 40 if quick else 200
    X, branch = phate.tree.gen_dla(n_dim=100, n_branch=5, branch_length=length, seed=37)
    yield (f"DLA tree, 5 x {length} cells, seed 37", X, 10,
           lambda e, b=branch: branch_order_score(e, b))
    length = 30 if quick else 150
    X, branch = phate.tree.gen_dla(n_dim=100, n_branch=4, branch_length=length, sigma=6,
                                   seed=11)
    yield (f"DLA tree, 4 x {length} cells, sigma 6, seed 11", X, 10,
           lambda e, b=branch: branch_order_score(e, b))
    import real_datasets
    from test_real_tasks import _time_score

    ad = real_datasets.load("timecourse")
    if ad is not None:
        X = np.asarray(ad.X.toarray() if hasattr(ad.X, "toarray") else ad.X, dtype=np.float64)
        keep = X.std(0) > 0
        X, day = X[:, keep], ad.obs["day"].to_numpy()
        yield ("Deng 2014 embryo time course, 294 cells", X, 32,
               lambda e, d=day: _time_score(e, d))


def test_traj_defaults(record, quick):
    import phate

    from genomap_fast.cnn import genoTraj

    seeds = (0,) if quick else (0, 1, 2)
    extra = {"pretrain_epochs": 5, "maxiter": 20} if quick else {}
    cases = list(_cases(quick))
    if not cases:
        pytest.skip("no case")
    for case, X, side, score in cases:
        metrics = {}
        t_total = 0.0
        for name, kw in CONFIGS.items():
            values = []
            for seed in seeds:
                t0 = time.perf_counter()
                emb = genoTraj(X, rowNum=side, colNum=side, seed=seed, **{**kw, **extra})
                t_total += time.perf_counter() - t0
                values.append(score(emb))
            metrics[f"{name}: mean"] = float(np.mean(values))
            metrics[f"{name}: seeds"] = " / ".join(f"{v:.3f}" for v in values)
        base = phate.PHATE(random_state=0, verbose=0, knn=5).fit_transform(X)
        metrics["PHATE alone"] = score(base)
        record(SUITE, case, "genomap_fast", t_total, **metrics)
        assert all(np.isfinite(v) for v in metrics.values() if not isinstance(v, str))
