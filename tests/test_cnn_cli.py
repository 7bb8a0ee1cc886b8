"""The command line's CNN commands (classify, vis, traj) and their scanpy-style tools and plots
(tl.genovis, tl.genotraj, tl.genosig, pl.embedding); they need torch."""
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("torch", reason="the CNN tasks need torch (installed by `make test`)")

import genomap_fast as gf  # noqa: E402
from genomap_fast.datasets import synthetic_counts  # noqa: E402

EXE = [sys.executable, "-m", "genomap_fast.cli"]


@pytest.fixture(scope="module")
def adata_file(tmp_path_factory):
    import anndata

    X, y = synthetic_counts(300, 64, n_types=3, n_modules=8, seed=41)
    ad = anndata.AnnData(X=X.astype(np.float64))
    ad.obs_names = [f"c{i}" for i in range(300)]
    ad.obs["cell_type"] = np.array(["alpha", "beta", "gamma"])[y]
    d = tmp_path_factory.mktemp("cnn")
    ad[:220].write_h5ad(d / "train.h5ad")
    ad[220:].write_h5ad(d / "test.h5ad")
    return d, ad


def _run(args):
    return subprocess.run(EXE + args, capture_output=True, text=True, timeout=600)


def test_cli_classify_writes_predictions(adata_file, tmp_path):
    d, ad = adata_file
    out = tmp_path / "pred.csv"
    res = _run(["classify", str(d / "train.h5ad"), "--labels", "cell_type", "--test",
                str(d / "test.h5ad"), "-o", str(out), "--rows", "8", "--cols", "8",
                "--epochs", "15", "-q"])
    assert res.returncode == 0, res.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "cell,predicted" and len(lines) == 81
    pred = np.array([ln.split(",")[1] for ln in lines[1:]])
    assert np.mean(pred == ad.obs["cell_type"].to_numpy()[220:]) > 0.7
    bad = _run(["classify", str(d / "train.h5ad"), "--labels", "nope", "-o", str(out),
                "--rows", "8", "--cols", "8", "-q"])
    assert bad.returncode == 1 and "no obs column 'nope'" in bad.stderr
    raw = _run(["classify", str(d / "train.h5ad"), "--labels", "cell_type", "--test",
                str(d / "test.h5ad"), "-o", str(out), "--rows", "8", "--cols", "8",
                "--epochs", "1", "--max-value", "none", "-q"])
    assert raw.returncode == 0, raw.stderr
    for value in ("0", "-2", "inf", "five"):
        bad = _run(["classify", str(d / "train.h5ad"), "--labels", "cell_type", "-o", str(out),
                    "--max-value", value, "-q"])
        assert bad.returncode == 2 and "--max-value: expected a number > 0" in bad.stderr


def test_cli_vis_writes_embedding(adata_file, tmp_path):
    d, _ = adata_file
    out = tmp_path / "emb.csv"
    res = _run(["vis", str(d / "test.h5ad"), "-o", str(out), "--rows", "8", "--cols", "8",
                "--clusters", "3", "--pretrain-epochs", "5", "--maxiter", "20", "-q"])
    assert res.returncode == 0, res.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "cell,x,y,cluster" and len(lines) == 81


def test_tl_genovis_and_pl_embedding(adata_file, tmp_path):
    _, ad = adata_file
    ad = ad.copy()
    gf.tl.genovis(ad, n_clusters=3, rows=8, cols=8, pretrain_epochs=5, maxiter=20)
    assert ad.obsm["X_genovis"].shape == (300, 2)
    assert ad.obs["genovis_cluster"].nunique() <= 3 and ad.uns["genovis"]["rows"] == 8
    fig = gf.pl.embedding(ad, labels="cell_type", save=tmp_path / "e.png")
    assert (tmp_path / "e.png").stat().st_size > 1000 and fig.axes[0].get_legend() is not None
    with pytest.raises(ValueError, match=r"coords must be \(n, 2\)"):
        gf.pl.embedding(np.zeros((5, 3)))


def test_cli_traj_and_tl_genotraj(adata_file, tmp_path):
    d, ad = adata_file
    out = tmp_path / "traj.csv"
    res = _run(["traj", str(d / "test.h5ad"), "-o", str(out), "--rows", "8", "--cols", "8",
                "--clusters", "4", "--pretrain-epochs", "5", "--maxiter", "20", "-q"])
    assert res.returncode == 0, res.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "cell,x,y" and len(lines) == 81
    states = tmp_path / "traj_states.csv"
    res = _run(["traj", str(d / "test.h5ad"), "-o", str(states), "--rows", "8", "--cols", "8",
                "--clusters", "4", "--pretrain-epochs", "5", "--maxiter", "20", "-q",
                "--phate-input", "states"])
    assert res.returncode == 0, res.stderr
    other = states.read_text().splitlines()
    assert len(other) == 81 and other[1:] != lines[1:]  # the same states, another PHATE input
    small = ad[:120].copy()
    gf.tl.genotraj(small, n_clusters=4, rows=8, cols=8, pretrain_epochs=5, maxiter=20)
    assert small.obsm["X_genotraj"].shape == (120, 2)
    assert np.isfinite(small.obsm["X_genotraj"]).all()


def test_tl_genosig_stores_signatures(adata_file):
    _, ad = adata_file
    small = ad[:150].copy()
    small.var_names = [f"g{i}" for i in range(small.n_vars)]
    gf.tl.genosig(small, "cell_type", groups=["alpha"], rows=8, cols=8, epochs=3)
    sig = small.uns["genosig"]
    assert list(sig.columns) == ["alpha_geneName", "alpha_importance"] and len(sig) == 64
    assert set(sig["alpha_geneName"]) == set(small.var_names)
    with pytest.raises(ValueError, match="no obs column"):
        gf.tl.genosig(small, "missing")
