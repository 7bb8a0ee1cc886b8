"""Marker-based cell-type annotation (the reference's genoAnnotate, which is scType), offline.

The scType score of a cell for a type is ``sum(z_pos * s) / sqrt(n_pos) - sum(z_neg * s) /
sqrt(n_neg)``: z-scores of the marker genes over the cells (ddof=1, constant genes 0), each
marker weighted by its sensitivity ``s = (n_types - count) / (n_types - 1)`` (``count``: the
number of types listing the gene as a positive marker; genes that are only negative markers
keep weight 1). All types at once this is one product ``Z @ W`` with ``W`` a sparse genes x types
matrix; with ``Z = (X - mean) / sd`` it is ``X @ (W / sd) - (mean / sd) @ W``, so the cells are
read twice in row blocks (per-gene moments, then the product) and X is never densified or
centred. :func:`genomap_fast.tl.genoannotate` is the entry point.
"""
from __future__ import annotations

import math
import os
import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._source import as_source
from .interaction import block_moments, fold, merge_moments

UNKNOWN = "Unknown"
# the reference's table columns and the names accepted for them
TABLE_COLUMNS = {
    "tissue": ("tissueType", "tissue", "tissue_type"),
    "type": ("cellName", "cell_type", "celltype", "type", "cell name"),
    "positive": ("geneSymbolmore1", "positive", "markers", "positive_markers"),
    "negative": ("geneSymbolmore2", "negative", "negative_markers"),
}
CONFIDENCE_RULES = ("neighbors", "agree", "agree_margin", "margin", "cluster")


# --------------------------------------------------------------------------------- markers
def _split(genes) -> list[str]:
    """Gene symbols as the reference cleans them: comma- (or '///'-) separated, spaces removed,
    upper case, 'NA' and empty dropped, duplicates dropped (first kept)."""
    if genes is None or (isinstance(genes, float) and math.isnan(genes)):
        return []
    if isinstance(genes, str):
        genes = genes.replace("///", ",").split(",")
    out = []
    for g in genes:
        if g is None or (isinstance(g, float) and math.isnan(g)):
            continue
        g = str(g).replace(" ", "").upper()
        if g and g != "NA" and g != "NAN" and g not in out:
            out.append(g)
    return out


def _column(df, role):
    lower = {str(c).lower(): c for c in df.columns}
    for name in TABLE_COLUMNS[role]:
        if name.lower() in lower:
            return lower[name.lower()]
    return None


def _read_table(path) -> pd.DataFrame:
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if not os.path.isfile(path):
        raise ValueError(f"marker table {path!r} does not exist")
    if ext in (".xlsx", ".xls"):
        try:
            return pd.read_excel(path)
        except ImportError as err:
            raise ImportError("reading an .xlsx marker table needs openpyxl "
                              "(pip install openpyxl), or save it as .csv") from err
    if ext in (".tsv", ".txt"):
        return pd.read_csv(path, sep="\t")
    if ext == ".csv":
        return pd.read_csv(path)
    raise ValueError(f"marker table {path!r}: expected a .csv, .tsv or .xlsx file")


def read_markers(markers, tissue: str | None = None) -> dict[str, tuple[list, list]]:
    """Marker sets as ``{type: (positive, negative)}`` with cleaned, upper-case symbols.

    ``markers``: a dict ``{type: [positive]}`` or ``{type: (positive, negative)}`` (gene lists
    or comma-separated strings), a DataFrame in the reference's table format (columns
    ``tissueType``, ``cellName``, ``geneSymbolmore1`` (positive), ``geneSymbolmore2``
    (negative, optional); genes comma-separated) or a path to such a table (.csv, .tsv, .xlsx).
    ``tissue`` keeps the rows of that ``tissueType`` (required when the table has several).
    """
    if isinstance(markers, (str, os.PathLike)):
        markers = _read_table(markers)
    if isinstance(markers, pd.DataFrame):
        return _from_table(markers, tissue)
    if not isinstance(markers, dict):
        raise TypeError("markers must be a dict {type: genes or (positive, negative)}, a "
                        f"DataFrame or a path to a marker table, got {type(markers).__name__}")
    if tissue is not None:
        raise ValueError("tissue= filters a marker table; markers is a dict")
    if not markers:
        raise ValueError("markers is empty")
    out = {}
    for name, genes in markers.items():
        if isinstance(genes, tuple):
            if len(genes) != 2:
                raise ValueError(f"markers[{name!r}]: a tuple must be (positive, negative)")
            pos, neg = genes
        else:
            pos, neg = genes, None
        if not isinstance(pos, (str, list, np.ndarray, pd.Index, pd.Series)):
            raise TypeError(f"markers[{name!r}]: expected a list of gene symbols or a "
                            f"comma-separated string, got {type(pos).__name__}")
        out[str(name)] = (_split(pos), _split(neg))
    return out


def _from_table(df: pd.DataFrame, tissue) -> dict:
    cols = {role: _column(df, role) for role in TABLE_COLUMNS}
    for role in ("type", "positive"):
        if cols[role] is None:
            raise ValueError(f"marker table has no {role} column (expected one of "
                             f"{', '.join(TABLE_COLUMNS[role])}; it has {list(df.columns)})")
    if cols["tissue"] is not None:
        tissues = pd.unique(df[cols["tissue"]].astype(str))
        if tissue is None and len(tissues) > 1:
            raise ValueError(f"the marker table has {len(tissues)} tissues; pass tissue= (one of "
                             f"{', '.join(sorted(tissues))})")
        if tissue is not None:
            df = df[df[cols["tissue"]].astype(str) == str(tissue)]
            if df.empty:
                raise ValueError(f"no rows of tissue {tissue!r} in the marker table (it has "
                                 f"{', '.join(sorted(tissues))})")
    elif tissue is not None:
        raise ValueError("tissue= given but the marker table has no tissue column")
    if df.empty:
        raise ValueError("the marker table has no rows")
    out = {}
    for _, row in df.iterrows():
        name = str(row[cols["type"]]).strip()
        if name in out:
            raise ValueError(f"cell type {name!r} appears twice in the marker table")
        neg = row[cols["negative"]] if cols["negative"] is not None else None
        out[name] = (_split(row[cols["positive"]]), _split(neg))
    return out


class MarkerWeights:
    """The markers matched to the genes of the data, as the sparse genes x types weight matrix
    of the scType score.

    Attributes: ``types`` (kept), ``columns`` (sorted indices of the marker genes in the data),
    ``weights`` (len(columns) x len(types) CSR), ``used`` / ``missing`` ({type: (positive,
    negative)} symbols found / not found), ``dropped`` (types without a positive marker in the
    data, when ``drop_empty``).
    """

    def __init__(self, sets: dict, var_names, drop_empty: bool = False):
        names = pd.Index([str(v).upper() for v in var_names])
        where: dict[str, list[int]] = {}
        for j, n in enumerate(names):
            where.setdefault(n, []).append(j)
        n_all = len(sets)
        count: dict[str, int] = {}
        for pos, _ in sets.values():
            for g in pos:
                count[g] = count.get(g, 0) + 1

        def sensitivity(g):  # scType: rescale(count, from=(n_types, 1), to=(0, 1))
            if g not in count:
                return 1.0
            return 1.0 if n_all == 1 else (n_all - count[g]) / (n_all - 1)

        self.used, self.missing, self.dropped, kept = {}, {}, [], []
        for t, (pos, neg) in sets.items():
            pu = [g for g in pos if g in where]
            nu = [g for g in neg if g in where]
            self.used[t] = (pu, nu)
            self.missing[t] = ([g for g in pos if g not in where],
                               [g for g in neg if g not in where])
            if pu:
                kept.append(t)
            else:
                self.dropped.append(t)
        if self.dropped and not drop_empty:
            detail = "; ".join(f"{t!r} (listed: {', '.join(sets[t][0]) or 'none'})"
                               for t in self.dropped)
            raise ValueError(f"no positive marker of cell type(s) {detail} is among the genes "
                             "of the data (symbols are matched case-insensitively to "
                             "var_names); fix the markers or pass drop_empty=True")
        if not kept:
            raise ValueError("no cell type has a positive marker among the genes of the data")
        self.types = kept
        rows, cols, vals = [], [], []
        for k, t in enumerate(kept):
            pu, nu = self.used[t]
            for genes, sign in ((pu, 1.0), (nu, -1.0)):
                idx = [j for g in genes for j in where[g]]
                for g in genes:
                    for j in where[g]:
                        rows.append(j)
                        cols.append(k)
                        vals.append(sign * sensitivity(g) / math.sqrt(len(idx)))
        rows = np.asarray(rows, dtype=np.int64)
        self.columns = np.unique(rows)
        local = np.searchsorted(self.columns, rows)
        self.weights = sp.csr_matrix((np.asarray(vals), (local, np.asarray(cols))),
                                     shape=(self.columns.size, len(kept)))  # duplicates summed
        self.n_types_table = n_all


# --------------------------------------------------------------------------------- scores
def _block_rows(n_cols: int) -> int:
    return max(1024, min(65536, (1 << 24) // max(1, n_cols)))


def marker_moments(src, columns, step: int | None = None):
    """(n_cells, mean, standard deviation with ddof=1) of ``columns``, one streamed pass."""
    step = step or _block_rows(len(columns))
    n, shift, total, sq = fold((block_moments(b.astype(np.float64)) for _, b in
                                src.blocks(step, columns=columns, prefetch=True, reuse=True)),
                               merge_moments)  # float64 sums (a float32 block sums in float32)
    m = total / n
    mean = shift + m
    var = np.maximum(sq / n - m * m, 0.0)
    # a constant gene: its z-scores are 0 (the reference fills scipy's NaN with 0); a sparse
    # column's unshifted sums leave rounding noise of order eps * mean^2
    var[var <= 1e-13 * np.maximum(mean * mean, 1e-300)] = 0.0
    sd = np.sqrt(var * n / (n - 1)) if n > 1 else np.zeros_like(var)
    return n, mean, sd


def sctype_scores(X, weights: MarkerWeights, layer=None, step: int | None = None,
                  moments=None) -> np.ndarray:
    """The scType scores (cells x types, float64) of every cell: one streamed pass for the
    marker genes' moments (unless ``moments`` = (n, mean, sd) is given), one for ``X @ W``."""
    src = as_source(X, layer)
    cols = weights.columns
    n, mean, sd = moments if moments is not None else marker_moments(src, cols, step)
    inv = np.divide(1.0, sd, out=np.zeros_like(sd), where=sd > 0)
    coef = sp.diags(inv) @ weights.weights  # (markers x types): W / sd
    offset = np.asarray(coef.T @ mean).ravel()  # (mean / sd) @ W
    coef = coef.toarray()
    out = np.empty((src.shape[0], len(weights.types)), dtype=np.float64)
    step = step or _block_rows(len(cols))
    for start, b in src.blocks(step, columns=cols, prefetch=True, reuse=True):
        prod = b @ coef
        out[start : start + b.shape[0]] = np.asarray(prod) - offset
    return out


# --------------------------------------------------------------------------------- clusters
def pca_embedding(X, layer=None, n_top_genes: int = 2000, n_comps: int = 50,
                  seed: int = 0) -> np.ndarray:
    """The reference's cell embedding: the ``n_top_genes`` most variable genes (scanpy's
    'seurat' flavour when scanpy is installed, else by variance), z-scored and clipped at 10,
    then ``n_comps`` principal components. Reads the cells into memory (a copy: X is not
    changed)."""
    src = as_source(X, layer)
    M = src.to_memory()
    M = M.astype(np.float32) if sp.issparse(M) else np.array(M, dtype=np.float32)
    if sp.issparse(M):
        sq = np.asarray(M.multiply(M).mean(axis=0), dtype=np.float64).ravel()
        mu = np.asarray(M.mean(axis=0), dtype=np.float64).ravel()
        spread = sq - mu * mu
    else:
        spread = M.var(axis=0, dtype=np.float64)
    varying = spread > 1e-12 * np.maximum(1.0, np.abs(spread).max())
    if not varying.all():  # constant genes: scaling would divide by zero
        M = M[:, np.flatnonzero(varying)]
    if M.shape[1] == 0:
        raise ValueError("every gene is constant over the cells: nothing to cluster")
    n_comps = max(1, min(n_comps, min(M.shape) - 1))
    try:
        import anndata
        import scanpy as sc
    except ImportError:
        sc = None
    if sc is not None:
        ad = anndata.AnnData(M)
        if ad.n_vars > n_top_genes:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sc.pp.highly_variable_genes(ad, n_top_genes=n_top_genes, flavor="seurat")
            ad = ad[:, ad.var["highly_variable"].to_numpy()].copy()
        if sp.issparse(ad.X):  # scaling centres: dense either way
            ad.X = ad.X.toarray()
        sc.pp.scale(ad, max_value=10)
        sc.tl.pca(ad, n_comps=min(n_comps, min(ad.shape) - 1), random_state=seed)
        return np.asarray(ad.obsm["X_pca"])
    from sklearn.decomposition import PCA

    D = M.toarray() if sp.issparse(M) else M
    var = D.var(axis=0)
    if D.shape[1] > n_top_genes:
        D = D[:, np.sort(np.argsort(-var, kind="stable")[:n_top_genes])]
        var = D.var(axis=0)
    sd = np.sqrt(var * D.shape[0] / max(1, D.shape[0] - 1))
    Z = np.clip((D - D.mean(axis=0)) / np.where(sd > 0, sd, 1.0), None, 10)
    return PCA(n_components=n_comps, random_state=seed).fit_transform(Z)


def leiden_clusters(pcs: np.ndarray, n_neighbors: int = 10, resolution: float = 1.0,
                    seed: int = 0) -> np.ndarray:
    """The reference's clusters on an embedding (:func:`pca_embedding`): scanpy's neighbour
    graph (10 neighbours) and Leiden (leidenalg). Without scanpy/leidenalg: Louvain on a kNN
    graph of the same embedding (:func:`genomap_fast.cnn.estimate_n_clusters`)."""
    try:
        import anndata
        import leidenalg  # noqa: F401
        import scanpy as sc
    except ImportError:
        sc = None
    if sc is not None:
        ad = anndata.AnnData(np.zeros((pcs.shape[0], 0), dtype=np.float32))
        ad.obsm["X_pca"] = np.asarray(pcs)
        sc.pp.neighbors(ad, n_neighbors=n_neighbors, use_rep="X_pca", random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scanpy's future-default notice
            sc.tl.leiden(ad, resolution=resolution, random_state=seed, flavor="leidenalg")
        return ad.obs["leiden"].astype(str).to_numpy()
    from .cnn.cluster import estimate_n_clusters

    _, labels = estimate_n_clusters(pcs, n_neighbors=n_neighbors, seed=seed,
                                    resolution=resolution)
    return labels.astype(str)


def neighbour_agreement(pcs: np.ndarray, own, k: int = 10) -> np.ndarray:
    """For each cell, the fraction of itself and its ``k`` nearest neighbours (Euclidean, in
    ``pcs``) whose own best type is the cell's."""
    from sklearn.neighbors import NearestNeighbors

    codes = pd.factorize(np.asarray(own))[0]
    k = min(k + 1, len(codes))
    nn = NearestNeighbors(n_neighbors=k).fit(pcs).kneighbors(pcs, return_distance=False)
    return (codes[nn] == codes[:, None]).mean(axis=1)


def cluster_table(scores: np.ndarray, types, clusters) -> pd.DataFrame:
    """scType's cluster call: per cluster, the type with the largest summed score, 'Unknown'
    when that sum is below a quarter of the cluster's cells."""
    clusters = np.asarray(clusters).astype(str)
    names, inv = np.unique(clusters, return_inverse=True)
    sums = np.zeros((names.size, scores.shape[1]))
    np.add.at(sums, inv, scores)
    ncells = np.bincount(inv, minlength=names.size)
    best = np.argmax(sums, axis=1)
    top = sums[np.arange(names.size), best]
    types = np.asarray(types, dtype=object)
    label = np.where(top < ncells / 4, UNKNOWN, types[best])
    return pd.DataFrame({"cluster": names, "type": label.astype(str),
                         "top_type": types[best].astype(str), "score": top,
                         "n_cells": ncells.astype(np.int64)})


# --------------------------------------------------------------------------------- confidence
def confident_cells(scores: np.ndarray, cluster_labels: np.ndarray, types, rule: str,
                    quantile: float = 0.5, agreement=None) -> np.ndarray:
    """Boolean mask of the cells that train the per-cell classifier, and their labels are
    ``types[argmax(scores)]`` except for ``rule='cluster'`` (their cluster's label).

    ``'neighbors'``: the cell's own best type is that of at least half of itself and its
    nearest neighbours (``agreement``, from :func:`neighbour_agreement`); no clusters, so a
    type the clusters miss can still be learnt.
    ``'agree'``: the cell's own best type is its cluster's type (clusters called 'Unknown'
    give none). ``'agree_margin'``: those, keeping per type the cells whose margin (best minus
    second score) is at least the ``quantile`` of that type's agreeing cells. ``'margin'``: no
    clusters: per best type, the cells whose margin is at least its ``quantile`` and whose best
    score is positive. ``'cluster'``: every cell of a cluster with a type.
    """
    if rule not in CONFIDENCE_RULES:
        raise ValueError(f"confidence must be one of {CONFIDENCE_RULES}, got {rule!r}")
    types = np.asarray(types, dtype=object)
    own = types[np.argmax(scores, axis=1)].astype(str)
    cluster_labels = np.asarray(cluster_labels).astype(str)
    if rule == "cluster":
        return cluster_labels != UNKNOWN
    if rule == "neighbors":
        if agreement is None:
            raise ValueError("confidence='neighbors' needs the neighbour agreement")
        return np.asarray(agreement) >= 0.5
    agree = own == cluster_labels
    if rule == "agree":
        return agree
    part = np.sort(scores, axis=1)
    margin = part[:, -1] - (part[:, -2] if scores.shape[1] > 1 else 0.0)
    base = agree if rule == "agree_margin" else part[:, -1] > 0
    keep = np.zeros(len(own), dtype=bool)
    for t in np.unique(own[base]):
        m = base & (own == t)
        keep |= m & (margin >= np.quantile(margin[m], quantile))
    return keep


# --------------------------------------------------------------------------------- per cell
def grid_side(n_genes: int, max_side: int = 32) -> int:
    """The smallest square grid holding every gene, at most ``max_side`` (then the most
    variable ``max_side**2`` genes are placed)."""
    return int(min(max_side, max(2, math.ceil(math.sqrt(n_genes)))))


def balanced_subset(labels: np.ndarray, cap: int, seed: int) -> np.ndarray:
    """Sorted indices: at most ``cap`` cells of each label, drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    keep = []
    for t in np.unique(labels):
        idx = np.flatnonzero(labels == t)
        keep.append(idx if idx.size <= cap else rng.choice(idx, cap, replace=False))
    return np.sort(np.concatenate(keep))


def cnn_labels(X, layer, train_idx, train_labels, rows: int, cols: int, epochs: int,
               seed: int, device=None, num_threads=None):
    """A genomap CNN (:class:`genomap_fast.cnn.GenoNetClassifier`) trained on the cells
    ``train_idx`` with ``train_labels``, then applied to every cell: (labels, probabilities,
    classes)."""
    from .cnn import GenoNetClassifier

    src = as_source(X, layer)
    clf = GenoNetClassifier(rows=rows, cols=cols, epochs=epochs, seed=seed, device=device,
                            num_threads=num_threads)
    clf.fit(src.take(np.asarray(train_idx)), np.asarray(train_labels))
    proba = clf.predict_proba(src)
    return clf.classes_[np.argmax(proba, axis=1)], proba, clf.classes_
