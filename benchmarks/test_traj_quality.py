"""Trajectory quality on PHATE's branching (DLA tree) simulation: genoTraj vs PHATE alone.

Known time: a cell's index along its branch (branches grow one step at a time). Score: for each
branch, |Spearman| between that index and the embedding distance from the branch's first cell,
averaged over branches (1 = the embedding orders every branch perfectly). The reference
genoTraj needs TensorFlow and is not run.
"""
import time

import numpy as np
import pytest
from scipy.stats import spearmanr

SUITE = "test_traj_quality"


def branch_order_score(emb, branch):
    scores = []
    for b in np.unique(branch):
        idx = np.flatnonzero(branch == b)
        d = np.linalg.norm(emb[idx] - emb[idx[0]], axis=1)
        scores.append(abs(spearmanr(np.arange(idx.size), d)[0]))
    return float(np.mean(scores))


@pytest.mark.parametrize("n_branch", [5])
def test_trajectory_quality(benchmark, record, quick, n_branch):
    import phate

    from genomap_fast.cnn import genoTraj

    length = 40 if quick else 200
    X, branch = phate.tree.gen_dla(n_dim=100, n_branch=n_branch, branch_length=length, seed=37)
    case = f"DLA tree, {n_branch} branches x {length} cells, 100 genes"
    kw = {"pretrain_epochs": 5, "maxiter": 20, "n_clusters": 8} if quick else {}
    benchmark.group = case
    t0 = time.perf_counter()
    emb = benchmark.pedantic(genoTraj, args=(X,), kwargs={"rowNum": 10, "colNum": 10, **kw},
                             rounds=1, iterations=1)  # the defaults
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    base = phate.PHATE(random_state=0, verbose=0).fit_transform(X)
    t_phate = time.perf_counter() - t0
    eu = genoTraj(X, rowNum=10, colNum=10, grid_metric="euclidean", **kw)
    # the reference's settings: 33 states, its network, PHATE on the projection alone
    est = genoTraj(X, rowNum=10, colNum=10, **{"n_clusters": 33, "architecture": "reference",
                                               "phate_input": "states", **kw})
    ours, theirs = branch_order_score(emb, branch), branch_order_score(base, branch)
    record(SUITE, case, "genomap_fast", t_ours, **{"branch-order score genoTraj": ours,
                                                   "branch-order score PHATE": theirs,
                                                   "PHATE seconds": t_phate,
                                                   "branch-order score genoTraj euclidean":
                                                       branch_order_score(eu, branch),
                                                   "branch-order score genoTraj, the "
                                                   "reference's settings":
                                                       branch_order_score(est, branch)})
    assert 0.0 <= ours <= 1.0
