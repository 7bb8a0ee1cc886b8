"""The one input path (genomap_fast._source.as_source) through every entry point: the Genomap
estimator, the drop-in functions, interaction_matrix and the CNN estimator family all read input
the same way, say the same thing about the same bad input, and every estimator saves and loads."""
import numpy as np
import pytest
import scipy.sparse as sp

import genomap_fast as gf
from genomap_fast._source import as_source
from genomap_fast.datasets import synthetic_counts


@pytest.fixture(scope="module")
def cells():
    X, y = synthetic_counts(120, 30, n_types=3, n_modules=6, seed=5)
    return X.astype(np.float64), y


def _entry_points():
    """(name, callable(X)) for every public function that takes a cells x genes matrix."""
    points = [
        ("Genomap.fit", lambda X: gf.Genomap(6, 6).fit(X)),
        ("construct_genomap", lambda X: gf.construct_genomap(X, 6, 6)),
        ("interaction_matrix", lambda X: gf.interaction_matrix(X)),
    ]
    torch = pytest.importorskip("torch")
    assert torch is not None
    from genomap_fast.cnn import GenoDEC, GenoNetClassifier

    points += [
        ("GenoNetClassifier.fit",
         lambda X: GenoNetClassifier(6, 6, epochs=1).fit(X, np.arange(X.shape[0]) % 2)),
        ("GenoDEC.fit", lambda X: GenoDEC(6, 6, n_clusters=2, pretrain_epochs=1,
                                          maxiter=1).fit(X)),
    ]
    return points


def test_same_message_for_the_same_bad_input_everywhere(cells):
    X, _ = cells
    bad = X.copy()
    bad[7, 4] = np.nan
    for name, call in _entry_points():
        with pytest.raises(ValueError, match=r"contains NaN or inf \(first at cell 7, gene 4;"):
            call(bad)
        with pytest.raises(ValueError, match=r"contains NaN or inf \(first at cell 7, gene 4;"):
            call(sp.csr_matrix(bad))
        with pytest.raises(TypeError, match="expected a real numeric dtype"):
            call(X.astype(object))
        with pytest.raises(ValueError, match="must be 2-D"):
            call(X[0])
        with pytest.raises(ValueError, match="has no cells"):
            call(X[:0])
        assert name


def test_as_source_checks_once_and_converts_by_block(cells):
    X, _ = cells
    ints = np.round(X * 10).astype(np.int16)
    src = as_source(ints)
    assert src.data is ints  # nothing copied up front: blocks are converted as they are read
    block = src.block(10, 20)
    assert block.dtype == np.float64 and block.flags.c_contiguous
    np.testing.assert_array_equal(block, ints[10:20])
    fortran = np.asfortranarray(X)[::-1]  # negative strides, F order
    np.testing.assert_array_equal(as_source(fortran).to_memory(), X[::-1])
    csc = sp.csc_matrix(X)
    assert as_source(csc).data.format == "csr"
    names = [f"g{i}" for i in range(X.shape[1])]
    assert list(as_source(X, gene_names=names).var_names) == names
    with pytest.raises(ValueError, match="3 gene names for 30 genes"):
        as_source(X, gene_names=names[:3])
    with pytest.raises(ValueError, match="layer= is only meaningful for AnnData"):
        as_source(X, layer="counts")


def test_cnn_estimators_take_anndata_and_h5ad_paths(tmp_path, cells):
    pytest.importorskip("torch")
    anndata = pytest.importorskip("anndata")
    from genomap_fast.cnn import GenoDEC, GenoNetClassifier

    X, y = cells
    ad = anndata.AnnData(X=sp.csr_matrix(X))
    ad.var_names = [f"g{i}" for i in range(X.shape[1])]
    path = tmp_path / "cells.h5ad"
    ad.write_h5ad(path)
    a = GenoNetClassifier(6, 6, epochs=2).fit(X, y)
    b = GenoNetClassifier(6, 6, epochs=2).fit(ad, y)
    c = GenoNetClassifier(6, 6, epochs=2).fit(str(path), y)
    np.testing.assert_array_equal(a.genomap_.placement_, b.genomap_.placement_)
    np.testing.assert_array_equal(a.predict(X), b.predict(ad))
    np.testing.assert_array_equal(a.predict(X), c.predict(str(path)))
    assert list(b.genomap_.feature_names_in_) == list(ad.var_names)
    d1 = GenoDEC(6, 6, n_clusters=3, pretrain_epochs=2, maxiter=5).fit(X)
    d2 = GenoDEC(6, 6, n_clusters=3, pretrain_epochs=2, maxiter=5).fit(str(path))
    np.testing.assert_array_equal(d1.labels_, d2.labels_)


def test_cnn_estimators_reuse_a_given_genomap(cells):
    pytest.importorskip("torch")
    from genomap_fast.cnn import GenoDEC, GenoNetClassifier

    X, y = cells
    fitted = gf.Genomap(6, 6, grid_metric="euclidean").fit(X[:60])
    clf = GenoNetClassifier(epochs=1, genomap=fitted).fit(X, y)
    # reused, not refitted on the 120 training cells: the placement and statistics of 60 cells
    np.testing.assert_array_equal(clf.genomap_.placement_, fitted.placement_)
    np.testing.assert_array_equal(clf.mean_, fitted.mean_)
    assert clf.genomap_.standardize and not fitted.standardize  # the caller's is untouched
    assert (clf.rows, clf.cols, clf.grid_metric) == (6, 6, "euclidean")
    template = gf.Genomap(6, 6, grid_metric="euclidean")  # unfitted: its parameters are used
    dec = GenoDEC(n_clusters=2, pretrain_epochs=1, maxiter=2, genomap=template).fit(X)
    np.testing.assert_array_equal(dec.genomap_.placement_, gf.Genomap(6, 6, "euclidean")
                                  .fit(X).placement_)
    assert not hasattr(template, "placement_")
    with pytest.raises(TypeError, match="genomap must be a Genomap"):
        GenoDEC(genomap="radial")


def test_standardisation_is_the_genomap_one(cells):
    """The CNN input is Genomap(standardize=True): z-scores (ddof=1) of the fit cells, clipped
    to [-max_value, max_value] (default 5; None keeps them as they are)."""
    pytest.importorskip("torch")
    from genomap_fast.cnn import GenoNetClassifier

    X, y = cells
    clf = GenoNetClassifier(6, 6, epochs=1).fit(X, y)
    genes = clf.genomap_.genes_
    np.testing.assert_allclose(clf.mean_, X[:, genes].mean(0), rtol=1e-12)
    np.testing.assert_allclose(clf.scale_, X[:, genes].std(0, ddof=1), rtol=1e-12)
    z = (X[:, genes] - X[:, genes].mean(0)) / X[:, genes].std(0, ddof=1)
    plain = gf.Genomap(6, 6).fit(X)
    expected = plain.transform(np.zeros_like(X))  # placement only: rasterise the z-scores
    full = np.zeros_like(X)
    full[:, genes] = z
    expected = plain.transform(full)
    assert np.abs(expected).max() > 5  # the case exercises the clipping
    np.testing.assert_allclose(clf.images(X), np.clip(expected, -5, 5), rtol=1e-5, atol=1e-5)
    raw = GenoNetClassifier(6, 6, epochs=1, max_value=None).fit(X, y)
    np.testing.assert_allclose(raw.images(X), expected, rtol=1e-5, atol=1e-5)


def test_genodec_saves_and_loads(tmp_path, cells):
    pytest.importorskip("torch")
    from genomap_fast.cnn import GenoDEC, GenoNetClassifier

    X, _ = cells
    dec = GenoDEC(6, 6, n_clusters=3, pretrain_epochs=2, maxiter=5, num_threads=1).fit(X)
    dec.save(tmp_path / "dec.pt")
    back = GenoDEC.load(tmp_path / "dec.pt")
    np.testing.assert_array_equal(back.transform(X), dec.transform(X))
    np.testing.assert_array_equal(back.predict(X), dec.predict(X))
    np.testing.assert_array_equal(back.labels_, dec.labels_)
    assert back.get_params() == {**dec.get_params(), "genomap": None}
    with pytest.raises(ValueError, match="not a GenoNetClassifier file"):
        GenoNetClassifier.load(tmp_path / "dec.pt")
    with pytest.raises(gf.NotFittedError):
        GenoDEC(6, 6).save(tmp_path / "unfitted.pt")

