"""Trajectories from genomaps (the reference's genoTraj): deep embedded clustering into many
small states, each cell's correlation distance to every state centre, the class-discriminative
projection of those distances (two SVDs), z-scored, then PHATE to two dimensions. By default
the distances are taken on the data denoised by its first principal components and PHATE sees
the principal components beside the projection (``phate_input="states+pcs"``)."""
from __future__ import annotations

import numpy as np

from .._source import as_matrix


def cluster_distances(X: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Correlation distance of each row of X to the mean of each cluster.

    Parameters
    ----------
    X : numpy.ndarray of shape (n, d)
        One row per cell.
    labels : numpy.ndarray of shape (n,)
        Cluster of each row.

    Returns
    -------
    numpy.ndarray of shape (n, k)
        float64 distances, one column per cluster (sorted labels).

    Examples
    --------
    >>> import numpy as np
    >>> from genomap_fast.cnn import cluster_distances
    >>> X = np.random.default_rng(0).normal(size=(20, 5))
    >>> cluster_distances(X, np.repeat([0, 1, 2, 3], 5)).shape
    (20, 4)
    """
    from scipy.spatial.distance import cdist

    uniq = np.unique(labels)
    means = np.stack([X[labels == c].mean(axis=0) for c in uniq])
    return cdist(X, means, metric="correlation")


def class_discriminative_projection(K: np.ndarray, labels: np.ndarray, n_components: int,
                                    tol: float = 1e-4) -> np.ndarray:
    """Projects K on the directions that best separate the classes (the reference's
    ClassDiscriminative_OPT).

    K is whitened by its SVD, then projected on the right singular vectors of the
    count-weighted class means of the whitened data.

    Parameters
    ----------
    K : numpy.ndarray of shape (n, d)
        One row per cell (genoTraj: distances to the cluster centres).
    labels : numpy.ndarray of shape (n,)
        Class of each row.
    n_components : int
        Directions kept.
    tol : float, default 1e-4
        Singular values up to this are dropped.

    Returns
    -------
    numpy.ndarray of shape (n, n_components)
        float64 projection.

    Raises
    ------
    ValueError
        K has rank 0.

    Examples
    --------
    >>> import numpy as np
    >>> from genomap_fast.cnn import class_discriminative_projection
    >>> K = np.random.default_rng(0).normal(size=(30, 6))
    >>> class_discriminative_projection(K, np.repeat([0, 1, 2], 10), 2).shape
    (30, 2)
    """
    U, S, Vt = np.linalg.svd(K, full_matrices=False)
    rank = int(np.sum(S > tol))
    if rank == 0:
        raise ValueError("the cluster distance matrix has rank 0")
    step1 = Vt[:rank].T / S[:rank]
    uniq, codes = np.unique(labels, return_inverse=True)
    counts = np.bincount(codes)
    Hb = np.stack([U[codes == c, :rank].mean(axis=0) for c in range(len(uniq))])
    Hb *= np.sqrt(counts)[:, None]
    _, _, Vh = np.linalg.svd(Hb, full_matrices=True)
    W = step1 @ Vh.T
    W /= np.linalg.norm(W, axis=0, keepdims=True)
    return (K @ W)[:, :n_components]


PHATE_INPUTS = ("states+pcs", "states")
N_PCS = 50  # principal components beside the projection ("states+pcs")
N_DENOISE_PCS = 10  # components of the data the state distances are taken on ("states+pcs")


def genoTraj(data, n_clusters=None, colNum=32, rowNum=32, batch_size=64, verbose=0,
             pretrain_epochs=100, maxiter=300, seed=0, architecture="compact",
             phate_input="states+pcs", **kwargs):
    """Trajectory embedding of the cells, as genomap 1.3.6's genoTraj.

    ``n_clusters`` states from deep embedded clustering of the genomaps (:class:`GenoDEC`),
    then the class-discriminative projection of the cells' distances to the states and PHATE.
    The defaults differ from the reference's (33 states, its ConvIDEC network): the number of
    states is estimated (Louvain on a kNN graph) and the compact autoencoder is used, chosen by
    measurement on two DLA trees and a real embryo time course (3 seeds each; see
    :doc:`/guide/genotraj`). By default PHATE embeds the projection beside the cells' principal
    components (``phate_input="states+pcs"``); pass ``n_clusters=33, architecture="reference",
    phate_input="states"`` for the reference's settings.

    Parameters
    ----------
    data : array-like
        Cells x genes (ndarray, scipy.sparse, DataFrame, AnnData).
    n_clusters : int or None
        Number of states; None (default) estimates it.
    colNum, rowNum : int
        Grid shape.
    batch_size, pretrain_epochs, maxiter, seed
        As for :class:`GenoDEC`.
    architecture : {"compact", "reference"}
        The autoencoder (see :class:`GenoDEC`); "compact" by default here.
    phate_input : {"states+pcs", "states"}
        What PHATE embeds (see :doc:`/guide/genotraj`): "states+pcs" (default) the
        class-discriminative projection of the distances to the states, taken on the data's
        first 10 principal components, beside the first 50 principal components at the same
        scale; "states" the projection of the distances on the z-scored data alone, as the
        reference.
    verbose : int
        Progress bars when non-zero.
    **kwargs
        Passed to :class:`GenoDEC`.

    Returns
    -------
    numpy.ndarray of shape (n_cells, 2)
        float32 PHATE embedding.

    Examples
    --------
    >>> from genomap_fast.cnn import genoTraj
    >>> from genomap_fast.datasets import synthetic_counts
    >>> X, _ = synthetic_counts(n_cells=60, n_genes=64, n_types=3, seed=0)
    >>> emb = genoTraj(X, n_clusters=4, rowNum=8, colNum=8, pretrain_epochs=1, maxiter=2)
    >>> emb.shape, emb.dtype
    ((60, 2), dtype('float32'))
    """
    from .cluster import GenoDEC

    _check_phate_input(phate_input)
    X = as_matrix(data)
    Xd = np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float64)
    dec = GenoDEC(rowNum, colNum, n_clusters=n_clusters, batch_size=batch_size,
                  pretrain_epochs=pretrain_epochs, maxiter=maxiter, seed=seed,
                  progress=bool(verbose), architecture=architecture, **kwargs).fit(Xd)
    return trajectory_from_clusters(_zscore_columns(Xd), dec.labels_, seed,
                                    phate_input=phate_input)


def _check_phate_input(phate_input):
    if phate_input not in PHATE_INPUTS:
        raise ValueError(f"phate_input must be one of {PHATE_INPUTS}, got {phate_input!r}")


def _zscore_columns(A: np.ndarray) -> np.ndarray:
    sd = A.std(0, ddof=1)
    return (A - A.mean(0)) / np.where(sd > 0, sd, 1.0)


EXACT_PCA_MAX_SIDE = 4096  # larger Gram matrices (both sides above this): randomized SVD


def principal_components(Z: np.ndarray, n_components: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores (n, c) and unit components (c, d) of the centred rows of Z, c = min(n_components,
    n - 1, d), from the eigen-decomposition of the smaller of the two Gram matrices (exact,
    deterministic) or, when both sides exceed ``EXACT_PCA_MAX_SIDE``, a seeded randomized SVD;
    each component's sign is fixed by its largest entry."""
    Zc = Z - Z.mean(0)
    n, d = Zc.shape
    c = max(1, min(n_components, n - 1, d))
    if min(n, d) > EXACT_PCA_MAX_SIDE:
        from sklearn.utils.extmath import randomized_svd

        V = randomized_svd(Zc, c, n_iter=7, random_state=0)[2]
    elif d <= n:
        V = np.linalg.eigh(Zc.T @ Zc)[1][:, ::-1][:, :c].T
    else:
        U = np.linalg.eigh(Zc @ Zc.T)[1][:, ::-1][:, :c]
        V = U.T @ Zc
        V /= np.maximum(np.linalg.norm(V, axis=1, keepdims=True), np.finfo(float).tiny)
    V *= np.where(V[np.arange(c), np.abs(V).argmax(1)] < 0, -1.0, 1.0)[:, None]
    return Zc @ V.T, V


def trajectory_from_clusters(Z: np.ndarray, labels: np.ndarray, seed: int = 0,
                             phate_input: str = "states") -> np.ndarray:
    """(cells, 2) float32 PHATE embedding of the class-discriminative projection of each
    cell's correlation distances to the cluster centres (Z: z-scored cells x genes).

    ``phate_input="states"`` (the reference's genoTraj) takes the distances on Z.
    ``"states+pcs"`` takes them on Z denoised by its first 10 principal components and puts
    the first 50 principal components beside the projection, scaled to the same mean row norm:
    the projection keeps the states apart, the components keep the order of cells inside a
    state, which the projection flattens.
    """
    import phate

    _check_phate_input(phate_input)
    if len(Z) < 4:  # PHATE divides by zero on 3 cells or fewer
        raise ValueError(f"genoTraj needs at least 4 cells, got {len(Z)}")
    k = len(np.unique(labels))
    if k < 2:
        raise ValueError(f"genoTraj needs at least 2 non-empty clusters, got {k} (pass "
                         f"n_clusters >= 2 where the estimate finds one)")
    if phate_input == "states":
        features = _zscore_columns(class_discriminative_projection(
            cluster_distances(Z, labels), labels, k - 1))
    else:
        pcs, components = principal_components(Z, N_PCS)
        r = min(N_DENOISE_PCS, pcs.shape[1])
        denoised = pcs[:, :r] @ components[:r]
        proj = _zscore_columns(class_discriminative_projection(
            cluster_distances(denoised, labels), labels, k - 1))
        scale = np.linalg.norm(proj, axis=1).mean() / max(np.linalg.norm(pcs, axis=1).mean(),
                                                          np.finfo(float).tiny)
        features = np.hstack([proj, pcs * scale])
    # knn at most n - 2: graphtools lowers it to that with a warning
    emb = phate.PHATE(n_components=2, random_state=seed, verbose=0,
                      knn=min(5, len(features) - 2)).fit_transform(features)
    return np.asarray(emb, dtype=np.float32)
