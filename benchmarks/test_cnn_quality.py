"""Cell recognition quality: genoClassification (ours) vs genomap 1.3.6's genoClassification on
the same train/test split, and logistic regression on the raw (z-scored) genes.

Ours fits the placement and the standardisation on the training cells only; the reference
fits them on train + test together (its code concatenates them), which leaks test cells.
Both train genoNet for 100 epochs (the reference's default) on the same 70/30 stratified split.
"""
import time
import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from genomap_fast.datasets import pbmc68k_reduced, synthetic_counts

SUITE = "test_cnn_quality"


def _reference_classification():
    """genomap 1.3.6's genoClassification, its own code unchanged. Its package `genomap.utils`
    imports TensorFlow in __init__ for other tasks; the classification path only needs
    `genomap.utils.util_Sig`, so that package is entered without running its __init__."""
    import os
    import sys
    import types

    import genomap

    if "genomap.utils" not in sys.modules:
        utils = types.ModuleType("genomap.utils")
        utils.__path__ = [os.path.join(os.path.dirname(genomap.__file__), "utils")]
        sys.modules["genomap.utils"] = utils
    from genomap.genoClassification.genoClassification import genoClassification

    return genoClassification
EPOCHS = 100


def _data(name, quick):
    if name == "pbmc68k_reduced (10 cell types)":
        ad = pbmc68k_reduced()
        X = np.asarray(ad.X, dtype=np.float64)
        y = ad.obs["bulk_labels"].astype(str).to_numpy()
        side = 28
    else:
        X, y = synthetic_counts(300 if quick else 1500, 400, n_types=6, n_modules=30, seed=3)
        X, side = X.astype(np.float64), 20
    if quick:
        X = X[:300]
        y = y[:300]
    return X, y, side


@pytest.mark.parametrize("name", ["synthetic (6 types, 1500 cells)",
                                  "pbmc68k_reduced (10 cell types)"])
def test_classification_quality(benchmark, record, quick, name):
    import torch  # noqa: F401  (the CNN tasks need it)
    reference = _reference_classification()

    from genomap_fast.cnn import genoClassification

    X, y, side = _data(name, quick)
    epochs = 3 if quick else EPOCHS
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    # the reference's z-scores turn constant genes into NaN and its solver fails on them:
    # drop genes that are constant in either split, for every method
    keep = (Xtr.std(0) > 0) & (Xte.std(0) > 0)
    Xtr, Xte = Xtr[:, keep], Xte[:, keep]
    benchmark.group = name
    t0 = time.perf_counter()
    ours = benchmark.pedantic(genoClassification, args=(Xtr, ytr, Xte),
                              kwargs={"rowNum": side, "colNum": side, "epoch": epochs},
                              rounds=1, iterations=1)
    t_ours = time.perf_counter() - t0
    classes, codes = np.unique(ytr, return_inverse=True)  # the reference needs integer labels
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_codes = reference(Xtr, codes, Xte, rowNum=side, colNum=side, epoch=epochs)
    t_ref = time.perf_counter() - t0
    mu, sd = Xtr.mean(0), Xtr.std(0, ddof=1)
    sd[sd == 0] = 1
    logreg = LogisticRegression(max_iter=2000).fit((Xtr - mu) / sd, ytr)
    acc_lr = float(np.mean(logreg.predict((Xte - mu) / sd) == yte))
    acc_ours = float(np.mean(ours == yte))
    # the same task on the true 2-D pixel distance, to choose the new API's default metric
    euclid = genoClassification(Xtr, ytr, Xte, rowNum=side, colNum=side, epoch=epochs,
                                grid_metric="euclidean")
    acc_euclid = float(np.mean(euclid == yte))
    acc_ref = float(np.mean(classes[ref_codes] == yte))
    record(SUITE, name, "reference", t_ref, accuracy=acc_ref)
    record(SUITE, name, "genomap_fast", t_ours, accuracy=acc_ours,
           **{"logistic regression accuracy": acc_lr, "accuracy, euclidean grid": acc_euclid})
    assert acc_ours > 1.5 / len(classes)  # far above chance, whatever the comparison says
