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
    """Writes a fitted Genomap into ``adata``: ``uns[key]`` (parameters, objective, iterations,
    placed genes), ``var[key + '_pixel'|'_row'|'_col']`` (-1 for genes not placed) and, when
    ``images`` are given, ``obsm['X_' + key]`` as (cells, rows * cols) float32 (C order:
    reshape to (rows, cols))."""
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
    """Fits a genomap placement on ``adata`` (cells x genes) and stores it (see :func:`store`).

    ``kwargs`` go to :class:`Genomap` (epsilon, select_genes, num_threads, solver="anneal"
    for a lower GW objective than the reference's, seed, restarts, ...). Images are
    stored only with ``store_images=True`` (they are big). A backed AnnData's X is read from
    disk block by block. Returns the AnnData if ``copy``.
    """
    src = _source(adata, layer, use_raw)  # checked before a copy is made of it
    adata = adata.copy() if copy else adata
    gm = Genomap(rows, cols, grid_metric=grid_metric, **kwargs).fit(src)
    store(adata, gm, gm.transform(src) if store_images else None, key_added)
    return adata if copy else None


def genovis(adata, n_clusters: int | None = None, rows: int = 32, cols: int = 32,
            key_added: str = "genovis", layer: str | None = None, use_raw: bool = False,
            copy: bool = False, **kwargs):
    """genoVis on ``adata``: ``obsm['X_' + key]`` (cells, 2) embedding, ``obs[key + '_cluster']``
    (categorical) clusters, ``uns[key]`` parameters. ``kwargs`` go to
    :func:`genomap_fast.cnn.genoVis` (pretrain_epochs, maxiter, seed, ...)."""
    import pandas as pd

    from .cnn import genoVis

    adata = adata.copy() if copy else adata
    emb, labels = genoVis(_source(adata, layer, use_raw), n_clusters=n_clusters, rowNum=rows,
                          colNum=cols, **kwargs)
    adata.obsm[f"X_{key_added}"] = emb
    adata.obs[f"{key_added}_cluster"] = pd.Categorical(labels.astype(str))
    adata.uns[key_added] = {"rows": rows, "cols": cols, "n_clusters": int(len(set(labels)))}
    return adata if copy else None


def genotraj(adata, n_clusters: int = 33, rows: int = 32, cols: int = 32,
             key_added: str = "genotraj", layer: str | None = None, use_raw: bool = False,
             copy: bool = False, **kwargs):
    """genoTraj on ``adata``: ``obsm['X_' + key]`` (cells, 2) trajectory embedding and
    ``uns[key]`` parameters. ``kwargs`` go to :func:`genomap_fast.cnn.genoTraj`."""
    from .cnn import genoTraj

    adata = adata.copy() if copy else adata
    adata.obsm[f"X_{key_added}"] = genoTraj(_source(adata, layer, use_raw), n_clusters=n_clusters,
                                            rowNum=rows, colNum=cols, **kwargs)
    adata.uns[key_added] = {"rows": rows, "cols": cols, "n_clusters": n_clusters}
    return adata if copy else None


def genosig(adata, groupby: str, groups=None, rows: int = 32, cols: int = 32,
            key_added: str = "genosig", layer: str | None = None, use_raw: bool = False,
            copy: bool = False, epochs: int = 100, **kwargs):
    """genoSig on ``adata``: genes ranked by importance for each class of ``obs[groupby]`` in
    ``groups`` (default: all), stored as a DataFrame in ``uns[key]`` (columns
    ``<class>_geneName``, ``<class>_importance``). ``kwargs`` go to
    :func:`genomap_fast.cnn.genoSig` (seed, steps, ...)."""
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
    """genoMOIvis over the batches of ``obs[batch_key]``: ``obsm['X_' + key]`` (cells, 2)
    integrated embedding, ``obsm['X_' + key + '_features']`` (cells, n_dim),
    ``obs[key + '_cluster']``, ``uns[key]``; cells keep their order in ``adata``."""
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
