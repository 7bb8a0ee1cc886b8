"""CNN training on one thread (the default) against a team of two
(``GENOMAP_FAST_TRAINING_THREADS=2``), seeds 0-9: the two quality-floor cases that train the
most, the 30-epoch GenoDEC on pbmc68k_reduced (ARI with the 10 known types) and genoTraj on
PHATE's DLA tree (5 x 60 cells, 10x10, branch-order score), with the time of each. A team of
another size splits PyTorch's sums otherwise, so each seed gives another (equally reproducible)
model; this is the comparison behind the default in docs/guide/genovis.md.
"""
import time

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

SUITE = "test_training_threads"


@pytest.mark.parametrize("team", ["1", "2"])
def test_training_threads(record, quick, team, monkeypatch):
    phate = pytest.importorskip("phate")
    from test_traj_quality import branch_order_score

    from genomap_fast.cnn import GenoDEC, genoTraj
    from genomap_fast.datasets import pbmc68k_reduced

    monkeypatch.setenv("GENOMAP_FAST_TRAINING_THREADS", team)
    ad = pbmc68k_reduced()
    X = np.asarray(ad.X, dtype=np.float64)
    y = ad.obs["bulk_labels"].astype(str).to_numpy()
    Xd, branch = phate.tree.gen_dla(n_dim=100, n_branch=5, branch_length=60, seed=37)
    seeds = range(2) if quick else range(10)
    epochs = 2 if quick else 30
    for task in ("GenoDEC, 30 epochs, pbmc68k_reduced (ARI)",
                 "genoTraj, DLA tree 5 x 60 (branch-order score)"):
        scores, t0 = [], time.perf_counter()
        for seed in seeds:
            if task.startswith("GenoDEC"):
                dec = GenoDEC(28, 28, n_clusters=10, pretrain_epochs=epochs, seed=seed).fit(X)
                scores.append(adjusted_rand_score(y, dec.labels_))
            else:
                kw = {"pretrain_epochs": 2, "maxiter": 10} if quick else {}
                scores.append(branch_order_score(
                    genoTraj(Xd, rowNum=10, colNum=10, seed=seed, **kw), branch))
        record(SUITE, f"{task}, training on {team} thread{'s' if team != '1' else ''}",
               "genomap_fast", time.perf_counter() - t0,
               **{"mean": round(float(np.mean(scores)), 4),
                  "sd": round(float(np.std(scores, ddof=1)), 4),
                  "seeds": " / ".join(f"{s:.3f}" for s in scores)})
        assert np.all(np.isfinite(scores))
