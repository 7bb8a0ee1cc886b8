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
        "cuda" (or "auto") computes the statistics and images on a GPU (see
        :func:`genomap_fast.backends`); the placement is the CPU's either way.

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
    """Makes an installed reference ``genomap`` package call genomap_fast: ``construct_genomap``
    and ``construct_genomap_returnT`` always, and the task functions (genoClassification,
    genoRegression, genoVis, genoDR, genoTraj, genoSig, genoMOIvis/genoMOItraj) in those
    reference modules that import (several need TensorFlow). Existing code speeds up without
    edits. Returns the names patched; ``unpatch()`` restores them."""
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
    """Restores the reference functions replaced by :func:`patch`."""
    import importlib

    for (modname, name), fn in list(_ORIGINALS.items()):
        setattr(importlib.import_module(modname), name, fn)
        del _ORIGINALS[(modname, name)]
