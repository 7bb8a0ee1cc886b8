"""What every CNN estimator shares: a standardising :class:`~genomap_fast.Genomap` (its input
path, z-scores, threads and persistence), the network's device, and ``save``/``load``.

A subclass says how to build its network from its parameters (``_build_model``) and which
fitted attributes besides the network it keeps (``_extra_state`` / ``_load_extra``).
"""
from __future__ import annotations

import io
import json

import numpy as np

from .._source import as_source
from .._validate import NotFittedError
from ..estimator import Genomap


def torch_module():
    try:
        import torch
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("the CNN tasks need torch: pip install 'genomap_fast[cnn]'") from err
    return torch


class GenomapCNN:
    """Base class of the CNN estimators: genomaps of the cells (per-gene z-scores of the fit
    cells, ddof=1, as the reference's task functions) fed to a torch network.

    ``genomap``: None (a ``Genomap(rows, cols, grid_metric, select_genes, num_threads)`` is
    fitted on the training cells), an unfitted :class:`~genomap_fast.Genomap` (its parameters
    are used) or a fitted one (its placement and statistics are reused: no refit).
    """

    _format = "genomap_fast.cnn/1"
    _param_names: tuple = ()
    #: parameters that a file saved by an older version lacks, with the value its model was
    #: trained with (not today's default)
    _saved_before: dict = {}
    #: z-scores are clipped to [-max_value, max_value] in :meth:`images` (None: not clipped)
    max_value: float | None = None

    def _init_genomap(self, genomap, rows, cols, grid_metric, select_genes, num_threads,
                      max_image_bytes):
        if genomap is not None and not isinstance(genomap, Genomap):
            raise TypeError(f"genomap must be a Genomap or None, got {type(genomap).__name__}")
        self.genomap = genomap
        self.rows, self.cols = (genomap.rows, genomap.cols) if genomap is not None else (rows, cols)
        self.grid_metric = genomap.grid_metric if genomap is not None else grid_metric
        self.select_genes, self.num_threads = select_genes, num_threads
        self.max_image_bytes = int(max_image_bytes)

    def get_params(self) -> dict:
        """The constructor's parameters (scikit-learn style).

        Returns
        -------
        dict
            Parameter name to value.
        """
        return {k: getattr(self, k) for k in self._param_names}

    # ---------------------------------------------------------------- data
    def _source(self, X, name="data"):
        return as_source(X, name=name)

    def _fit_genomap(self, src):
        """Fits (or reuses) the standardising Genomap on the cells of ``src``."""
        gm = self.genomap
        if gm is not None and hasattr(gm, "placement_obj_"):  # fitted: reuse, standardising
            meta, arrays = gm.to_state()
            meta = {**meta, "params": {**meta["params"], "standardize": True,
                                       "dtype": "float32", "layout": "nchw"}}
            self.genomap_ = Genomap.from_state(meta, arrays)
            return
        template = gm if gm is not None else Genomap(
            self.rows, self.cols, grid_metric=self.grid_metric, select_genes=self.select_genes,
            num_threads=self.num_threads)
        self.genomap_ = template.clone(standardize=True, dtype=np.float32, layout="nchw")
        self.genomap_.fit(src)

    @property
    def mean_(self) -> np.ndarray:
        """(n_placed,) float64 per-gene mean of the fit cells (aligned with ``genomap_.genes_``)."""
        return self._fitted_genomap().mean_

    @property
    def scale_(self) -> np.ndarray:
        """(n_placed,) float64 per-gene standard deviation (ddof=1) of the fit cells."""
        return self._fitted_genomap().scale_

    def _fitted_genomap(self) -> Genomap:
        if not hasattr(self, "genomap_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit first")
        return self.genomap_

    def images(self, X, batch_size: int | None = None) -> np.ndarray:
        """Standardised genomaps of X: the network's input.

        Parameters
        ----------
        X : array-like, AnnData or str
            Cells x genes, any input :meth:`genomap_fast.Genomap.fit` accepts, with the genes of
            the fit.
        batch_size : int, optional
            Cells rasterised per block.

        Returns
        -------
        numpy.ndarray of shape (n_cells, 1, rows, cols)
            float32 z-score genomaps, clipped to [-max_value, max_value] where the estimator
            has a ``max_value``.

        Raises
        ------
        NotFittedError
            Before ``fit``.
        """
        images = self._fitted_genomap().transform(X, batch_size=batch_size)
        if self.max_value is not None:
            np.clip(images, -self.max_value, self.max_value, out=images)
        return images

    def _image_batches(self, src):
        """All images when they are small, else a function rasterising the cells of an index
        array on demand (the genomaps of all cells are never materialised for large data)."""
        if src.shape[0] * self.rows * self.cols * 4 <= self.max_image_bytes:
            return self.images(src)
        return lambda idx: self.images(src.take(np.sort(np.asarray(idx)))[
            np.argsort(np.argsort(np.asarray(idx)))])

    def _check_fitted(self):
        if not hasattr(self, "model_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit first")

    # --------------------------------------------------------- persistence
    def _build_model(self, state: dict):
        raise NotImplementedError

    def _extra_state(self) -> dict:
        return {}

    def _load_extra(self, state: dict) -> None:
        pass

    def save(self, path) -> None:
        """Writes the fitted estimator (genomap, standardisation, network) atomically.

        Parameters
        ----------
        path : str or os.PathLike
            The file to write (a torch file of tensors and JSON strings).

        Raises
        ------
        NotFittedError
            Before ``fit``.
        """
        from .._atomic import atomic_path

        torch = torch_module()
        self._check_fitted()
        gm_meta, gm_arrays = self.genomap_.to_state()
        params = {k: v for k, v in self.get_params().items() if k != "genomap"}
        # copies of the arrays: a fitted Genomap's arrays can be read-only views
        state = {
            "format": self._format, "kind": type(self).__name__,
            "params": json.dumps(params), "genomap_meta": json.dumps(gm_meta),
            "genomap_arrays": {k: torch.from_numpy(np.array(v, order="C"))
                               for k, v in gm_arrays.items() if v.dtype.kind != "U"},
            "genomap_names": json.dumps(gm_arrays["feature_names"].tolist()
                                        if "feature_names" in gm_arrays else None),
            "model": {k: v.cpu() for k, v in self.model_.state_dict().items()},
            **self._extra_state(),
        }
        buf = io.BytesIO()
        torch.save(state, buf)
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            fh.write(buf.getvalue())

    @classmethod
    def load(cls, path):
        """Reads an estimator written by :meth:`save`.

        Only tensors and strings are unpickled (torch's safe ``weights_only`` loading).

        Parameters
        ----------
        path : str or os.PathLike
            A file written by :meth:`save` of the same class.

        Returns
        -------
        GenomapCNN
            The fitted estimator, its network on its ``device``.

        Raises
        ------
        ValueError
            The file is unreadable, altered, or of another estimator class.
        """
        torch = torch_module()
        from .training import device_for

        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:
            raise ValueError(f"{path} is not a readable {cls.__name__} file: {err}") from err
        if not isinstance(state, dict) or state.get("format") != cls._format \
                or state.get("kind") != cls.__name__:
            raise ValueError(f"{path} is not a {cls.__name__} file")
        try:  # an altered file can still unpickle: its contents fail anywhere below
            obj = cls(**{**cls._saved_before, **json.loads(state["params"])})
            arrays = {k: v.numpy() for k, v in state["genomap_arrays"].items()}
            names = json.loads(state.get("genomap_names", "null"))
            if names is not None:
                arrays["feature_names"] = np.asarray(names)
            obj.genomap_ = Genomap.from_state(json.loads(state["genomap_meta"]), arrays)
            obj.device_ = device_for(obj.device)  # _load_extra moves tensors there
            obj._load_extra(state)
            obj.model_ = obj._build_model(state)
            obj.model_.load_state_dict(state["model"])
        except (ValueError, TypeError, KeyError, AttributeError, RuntimeError) as err:
            raise ValueError(f"{path} is not a valid {cls.__name__} file "
                             f"({type(err).__name__}: {err})") from err
        obj.model_.to(obj.device_)
        return obj
