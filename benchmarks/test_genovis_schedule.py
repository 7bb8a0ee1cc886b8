"""genoVis's pretraining length, measured: the autoencoder pretrained for 100 epochs (the
reference's default), 50 or 25, seeds 0-1, on three real labelled data sets with the true
number of clusters: pbmc68k_reduced (ships with scanpy; 700 cells, 10 types, 28x28), the Deng
2014 embryo time course (294 cells, 10 stages, 32x32) and CellBench's five lung cancer cell
lines (1,041 cells, 32x32, the 1,024 most variable genes); the last two need clones under
$GENOMAP_FAST_REAL_DATA (see real_datasets.py). ARI against the known labels and the wall time
of the whole genoVis call (UMAP included). This is the table behind docs/guide/genovis.md.
"""
import time

import numpy as np
from sklearn.metrics import adjusted_rand_score

SUITE = "test_genovis_schedule"
EPOCHS = (100, 50, 25)


def _cases(quick):
    import real_datasets

    from genomap_fast.datasets import pbmc68k_reduced

    ad = pbmc68k_reduced()
    X = np.asarray(ad.X.toarray() if hasattr(ad.X, "toarray") else ad.X, dtype=np.float64)
    y = ad.obs["bulk_labels"].astype(str).to_numpy()
    yield "pbmc68k_reduced, 700 cells, 10 types", (X[:200], y[:200]) if quick else (X, y), 28
    for name, case in (("timecourse", "Deng 2014 embryo time course, 294 cells, 10 stages"),
                       ("batches", "CellBench 5 cell lines, 1,041 cells")):
        ad = real_datasets.load(name)
        if ad is None:
            continue
        X = np.asarray(ad.X.toarray() if hasattr(ad.X, "toarray") else ad.X, dtype=np.float64)
        X, y = X[:, X.std(0) > 0], ad.obs["label"].astype(str).to_numpy()
        yield case, (X[:200], y[:200]) if quick else (X, y), 32


def test_genovis_schedule(record, quick):
    from genomap_fast.cnn import genoVis

    seeds = (0,) if quick else (0, 1)
    epochs = (2, 1) if quick else EPOCHS
    extra = {"maxiter": 10} if quick else {}
    for case, (X, y), side in _cases(quick):
        for e in epochs:
            aris, seconds = [], []
            for seed in seeds:
                t0 = time.perf_counter()
                _, labels = genoVis(X, n_clusters=len(np.unique(y)), rowNum=side, colNum=side,
                                    pretrain_epochs=e, seed=seed, **extra)
                seconds.append(time.perf_counter() - t0)
                aris.append(adjusted_rand_score(y, labels))
            record(SUITE, f"{case}, {e} pretraining epochs", "genomap_fast",
                   float(np.mean(seconds)), **{"ARI: mean": float(np.mean(aris)),
                                                "ARI: seeds": " / ".join(f"{a:.3f}" for a in aris)})
            assert all(np.isfinite(aris))
