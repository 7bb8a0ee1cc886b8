"""Scanpy-style tools (genomap_fast.tl) on an AnnData."""
import numpy as np
import pytest

import genomap_fast as gf
from genomap_fast.datasets import synthetic_counts


@pytest.fixture(scope="module")
def table():
    X, y = synthetic_counts(80, 40, n_types=3, n_modules=6, seed=11)
    return X.astype(np.float64), y


def test_tl_genomap_stores_where_documented(table):
    import anndata

    X, _ = table
    ad = anndata.AnnData(X=X.copy())
    ad.layers["scaled"] = X * 2
    assert gf.tl.genomap(ad, 7, 7) is None
    assert {"genomap_pixel", "genomap_row", "genomap_col"} <= set(ad.var)
    assert "X_genomap" not in ad.obsm
    gm = gf.Genomap(7, 7).fit(X)
    np.testing.assert_array_equal(ad.var["genomap_pixel"], gm.placement_)
    assert ad.uns["genomap"]["objective"] == pytest.approx(gm.objective_)
    new = gf.tl.genomap(ad, 7, 7, key_added="gm2", layer="scaled", store_images=True, copy=True)
    assert "gm2" not in ad.uns and "gm2" in new.uns
    assert new.obsm["X_gm2"].shape == (80, 49)
    with pytest.raises(ValueError, match="no layer"):
        gf.tl.genomap(ad, 7, 7, layer="missing")
    with pytest.raises(ValueError, match="adata.raw is None"):
        gf.tl.genomap(ad, 7, 7, use_raw=True)
