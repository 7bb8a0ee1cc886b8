"""Cell recognition and regression on genomaps: estimators and the reference's functions.

The pipeline: per-gene z-scores with the *training* cells' mean and standard deviation
(ddof=1, as the reference), a :class:`~genomap_fast.Genomap` placement fitted on the training
cells only (no test leakage; the reference fits on train + test), and the reference's genoNet
CNN trained with AdamW and class-balanced cross-entropy.
"""
from __future__ import annotations

import io
import json

import numpy as np
import scipy.sparse as sp

from .._atomic import atomic_path
from .._validate import NotFittedError, as_matrix
from ..estimator import Genomap
from ..interaction import gene_moments

_FORMAT = "genomap_fast.GenoNet/1"


def _torch():
    try:
        import torch
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("the CNN tasks need torch: pip install 'genomap_fast[cnn]'") from err
    return torch


class _GenoNetBase:
    """Shared pipeline: standardise -> genomap -> GenoNet."""

    _task = ""

    def __init__(self, rows: int = 32, cols: int = 32, grid_metric: str = "radial",
                 epochs: int = 100, batch_size: int = 128, lr: float = 1e-3,
                 weight_decay: float = 1e-5, seed: int = 0, device: str | None = None,
                 progress: bool = False, patience: int | None = None,
                 select_genes: str | None = "variance", num_threads: int | None = None,
                 max_image_bytes: int = 1 << 30):
        if int(epochs) < 1:
            raise ValueError(f"epochs must be >= 1, got {epochs}")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.rows, self.cols, self.grid_metric = rows, cols, grid_metric
        self.epochs, self.batch_size, self.lr = int(epochs), int(batch_size), float(lr)
        self.weight_decay, self.seed, self.device = float(weight_decay), int(seed), device
        self.progress, self.patience, self.select_genes = progress, patience, select_genes
        self.num_threads = num_threads
        self.max_image_bytes = int(max_image_bytes)

    def _params(self) -> dict:
        keys = ("rows", "cols", "grid_metric", "epochs", "batch_size", "lr", "weight_decay",
                "seed", "device", "progress", "patience", "select_genes", "num_threads",
                "max_image_bytes")
        return {k: getattr(self, k) for k in keys}

    # ---------------------------------------------------------------- data
    def _check_xy(self, X, y):
        X = as_matrix(X, "training_data")
        y = np.asarray(y)
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"{X.shape[0]} cells but {y.shape[0]} labels/targets")
        return X, y

    def _fit_genomap(self, X, unlabeled=None):
        if unlabeled is not None:  # the caller asked to fit placement and z-scores on more cells
            U = as_matrix(unlabeled, "unlabeled")
            if U.shape[1] != X.shape[1]:
                raise ValueError(f"unlabeled has {U.shape[1]} genes but training_data has "
                                 f"{X.shape[1]}")
            X = sp.vstack([X, U]).tocsr() if sp.issparse(X) or sp.issparse(U) else \
                np.concatenate([np.asarray(X, dtype=np.float64), np.asarray(U, dtype=np.float64)])
        mean, var = gene_moments(X)
        n = X.shape[0]
        std = np.sqrt(var * n / max(n - 1, 1))
        self.mean_ = mean
        self.scale_ = np.where(std > 0, std, 1.0)  # constant genes become 0, not NaN
        self.genomap_ = Genomap(self.rows, self.cols, grid_metric=self.grid_metric,
                                select_genes=self.select_genes, num_threads=self.num_threads)
        self.genomap_.fit(X)

    def images(self, X, batch_size: int = 4096) -> np.ndarray:
        """Standardised genomaps of X: (n, 1, rows, cols) float32 (the network's input)."""
        if not hasattr(self, "genomap_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit first")
        X = as_matrix(X)
        if X.shape[1] != self.mean_.shape[0]:
            raise ValueError(f"X has {X.shape[1]} genes but the model was fitted on "
                             f"{self.mean_.shape[0]}")
        out = np.empty((X.shape[0], 1, self.rows, self.cols), dtype=np.float32)
        for start in range(0, X.shape[0], batch_size):
            block = X[start : start + batch_size]
            block = block.toarray() if sp.issparse(block) else np.asarray(block, dtype=np.float64)
            z = (block - self.mean_) / self.scale_
            self.genomap_.transform(z, out=out[start : start + block.shape[0]])
        return out

    def _batches(self, X):
        """Training images: all at once when they are small, else rasterised per batch (the
        genomaps of all cells are never materialised for large data)."""
        if X.shape[0] * self.rows * self.cols * 4 <= self.max_image_bytes:
            return self.images(X)
        return lambda idx: self.images(X[idx])

    def _check_fitted(self):
        if not hasattr(self, "model_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit first")

    def _train(self, images, targets, n_out, loss_fn):
        torch = _torch()
        from .models import GenoNet
        from .training import device_for, train

        self.device_ = device_for(self.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.model_ = GenoNet(self.rows, self.cols, n_out)
        self.loss_history_ = train(self.model_, images, targets, loss_fn, self.epochs,
                                   self.batch_size, self.lr, self.weight_decay, self.seed,
                                   self.device_, self.progress, self.patience, desc=self._task)

    def _outputs(self, X) -> np.ndarray:
        from .training import predict

        return predict(self.model_, self.images(X), self.batch_size, self.device_)

    # --------------------------------------------------------- persistence
    def _extra_state(self) -> dict:
        return {}

    def save(self, path) -> None:
        """Writes the fitted pipeline (genomap, standardisation, network) atomically."""
        torch = _torch()
        self._check_fitted()
        gm_meta, gm_arrays = self.genomap_.to_state()
        state = {
            "format": _FORMAT, "kind": type(self).__name__,
            "params": json.dumps(self._params()), "genomap_meta": json.dumps(gm_meta),
            "genomap_arrays": {k: torch.from_numpy(np.ascontiguousarray(v))
                               for k, v in gm_arrays.items()},
            "mean": torch.from_numpy(self.mean_), "scale": torch.from_numpy(self.scale_),
            "model": {k: v.cpu() for k, v in self.model_.state_dict().items()},
            "loss_history": list(map(float, self.loss_history_)),
            **self._extra_state(),
        }
        buf = io.BytesIO()
        torch.save(state, buf)
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            fh.write(buf.getvalue())

    @classmethod
    def load(cls, path):
        """Reads a model written by ``save`` (tensors only: safe ``weights_only`` loading)."""
        torch = _torch()
        from .models import GenoNet
        from .training import device_for

        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:
            raise ValueError(f"{path} is not a readable {cls.__name__} file: {err}") from err
        if not isinstance(state, dict) or state.get("format") != _FORMAT \
                or state.get("kind") != cls.__name__:
            raise ValueError(f"{path} is not a {cls.__name__} file")
        obj = cls(**json.loads(state["params"]))
        obj.genomap_ = Genomap.from_state(
            json.loads(state["genomap_meta"]),
            {k: v.numpy() for k, v in state["genomap_arrays"].items()})
        obj.mean_, obj.scale_ = state["mean"].numpy(), state["scale"].numpy()
        obj._load_extra(state)
        obj.device_ = device_for(obj.device)
        obj.model_ = GenoNet(obj.rows, obj.cols, state["model"]["fc2.weight"].shape[0])
        obj.model_.load_state_dict(state["model"])
        obj.model_.to(obj.device_)
        obj.loss_history_ = state["loss_history"]
        return obj


class GenoNetClassifier(_GenoNetBase):
    """Cell recognition: genomaps of the cells -> genoNet -> class.

    fit(X, y): X (cells, genes) ndarray or scipy.sparse, y (cells,) labels of any type
    (strings, ints) with at least two classes. predict(X) -> (n,) labels in y's type;
    predict_proba(X) -> (n, n_classes) float32, columns in ``classes_`` order.
    """

    _task = "genoNet classifier"

    def fit(self, X, y, unlabeled=None) -> GenoNetClassifier:
        """``unlabeled``: optional extra cells (e.g. the test cells) that join the training cells
        for the placement and the z-score statistics, as the reference does; by default only
        the training cells are used (no test leakage)."""
        torch = _torch()
        X, y = self._check_xy(X, y)
        if y.ndim != 1:
            raise ValueError(f"labels must be 1-D, got shape {y.shape}")
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            raise ValueError("labels contain NaN or inf")
        self.classes_, codes = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise ValueError(f"classification needs at least 2 classes, got {self.classes_.size}")
        self._fit_genomap(X, unlabeled)
        counts = np.bincount(codes, minlength=self.classes_.size)
        weight = torch.tensor(counts.sum() / counts, dtype=torch.float32)
        loss = torch.nn.CrossEntropyLoss(weight=weight.to(_device_of(self.device)))
        self._train(self._batches(X), codes.astype(np.int64), self.classes_.size, loss)
        return self

    def predict_proba(self, X) -> np.ndarray:
        torch = _torch()
        self._check_fitted()
        logits = torch.from_numpy(self._outputs(X))
        return torch.softmax(logits, dim=1).numpy()

    def predict(self, X) -> np.ndarray:
        self._check_fitted()
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def _extra_state(self):
        return {"classes": json.dumps(self.classes_.tolist())}

    def _load_extra(self, state):
        self.classes_ = np.asarray(json.loads(state["classes"]))


class GenoNetRegressor(_GenoNetBase):
    """Regression from genomaps: y (cells,) or (cells, k) float targets; predict -> same shape.
    Targets are standardised for training and mapped back for prediction."""

    _task = "genoNet regressor"

    def fit(self, X, y, unlabeled=None) -> GenoNetRegressor:
        """``unlabeled``: as for :meth:`GenoNetClassifier.fit`."""
        torch = _torch()
        X, y = self._check_xy(X, y)
        y = np.asarray(y, dtype=np.float64)
        if not np.isfinite(y).all():
            raise ValueError("targets contain NaN or inf")
        self.target_ndim_ = y.ndim
        y2 = y.reshape(len(y), -1)
        self.y_mean_ = y2.mean(axis=0)
        sd = y2.std(axis=0)
        self.y_scale_ = np.where(sd > 0, sd, 1.0)
        self._fit_genomap(X, unlabeled)
        target = ((y2 - self.y_mean_) / self.y_scale_).astype(np.float32)
        self._train(self._batches(X), target, y2.shape[1], torch.nn.MSELoss())
        return self

    def predict(self, X) -> np.ndarray:
        self._check_fitted()
        out = self._outputs(X) * self.y_scale_ + self.y_mean_
        return out[:, 0] if self.target_ndim_ == 1 else out

    def _extra_state(self):
        return {"y": json.dumps({"mean": self.y_mean_.tolist(), "scale": self.y_scale_.tolist(),
                                 "ndim": self.target_ndim_})}

    def _load_extra(self, state):
        y = json.loads(state["y"])
        self.y_mean_, self.y_scale_ = np.asarray(y["mean"]), np.asarray(y["scale"])
        self.target_ndim_ = y["ndim"]


def _device_of(device):
    from .training import device_for

    return device_for(device)


def genoClassification(training_data, training_labels, test_data, rowNum=32, colNum=32,
                       epoch=100, fit_on="train", **kwargs):
    """Predicted labels of ``test_data`` (as genomap 1.3.6's genoClassification).

    training_data, test_data : (cells, genes) arrays with the same genes; training_labels :
    (cells,) labels of any type (returned in that type). fit_on : "train" (default: placement
    and z-scores from the training cells only) or "all" (training + test cells, the reference's
    behaviour). ``kwargs`` go to :class:`GenoNetClassifier` (seed, grid_metric, progress, ...).
    """
    test = _same_genes(test_data, training_data)
    clf = GenoNetClassifier(rows=rowNum, cols=colNum, epochs=epoch, **kwargs)
    clf.fit(training_data, training_labels, unlabeled=_extra(fit_on, test))
    return clf.predict(test)


def genoRegression(training_data, training_labels, test_data, rowNum=32, colNum=32, epoch=100,
                   fit_on="train", **kwargs):
    """Predicted values for ``test_data`` (as genomap 1.3.6's genoRegression); ``fit_on`` as in
    :func:`genoClassification`."""
    test = _same_genes(test_data, training_data)
    reg = GenoNetRegressor(rows=rowNum, cols=colNum, epochs=epoch, **kwargs)
    reg.fit(training_data, training_labels, unlabeled=_extra(fit_on, test))
    return reg.predict(test)


def _extra(fit_on, test):
    if fit_on not in ("train", "all"):
        raise ValueError(f"fit_on must be 'train' or 'all', got {fit_on!r}")
    return test if fit_on == "all" else None


def _same_genes(test, train):
    test = as_matrix(test, "test_data")
    if test.shape[1] != np.shape(train)[1]:
        raise ValueError(f"test_data has {test.shape[1]} genes but training_data has "
                         f"{np.shape(train)[1]}")
    return test
