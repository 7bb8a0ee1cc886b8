"""CNN tasks: tiny, fast versions asserting real outcomes."""
import numpy as np
import pytest

pytest.importorskip("torch", reason="the CNN tasks need torch (installed by `make test`)")

import genomap_fast as gf  # noqa: E402
from genomap_fast.cnn import (  # noqa: E402
    GenoNetClassifier,
    GenoNetRegressor,
    genoClassification,
    genoRegression,
)
from genomap_fast.datasets import synthetic_counts  # noqa: E402


@pytest.fixture(scope="module")
def cells():
    X, y = synthetic_counts(400, 64, n_types=4, n_modules=8, seed=21)
    return X.astype(np.float64), y


def test_classification_far_above_chance(cells):
    X, y = cells
    pred = genoClassification(X[:300], y[:300], X[300:], rowNum=8, colNum=8, epoch=15)
    assert pred.shape == (100,)
    assert np.mean(pred == y[300:]) > 0.8  # chance is 0.25


def test_reproducible_with_seed_and_label_types(cells):
    X, y = cells
    names = np.array(["B", "T", "NK", "mono"])[y]
    a = GenoNetClassifier(8, 8, epochs=3, seed=5).fit(X[:300], names[:300])
    b = GenoNetClassifier(8, 8, epochs=3, seed=5).fit(X[:300], names[:300])
    c = GenoNetClassifier(8, 8, epochs=3, seed=6).fit(X[:300], names[:300])
    pa, pb, pc = (m.predict_proba(X[300:]) for m in (a, b, c))
    np.testing.assert_array_equal(pa, pb)
    assert not np.array_equal(pa, pc)
    assert pa.shape == (100, 4) and np.allclose(pa.sum(1), 1, atol=1e-5)
    assert a.predict(X[300:]).dtype.kind == "U" and set(a.classes_) == {"B", "T", "NK", "mono"}
    ints = GenoNetClassifier(8, 8, epochs=1).fit(X[:300], y[:300] + 10).predict(X[300:])
    assert ints.dtype.kind == "i" and set(np.unique(ints)) <= {10, 11, 12, 13}


def test_rectangular_genomaps_and_save_load(tmp_path, cells):
    X, y = cells
    clf = GenoNetClassifier(rows=6, cols=11, epochs=2).fit(X[:300], y[:300])
    assert clf.images(X[:5]).shape == (5, 1, 6, 11)
    clf.save(tmp_path / "clf.pt")
    back = GenoNetClassifier.load(tmp_path / "clf.pt")
    np.testing.assert_array_equal(back.predict_proba(X[300:]), clf.predict_proba(X[300:]))
    np.testing.assert_array_equal(back.classes_, clf.classes_)
    with pytest.raises(ValueError, match="not a GenoNetRegressor file"):
        GenoNetRegressor.load(tmp_path / "clf.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a readable GenoNetClassifier"):
        GenoNetClassifier.load(tmp_path / "junk.pt")


def test_max_value_clips_the_network_input(tmp_path, cells):
    """A gene detected in one training cell has a z-score of about sqrt(n) there; the network
    sees it clipped to max_value (default 5), or as is with max_value=None."""
    X, y = cells
    X = X.copy()
    X[:, 3] = 0.0
    X[7, 3] = 50.0  # z = sqrt(299) ~ 17.3 in cell 7
    clf = GenoNetClassifier(8, 8, epochs=1).fit(X[:300], y[:300])
    raw = GenoNetClassifier(8, 8, epochs=1, max_value=None).fit(X[:300], y[:300])
    assert clf.max_value == 5.0 and clf.get_params()["max_value"] == 5.0
    unclipped = raw.images(X[:300])
    assert unclipped.max() > 17
    np.testing.assert_array_equal(clf.images(X[:300]), np.clip(unclipped, -5, 5))
    tight = GenoNetRegressor(8, 8, epochs=1, max_value=2).fit(X[:300], y[:300].astype(float))
    assert np.abs(tight.images(X[300:])).max() == 2.0
    clf.save(tmp_path / "clf.pt")
    assert GenoNetClassifier.load(tmp_path / "clf.pt").max_value == 5.0


def test_model_saved_without_max_value_loads_unclipped(tmp_path, cells):
    """A file written before max_value existed was trained on unclipped z-scores: it loads with
    max_value=None, not today's default."""
    import json

    import torch

    X, y = cells
    clf = GenoNetClassifier(8, 8, epochs=1, max_value=None).fit(X[:300], y[:300])
    clf.save(tmp_path / "clf.pt")
    state = torch.load(tmp_path / "clf.pt", weights_only=True)
    params = json.loads(state["params"])
    del params["max_value"]
    state["params"] = json.dumps(params)
    torch.save(state, tmp_path / "old.pt")
    old = GenoNetClassifier.load(tmp_path / "old.pt")
    assert old.max_value is None
    np.testing.assert_array_equal(old.predict_proba(X[300:]), clf.predict_proba(X[300:]))


def test_default_epochs_by_task():
    """Recognition trains 50 epochs by default (measured better than the reference's 100);
    regression keeps 100; an explicit value wins."""
    assert GenoNetClassifier(8, 8).epochs == 50
    assert GenoNetClassifier(8, 8).get_params()["epochs"] == 50
    assert GenoNetRegressor(8, 8).epochs == 100
    assert GenoNetClassifier(8, 8, epochs=7).epochs == 7
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        GenoNetClassifier(8, 8, epochs=0)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"epochs": 2.5}, TypeError, "epochs must be an integer, got float"),
    ({"epochs": "5"}, TypeError, "epochs must be an integer, got str"),
    ({"batch_size": 0}, ValueError, "batch_size must be >= 1, got 0"),
    ({"patience": 0}, ValueError, "patience must be >= 1, got 0"),
    ({"lr": 0.0}, ValueError, "lr must be a finite number > 0"),
    ({"weight_decay": float("nan")}, ValueError, "weight_decay must be a finite number >= 0"),
    ({"weight_decay": -1e-5}, ValueError, "weight_decay must be"),
])
def test_training_parameters_are_checked(kwargs, error, message):
    """Counts are integers (2.5 epochs was silently 2, "5" was 5, patience 0 stopped after
    one epoch) and rates finite numbers, named when wrong, for both estimators."""
    for cls in (GenoNetClassifier, GenoNetRegressor):
        with pytest.raises(error, match=message):
            cls(8, 8, **kwargs)
    assert GenoNetClassifier(8, 8, epochs=np.int64(3), patience=2).epochs == 3


@pytest.mark.parametrize("value, error", [(0, ValueError), (-1.0, ValueError),
                                          (float("nan"), ValueError), (float("inf"), ValueError),
                                          ("5", TypeError), (True, TypeError)])
def test_bad_max_value(value, error):
    with pytest.raises(error, match="max_value"):
        GenoNetClassifier(8, 8, max_value=value)
    with pytest.raises(error, match="max_value"):
        GenoNetRegressor(8, 8, max_value=value)


def test_no_test_leakage(cells):
    """The placement and the standardisation come from the training cells only."""
    X, y = cells
    clf = GenoNetClassifier(8, 8, epochs=1).fit(X[:300], y[:300])
    gm = gf.Genomap(8, 8, select_genes="variance").fit(X[:300])
    np.testing.assert_array_equal(clf.genomap_.placement_, gm.placement_)
    np.testing.assert_allclose(clf.mean_, X[:300].mean(0))
    np.testing.assert_allclose(clf.scale_, X[:300].std(0, ddof=1))


def test_regression_learns_a_signal(cells):
    X, y = cells
    rng = np.random.default_rng(0)
    target = 2.0 * y + rng.normal(0, 0.3, size=y.size)
    pred = genoRegression(X[:300], target[:300], X[300:], rowNum=8, colNum=8, epoch=20)
    assert pred.shape == (100,)
    assert np.corrcoef(pred, target[300:])[0, 1] > 0.8
    multi = GenoNetRegressor(8, 8, epochs=2).fit(X[:300], np.c_[target, -target][:300])
    assert multi.predict(X[300:]).shape == (100, 2)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda X, y: (X, np.zeros(len(X), int)), "at least 2 classes"),
        (lambda X, y: (X, y[:-1]), "400 cells but 399 labels"),
        (lambda X, y: (np.where(np.arange(X.size).reshape(X.shape) == 70, np.nan, X), y),
         "NaN or inf"),
    ],
)
def test_classifier_bad_input(cells, make, match):
    X, y = cells
    Xb, yb = make(X, y)
    with pytest.raises(ValueError, match=match):
        GenoNetClassifier(8, 8, epochs=1).fit(Xb, yb)


def test_predict_checks(cells):
    X, y = cells
    with pytest.raises(gf.NotFittedError):
        GenoNetClassifier(8, 8).predict(X)
    with pytest.raises(ValueError, match="test_data has 60 genes but training_data has 64"):
        genoClassification(X[:300], y[:300], X[300:, :60], rowNum=8, colNum=8, epoch=1)
    with pytest.raises(ValueError, match="targets contain NaN"):
        GenoNetRegressor(8, 8, epochs=1).fit(X, np.full(len(X), np.nan))


def test_streamed_training_equals_materialised(cells):
    """With a small image budget the training genomaps are rasterised per batch; the result is
    the same network."""
    import scipy.sparse as sp

    X, y = cells
    whole = GenoNetClassifier(8, 8, epochs=2).fit(X[:300], y[:300])
    streamed = GenoNetClassifier(8, 8, epochs=2, max_image_bytes=0).fit(X[:300], y[:300])
    sparse = GenoNetClassifier(8, 8, epochs=2, max_image_bytes=0).fit(sp.csr_matrix(X[:300]),
                                                                       y[:300])
    np.testing.assert_array_equal(whole.predict_proba(X[300:]), streamed.predict_proba(X[300:]))
    np.testing.assert_allclose(whole.predict_proba(X[300:]), sparse.predict_proba(X[300:]),
                               atol=1e-6)


def test_genomap_dataset_is_lazy_and_matches_transform(cells):
    import torch

    from genomap_fast.cnn import GenomapDataset

    X, y = cells
    gm = gf.Genomap(8, 8).fit(X)
    ds = GenomapDataset(gm, X, y)
    assert len(ds) == 400
    img, label = ds[5]
    assert img.shape == (1, 8, 8) and img.dtype == torch.float32 and label == y[5]
    loader = torch.utils.data.DataLoader(ds, batch_size=64, shuffle=False)
    images, labels = next(iter(loader))
    np.testing.assert_array_equal(images.numpy(), gm.transform(X[:64]))
    np.testing.assert_array_equal(labels.numpy(), y[:64])
    with pytest.raises(IndexError):
        ds[400]
    with pytest.raises(ValueError, match="400 cells but 3 labels"):
        GenomapDataset(gm, X, y[:3])
    with pytest.raises(gf.NotFittedError):
        GenomapDataset(gf.Genomap(8, 8), X)


def test_fit_on_all_cells_when_asked(cells):
    X, y = cells
    clf = GenoNetClassifier(8, 8, epochs=1).fit(X[:300], y[:300], unlabeled=X[300:])
    gm = gf.Genomap(8, 8, select_genes="variance").fit(X)
    np.testing.assert_array_equal(clf.genomap_.placement_, gm.placement_)
    np.testing.assert_allclose(clf.mean_, X.mean(0))
    pred = genoClassification(X[:300], y[:300], X[300:], rowNum=8, colNum=8, epoch=1,
                              fit_on="all")
    assert pred.shape == (100,)
    with pytest.raises(ValueError, match="fit_on must be"):
        genoClassification(X[:300], y[:300], X[300:], rowNum=8, colNum=8, epoch=1, fit_on="x")


def marked_genomaps(cells: int = 300, shift: float = 4.0):
    """``cells`` x 36 genes on 6 x 6 genomaps; class "marked" (half the cells) expresses genes
    0-4 higher by ``shift`` standard deviations."""
    rng = np.random.default_rng(3)
    X = rng.normal(0, 1, size=(cells, 36))
    label = np.repeat(["rest", "marked"], cells // 2)
    X[label == "marked", :5] += shift
    G, T = gf.construct_genomap_returnT(X, 6, 6)
    return G, T, label, [f"gene{i}" for i in range(36)]


def test_genosig_finds_the_marker_genes():
    """Class 1 cells express genes 0-4 highly; the signature of class 1 ranks them first."""
    from genomap_fast.cnn import genoSig

    G, T, label, names = marked_genomaps()
    sig = genoSig(G, T, label, np.array(["marked"]), names, epochs=30)
    assert list(sig.columns) == ["marked_geneName", "marked_importance"]
    assert len(sig) == 36 and sig["marked_importance"].is_monotonic_decreasing
    top5 = set(sig["marked_geneName"][:5])
    assert len(top5 & {f"gene{i}" for i in range(5)}) >= 4  # random ranking: ~0.7 of 5
    with pytest.raises(ValueError, match="not in label"):
        genoSig(G, T, label, np.array(["other"]), names, epochs=1)
    with pytest.raises(ValueError, match="one row per gene name"):
        genoSig(G, T, label, np.array(["marked"]), names[:3], epochs=1)


@pytest.mark.parametrize("method", ["integrated_gradients", "deeplift", "gradient_shap",
                                    "occlusion"])
@pytest.mark.parametrize("aggregate,smooth", [("mean", 0), ("contrast", 1)])
def test_genosig_attribution_methods_find_the_markers(method, aggregate, smooth):
    """Every captum method and aggregation ranks the marked genes of class 1 near the top."""
    pytest.importorskip("captum")
    from genomap_fast.cnn import genoSig

    G, T, label, names = marked_genomaps()
    sig = genoSig(G, T, label, np.array(["marked"]), names, epochs=30, method=method,
                  aggregate=aggregate, smooth=smooth)
    assert sig["marked_importance"].is_monotonic_decreasing
    assert sorted(sig["marked_geneName"]) == sorted(names)
    # smoothing spreads importance over neighbours, so it is judged on the top 8
    top = set(sig["marked_geneName"][:5 if smooth == 0 else 8])
    assert len(top & {f"gene{i}" for i in range(5)}) >= 4


def test_genosig_rejects_unknown_method_and_aggregate():
    from genomap_fast.cnn import genoSig

    rng = np.random.default_rng(0)
    G, T = gf.construct_genomap_returnT(rng.normal(size=(40, 16)), 4, 4)
    label = np.repeat(["a", "b"], 20)
    names = [f"g{i}" for i in range(16)]
    with pytest.raises(ValueError, match="method must be one of"):
        genoSig(G, T, label, np.array(["a"]), names, epochs=1, method="lime")
    with pytest.raises(ValueError, match="aggregate must be one of"):
        genoSig(G, T, label, np.array(["a"]), names, epochs=1, aggregate="median")
    for kwargs, message in (({"epochs": 0}, "epochs must be >= 1"),
                            ({"epochs": 1, "steps": 0}, "steps must be >= 1")):
        with pytest.raises(ValueError, match=message):  # before: captum's AssertionError
            genoSig(G, T, label, np.array(["a"]), names, **kwargs)
    bad = np.array(G)
    bad[3, 1, 1, 0] = np.nan
    with pytest.raises(ValueError, match="genoMaps contain NaN or inf"):  # before: silent
        genoSig(bad, T, label, np.array(["a"]), names, epochs=1)
