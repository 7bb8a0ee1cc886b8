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
from .._validate import check_int, check_number
from .base import GenomapCNN, torch_module

_torch = torch_module


def _check_max_value(value):
    """None, or a finite number > 0 as a float."""
    return None if value is None else check_number(value, "max_value", strict=True)


class _GenoNetBase(GenomapCNN):
    """Shared pipeline: standardised genomaps -> GenoNet (see :class:`GenomapCNN`)."""

    _task = ""
    _format = "genomap_fast.GenoNet/1"
    _param_names = ("rows", "cols", "grid_metric", "epochs", "batch_size", "lr",
                    "weight_decay", "seed", "device", "progress", "patience", "select_genes",
                    "num_threads", "max_image_bytes", "genomap", "max_value")
    # parameters a saved model of an older version lacks: the value it was trained with
    _saved_before = {"max_value": None}
    _default_epochs = 100

    def __init__(self, rows: int = 32, cols: int = 32, grid_metric: str = "radial",
                 epochs: int | None = None, batch_size: int = 128, lr: float = 1e-3,
                 weight_decay: float = 1e-5, seed: int = 0, device: str | None = None,
                 progress: bool = False, patience: int | None = None,
                 select_genes: str | None = "variance", num_threads: int | None = None,
                 max_image_bytes: int = 1 << 30, genomap=None, max_value: float | None = 5.0):
        epochs = self._default_epochs if epochs is None else epochs
        self.epochs = check_int(epochs, "epochs", 1)
        self.batch_size = check_int(batch_size, "batch_size", 1)
        self.lr = check_number(lr, "lr", strict=True)
        self.weight_decay = check_number(weight_decay, "weight_decay")
        self.patience = None if patience is None else check_int(patience, "patience", 1)
        self._init_genomap(genomap, rows, cols, grid_metric, select_genes, num_threads,
                           max_image_bytes)
        self.seed, self.device, self.progress = int(seed), device, progress
        self.max_value = _check_max_value(max_value)

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
    """Cell recognition: genomaps of the cells, then the reference's genoNet CNN, then a class.

    Per-gene z-scores with the training cells' mean and standard deviation (ddof=1, as the
    reference), a :class:`~genomap_fast.Genomap` placement fitted on the training cells only
    (no test leakage), and genoNet trained with AdamW and class-balanced cross-entropy.

    Parameters
    ----------
    rows, cols : int, default 32
        Grid shape of the genomaps.
    grid_metric : str, default "radial"
        "radial" or "euclidean" (see :class:`genomap_fast.Genomap`).
    epochs : int, default 50
        Training epochs (the reference trains 100; 50 measures better, see
        :doc:`/guide/recognition`).
    batch_size : int, default 128
        Cells per training batch.
    lr : float, default 1e-3
        AdamW's learning rate.
    weight_decay : float, default 1e-5
        AdamW's weight decay.
    seed : int, default 0
        Seed of the network's initial weights and of the batches.
    device : str, optional
        torch device ("cpu", "cuda", ...); default: CUDA when torch has it, else the CPU.
    progress : bool, default False
        Show a progress bar while training.
    patience : int, optional
        Stop once the training loss has not improved for this many epochs.
    select_genes : str or None, default "variance"
        Keep the ``rows * cols`` most variable genes when there are more genes than pixels.
    num_threads : int, optional
        Threads of the Genomap's C++ kernels.
    max_image_bytes : int, default 1 GiB
        Above this, the genomaps of the training cells are rasterised batch by batch instead
        of all at once.
    genomap : genomap_fast.Genomap, optional
        None (a Genomap with the parameters above is fitted on the training cells), an
        unfitted Genomap (its parameters are used) or a fitted one (its placement is reused).
    max_value : float or None, default 5.0
        The genomaps' z-scores are clipped to [-max_value, max_value] before the network
        (scanpy's ``sc.pp.scale(max_value=...)``): a gene detected in few training cells
        otherwise gives pixels of z up to sqrt(n_cells). None: no clipping.

    Attributes
    ----------
    classes_ : numpy.ndarray of shape (n_classes,)
        The classes, sorted, in the type of the training labels.
    genomap_ : genomap_fast.Genomap
        The fitted, standardising Genomap.
    model_ : torch.nn.Module
        The trained network.
    loss_history_ : list of float
        Training loss of each epoch.

    Raises
    ------
    ValueError
        ``epochs``, ``batch_size`` or ``patience`` below 1, ``lr`` not > 0, a negative
        ``weight_decay``, ``max_value`` not > 0 or not finite.
    TypeError
        ``genomap`` that is not a Genomap, a count that is not an integer, ``lr``,
        ``weight_decay`` or ``max_value`` that is not a number.

    Examples
    --------
    >>> from genomap_fast.cnn import GenoNetClassifier
    >>> from genomap_fast.datasets import synthetic_counts
    >>> X, y = synthetic_counts(n_cells=120, n_genes=64, n_types=3, seed=0)
    >>> clf = GenoNetClassifier(rows=8, cols=8, epochs=2, seed=0).fit(X[:100], y[:100])
    >>> clf.classes_
    array([0, 1, 2])
    >>> clf.predict(X[100:]).shape, clf.predict_proba(X[100:]).shape
    ((20,), (20, 3))
    >>> clf.predict_proba(X[100:]).dtype
    dtype('float32')
    """

    _task = "genoNet classifier"
    _default_epochs = 50

    def fit(self, X, y, unlabeled=None) -> GenoNetClassifier:
        """Fits the placement and the z-scores on the training cells, then trains genoNet.

        Parameters
        ----------
        X : array-like, AnnData or str
            Training cells x genes, any input :meth:`genomap_fast.Genomap.fit` accepts
            (ndarray, scipy.sparse, AnnData, ``.h5ad`` path, dask array, ...).
        y : array-like of shape (n_cells,)
            Labels of any type (strings, ints), at least two classes.
        unlabeled : array-like, optional
            Extra cells (e.g. the test cells) that join the training cells for the placement
            and the z-score statistics, as the reference does; by default only the training
            cells are used (no test leakage).

        Returns
        -------
        GenoNetClassifier
            self, fitted.

        Raises
        ------
        ValueError
            Labels of another length than X, not 1-D, NaN or fewer than 2 classes, or any
            input error of :meth:`genomap_fast.Genomap.fit`.
        """
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
        """Class probabilities of the cells of X.

        Parameters
        ----------
        X : array-like, AnnData or str
            Cells x genes, with the genes of the fit.

        Returns
        -------
        numpy.ndarray of shape (n_cells, n_classes)
            float32 probabilities, columns in ``classes_`` order.

        Raises
        ------
        NotFittedError
            Before ``fit``.
        """
        torch = _torch()
        self._check_fitted()
        logits = torch.from_numpy(self._outputs(X))
        return torch.softmax(logits, dim=1).numpy()

    def predict(self, X) -> np.ndarray:
        """Predicted class of the cells of X.

        Returns
        -------
        numpy.ndarray of shape (n_cells,)
            Labels in the type of the training labels.

        Raises
        ------
        NotFittedError
            Before ``fit``.
        """
        self._check_fitted()
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def _extra_state(self):
        return {**self._base_state(), "classes": json.dumps(self.classes_.tolist())}

    def _load_extra(self, state):
        self.classes_ = np.asarray(json.loads(state["classes"]))


class GenoNetRegressor(_GenoNetBase):
    """Regression from genomaps: the pipeline of :class:`GenoNetClassifier` with a mean squared
    error loss.

    Targets are standardised for training and mapped back for prediction.

    Parameters
    ----------
    rows, cols : int, default 32
        Grid shape of the genomaps.
    grid_metric : str, default "radial"
        "radial" or "euclidean" (see :class:`genomap_fast.Genomap`).
    epochs : int, default 100
        Training epochs.
    batch_size : int, default 128
        Cells per training batch.
    lr : float, default 1e-3
        AdamW's learning rate.
    weight_decay : float, default 1e-5
        AdamW's weight decay.
    seed : int, default 0
        Seed of the network's initial weights and of the batches.
    device : str, optional
        torch device ("cpu", "cuda", ...); default: CUDA when torch has it, else the CPU.
    progress : bool, default False
        Show a progress bar while training.
    patience : int, optional
        Stop once the training loss has not improved for this many epochs.
    select_genes : str or None, default "variance"
        Keep the ``rows * cols`` most variable genes when there are more genes than pixels.
    num_threads : int, optional
        Threads of the Genomap's C++ kernels.
    max_image_bytes : int, default 1 GiB
        Above this, the genomaps of the training cells are rasterised batch by batch instead
        of all at once.
    genomap : genomap_fast.Genomap, optional
        None (a Genomap with the parameters above is fitted on the training cells), an
        unfitted Genomap (its parameters are used) or a fitted one (its placement is reused).
    max_value : float or None, default 5.0
        The genomaps' z-scores are clipped to [-max_value, max_value] before the network
        (scanpy's ``sc.pp.scale(max_value=...)``): a gene detected in few training cells
        otherwise gives pixels of z up to sqrt(n_cells). None: no clipping.

    Examples
    --------
    >>> from genomap_fast.cnn import GenoNetRegressor
    >>> from genomap_fast.datasets import synthetic_counts
    >>> X, _ = synthetic_counts(n_cells=120, n_genes=64, seed=0)
    >>> target = X[:, :5].sum(axis=1)
    >>> reg = GenoNetRegressor(rows=8, cols=8, epochs=2).fit(X[:100], target[:100])
    >>> reg.predict(X[100:]).shape, reg.predict(X[100:]).dtype
    ((20,), dtype('float64'))
    """

    _task = "genoNet regressor"

    def fit(self, X, y, unlabeled=None) -> GenoNetRegressor:
        """Fits the placement and the z-scores on the training cells, then trains genoNet.

        Parameters
        ----------
        X : array-like, AnnData or str
            Training cells x genes, any input :meth:`genomap_fast.Genomap.fit` accepts.
        y : array-like of shape (n_cells,) or (n_cells, k)
            Float targets.
        unlabeled : array-like, optional
            As for :meth:`GenoNetClassifier.fit`.

        Returns
        -------
        GenoNetRegressor
            self, fitted.

        Raises
        ------
        ValueError
            Targets of another length than X, or NaN or infinite targets.
        """
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
        """Predicted targets of the cells of X.

        Returns
        -------
        numpy.ndarray of shape (n_cells,) or (n_cells, k)
            float64, the shape of the training targets.

        Raises
        ------
        NotFittedError
            Before ``fit``.
        """
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
    """Predicted labels of ``test_data``, as genomap 1.3.6's genoClassification.

    Parameters
    ----------
    training_data : array-like of shape (n_train, n_genes)
        Training cells.
    training_labels : array-like of shape (n_train,)
        Labels of any type (returned in that type).
    test_data : array-like of shape (n_test, n_genes)
        Cells to classify, with the genes of the training cells.
    rowNum, colNum : int, default 32
        Grid shape.
    epoch : int, default 100
        Training epochs.
    fit_on : str, default "train"
        "train" (placement and z-scores from the training cells only) or "all" (training and
        test cells, the reference's behaviour).
    **kwargs
        Passed to :class:`GenoNetClassifier` (seed, grid_metric, progress, ...).

    Returns
    -------
    numpy.ndarray of shape (n_test,)
        Predicted labels.

    Raises
    ------
    ValueError
        Test and training cells with different genes, or a bad ``fit_on``.

    Examples
    --------
    >>> from genomap_fast.cnn import genoClassification
    >>> from genomap_fast.datasets import synthetic_counts
    >>> X, y = synthetic_counts(n_cells=120, n_genes=64, n_types=3, seed=0)
    >>> pred = genoClassification(X[:100], y[:100], X[100:], rowNum=8, colNum=8, epoch=2)
    >>> pred.shape, pred.dtype
    ((20,), dtype('int64'))
    """
    test = _same_genes(test_data, training_data)
    clf = GenoNetClassifier(rows=rowNum, cols=colNum, epochs=epoch, **kwargs)
    clf.fit(training_data, training_labels, unlabeled=_extra(fit_on, test))
    return clf.predict(test)


def genoRegression(training_data, training_labels, test_data, rowNum=32, colNum=32, epoch=100,
                   fit_on="train", **kwargs):
    """Predicted values for ``test_data``, as genomap 1.3.6's genoRegression.

    Parameters
    ----------
    training_data : array-like of shape (n_train, n_genes)
        Training cells.
    training_labels : array-like of shape (n_train,) or (n_train, k)
        Float targets.
    test_data : array-like of shape (n_test, n_genes)
        Cells to predict, with the genes of the training cells.
    rowNum, colNum : int, default 32
        Grid shape.
    epoch : int, default 100
        Training epochs.
    fit_on : str, default "train"
        As in :func:`genoClassification`.
    **kwargs
        Passed to :class:`GenoNetRegressor`.

    Returns
    -------
    numpy.ndarray of shape (n_test,) or (n_test, k)
        float64 predictions.

    Raises
    ------
    ValueError
        Test and training cells with different genes, or a bad ``fit_on``.

    Examples
    --------
    >>> from genomap_fast.cnn import genoRegression
    >>> from genomap_fast.datasets import synthetic_counts
    >>> X, _ = synthetic_counts(n_cells=120, n_genes=64, seed=0)
    >>> t = X[:, :5].sum(axis=1)
    >>> genoRegression(X[:100], t[:100], X[100:], rowNum=8, colNum=8, epoch=2).shape
    (20,)
    """
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
