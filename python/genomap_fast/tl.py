"""scanpy-style tools: annotate an AnnData in place (``copy=True`` returns a new one)."""
from __future__ import annotations

import numpy as np

from ._source import as_source
from ._validate import check_int, check_number
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


def genoannotate(adata, markers, *, tissue: str | None = None, layer: str | None = None,
                 groupby: str | None = None, key_added: str = "genoannotate",
                 method: str = "cell", confidence: str = "neighbors", drop_empty: bool = False,
                 resolution: float = 1.0, n_neighbors: int = 10, epochs: int = 30,
                 max_train_per_type: int = 2000, rows: int | None = None,
                 cols: int | None = None, seed: int = 0, device: str | None = None,
                 copy: bool = False):
    """Marker-based cell types (the reference's genoAnnotate, i.e. scType), offline, per cell.

    Every cell gets the scType score of every type (sensitivity-weighted z-scores of its
    positive markers minus those of its negative markers, computed as one sparse product
    streamed over row blocks). ``method="cluster"`` is the reference's call: each cluster
    (Leiden, or ``groupby``) takes the type with the largest summed score, "Unknown" when that
    sum is below a quarter of its cells. ``method="cell"`` (default) goes beyond it: the cells
    whose own best type is that of at least half of their 10 nearest neighbours
    (``confidence="neighbors"``, chosen by measurement: see the user guide) train a genomap CNN
    (:class:`genomap_fast.cnn.GenoNetClassifier`) that labels every cell, so the cells of a
    mixed cluster are not all given its majority type.

    Parameters
    ----------
    adata : anndata.AnnData
        Log-normalised expression (X or ``layer``), dense or sparse, in memory or backed;
        gene symbols in ``var_names``. X is never modified.
    markers : dict, pandas.DataFrame, str or os.PathLike
        ``{type: [positive genes]}``, ``{type: (positive, negative)}`` (lists or
        comma-separated strings), a table in scType's format (columns ``tissueType``,
        ``cellName``, ``geneSymbolmore1`` = positive, ``geneSymbolmore2`` = negative, genes
        comma-separated) or a path to one (.csv, .tsv, .xlsx; .xlsx needs openpyxl).
        Symbols match ``var_names`` case-insensitively; those absent are reported in
        ``uns[key]``.
    tissue : str, optional
        The table's ``tissueType`` to use (required when the table has several).
    layer : str, optional
        Score this layer instead of X.
    groupby : str, optional
        An ``obs`` column of clusters to use instead of computing Leiden clusters.
    key_added : str, default "genoannotate"
        Name of the entries.
    method : {"cell", "cluster"}, default "cell"
        Per-cell labels from the genomap CNN, or the reference's cluster labels.
    confidence : {"neighbors", "agree", "agree_margin", "margin", "cluster"}, default "neighbors"
        Which cells train the CNN: own best type shared by at least half of the cell and
        its ``n_neighbors`` nearest neighbours (in the clusters' principal components), or
        equal to the cluster's type ("agree"; "agree_margin" keeps the upper half of each
        type by score margin), or the upper half by margin without clusters ("margin"), or
        every cell of a typed cluster with its cluster's label ("cluster").
    drop_empty : bool, default False
        Drop the types none of whose positive markers is in the data (reported in
        ``uns[key]['dropped']``) instead of raising.
    resolution : float, default 1.0
        Leiden resolution (the reference's).
    n_neighbors : int, default 10
        Neighbours of the Leiden graph (the reference's) and of ``confidence="neighbors"``.
    epochs : int, default 30
        Training epochs of the CNN.
    max_train_per_type : int, default 2000
        At most this many confident cells of each type train the CNN.
    rows, cols : int, optional
        Genomap grid of the CNN (default: the smallest square holding all genes, at most
        32 x 32: then the most variable 1,024 genes are placed).
    seed : int, default 0
        Seed of the clusters, the training subset and the CNN.
    device : str, optional
        torch device of the CNN.
    copy : bool, default False
        Work on a copy and return it.

    Returns
    -------
    anndata.AnnData or None
        The annotated copy with ``copy=True``, else None. Adds ``obs[key]`` (categorical
        labels, "Unknown" allowed), ``obs[key + '_cluster']`` (the cluster-level call),
        ``obs[key + '_confident']`` (the CNN's training candidates; ``method="cell"``),
        ``obsm[key + '_scores']`` (cells x types float64 scType scores) and ``uns[key]``:
        ``types`` (columns of the scores), ``markers_used`` / ``markers_missing`` /
        ``negative_used`` / ``negative_missing`` (comma-joined, one per type), ``dropped``,
        ``clusters`` (a table: cluster, type, top_type, score, n_cells) and ``params``.

    Raises
    ------
    ValueError
        A type with no positive marker in the data (named; unless ``drop_empty``), a bad
        marker table or tissue, an unknown ``method``/``confidence``, a missing ``groupby``,
        ``resolution`` not > 0, or ``n_neighbors``, ``epochs``, ``max_train_per_type``,
        ``rows`` or ``cols`` < 1.
    TypeError
        ``markers`` of another kind, or a count that is not an integer.

    Examples
    --------
    >>> import anndata, numpy as np, pandas as pd
    >>> import genomap_fast as gf
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], 40)
    >>> X = rng.poisson(0.3, size=(120, 30)).astype(float)
    >>> for t in range(3):
    ...     X[y == t, 3 * t : 3 * t + 3] += rng.poisson(4.0, size=(40, 3))
    >>> obs = pd.DataFrame({"cluster": y.astype(str)}, index=[f"c{i}" for i in range(120)])
    >>> adata = anndata.AnnData(np.log1p(X), obs=obs,
    ...                         var=pd.DataFrame(index=[f"G{i}" for i in range(30)]))
    >>> markers = {"A": ["g0", "g1", "g2"], "B": "G3,G4,G5", "C": (["G6", "G7", "G8"], ["G0"])}
    >>> gf.tl.genoannotate(adata, markers, groupby="cluster", method="cluster")
    >>> adata.obs["genoannotate"].value_counts().sort_index().tolist()
    [40, 40, 40]
    >>> adata.obsm["genoannotate_scores"].shape, adata.uns["genoannotate"]["types"].tolist()
    ((120, 3), ['A', 'B', 'C'])
    """
    import pandas as pd

    from . import annotate as an

    if method not in ("cell", "cluster"):
        raise ValueError(f"method must be 'cell' or 'cluster', got {method!r}")
    if confidence not in an.CONFIDENCE_RULES:
        raise ValueError(f"confidence must be one of {an.CONFIDENCE_RULES}, got {confidence!r}")
    if groupby is not None and groupby not in adata.obs:
        raise ValueError(f"no obs column {groupby!r}")
    resolution = check_number(resolution, "resolution", strict=True)
    n_neighbors = check_int(n_neighbors, "n_neighbors", 1)
    epochs = check_int(epochs, "epochs", 1)
    max_train_per_type = check_int(max_train_per_type, "max_train_per_type", 1)
    rows, cols = (None if v is None else check_int(v, name, 1)
                  for v, name in ((rows, "rows"), (cols, "cols")))
    sets = an.read_markers(markers, tissue)
    adata = adata.copy() if copy else adata
    src = as_source(adata, layer)
    weights = an.MarkerWeights(sets, src.var_names if src.var_names is not None
                               else adata.var_names, drop_empty=drop_empty)
    scores = an.sctype_scores(src, weights)
    own = np.asarray(weights.types, dtype=object)[np.argmax(scores, axis=1)].astype(str)
    need_pcs = groupby is None or (method == "cell" and confidence == "neighbors")
    pcs = an.pca_embedding(src, seed=seed) if need_pcs else None
    if groupby is not None:
        clusters = adata.obs[groupby].astype(str).to_numpy()
    else:
        clusters = an.leiden_clusters(pcs, n_neighbors=n_neighbors, resolution=resolution,
                                      seed=seed)
    table = an.cluster_table(scores, weights.types, clusters)
    by_cluster = dict(zip(table["cluster"], table["type"]))
    cluster_labels = np.asarray([by_cluster[c] for c in np.asarray(clusters).astype(str)])
    labels, n_conf, confident = cluster_labels, None, None
    if method == "cell":
        agreement = (an.neighbour_agreement(pcs, own, n_neighbors)
                     if confidence == "neighbors" else None)
        confident = an.confident_cells(scores, cluster_labels, weights.types, confidence,
                                       agreement=agreement)
        target = cluster_labels if confidence == "cluster" else own
        idx = np.flatnonzero(confident)
        n_conf = int(idx.size)
        classes = np.unique(target[idx])
        if classes.size >= 2:
            idx = idx[an.balanced_subset(target[idx], max_train_per_type, seed)]
            side = an.grid_side(src.shape[1])
            labels, _, _ = an.cnn_labels(src, None, idx, target[idx], rows or side,
                                         cols or side, epochs, seed, device=device)
        elif classes.size == 1:
            labels = np.full(src.shape[0], classes[0], dtype=object)
    categories = list(weights.types) + [UNKNOWN_LABEL]
    adata.obs[key_added] = pd.Categorical(np.asarray(labels).astype(str), categories=[
        c for c in categories if c in set(np.asarray(labels).astype(str))])
    adata.obs[f"{key_added}_cluster"] = pd.Categorical(cluster_labels)
    if confident is not None:
        adata.obs[f"{key_added}_confident"] = confident
    adata.obsm[f"{key_added}_scores"] = scores

    def joined(which, k):
        return np.asarray([",".join(which[t][k]) for t in weights.types], dtype=str)

    adata.uns[key_added] = {
        "types": np.asarray(weights.types, dtype=str),
        "markers_used": joined(weights.used, 0), "negative_used": joined(weights.used, 1),
        "markers_missing": joined(weights.missing, 0),
        "negative_missing": joined(weights.missing, 1),
        "dropped": np.asarray(weights.dropped, dtype=str),
        "clusters": table,
        "params": {"method": method, "confidence": confidence, "groupby": groupby or "leiden",
                   "layer": layer or "X", "n_confident": -1 if n_conf is None else n_conf,
                   "seed": seed},
    }
    return adata if copy else None


UNKNOWN_LABEL = "Unknown"
