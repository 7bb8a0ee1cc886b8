"""scanpy-style tools: annotate an AnnData in place (``copy=True`` returns a new one)."""
from __future__ import annotations

import numpy as np

from ._source import as_source
from .estimator import Genomap


def _source(adata, layer, use_raw):
    """The cells x genes matrix a tool works on: ``adata.raw`` (use_raw), a layer, or X."""
    if layer is not None and use_raw:
        raise ValueError("use either layer= or use_raw=True, not both")
    if use_raw:
        if adata.raw is None:
            raise ValueError("use_raw=True but adata.raw is None")
        return as_source(adata.raw.X, gene_names=list(adata.raw.var_names))
    return as_source(adata, layer)


def store(adata, gm: Genomap, images=None, key_added: str = "genomap") -> None:
    """Writes a fitted Genomap into ``adata``, scanpy-style.

    Parameters
    ----------
    adata : anndata.AnnData
        The cells and genes the Genomap was fitted on.
    gm : genomap_fast.Genomap
        A fitted Genomap.
    images : numpy.ndarray, optional
        Genomaps of the cells of ``adata`` (any layout), stored flattened.
    key_added : str, default "genomap"
        Name of the entries.

    Returns
    -------
    None
        ``adata`` is changed in place: ``uns[key]`` (parameters, objective, iterations,
        placed genes, pixels), ``var[key + '_pixel']``, ``var[key + '_row']`` and
        ``var[key + '_col']`` (int64, -1 for genes not placed) and, when ``images`` are given,
        ``obsm['X_' + key]`` of shape (cells, rows * cols) (C order: reshape to
        (rows, cols)).

    Examples
    --------
    >>> import anndata
    >>> import genomap_fast as gf
    >>> from genomap_fast.datasets import synthetic_counts
    >>> X, _ = synthetic_counts(n_cells=100, n_genes=60, seed=0)
    >>> adata = anndata.AnnData(X)
    >>> gm = gf.Genomap(8, 8).fit(adata)
    >>> gf.tl.store(adata, gm, gm.transform(adata))
    >>> adata.obsm["X_genomap"].shape, adata.var["genomap_row"].dtype
    ((100, 64), dtype('int64'))
    """
    p = gm.placement_
    rows = np.where(p >= 0, p % gm.rows, -1)
    cols = np.where(p >= 0, p // gm.rows, -1)
    if len(p) == adata.n_vars:
        adata.var[f"{key_added}_pixel"] = p
        adata.var[f"{key_added}_row"] = rows
        adata.var[f"{key_added}_col"] = cols
    adata.uns[key_added] = {
        "params": {k: v for k, v in gm.get_params().items() if v is not None},
        "objective": gm.objective_,
        "n_iter": gm.n_iter_,
        "converged": gm.converged_,
        "genes": np.asarray(gm.genes_),
        "pixel": np.asarray(p),
    }
    if images is not None:
        adata.obsm[f"X_{key_added}"] = np.asarray(images).reshape(len(images), -1)


def genomap(adata, rows: int, cols: int, grid_metric: str = "radial", key_added: str = "genomap",
            layer: str | None = None, use_raw: bool = False, store_images: bool = False,
            copy: bool = False, **kwargs):
    """Fits a genomap placement on ``adata`` and stores it, scanpy-style.

    Parameters
    ----------
    adata : anndata.AnnData
        Cells x genes; a backed AnnData's X is read from disk block by block.
    rows, cols : int
        Grid shape.
    grid_metric : str, default "radial"
        "radial" or "euclidean".
    key_added : str, default "genomap"
        Name of the entries (see :func:`store`).
    layer : str, optional
        Fit on this layer instead of X.
    use_raw : bool, default False
        Fit on ``adata.raw`` instead of X.
    store_images : bool, default False
        Also store the genomaps in ``obsm['X_' + key_added]`` (they are big).
    copy : bool, default False
        Work on a copy and return it.
    **kwargs
        Passed to :class:`genomap_fast.Genomap` (epsilon, select_genes, num_threads,
        solver="anneal" for a lower GW objective than the reference's, seed, restarts, ...).

    Returns
    -------
    anndata.AnnData or None
        The annotated copy with ``copy=True``, else None (``adata`` is annotated in place,
        see :func:`store`).

    Raises
    ------
    ValueError
        Both ``layer`` and ``use_raw``, ``use_raw`` without ``adata.raw``, or any error of
        :meth:`genomap_fast.Genomap.fit`.

    Examples
    --------
    >>> import genomap_fast as gf
    >>> from genomap_fast.datasets import pbmc68k_reduced
    >>> adata = pbmc68k_reduced()
    >>> gf.tl.genomap(adata, 28, 28)
    >>> adata.var[["genomap_row", "genomap_col"]].shape
    (765, 2)
    >>> sorted(adata.uns["genomap"])
    ['converged', 'genes', 'n_iter', 'objective', 'params', 'pixel']
    """
    src = _source(adata, layer, use_raw)  # checked before a copy is made of it
    adata = adata.copy() if copy else adata
    gm = Genomap(rows, cols, grid_metric=grid_metric, **kwargs).fit(src)
    store(adata, gm, gm.transform(src) if store_images else None, key_added)
    return adata if copy else None


def genovis(adata, n_clusters: int | None = None, rows: int = 32, cols: int = 32,
            key_added: str = "genovis", layer: str | None = None, use_raw: bool = False,
            copy: bool = False, **kwargs):
    """genoVis on ``adata``: a 2-D embedding and clusters, scanpy-style.

    Parameters
    ----------
    adata : anndata.AnnData
        Cells x genes.
    n_clusters : int, optional
        Number of clusters; None estimates it (Louvain on a kNN graph).
    rows, cols : int, default 32
        Grid shape of the genomaps (the most variable ``rows * cols`` genes are placed).
    key_added : str, default "genovis"
        Name of the entries.
    layer : str, optional
        Use this layer instead of X.
    use_raw : bool, default False
        Use ``adata.raw`` instead of X.
    copy : bool, default False
        Work on a copy and return it.
    **kwargs
        Passed to :func:`genomap_fast.cnn.genoVis` (pretrain_epochs, maxiter, seed, ...).

    Returns
    -------
    anndata.AnnData or None
        The annotated copy with ``copy=True``, else None. Adds ``obsm['X_' + key]`` (cells, 2)
        float32 embedding, ``obs[key + '_cluster']`` (categorical) clusters and ``uns[key]``
        parameters.

    Examples
    --------
    >>> import anndata
    >>> import genomap_fast as gf
    >>> from genomap_fast.datasets import synthetic_counts
    >>> X, _ = synthetic_counts(n_cells=60, n_genes=64, n_types=3, seed=0)
    >>> adata = anndata.AnnData(X)
    >>> gf.tl.genovis(adata, n_clusters=3, rows=8, cols=8, pretrain_epochs=1, maxiter=2)
    >>> adata.obsm["X_genovis"].shape, adata.obs["genovis_cluster"].dtype.name
    ((60, 2), 'category')
    """
    import pandas as pd

    from .cnn import genoVis

    adata = adata.copy() if copy else adata
    emb, labels = genoVis(_source(adata, layer, use_raw), n_clusters=n_clusters, rowNum=rows,
                          colNum=cols, **kwargs)
    adata.obsm[f"X_{key_added}"] = emb
    adata.obs[f"{key_added}_cluster"] = pd.Categorical(labels.astype(str))
    adata.uns[key_added] = {"rows": rows, "cols": cols, "n_clusters": int(len(set(labels)))}
    return adata if copy else None


def genotraj(adata, n_clusters: int | None = None, rows: int = 32, cols: int = 32,
             key_added: str = "genotraj", layer: str | None = None, use_raw: bool = False,
             copy: bool = False, **kwargs):
    """genoTraj on ``adata``: a 2-D trajectory embedding, scanpy-style.

    Parameters
    ----------
    adata : anndata.AnnData
        Cells x genes.
    n_clusters : int or None, default None
        Number of states; None estimates it (the reference's default is 33: see
        :func:`genomap_fast.cnn.genoTraj` for why it is not the default here).
    rows, cols : int, default 32
        Grid shape of the genomaps.
    key_added : str, default "genotraj"
        Name of the entries.
    layer : str, optional
        Use this layer instead of X.
    use_raw : bool, default False
        Use ``adata.raw`` instead of X.
    copy : bool, default False
        Work on a copy and return it.
    **kwargs
        Passed to :func:`genomap_fast.cnn.genoTraj` (pretrain_epochs, maxiter, seed, ...).

    Returns
    -------
    anndata.AnnData or None
        The annotated copy with ``copy=True``, else None. Adds ``obsm['X_' + key]`` (cells, 2)
        float32 trajectory embedding and ``uns[key]`` parameters.

    Examples
    --------
    >>> import anndata
    >>> import genomap_fast as gf
    >>> from genomap_fast.datasets import synthetic_counts
    >>> X, _ = synthetic_counts(n_cells=60, n_genes=64, n_types=3, seed=0)
    >>> adata = anndata.AnnData(X)
    >>> gf.tl.genotraj(adata, n_clusters=4, rows=8, cols=8, pretrain_epochs=1, maxiter=2)
    >>> adata.obsm["X_genotraj"].shape
    (60, 2)
    """
    from .cnn import genoTraj

    adata = adata.copy() if copy else adata
    adata.obsm[f"X_{key_added}"] = genoTraj(_source(adata, layer, use_raw), n_clusters=n_clusters,
                                            rowNum=rows, colNum=cols, **kwargs)
    adata.uns[key_added] = {"rows": rows, "cols": cols,
                            "n_clusters": -1 if n_clusters is None else int(n_clusters)}
    return adata if copy else None


def genosig(adata, groupby: str, groups=None, rows: int = 32, cols: int = 32,
            key_added: str = "genosig", layer: str | None = None, use_raw: bool = False,
            copy: bool = False, epochs: int = 100, **kwargs):
    """genoSig on ``adata``: genes ranked by importance for each class, scanpy-style.

    Parameters
    ----------
    adata : anndata.AnnData
        Cells x genes, with gene names in ``var_names``.
    groupby : str
        The ``obs`` column of the classes.
    groups : sequence of str, optional
        The classes to explain (default: all).
    rows, cols : int, default 32
        Grid shape of the genomaps (the most variable ``rows * cols`` genes are placed).
    key_added : str, default "genosig"
        Name of the entry.
    layer : str, optional
        Use this layer instead of X.
    use_raw : bool, default False
        Use ``adata.raw`` instead of X.
    copy : bool, default False
        Work on a copy and return it.
    epochs : int, default 100
        Training epochs of the classifier.
    **kwargs
        Passed to :func:`genomap_fast.cnn.genoSig` (seed, steps, method, ...).

    Returns
    -------
    anndata.AnnData or None
        The annotated copy with ``copy=True``, else None. Adds ``uns[key]``, a
        pandas.DataFrame with columns ``<class>_geneName`` and ``<class>_importance`` per
        class, genes sorted by decreasing importance.

    Raises
    ------
    ValueError
        ``groupby`` is not an ``obs`` column, or a class of ``groups`` is not in it.

    Examples
    --------
    >>> import anndata
    >>> import pandas as pd
    >>> import genomap_fast as gf
    >>> from genomap_fast.datasets import synthetic_counts
    >>> X, labels = synthetic_counts(n_cells=60, n_genes=64, n_types=3, seed=0)
    >>> adata = anndata.AnnData(X, obs=pd.DataFrame({"type": labels.astype(str)}))
    >>> gf.tl.genosig(adata, "type", groups=["0"], rows=8, cols=8, epochs=1)
    >>> adata.uns["genosig"].columns.tolist(), len(adata.uns["genosig"])
    (['0_geneName', '0_importance'], 64)
    """
    from .cnn import genoSig

    adata = adata.copy() if copy else adata
    if groupby not in adata.obs:
        raise ValueError(f"no obs column {groupby!r}")
    src = _source(adata, layer, use_raw)
    gm = Genomap(rows, cols, select_genes="variance", dtype=np.float64, layout="nhwc").fit(src)
    images = gm.transform(src)
    labels = adata.obs[groupby].astype(str).to_numpy()
    groups = np.unique(labels) if groups is None else np.atleast_1d(np.asarray(groups, dtype=str))
    placed = np.asarray(src.var_names)[gm.genes_]
    adata.uns[key_added] = genoSig(images, gm.coupling_, labels, groups, placed, epochs=epochs,
                                   **kwargs)
    return adata if copy else None


def genomoi(adata, batch_key: str, n_clusters: int | None = None, rows: int = 32,
            cols: int = 32, key_added: str = "genomoi", layer: str | None = None,
            use_raw: bool = False, prealign_method: str = "scanorama", copy: bool = False,
            **kwargs):
    """genoMOIvis over the batches of ``obs[batch_key]``: an integrated embedding.

    Parameters
    ----------
    adata : anndata.AnnData
        Cells x genes of all batches.
    batch_key : str
        The ``obs`` column naming each cell's batch (or omic).
    n_clusters : int, optional
        Number of clusters; None estimates it.
    rows, cols : int, default 32
        Grid shape of the genomaps.
    key_added : str, default "genomoi"
        Name of the entries.
    layer : str, optional
        Use this layer instead of X.
    use_raw : bool, default False
        Use ``adata.raw`` instead of X.
    prealign_method : str, default "scanorama"
        "scanorama" (needs the scanorama package) or "zscore" (see
        :func:`genomap_fast.cnn.prealign`).
    copy : bool, default False
        Work on a copy and return it.
    **kwargs
        Passed to :func:`genomap_fast.cnn.genoMOIvis` (epoch, seed, ...).

    Returns
    -------
    anndata.AnnData or None
        The annotated copy with ``copy=True``, else None. Adds ``obsm['X_' + key]`` (cells, 2)
        float32 integrated embedding, ``obsm['X_' + key + '_features']`` (cells, n_dim),
        ``obs[key + '_cluster']`` and ``uns[key]``; cells keep their order in ``adata``.

    Raises
    ------
    ValueError
        ``batch_key`` is not an ``obs`` column.

    Examples
    --------
    >>> import anndata
    >>> import pandas as pd
    >>> import genomap_fast as gf
    >>> from genomap_fast.datasets import synthetic_counts
    >>> X, _ = synthetic_counts(n_cells=60, n_genes=64, n_types=3, seed=0)
    >>> batch = ["a"] * 30 + ["b"] * 30
    >>> adata = anndata.AnnData(X, obs=pd.DataFrame({"batch": batch}))
    >>> gf.tl.genomoi(adata, "batch", n_clusters=3, rows=8, cols=8, prealign_method="zscore",
    ...               epoch=1, maxiter=2)
    >>> adata.obsm["X_genomoi"].shape, adata.obsm["X_genomoi_features"].shape
    ((60, 2), (60, 32))
    """
    import pandas as pd

    from .cnn import genoMOIvis

    adata = adata.copy() if copy else adata
    if batch_key not in adata.obs:
        raise ValueError(f"no obs column {batch_key!r}")
    X = _source(adata, layer, use_raw).to_memory()
    batches = adata.obs[batch_key].astype(str).to_numpy()
    names = list(dict.fromkeys(batches))
    order = np.concatenate([np.flatnonzero(batches == b) for b in names])
    parts = [X[np.flatnonzero(batches == b)] for b in names]
    emb, labels, feats = genoMOIvis(*parts, n_clusters=n_clusters, colNum=cols, rowNum=rows,
                                    prealign_method=prealign_method, **kwargs)
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size)
    adata.obsm[f"X_{key_added}"] = emb[inverse]
    adata.obsm[f"X_{key_added}_features"] = feats[inverse]
    adata.obs[f"{key_added}_cluster"] = pd.Categorical(labels[inverse].astype(str))
    adata.uns[key_added] = {"batch_key": batch_key, "batches": names, "rows": rows,
                            "cols": cols, "prealign_method": prealign_method}
    return adata if copy else None
