"""genoTraj's defaults, measured: what PHATE embeds (the class-discriminative projection of the
distances to the states alone, as the reference, or beside the principal components, the
default), seeds 0-2, against PHATE alone, on PHATE's DLA tree (the benchmarks' tree), four more
DLA trees (more noise, more or fewer branches), the Deng 2014 embryo time course and the Klein
2015 ES-cell differentiation (need clones of gcyuan/SCUBA and tarohi24/tmscc under
$GENOMAP_FAST_REAL_DATA; see real_datasets.py). The number of
states and the autoencoder were chosen on 2026-12-02 with the reference's settings alongside
(docs/guide/genotraj.md keeps that table); both configurations here estimate the states and use
the compact network.

Scores: the branch-order score on the trees (test_traj_quality.branch_order_score) and the
Spearman correlation of the distance from the earliest cells with the stage on the time
course (test_real_tasks._time_score). This is the table behind docs/guide/genotraj.md.
"""
import os
import time

import numpy as np
import pytest

SUITE = "test_traj_defaults"
CONFIGS = {  # name: genoTraj keywords
    "states only (default until 2026-12-03)": {"phate_input": "states"},
    "states + PCs (the default)": {},
}
TREES = (  # gen_dla keywords; the first two chose the default, the other three checked it
    {"n_dim": 100, "n_branch": 5, "branch_length": 200, "seed": 37},
    {"n_dim": 100, "n_branch": 4, "branch_length": 150, "sigma": 6, "seed": 11},
    {"n_dim": 100, "n_branch": 3, "branch_length": 200, "sigma": 4, "seed": 5},
    {"n_dim": 100, "n_branch": 6, "branch_length": 100, "seed": 23},
    {"n_dim": 60, "n_branch": 5, "branch_length": 120, "sigma": 8, "seed": 3},
)


def _cases(quick):
    import phate
    from test_traj_quality import branch_order_score

    for tree in TREES[:1] if quick else TREES:
        kw = {**tree, "branch_length": 40} if quick else tree
        X, branch = phate.tree.gen_dla(**kw)
        name = (f"DLA tree, {kw['n_branch']} x {kw['branch_length']} cells, {kw['n_dim']} genes, "
                f"sigma {kw.get('sigma', 4)}, seed {kw['seed']}")
        yield name, X, 10 if kw["n_dim"] > 64 else 8, lambda e, b=branch: branch_order_score(e, b)
    import real_datasets
    from test_real_tasks import _time_score

    ad = real_datasets.load("timecourse")
    if ad is not None:
        X = np.asarray(ad.X.toarray() if hasattr(ad.X, "toarray") else ad.X, dtype=np.float64)
        keep = X.std(0) > 0
        X, day = X[:, keep], ad.obs["day"].to_numpy()
        yield ("Deng 2014 embryo time course, 294 cells", X, 32,
               lambda e, d=day: _time_score(e, d))
    ad = real_datasets.load("esc_klein")
    if ad is not None:
        X = np.asarray(ad.X, dtype=np.float64)
        keep, day = X.std(0) > 0, ad.obs["day"].to_numpy()
        yield ("Klein 2015 mouse ES cells, days 0-7 after LIF withdrawal, 1,000 cells",
               X[:, keep], 30, lambda e, d=day: _time_score(e, d))


def test_traj_defaults(record, quick):
    import phate

    from genomap_fast.cnn import genoTraj

    seeds = (0,) if quick else (0, 1, 2)
    extra = {"pretrain_epochs": 5, "maxiter": 20} if quick else {}
    only = os.environ.get("GENOMAP_FAST_BENCH_CASE")  # a substring: run the cases it names
    cases = [c for c in _cases(quick) if not only or only in c[0]]
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
