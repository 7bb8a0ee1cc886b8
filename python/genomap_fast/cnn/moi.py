"""Multi-omic / multi-batch integration (the reference's genoMOIvis / genoMOItraj): pre-align
the batches, z-score, then deep embedded clustering of the genomaps of all cells together."""
from __future__ import annotations

import numpy as np

from .._source import as_matrix


def prealign(*arrays, method: str = "scanorama") -> np.ndarray:
    """Stacks batches (each cells x the same genes) into one batch-corrected (cells, genes)
    float64 matrix. method: "scanorama" (needs the scanorama package) or "zscore" (each gene
    standardised within each batch; no extra dependency)."""
    if len(arrays) < 1:
        raise ValueError("need at least one array")
    mats = []
    for i, a in enumerate(arrays):
        m = as_matrix(a, f"array {i}")
        mats.append(np.asarray(m.toarray() if hasattr(m, "toarray") else m, dtype=np.float64))
    genes = {m.shape[1] for m in mats}
    if len(genes) != 1:
        raise ValueError(f"all arrays must have the same genes (columns), got {sorted(genes)}")
    for i, m in enumerate(mats):
        if not np.isfinite(m).all():
            raise ValueError(f"array {i} contains NaN or inf")
    if method == "zscore":
        out = []
        for m in mats:
            sd = m.std(0, ddof=1) if len(m) > 1 else np.ones(m.shape[1])
            out.append((m - m.mean(0)) / np.where(sd > 0, sd, 1.0))
        return np.concatenate(out)
    if method == "scanorama":
        try:
            import scanorama
        except ImportError as err:
            raise ImportError("prealign_method='scanorama' needs `pip install scanorama` "
                              "(or use prealign_method='zscore')") from err
        names = [f"g{j}" for j in range(mats[0].shape[1])]
        corrected, _ = scanorama.correct(mats, [names] * len(mats), return_dense=True,
                                         verbose=False)
        return np.concatenate([np.asarray(c, dtype=np.float64) for c in corrected])
    raise ValueError(f"prealign_method must be 'scanorama' or 'zscore', got {method!r}")


def _fit(arrays, n_clusters, n_dim, colNum, rowNum, epoch, prealign_method, seed, kwargs):
    from .cluster import GenoDEC

    data = prealign(*arrays, method=prealign_method)
    sd = data.std(0, ddof=1)
    Z = (data - data.mean(0)) / np.where(sd > 0, sd, 1.0)
    dec = GenoDEC(rowNum, colNum, n_clusters=n_clusters, n_dim=n_dim, pretrain_epochs=epoch,
                  seed=seed, **kwargs).fit(Z)
    return Z, dec


def genoMOIvis(*arrays, n_clusters=None, n_dim=32, colNum=32, rowNum=32, epoch=100,
               prealign_method="scanorama", seed=0, **kwargs):
    """(embedding (cells, 2) float32, cluster labels (cells,), features (cells, n_dim)) for all
    cells of all ``arrays`` (batches or omics with the same genes), in input order, as genomap
    1.3.6's genoMOIvis."""
    import umap

    _, dec = _fit(arrays, n_clusters, n_dim, colNum, rowNum, epoch, prealign_method, seed,
                  kwargs)
    emb = umap.UMAP(n_neighbors=min(30, len(dec.features_) - 1), min_dist=0.3, n_epochs=200,
                    random_state=seed).fit_transform(dec.features_)
    return emb.astype(np.float32), dec.labels_, dec.features_


def genoMOItraj(*arrays, n_clusters=None, n_dim=32, colNum=32, rowNum=32, epoch=100,
                prealign_method="scanorama", seed=0, **kwargs):
    """(trajectory (cells, 2) float32, cluster labels, features) for all cells of all
    ``arrays``, as genomap 1.3.6's genoMOItraj (which computes the trajectory but returns the
    UMAP embedding instead; ours returns the trajectory)."""
    from .traj import trajectory_from_clusters

    Z, dec = _fit(arrays, n_clusters, n_dim, colNum, rowNum, epoch, prealign_method, seed,
                  kwargs)
    return trajectory_from_clusters(Z, dec.labels_, seed), dec.labels_, dec.features_
