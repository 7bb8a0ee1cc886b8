"""Multi-omic / multi-batch integration (the reference's genoMOIvis / genoMOItraj): pre-align
the batches, z-score, then deep embedded clustering of the genomaps of all cells together."""
from __future__ import annotations

import numpy as np

from .._source import as_matrix


def prealign(*arrays, method: str = "scanorama") -> np.ndarray:
    """Stacks batches into one batch-corrected matrix.

    Parameters
    ----------
    *arrays : array-like of shape (n_cells_i, n_genes)
        Batches (or omics), each cells x the same genes.
    method : str, default "scanorama"
        "scanorama" (needs the scanorama package) or "zscore" (each gene standardised within
        each batch; no extra dependency).

    Returns
    -------
    numpy.ndarray of shape (sum of n_cells_i, n_genes)
        float64, the batches' cells in input order.

    Raises
    ------
    ValueError
        No arrays, arrays with different genes, NaN or infinite values, or an unknown method.
    ImportError
        ``method="scanorama"`` without the scanorama package.

    Examples
    --------
    >>> import numpy as np
    >>> from genomap_fast.cnn import prealign
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=(20, 10)), rng.normal(5, 2, size=(30, 10))
    >>> Z = prealign(a, b, method="zscore")
    >>> Z.shape, Z.dtype, bool(abs(Z[20:].mean()) < 1e-12)
    ((50, 10), dtype('float64'), True)
    """
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


def select_variable_genes(arrays, data: np.ndarray, n: int, method: str) -> np.ndarray:
    """Sorted column indices of the ``n`` most variable genes for the genomaps of pre-aligned
    ``data`` (cells, genes): by variance of the scanorama-corrected data, or ("zscore", where
    every gene has variance 1 after pre-alignment) by the mean within-batch variance of the
    input ``arrays``. All genes when there are ``n`` or fewer."""
    if data.shape[1] <= n:
        return np.arange(data.shape[1])
    if method == "zscore":
        var = np.zeros(data.shape[1])
        for a in arrays:
            m = as_matrix(a)
            m = np.asarray(m.toarray() if hasattr(m, "toarray") else m, dtype=np.float64)
            var += m.var(0) * len(m)
        var /= len(data)
    else:
        var = data.var(0)
    # stable: ties (equal variances) keep column order
    return np.sort(np.argsort(-var, kind="stable")[:n])


def _fit(arrays, n_clusters, n_dim, colNum, rowNum, epoch, prealign_method, seed, kwargs):
    from .cluster import GenoDEC

    data = prealign(*arrays, method=prealign_method)
    # The genes are chosen here, before z-scoring: after it every gene has variance 1 and the
    # genomap's own selection by variance would keep an arbitrary set. On CellBench (5 batches,
    # 1,041 cells, 11,533 genes) the 1,024 most variable corrected genes gave ARI 0.965 / batch
    # mixing 0.68-0.70 over 3 seeds against 0.953-0.964 / 0.59-0.60 (docs/changelog.md).
    data = data[:, select_variable_genes(arrays, data, int(rowNum) * int(colNum), prealign_method)]
    sd = data.std(0, ddof=1)
    Z = (data - data.mean(0)) / np.where(sd > 0, sd, 1.0)
    dec = GenoDEC(rowNum, colNum, n_clusters=n_clusters, n_dim=n_dim, pretrain_epochs=epoch,
                  seed=seed, **kwargs).fit(Z)
    return Z, dec


def genoMOIvis(*arrays, n_clusters=None, n_dim=32, colNum=32, rowNum=32, epoch=15,
               prealign_method="scanorama", seed=0, **kwargs):
    """Integrated 2-D embedding of several batches or omics, as genomap 1.3.6's genoMOIvis.

    The batches are pre-aligned (:func:`prealign`), the ``rowNum * colNum`` most variable
    pre-aligned genes z-scored, then all cells clustered together by :class:`GenoDEC` and
    drawn with UMAP.

    Parameters
    ----------
    *arrays : array-like of shape (n_cells_i, n_genes)
        Batches (or omics), each cells x the same genes.
    n_clusters : int, optional
        Number of clusters; None estimates it.
    n_dim : int, default 32
        Size of the learned features.
    colNum, rowNum : int, default 32
        Grid shape.
    epoch : int, default 15
        Autoencoder pretraining epochs (the reference: 100). On CellBench 15 kept the quality
        (ARI 0.965, batch mixing 0.68 against 0.962 / 0.65 with 100, seed 0) at a third of the
        time (see :doc:`/guide/genomoi` and :doc:`/changelog`).
    prealign_method : str, default "scanorama"
        See :func:`prealign`.
    seed : int, default 0
        Seed of the network and the embedding.
    **kwargs
        Passed to :class:`GenoDEC` (maxiter, batch_size, ...).

    Returns
    -------
    embedding : numpy.ndarray of shape (n_cells, 2)
        float32 UMAP embedding of all cells of all arrays, in input order.
    labels : numpy.ndarray of shape (n_cells,)
        int64 clusters.
    features : numpy.ndarray of shape (n_cells, n_dim)
        float32 learned features.

    Examples
    --------
    >>> from genomap_fast.cnn import genoMOIvis
    >>> from genomap_fast.datasets import synthetic_counts
    >>> X, _ = synthetic_counts(n_cells=60, n_genes=64, n_types=3, seed=0)
    >>> emb, labels, feats = genoMOIvis(X[:30], X[30:], n_clusters=3, rowNum=8, colNum=8,
    ...                                 epoch=1, maxiter=2, prealign_method="zscore")
    >>> emb.shape, labels.shape, feats.shape
    ((60, 2), (60,), (60, 32))
    """
    from .embedding import start_umap_warmup, umap_2d

    start_umap_warmup()  # compiles UMAP on another core while the network trains (once)
    _, dec = _fit(arrays, n_clusters, n_dim, colNum, rowNum, epoch, prealign_method, seed,
                  kwargs)
    return umap_2d(dec.features_, seed), dec.labels_, dec.features_


def genoMOItraj(*arrays, n_clusters=None, n_dim=32, colNum=32, rowNum=32, epoch=100,
                prealign_method="scanorama", seed=0, **kwargs):
    """Integrated trajectory of several batches or omics, as genomap 1.3.6's genoMOItraj.

    As :func:`genoMOIvis`, with genoTraj's trajectory (PHATE of the class-discriminative
    projection) instead of UMAP. The reference computes the trajectory but returns the UMAP
    embedding; this function returns the trajectory.

    Parameters
    ----------
    *arrays : array-like of shape (n_cells_i, n_genes)
        Batches (or omics), each cells x the same genes.
    n_clusters, n_dim, colNum, rowNum, prealign_method, seed, **kwargs
        As for :func:`genoMOIvis`.
    epoch : int, default 100
        Autoencoder pretraining epochs.

    Returns
    -------
    trajectory : numpy.ndarray of shape (n_cells, 2)
        float32 trajectory embedding, in input order.
    labels : numpy.ndarray of shape (n_cells,)
        int64 clusters.
    features : numpy.ndarray of shape (n_cells, n_dim)
        float32 learned features.

    Examples
    --------
    >>> from genomap_fast.cnn import genoMOItraj
    >>> from genomap_fast.datasets import synthetic_counts
    >>> X, _ = synthetic_counts(n_cells=60, n_genes=64, n_types=3, seed=0)
    >>> traj, labels, feats = genoMOItraj(X[:30], X[30:], n_clusters=4, rowNum=8, colNum=8,
    ...                                   epoch=1, maxiter=2, prealign_method="zscore")
    >>> traj.shape, traj.dtype
    ((60, 2), dtype('float32'))
    """
    from .traj import trajectory_from_clusters

    Z, dec = _fit(arrays, n_clusters, n_dim, colNum, rowNum, epoch, prealign_method, seed,
                  kwargs)
    return trajectory_from_clusters(Z, dec.labels_, seed), dec.labels_, dec.features_
