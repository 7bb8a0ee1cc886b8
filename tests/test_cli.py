"""The command line, end to end through a subprocess: demo, construct on every input format,
bench, help and version."""
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



def test_demo_writes_figure(tmp_path):
    out = tmp_path / "demo.png"
    res = subprocess.run(EXE + ["demo", "--out", str(out)], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    assert out.exists() and out.stat().st_size > 20_000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "700 cells x 765 genes -> 28x28 genomaps in" in res.stdout
    assert [p for p in os.listdir(tmp_path) if p != "demo.png"] == []


def test_demo_error_is_one_line(tmp_path):
    res = subprocess.run(EXE + ["demo", "--rows", "5", "--cols", "5", "--out",
                                str(tmp_path / "x.png")], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 1
    assert res.stderr.strip().startswith("genomap-fast: error: X has 765 genes")
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "x.png").exists()


def test_version_flag():
    from importlib.metadata import version

    res = subprocess.run(EXE + ["--version"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout == f"genomap-fast {version('genomap_fast')}\n"


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
