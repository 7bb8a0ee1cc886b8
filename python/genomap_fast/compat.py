"""The reference's functions (genomap 1.3.6), same names, signatures, shapes and dtypes."""
from __future__ import annotations

import numpy as np

from .estimator import Genomap


def _fit(data, rowNum, colNum, epsilon, num_iter, solver="exact", seed=0, restarts=1,
         device="cpu"):
    if isinstance(num_iter, bool) or not isinstance(num_iter, (int, np.integer)):
        raise TypeError(f"num_iter must be an integer, got {type(num_iter).__name__}")
    if num_iter < 1:
        raise ValueError(f"num_iter must be >= 1, got {num_iter}")
    gm = Genomap(rowNum, colNum, grid_metric="radial", epsilon=epsilon, max_iter=num_iter,
                 dtype=np.float64, layout="nhwc", solver=solver, seed=seed, restarts=restarts,
                 device=device)
    images = gm.fit_transform(data)
    return images, gm


def construct_genomap(data, rowNum, colNum, epsilon=0, num_iter=1000, *, solver="exact",
                      seed=0, restarts=1, device="cpu"):
    """Genomaps of the cells of ``data``, as ``genomap.construct_genomap`` (genomap 1.3.6).

    Same placement problem (radial grid cost, correlation-distance interactions, KL-loss GW,
    uniform marginals) and the same image layout and scaling as genomap 1.3.6, with these
    documented differences:

    - the last cell gets its genomap (the reference's loop stops one cell early and leaves it 0);
    - with ``epsilon=0`` the iteration stops once the gene-to-ring assignment repeats (the
      reference keeps swapping genes between pixels of equal radius until ``num_iter``), and the
      pixel a gene takes inside its ring follows our documented tie-breaking rule;
    - more genes than pixels raises a ValueError (the reference fails with a shape error);
    - zero-variance genes have correlation 0 with all other genes (NaN in the reference).

    Parameters
    ----------
    data : array-like of shape (n_cells, n_genes)
        Expression values, cells x genes: a numpy array, a scipy.sparse matrix, a
        pandas.DataFrame, an AnnData or any other input :meth:`genomap_fast.Genomap.fit`
        accepts.
    rowNum, colNum : int
        Grid shape; ``rowNum * colNum`` must be at least ``n_genes``.
    epsilon : float, default 0
        0 for exact GW steps (the reference's default), > 0 for entropic steps.
    num_iter : int, default 1000
        Cap on the GW iterations.
    solver : str, default "exact"
        "exact" keeps the reference's fixed point; "anneal" (opt-in, not in the reference)
        finds a placement with a lower GW objective (see :class:`genomap_fast.Genomap`).
    seed : int, default 0
        The annealing seed ("anneal" only).
    restarts : int, default 1
        The number of independent annealing runs ("anneal" only; the best is kept).
    device : str, default "cpu"
        "cuda" (or "auto") computes the statistics and the GW iteration on a GPU
        (see :func:`genomap_fast.backends`).

    Returns
    -------
    numpy.ndarray of shape (n_cells, rowNum, colNum, 1)
        float64 genomaps, the reference's layout.

    Raises
    ------
    ValueError
        More genes than pixels, fewer than 2 cells, ``num_iter < 1``, a negative ``epsilon``,
        or values that are not finite.
    TypeError
        A non-integer grid size or ``num_iter``.

    See Also
    --------
    construct_genomap_returnT : the same, also returning the coupling.
    genomap_fast.Genomap : the estimator behind both (fit once, transform new cells).

    Examples
    --------
    >>> from genomap_fast import construct_genomap
    >>> from genomap_fast.datasets import synthetic_counts
    >>> X, labels = synthetic_counts(n_cells=100, n_genes=60, seed=0)
    >>> images = construct_genomap(X, rowNum=8, colNum=8)
    >>> images.shape, images.dtype
    ((100, 8, 8, 1), dtype('float64'))

    More genes than pixels is an error:

    >>> construct_genomap(X, rowNum=7, colNum=7)
    Traceback (most recent call last):
    ...
    ValueError: X has 60 genes but a 7x7 genomap has only 49 pixels; ...
    """
    return _fit(data, rowNum, colNum, epsilon, num_iter, solver, seed, restarts, device)[0]


def construct_genomap_returnT(data, rowNum, colNum, epsilon=0, num_iter=1000, *,
                              solver="exact", seed=0, restarts=1, device="cpu"):
    """Genomaps and the gene-to-pixel coupling, as ``genomap.construct_genomap_returnT``.

    Parameters are those of :func:`construct_genomap`.

    Returns
    -------
    images : numpy.ndarray of shape (n_cells, rowNum, colNum, 1)
        float64 genomaps, as :func:`construct_genomap`.
    T : numpy.ndarray of shape (n_genes, n_genes)
        float64 coupling, rows genes, columns the used pixels (the first ``n_genes`` pixels in
        the reference's flattened order); each row sums to ``1 / n_genes``. With
        ``solver="anneal"`` that of the annealed placement (one gene per pixel).

    Raises
    ------
    ValueError, TypeError
        As :func:`construct_genomap`.

    Examples
    --------
    >>> from genomap_fast import construct_genomap_returnT
    >>> from genomap_fast.datasets import synthetic_counts
    >>> X, _ = synthetic_counts(n_cells=100, n_genes=60, seed=0)
    >>> images, T = construct_genomap_returnT(X, rowNum=8, colNum=8)
    >>> images.shape, T.shape, T.dtype
    ((100, 8, 8, 1), (60, 60), dtype('float64'))
    >>> bool(abs(T.sum() - 1) < 1e-9)
    True
    """
    images, gm = _fit(data, rowNum, colNum, epsilon, num_iter, solver, seed, restarts, device)
    return images, gm.coupling_


_ORIGINALS: dict = {}
def genoAnnotate(adata, species, tissue_type, database=None):
    """Cell types from marker genes, as ``genomap.genoAnnotate.genoAnnotate`` (genomap 1.3.6),
    offline.

    The reference's procedure (scType): cells with fewer than 200 genes removed, counts
    normalised to 10,000 per cell and log1p-transformed, 2,000 highly variable genes scaled
    (clipped at 10), PCA, Leiden clusters of a 10-neighbour graph, and each cluster given the
    type with the largest summed scType score ("Unknown" below a quarter of its cells). The
    scores come from :func:`genomap_fast.tl.genoannotate` (``method="cluster"``, the clusters
    given). Documented differences: the marker table is read from a local file, never
    downloaded, and gene symbols are not checked online; the caller's AnnData is left unchanged
    (the reference normalises it in place); the scores are computed on the log-normalised
    expression (the reference saves ``adata.raw`` before normalising and scores raw counts).
    For per-cell labels, the scores and the markers found, use
    :func:`genomap_fast.tl.genoannotate`.

    Parameters
    ----------
    adata : anndata.AnnData
        Raw counts, cells x genes, gene symbols in ``var_names``.
    species : {"human", "mouse"}
        Kept for the reference's signature (symbols are matched case-insensitively).
    tissue_type : str
        The table's ``tissueType`` (e.g. "Immune system").
    database : str or os.PathLike
        A local marker table in scType's format (.xlsx, .csv or .tsv: columns ``tissueType``,
        ``cellName``, ``geneSymbolmore1``, ``geneSymbolmore2``). Required: the reference's
        default is a URL, which is never fetched.

    Returns
    -------
    anndata.AnnData
        A new AnnData of the cells kept and the 2,000 highly variable genes (scaled, with
        ``obsm['X_pca']``), with ``obs['leiden']`` and ``obs['cell_type']``, as the reference
        returns.

    Raises
    ------
    ValueError
        No ``database``, an unknown ``species``, a tissue not in the table, or a cell type
        with none of its markers in the data.
    """
    import os

    if database is None:
        raise ValueError(
            "genoAnnotate needs database=: a local marker table in scType's format (.xlsx, "
            ".csv or .tsv); the reference's default is a URL and nothing is downloaded. Or "
            "call genomap_fast.tl.genoannotate(adata, markers) with a dict of marker genes.")
    if species not in ("human", "mouse"):
        raise ValueError(f"species must be 'human' or 'mouse', got {species!r}")
    if not os.path.exists(os.fspath(database)):
        raise FileNotFoundError(f"no such marker table: {database}")
    import scanpy as sc

    from .tl import genoannotate

    adata = adata.copy()  # the reference normalises the caller's AnnData in place
    sc.pp.filter_cells(adata, min_genes=200)
    if adata.n_obs < 3:
        raise ValueError(f"{adata.n_obs} cells have at least 200 genes; need at least 3")
    sc.pp.normalize_total(adata, target_sum=10000)
    sc.pp.log1p(adata)
    sc.pp.highly_variable_genes(adata, n_top_genes=min(2000, adata.n_vars))
    out = adata[:, adata.var["highly_variable"]].copy()
    sc.pp.scale(out, max_value=10)
    sc.tl.pca(out, n_comps=min(50, out.n_obs - 1, out.n_vars - 1))
    sc.pp.neighbors(out, n_neighbors=10, use_rep="X_pca")
    sc.tl.leiden(out, flavor="igraph", n_iterations=2, directed=False)
    adata.obs["leiden"] = out.obs["leiden"]
    genoannotate(adata, database, tissue=tissue_type, groupby="leiden", method="cluster",
                 key_added="cell_type")
    out.obs["cell_type"] = adata.obs["cell_type"].astype(str).to_numpy()
    return out


_NAMES = ("construct_genomap", "construct_genomap_returnT")
# reference task modules whose functions have our signatures (reference name -> ours)
_TASKS = {
    "genomap.genoClassification": ("genoClassification",),
    "genomap.genoRegression": ("genoRegression",),
    "genomap.genoVis": ("genoVis",),
    "genomap.genoDR": ("genoDR",),
    "genomap.genoTraj": ("genoTraj",),
    "genomap.genoSig": ("genoSig",),
    "genomap.genoMOI": ("genoMOIvis", "genoMOItraj"),
}


def _swap(modname, name, ours, patched):
    import importlib

    mod = importlib.import_module(modname)
    if hasattr(mod, name):
        _ORIGINALS.setdefault((modname, name), getattr(mod, name))
        setattr(mod, name, ours)
        patched.append(f"{modname}.{name}")


def patch() -> list:
    """Makes an installed reference ``genomap`` package call genomap_fast.

    ``construct_genomap`` and ``construct_genomap_returnT`` always, and the task functions
    (genoClassification, genoRegression, genoVis, genoDR, genoTraj, genoSig,
    genoMOIvis/genoMOItraj) in those reference modules that import (several need TensorFlow).
    Existing code speeds up without edits; :func:`unpatch` restores the originals.

    Returns
    -------
    list of str
        The patched names, ``"module.function"``; empty without the reference package.

    Examples
    --------
    >>> from genomap_fast import compat
    >>> patched = compat.patch()
    >>> "genomap.construct_genomap" in patched or patched == []
    True
    >>> compat.unpatch()
    """
    patched = []
    for modname in ("genomap", "genomap.genomap"):
        for name in _NAMES:
            _swap(modname, name, globals()[name], patched)
    try:
        from . import cnn
    except ImportError:  # pragma: no cover - the CNN tasks need torch
        return patched
    for modname, names in _TASKS.items():
        for name in names:
            try:
                _swap(modname, name, getattr(cnn, name), patched)
            except ImportError:  # the reference module needs TensorFlow or similar
                continue
    return patched


def unpatch() -> None:
    """Restores the reference functions replaced by :func:`patch` (nothing to do when none
    were).

    Examples
    --------
    >>> from genomap_fast import compat
    >>> compat.unpatch()
    """
    import importlib

    for (modname, name), fn in list(_ORIGINALS.items()):
        setattr(importlib.import_module(modname), name, fn)
        del _ORIGINALS[(modname, name)]
