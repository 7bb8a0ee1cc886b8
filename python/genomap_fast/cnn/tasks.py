"""Cell recognition and regression on genomaps: estimators and the reference's functions.

The pipeline: per-gene z-scores with the *training* cells' mean and standard deviation
(ddof=1, as the reference), a :class:`~genomap_fast.Genomap` placement fitted on the training
cells only (no test leakage; the reference fits on train + test), and the reference's genoNet
CNN trained with AdamW and class-balanced cross-entropy.
"""
from __future__ import annotations

import json

import numpy as np
import scipy.sparse as sp

from .._source import as_matrix, as_source
from .base import GenomapCNN, torch_module

_torch = torch_module


class _GenoNetBase(GenomapCNN):
    """Shared pipeline: standardised genomaps -> GenoNet (see :class:`GenomapCNN`)."""

    _task = ""
    _format = "genomap_fast.GenoNet/1"
    _param_names = ("rows", "cols", "grid_metric", "epochs", "batch_size", "lr",
                    "weight_decay", "seed", "device", "progress", "patience", "select_genes",
                    "num_threads", "max_image_bytes", "genomap")

    def __init__(self, rows: int = 32, cols: int = 32, grid_metric: str = "radial",
                 epochs: int = 100, batch_size: int = 128, lr: float = 1e-3,
                 weight_decay: float = 1e-5, seed: int = 0, device: str | None = None,
                 progress: bool = False, patience: int | None = None,
                 select_genes: str | None = "variance", num_threads: int | None = None,
                 max_image_bytes: int = 1 << 30, genomap=None):
        if int(epochs) < 1:
            raise ValueError(f"epochs must be >= 1, got {epochs}")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self._init_genomap(genomap, rows, cols, grid_metric, select_genes, num_threads,
                           max_image_bytes)
        self.epochs, self.batch_size, self.lr = int(epochs), int(batch_size), float(lr)
        self.weight_decay, self.seed, self.device = float(weight_decay), int(seed), device
        self.progress, self.patience = progress, patience

    # ---------------------------------------------------------------- data
    def _check_xy(self, X, y, unlabeled=None):
        """The training cells (a row source) and labels; with ``unlabeled``, the placement and
        z-scores are fitted on the training and unlabeled cells together."""
        src = self._source(X, "training_data")
        y = np.asarray(y)
        if y.shape[0] != src.shape[0]:
            raise ValueError(f"{src.shape[0]} cells but {y.shape[0]} labels/targets")
        return src, y

    def _fit_on(self, src, unlabeled):
        if unlabeled is None:
            self._fit_genomap(src)
            return
        U = as_matrix(unlabeled, "unlabeled")
        if U.shape[1] != src.shape[1]:
            raise ValueError(f"unlabeled has {U.shape[1]} genes but training_data has "
                             f"{src.shape[1]}")
        X = src.to_memory()
        both = (sp.vstack([X, U]).tocsr() if sp.issparse(X) or sp.issparse(U) else
                np.concatenate([np.asarray(X, dtype=np.float64), np.asarray(U, np.float64)]))
        self._fit_genomap(self._source(both))

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

    def _build_model(self, state):
        from .models import GenoNet

        self.loss_history_ = state["loss_history"]
        return GenoNet(self.rows, self.cols, state["model"]["fc2.weight"].shape[0])

    def _base_state(self):
        return {"loss_history": list(map(float, self.loss_history_))}


class GenoNetClassifier(_GenoNetBase):
    """Cell recognition: genomaps of the cells -> genoNet -> class.

    fit(X, y): X (cells, genes), any input :class:`~genomap_fast.Genomap` accepts (ndarray,
    scipy.sparse, AnnData, ``.h5ad`` path, dask...), y (cells,) labels of any type
    (strings, ints) with at least two classes. predict(X) -> (n,) labels in y's type;
    predict_proba(X) -> (n, n_classes) float32, columns in ``classes_`` order.
    """

    _task = "genoNet classifier"

    def fit(self, X, y, unlabeled=None) -> GenoNetClassifier:
        """``unlabeled``: optional extra cells (e.g. the test cells) that join the training cells
        for the placement and the z-score statistics, as the reference does; by default only
        the training cells are used (no test leakage)."""
        torch = _torch()
        src, y = self._check_xy(X, y)
        if y.ndim != 1:
            raise ValueError(f"labels must be 1-D, got shape {y.shape}")
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            raise ValueError("labels contain NaN or inf")
        self.classes_, codes = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise ValueError(f"classification needs at least 2 classes, got {self.classes_.size}")
        self._fit_on(src, unlabeled)
        counts = np.bincount(codes, minlength=self.classes_.size)
        weight = torch.tensor(counts.sum() / counts, dtype=torch.float32)
        loss = torch.nn.CrossEntropyLoss(weight=weight.to(_device_of(self.device)))
        self._train(self._image_batches(src), codes.astype(np.int64), self.classes_.size, loss)
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
        return {**self._base_state(), "classes": json.dumps(self.classes_.tolist())}

    def _load_extra(self, state):
        self.classes_ = np.asarray(json.loads(state["classes"]))


class GenoNetRegressor(_GenoNetBase):
    """Regression from genomaps: y (cells,) or (cells, k) float targets; predict -> same shape.
    Targets are standardised for training and mapped back for prediction."""

    _task = "genoNet regressor"

    def fit(self, X, y, unlabeled=None) -> GenoNetRegressor:
        """``unlabeled``: as for :meth:`GenoNetClassifier.fit`."""
        torch = _torch()
        src, y = self._check_xy(X, y)
        y = np.asarray(y, dtype=np.float64)
        if not np.isfinite(y).all():
            raise ValueError("targets contain NaN or inf")
        self.target_ndim_ = y.ndim
        y2 = y.reshape(len(y), -1)
        self.y_mean_ = y2.mean(axis=0)
        sd = y2.std(axis=0)
        self.y_scale_ = np.where(sd > 0, sd, 1.0)
        self._fit_on(src, unlabeled)
        target = ((y2 - self.y_mean_) / self.y_scale_).astype(np.float32)
        self._train(self._image_batches(src), target, y2.shape[1], torch.nn.MSELoss())
        return self

    def predict(self, X) -> np.ndarray:
        self._check_fitted()
        out = self._outputs(X) * self.y_scale_ + self.y_mean_
        return out[:, 0] if self.target_ndim_ == 1 else out

    def _extra_state(self):
        y = {"mean": self.y_mean_.tolist(), "scale": self.y_scale_.tolist(),
             "ndim": self.target_ndim_}
        return {**self._base_state(), "y": json.dumps(y)}

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
    n_train = as_source(train, name="training_data").shape[1]
    if test.shape[1] != n_train:
        raise ValueError(f"test_data has {test.shape[1]} genes but training_data has {n_train}")
    return test
