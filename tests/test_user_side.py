"""Command line `construct` on every input format, scanpy-style tools and plots, and patch()."""
import gzip
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.io import mmwrite

import genomap_fast as gf
from genomap_fast.datasets import synthetic_counts

EXE = [sys.executable, "-m", "genomap_fast.cli"]


@pytest.fixture(scope="module")
def table():
    X, y = synthetic_counts(80, 40, n_types=3, n_modules=6, seed=11)
    return X.astype(np.float64), y


def _run(args, **kw):
    return subprocess.run(EXE + args, capture_output=True, text=True, timeout=300, **kw)


def _write_inputs(d, X):
    genes = [f"g{i}" for i in range(X.shape[1])]
    cells = [f"c{i}" for i in range(X.shape[0])]
    paths = {}
    np.save(d / "x.npy", X)
    paths["npy"] = d / "x.npy"
    sp.save_npz(d / "x.npz", sp.csr_matrix(X))
    paths["npz"] = d / "x.npz"
    with open(d / "plain.csv", "w") as fh:
        for row in X:
            fh.write(",".join(f"{v:.17g}" for v in row) + "\n")
    paths["csv (no header, no index)"] = d / "plain.csv"
    with open(d / "named.tsv", "w") as fh:
        fh.write("cell\t" + "\t".join(genes) + "\n")
        for name, row in zip(cells, X):
            fh.write(name + "\t" + "\t".join(f"{v:.17g}" for v in row) + "\n")
    paths["tsv (header and index)"] = d / "named.tsv"
    tenx = d / "tenx"
    tenx.mkdir()
    with gzip.open(tenx / "matrix.mtx.gz", "wb") as fh:
        mmwrite(fh, sp.coo_matrix(X.T), precision=17)
    with open(tenx / "features.tsv", "w") as fh:
        fh.writelines(f"ENSG{i}\t{g}\tGene Expression\n" for i, g in enumerate(genes))
    with open(tenx / "barcodes.tsv", "w") as fh:
        fh.writelines(c + "\n" for c in cells)
    paths["10x mtx directory"] = tenx
    import anndata

    ad = anndata.AnnData(X=X.copy())
    ad.obs_names, ad.var_names = cells, genes
    ad.layers["counts"] = np.round(np.expm1(X))
    ad.write_h5ad(d / "x.h5ad")
    paths["h5ad"] = d / "x.h5ad"
    return paths


def test_construct_reads_every_format_the_same(tmp_path, table):
    X, _ = table
    expected = gf.Genomap(7, 7).fit(X)
    reference_images = expected.transform(X)
    for fmt, path in _write_inputs(tmp_path, X).items():
        out = tmp_path / f"out_{abs(hash(fmt))}.npz"
        res = _run(["construct", str(path), "-o", str(out), "--rows", "7", "--cols", "7", "-q"])
        assert res.returncode == 0, (fmt, res.stderr)
        assert "construct: 80 cells x 40 genes" in res.stdout
        with np.load(out) as z:
            assert z["images"].shape == (80, 1, 7, 7), fmt
            np.testing.assert_allclose(z["images"], reference_images, rtol=1e-6, err_msg=fmt)
            np.testing.assert_array_equal(z["placement"], expected.placement_)
            if fmt in ("tsv (header and index)", "h5ad", "10x mtx directory"):
                assert z["obs_names"][0] == "c0" and z["var_names"][1] == "g1"


def test_construct_h5ad_layer_and_outputs(tmp_path, table):
    X, _ = table
    paths = _write_inputs(tmp_path, X)
    out = tmp_path / "o.h5ad"
    res = _run(["construct", str(paths["h5ad"]), "-o", str(out), "--rows", "7", "--cols", "7",
                "--layer", "counts", "-q"])
    assert res.returncode == 0, res.stderr
    import anndata

    ad = anndata.read_h5ad(out)
    assert ad.obsm["X_genomap"].shape == (80, 49)
    assert (ad.var["genomap_pixel"] >= 0).all() and ad.uns["genomap"]["n_iter"] >= 1
    npy = tmp_path / "o.npy"
    assert _run(["construct", str(paths["npy"]), "-o", str(npy), "--rows", "7", "--cols",
                 "7", "-q"]).returncode == 0
    assert np.load(npy).shape == (80, 1, 7, 7)
    ml = tmp_path / "ml.npz"
    assert _run(["construct", str(paths["npy"]), "-o", str(ml), "--rows", "7", "--cols", "7",
                 "--metric", "euclidean", "--multilevel", "-q"]).returncode == 0
    with np.load(ml) as z:
        want = gf.Genomap(7, 7, grid_metric="euclidean", multilevel=True).fit(X)
        np.testing.assert_array_equal(z["placement"], want.placement_)


@pytest.mark.parametrize(
    "setup, args, code, message",
    [
        ("missing", ["--rows", "7", "--cols", "7"], 1, "no such file or directory"),
        ("garbage.csv", ["--rows", "7", "--cols", "7"], 1, "non-numeric values"),
        ("corrupt.h5ad", ["--rows", "7", "--cols", "7"], 1, "cannot read"),
        ("x.npy", ["--rows", "5", "--cols", "5"], 1, "40 genes but a 5x5 genomap"),
        ("nan.npy", ["--rows", "7", "--cols", "7"], 1, "NaN or inf (first at cell 3, gene 4"),
        ("x.unknown", ["--rows", "7", "--cols", "7"], 1, "unknown input format"),
        ("x.npy", ["--rows", "seven", "--cols", "7"], 2, "invalid int value"),
        ("x.npy", ["--rows", "7", "--cols", "7", "--multilevel"], 1,
         "multilevel placement needs --metric euclidean"),
    ],
)
def test_construct_bad_input_one_line_error(tmp_path, table, setup, args, code, message):
    X, _ = table
    (tmp_path / "garbage.csv").write_text("a,b\n1,zz\n")
    (tmp_path / "corrupt.h5ad").write_bytes(b"\x89HDF\r\n\x1a\n not really")
    (tmp_path / "x.unknown").write_text("1 2 3")
    np.save(tmp_path / "x.npy", X)
    bad = X.copy()
    bad[3, 4] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    out = tmp_path / "out.npy"
    res = _run(["construct", str(tmp_path / setup), "-o", str(out), "-q"] + args)
    assert res.returncode == code
    assert message in res.stderr
    assert "Traceback" not in res.stderr
    if code == 1:
        assert len(res.stderr.strip().splitlines()) == 1
    assert not out.exists()
    assert [p for p in os.listdir(tmp_path) if ".partial-" in p] == []


def test_help_has_examples():
    res = _run(["construct", "--help"])
    assert res.returncode == 0 and "Examples:" in res.stdout


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


def test_patch_round_trip(table):
    import genomap
    import genomap.genomap as ref

    X, _ = table
    original = ref.construct_genomap
    patched = gf.compat.patch()
    try:
        assert "genomap.construct_genomap" in patched
        assert genomap.construct_genomap is gf.construct_genomap
        assert ref.construct_genomap_returnT is gf.construct_genomap_returnT
        out = genomap.construct_genomap(X, 7, 7)
        assert out.shape == (80, 7, 7, 1) and out.dtype == np.float64
    finally:
        gf.compat.unpatch()
    assert ref.construct_genomap is original


def test_bench_subcommand_compares_with_reference():
    res = _run(["bench", "--cells", "60", "--rows", "6", "--cols", "6", "--num-iter", "20"])
    assert res.returncode == 0, res.stderr
    assert "genomap_fast: 60 cells x 36 genes, 6x6:" in res.stdout
    assert "genomap 1.3.6:" in res.stdout and "x faster" in res.stdout


def test_construct_reads_a_zarr_array(tmp_path, table):
    zarr = pytest.importorskip("zarr")
    X, _ = table
    arr = zarr.create_array(str(tmp_path / "x.zarr"), shape=X.shape, dtype="float64")
    arr[:] = X
    out = tmp_path / "o.npy"
    res = _run(["construct", str(tmp_path / "x.zarr"), "-o", str(out), "--rows", "7", "--cols",
                "7", "-q"])
    assert res.returncode == 0, res.stderr
    np.testing.assert_allclose(np.load(out), gf.Genomap(7, 7).fit(X).transform(X), rtol=1e-6)


def test_top_level_help_has_examples():
    res = _run(["--help"])
    assert res.returncode == 0 and "genomap-fast construct cells.h5ad" in res.stdout


def test_patch_replaces_task_functions_where_the_reference_module_imports(monkeypatch):
    import types

    pytest.importorskip("torch")
    fake = types.ModuleType("genomap.genoVis")

    def reference_genovis(data, n_clusters=None):
        return "reference"

    fake.genoVis = reference_genovis
    monkeypatch.setitem(sys.modules, "genomap.genoVis", fake)
    patched = gf.compat.patch()
    try:
        assert "genomap.genoVis.genoVis" in patched
        from genomap_fast.cnn import genoVis

        assert fake.genoVis is genoVis
    finally:
        gf.compat.unpatch()
    assert fake.genoVis is reference_genovis
