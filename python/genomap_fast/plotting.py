"""Figures of genomaps (matplotlib)."""
from __future__ import annotations

import numpy as np

from ._atomic import atomic_path


def _pyplot(save):
    """matplotlib.pyplot, on the non-interactive Agg backend when writing to a file."""
    import matplotlib

    if save is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _finish(fig, ax, title, save, dpi: int = 150):
    """Plain axes, optional title, optional atomic save; returns the figure."""
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    if save is not None:
        _save(fig, save, dpi=dpi)
    return fig


def _save(fig, path, dpi: int) -> None:
    """Writes a figure atomically, in the format its extension names (PNG by default)."""
    import os

    ext = os.path.splitext(os.fspath(path))[1] or ".png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=ext.lstrip("."))


def genomaps(images, labels, n_per_class: int = 6, classes=None, cmap: str = "viridis",
             title: str | None = None, save: str | None = None, seed: int = 0,
             robust: bool = True):
    """A grid of genomaps, one row per class and ``n_per_class`` cells per row.

    Parameters
    ----------
    images : array-like of shape (n, 1, rows, cols), (n, rows, cols, 1) or (n, rows, cols)
        Genomaps (:meth:`genomap_fast.Genomap.transform`, :func:`genomap_fast.construct_genomap`).
    labels : array-like of shape (n,)
        Class of each cell.
    n_per_class : int, default 6
        Cells drawn per class (picked at random with ``seed``).
    classes : sequence, optional
        Classes to draw, in this order (default: all, the largest first).
    cmap : str, default "viridis"
        matplotlib colour map.
    title : str, optional
        Title of the figure.
    save : str or os.PathLike, optional
        Writes the figure there (atomically; the format from the extension, PNG by default).
    seed : int, default 0
        Seed of the cells picked.
    robust : bool, default True
        All panels share one colour scale: the 1st-99th percentile of the shown values when
        ``robust``, else their full range.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.

    Raises
    ------
    ValueError
        Images of another shape, or a different number of labels and images.

    Examples
    --------
    >>> import genomap_fast as gf
    >>> from genomap_fast.datasets import synthetic_counts
    >>> X, labels = synthetic_counts(n_cells=100, n_genes=60, n_types=3, seed=0)
    >>> images = gf.Genomap(8, 8).fit_transform(X)
    >>> fig = gf.pl.genomaps(images, labels, n_per_class=4)
    >>> len(fig.axes)  # 3 classes x 4 cells, and the colour bar
    13
    """
    plt = _pyplot(save)

    imgs = np.asarray(images)
    if imgs.ndim == 4:
        imgs = imgs[:, 0] if imgs.shape[1] == 1 else imgs[..., 0]
    if imgs.ndim != 3:
        raise ValueError(
            f"images must be (n, rows, cols) with an optional channel axis, got {np.shape(images)}"
        )
    labels = np.asarray(labels)
    if labels.shape[0] != imgs.shape[0]:
        raise ValueError(f"{labels.shape[0]} labels for {imgs.shape[0]} images")
    if classes is None:
        uniq, counts = np.unique(labels, return_counts=True)
        classes = list(uniq[np.argsort(-counts, kind="stable")])
    rng = np.random.default_rng(seed)
    picks = []
    for c in classes:
        idx = np.flatnonzero(labels == c)
        picks.append(rng.choice(idx, size=min(n_per_class, idx.size), replace=False))
    shown = np.concatenate([imgs[p] for p in picks]) if picks else imgs[:0]
    if not shown.size:
        vmin, vmax = 0.0, 1.0
    elif robust:
        vmin, vmax = (float(v) for v in np.percentile(shown, [1, 99]))
    else:
        vmin, vmax = float(np.min(shown)), float(np.max(shown))
    fig, axes = plt.subplots(len(classes), n_per_class, squeeze=False, layout="constrained",
                             figsize=(1.2 * n_per_class + 2.4, 1.2 * len(classes) + 0.6))
    im = None
    for r, (c, p) in enumerate(zip(classes, picks)):
        for k in range(n_per_class):
            ax = axes[r, k]
            ax.set_xticks([])
            ax.set_yticks([])
            for s in ax.spines.values():
                s.set_visible(False)
            if k < len(p):
                im = ax.imshow(imgs[p[k]], cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        axes[r, 0].set_ylabel(str(c), rotation=0, ha="right", va="center", fontsize=8)
    if im is not None:
        fig.colorbar(im, ax=axes, shrink=0.6, label="expression")
    if title:
        fig.suptitle(title, fontsize=10)
    if save is not None:
        _save(fig, save, dpi=120)
    return fig


def placement(pixel, rows: int, cols: int, gene_names=None, values=None, top: int = 20,
              cmap: str = "magma", title: str | None = None, save: str | None = None):
    """Which gene sits where: the grid coloured by a value per gene, with gene names.

    Parameters
    ----------
    pixel : array-like of shape (n_genes,)
        Flat pixel of each gene (``Genomap.placement_``; -1: not placed).
    rows, cols : int
        Grid shape.
    gene_names : array-like of shape (n_genes,), optional
        Names; those of the ``top`` genes of highest value are written on their pixels.
    values : array-like of shape (n_genes,), optional
        Colour of each gene's pixel (e.g. its variance); default 1 for placed genes.
    top : int, default 20
        Number of names written.
    cmap : str, default "magma"
        matplotlib colour map.
    title : str, optional
        Title of the figure.
    save : str or os.PathLike, optional
        Writes the figure there (atomically).

    Returns
    -------
    matplotlib.figure.Figure
        The figure.

    Raises
    ------
    ValueError
        ``values`` of another length than ``pixel``.

    Examples
    --------
    >>> import genomap_fast as gf
    >>> from genomap_fast.datasets import synthetic_counts
    >>> X, _ = synthetic_counts(n_cells=100, n_genes=60, seed=0)
    >>> gm = gf.Genomap(8, 8).fit(X)
    >>> names = [f"g{j}" for j in range(60)]
    >>> fig = gf.pl.placement(gm.placement_, 8, 8, gene_names=names, values=gm.var_, top=5)
    >>> len(fig.axes[0].texts)
    5
    """
    plt = _pyplot(save)

    pixel = np.asarray(pixel)
    placed = np.flatnonzero(pixel >= 0)
    vals = np.ones(pixel.size) if values is None else np.asarray(values, dtype=float)
    if vals.shape != pixel.shape:
        raise ValueError(f"values must have one entry per gene ({pixel.size}), got {vals.shape}")
    grid = np.full((rows, cols), np.nan)
    r, c = pixel[placed] % rows, pixel[placed] // rows
    grid[r, c] = vals[placed]
    fig, ax = plt.subplots(figsize=(6, 6 * rows / max(cols, 1)), layout="constrained")
    im = ax.imshow(grid, cmap=cmap, interpolation="nearest")
    fig.colorbar(im, ax=ax, shrink=0.7)
    if gene_names is not None:
        names = np.asarray(gene_names)
        order = placed[np.argsort(-vals[placed], kind="stable")[:top]]
        for g in order:
            ax.text(pixel[g] // rows, pixel[g] % rows, str(names[g]), fontsize=6, ha="center",
                    va="center", color="cyan")
    return _finish(fig, ax, title, save)


def embedding(coords, labels=None, title: str | None = None, s: float = 8.0,
              save: str | None = None):
    """Scatter plot of a 2-D embedding (genoVis / genoTraj output), coloured by ``labels``.

    Parameters
    ----------
    coords : array-like of shape (n, 2) or anndata.AnnData
        The embedding, or an AnnData whose ``obsm['X_genovis']`` is drawn.
    labels : array-like of shape (n,) or str, optional
        Colour classes (a legend entry each); with an AnnData, the name of an ``obs`` column.
    title : str, optional
        Title of the figure.
    s : float, default 8.0
        Marker size.
    save : str or os.PathLike, optional
        Writes the figure there (atomically).

    Returns
    -------
    matplotlib.figure.Figure
        The figure.

    Raises
    ------
    ValueError
        ``coords`` not of shape (n, 2), or a different number of labels and points.

    Examples
    --------
    >>> import numpy as np
    >>> import genomap_fast as gf
    >>> coords = np.random.default_rng(0).normal(size=(50, 2))
    >>> fig = gf.pl.embedding(coords, labels=np.repeat(["a", "b"], 25), title="two groups")
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ['a', 'b']
    """
    plt = _pyplot(save)

    if hasattr(coords, "obsm"):
        adata = coords
        coords = adata.obsm["X_genovis"]
        if isinstance(labels, str):
            labels = adata.obs[labels].to_numpy()
    coords = np.asarray(coords)
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise ValueError(f"coords must be (n, 2), got {coords.shape}")
    fig, ax = plt.subplots(figsize=(6, 5), layout="constrained")
    if labels is None:
        ax.scatter(coords[:, 0], coords[:, 1], s=s)
    else:
        labels = np.asarray(labels)
        if labels.shape[0] != coords.shape[0]:
            raise ValueError(f"{labels.shape[0]} labels for {coords.shape[0]} points")
        for c in np.unique(labels):
            m = labels == c
            ax.scatter(coords[m, 0], coords[m, 1], s=s, label=str(c))
        ax.legend(fontsize=7, markerscale=2, frameon=False, loc="best")
    return _finish(fig, ax, title, save)
