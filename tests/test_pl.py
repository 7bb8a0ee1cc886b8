"""Plots (genomap_fast.pl): genomaps per class and the gene placement map."""
import numpy as np
import pytest

import genomap_fast as gf
from genomap_fast.datasets import synthetic_counts


@pytest.fixture(scope="module")
def table():
    X, y = synthetic_counts(80, 40, n_types=3, n_modules=6, seed=11)
    return X.astype(np.float64), y


def test_pl_figures(tmp_path, table):
    X, y = table
    gm = gf.Genomap(7, 7).fit(X)
    fig = gf.pl.genomaps(gm.transform(X), y, n_per_class=3, save=tmp_path / "g.png")
    assert len(fig.axes) >= 9 and (tmp_path / "g.png").stat().st_size > 1000
    names = [f"g{i}" for i in range(40)]
    fig = gf.pl.placement(gm.placement_, 7, 7, gene_names=names, values=gm.var_, top=5,
                          save=tmp_path / "p.png")
    assert len(fig.axes[0].texts) == 5 and (tmp_path / "p.png").exists()
    with pytest.raises(ValueError, match="labels for"):
        gf.pl.genomaps(gm.transform(X), y[:-1])
