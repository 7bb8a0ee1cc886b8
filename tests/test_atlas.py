"""Atlas scale: inputs read block by block (backed .h5ad, zarr, dask), the fixed reduction tree,
LocalCluster == single process, NaN reported with its block, killed writes never complete."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import scipy.sparse as sp

import genomap_fast as gf
from genomap_fast import _core
from genomap_fast.datasets import synthetic_counts
from genomap_fast.interaction import accumulate, block_accumulator, fold
from genomap_fast.store import open_images

zarr = pytest.importorskip("zarr")
anndata = pytest.importorskip("anndata")


@pytest.fixture(scope="module")
def counts():
    X, y = synthetic_counts(1200, 64, n_types=3, n_modules=8, seed=7)
    X = np.round(np.expm1(X)).astype(np.float32)  # counts, ~half zeros
    return X, y


def _h5ad(path, X, sparse):
    adata = anndata.AnnData(sp.csr_matrix(X) if sparse else X)
    adata.obs_names = [f"cell{i}" for i in range(X.shape[0])]
    adata.var_names = [f"gene{j}" for j in range(X.shape[1])]
    adata.layers["log"] = np.log1p(X)
    adata.write_h5ad(path)
    return adata


@pytest.mark.parametrize("sparse", [False, True])
def test_streaming_fold_equals_partials_merged_in_order(sparse):
    """What a streaming pass does block by block (no second genes x genes matrix, slabs of
    rows) is bit for bit what dask workers' per-block partials give when merged in order."""
    rng = np.random.default_rng(0)
    n_genes = 3000  # > one 2816-row slab: the slab loop runs twice
    X = rng.poisson(0.3, size=(90, n_genes)).astype(np.float64)
    X[:, 5] = 2.0  # a constant gene
    Xin = sp.csr_matrix(X) if sparse else X
    streamed = accumulate(Xin, chunk_size=25, num_threads=2)
    blocks = [Xin[s : s + 25] for s in range(0, 90, 25)]
    merged = fold([block_accumulator(b, 1) for b in blocks],
                  lambda a, b: (a.merge(b), a)[1])
    assert streamed.count == merged.count == 90
    assert np.array_equal(streamed.moments(0)[1], merged.moments(0)[1])
    d1, d2 = streamed.correlation_distance(1), merged.correlation_distance(1)
    assert np.array_equal(d1, d2)
    assert d1[5, 5] == 0 and np.all(np.delete(d1[5], 5) == 1.0)
    ref = 1 - np.corrcoef(np.delete(X, 5, axis=1).T)
    np.testing.assert_allclose(np.delete(np.delete(d1, 5, 0), 5, 1), np.clip(ref, 0, 2),
                               atol=1e-12)


def test_csr_accumulator_matches_sklearn_and_is_thread_independent(counts):
    from sklearn.metrics import pairwise_distances

    X, _ = counts
    Xs = sp.csr_matrix(X)
    d = {}
    for nt in (1, 2, 3):
        acc = _core.CorrelationAccumulator(X.shape[1])
        acc.add_csr(Xs.indptr, Xs.indices, Xs.data, nt)
        d[nt] = acc.correlation_distance(1)
    assert np.array_equal(d[1], d[2]) and np.array_equal(d[1], d[3])
    ref = pairwise_distances(X.T.astype(np.float64), metric="correlation")
    np.testing.assert_allclose(d[1], ref, atol=1e-12)
    with pytest.raises(ValueError, match="sorted, unique"):
        acc.add_csr(np.array([0, 2]), np.array([3, 1]), np.array([1.0, 2.0]), 1)


@pytest.mark.parametrize("sparse", [False, True])
def test_chunked_equals_in_memory(counts, sparse):
    X, _ = counts
    Xin = sp.csr_matrix(X) if sparse else X
    whole = gf.Genomap(8, 8).fit(Xin)  # one block: 1200 cells < default chunk
    chunked = gf.Genomap(8, 8, chunk_size=97).fit(Xin)
    assert np.array_equal(whole.placement_, chunked.placement_)
    np.testing.assert_allclose(chunked.mean_, whole.mean_, rtol=1e-12)
    a = accumulate(Xin, 97).correlation_distance(1)
    b = accumulate(Xin, None).correlation_distance(1)
    np.testing.assert_allclose(a, b, atol=1e-12)
    np.testing.assert_allclose(chunked.transform(Xin, batch_size=101), whole.transform(X),
                               atol=1e-6)


@pytest.mark.parametrize("sparse", [False, True])
def test_backed_h5ad_equals_in_memory(tmp_path, counts, sparse):
    X, _ = counts
    path = tmp_path / "atlas.h5ad"
    adata = _h5ad(path, X, sparse)
    mem = gf.Genomap(8, 8, chunk_size=100).fit(adata)
    backed = anndata.read_h5ad(path, backed="r")
    on_disk = gf.Genomap(8, 8, chunk_size=100).fit(backed)
    by_path = gf.Genomap(8, 8, chunk_size=100).fit(str(path))
    for g in (on_disk, by_path):
        assert np.array_equal(g.placement_, mem.placement_) and g.objective_ == mem.objective_
        assert np.array_equal(g.mean_, mem.mean_)
    assert list(on_disk.feature_names_in_[:2]) == ["gene0", "gene1"]
    r, c = on_disk.pixel_of("gene5")
    p = on_disk.placement_[5]
    assert (r[0], c[0]) == (p % 8, p // 8)
    np.testing.assert_array_equal(on_disk.transform(backed, batch_size=333), mem.transform(X))
    store = on_disk.write_zarr(tmp_path / "atlas.zarr", backed)
    g = zarr.open_group(store, mode="r")
    assert g["obs_names"][7] == "cell7" and g["var_names"][3] == "gene3"
    np.testing.assert_array_equal(open_images(store)[:], mem.transform(X))
    # a layer of the (backed) AnnData is used when asked for
    log = gf.Genomap(8, 8).fit(adata, layer="log")
    assert np.array_equal(log.placement_, gf.Genomap(8, 8).fit(np.log1p(X)).placement_)
    with pytest.raises(ValueError, match="no layer 'raw'"):
        gf.Genomap(8, 8).fit(adata, layer="raw")


def test_backed_sample_is_reproducible(tmp_path, counts):
    X, _ = counts
    path = tmp_path / "atlas.h5ad"
    _h5ad(path, X, sparse=True)
    backed = anndata.read_h5ad(path, backed="r")
    a = gf.Genomap(8, 8).fit(backed, sample=500, random_state=3)
    b = gf.Genomap(8, 8).fit(sp.csr_matrix(X), sample=500, random_state=3)
    assert np.array_equal(a.placement_, b.placement_) and a.n_cells_ == b.n_cells_ == 500


def test_zarr_array_input(tmp_path, counts):
    X, _ = counts
    z = zarr.create_array(str(tmp_path / "x.zarr"), shape=X.shape, chunks=(128, 64),
                          dtype="float32")
    z[:] = X
    a = gf.Genomap(8, 8, chunk_size=128).fit(z)
    b = gf.Genomap(8, 8, chunk_size=128).fit(X)
    assert np.array_equal(a.placement_, b.placement_)
    np.testing.assert_array_equal(a.transform(z), b.transform(X))


@pytest.mark.parametrize("kind", ["dense", "csr", "backed", "dask"])
def test_nan_reported_with_its_block(tmp_path, counts, kind):
    X, _ = counts
    X = X.copy()
    X[523, 9] = np.nan
    if kind == "csr":
        data = sp.csr_matrix(X)
    elif kind == "backed":
        _h5ad(tmp_path / "nan.h5ad", X, sparse=True)
        data = anndata.read_h5ad(tmp_path / "nan.h5ad", backed="r")
    elif kind == "dask":
        da = pytest.importorskip("dask.array")
        data = da.from_array(X, chunks=(300, 64))
    else:
        data = X
    with pytest.raises(ValueError, match=r"cell 523, gene 9; in rows 500-599"):
        gf.Genomap(8, 8, chunk_size=100).fit(data)
    good = gf.Genomap(8, 8).fit(np.nan_to_num(X))
    with pytest.raises(ValueError, match=r"cell 523, gene 9; in rows 500-599"):
        out = good.transform(data, batch_size=100)
        if kind == "dask":
            out.compute()


def test_dask_threaded_equals_single_process(counts):
    da = pytest.importorskip("dask.array")
    X, _ = counts
    for Xin, D in ((X, da.from_array(X, chunks=(250, 30))),
                   (sp.csr_matrix(X), da.from_array(sp.csr_matrix(X), chunks=(250, 64),
                                                    asarray=False))):
        one = gf.Genomap(8, 8, chunk_size=100, select_genes="variance").fit(Xin)
        many = gf.Genomap(8, 8, chunk_size=100, select_genes="variance").fit(D)
        assert np.array_equal(one.placement_, many.placement_)
        assert one.objective_ == many.objective_ and np.array_equal(one.var_, many.var_)


def test_dask_local_cluster_equals_single_process(tmp_path, counts):
    distributed = pytest.importorskip("distributed")
    da = pytest.importorskip("dask.array")
    X, _ = counts
    one = gf.Genomap(8, 8, chunk_size=100, standardize=True).fit(X)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        D = da.from_array(X, chunks=(150, 64))
        many = gf.Genomap(8, 8, chunk_size=100, standardize=True).fit(D)
        assert np.array_equal(one.placement_, many.placement_)
        assert one.objective_ == many.objective_
        assert np.array_equal(one.mean_, many.mean_) and np.array_equal(one.var_, many.var_)
        images = many.transform(D)
        assert isinstance(images, da.Array)
        np.testing.assert_array_equal(images.compute(), one.transform(X))
        store = many.write_zarr(tmp_path / "cluster.zarr", D)
    np.testing.assert_array_equal(open_images(store)[:], one.transform(X))


_WRITER = textwrap.dedent("""
    import sys, numpy as np, scipy.sparse as sp, genomap_fast as gf
    from genomap_fast.datasets import synthetic_counts
    X, _ = synthetic_counts(400, 40, n_types=2, n_modules=4, seed=3)
    g = gf.Genomap(7, 7).fit(X)
    big = sp.vstack([sp.csr_matrix(X)] * 1000, format="csr")  # 400,000 cells
    print("writing", flush=True)
    g.write_zarr(sys.argv[1], big, batch_size=2000)
""")


def test_killed_write_never_looks_complete(tmp_path):
    target = tmp_path / "killed.zarr"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(target)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    deadline = time.time() + 60
    partial = []
    while time.time() < deadline and not partial:  # wait until image chunks are on disk
        partial = [p for p in os.listdir(tmp_path) if ".partial-" in p and os.path.isdir(
            tmp_path / p / "images" / "c")]
        time.sleep(0.05)
    assert partial, "the writer never started writing images"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not target.exists()  # only the temporary directory is left behind
    with pytest.raises(ValueError, match="incomplete genomap store"):
        open_images(tmp_path / partial[0])
    X, _ = synthetic_counts(400, 40, n_types=2, n_modules=4, seed=3)
    g = gf.Genomap(7, 7).fit(X)
    g.write_zarr(target, X)  # rewritten from scratch: complete
    np.testing.assert_array_equal(open_images(target)[:], g.transform(X))


def test_bad_inputs(tmp_path, counts):
    X, _ = counts
    with pytest.raises(FileNotFoundError):
        gf.Genomap(8, 8).fit(str(tmp_path / "missing.h5ad"))
    bad = tmp_path / "corrupt.h5ad"
    bad.write_bytes(b"not an hdf5 file")
    with pytest.raises(ValueError, match="not a readable .h5ad"):
        gf.Genomap(8, 8).fit(str(bad))
    with pytest.raises(ValueError, match="layer= is only meaningful"):
        gf.Genomap(8, 8).fit(X, layer="x")
    with pytest.raises(ValueError, match="only .h5ad paths"):
        gf.Genomap(8, 8).fit(str(tmp_path / "x.csv"))
    with pytest.raises(TypeError, match="dtype"):
        gf.Genomap(8, 8).fit(zarr.create_array(str(tmp_path / "s.zarr"), shape=(4, 4),
                                               dtype=str))


def test_cli_h5ad_to_zarr_streams_from_disk(tmp_path, counts):
    X, _ = counts
    _h5ad(tmp_path / "atlas.h5ad", X, sparse=True)
    out = tmp_path / "atlas.zarr"
    res = subprocess.run([sys.executable, "-m", "genomap_fast.cli", "construct",
                          str(tmp_path / "atlas.h5ad"), "-o", str(out), "--rows", "8", "--cols",
                          "8", "-q"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    g = gf.Genomap(8, 8).fit(sp.csr_matrix(X))
    np.testing.assert_array_equal(open_images(out)[:], g.transform(X))
    assert zarr.open_group(str(out), mode="r")["obs_names"][2] == "cell2"
    from genomap_fast.io import read_table

    table = read_table(tmp_path / "atlas.h5ad", backed=True)
    assert not sp.issparse(table.X) and table.X.shape == X.shape  # still on disk


def test_tl_genomap_on_backed_anndata(tmp_path, counts):
    X, _ = counts
    adata = _h5ad(tmp_path / "atlas.h5ad", X, sparse=True)
    backed = anndata.read_h5ad(tmp_path / "atlas.h5ad", backed="r")
    gf.tl.genomap(backed, 8, 8)
    gf.tl.genomap(adata, 8, 8)
    assert np.array_equal(backed.var["genomap_pixel"], adata.var["genomap_pixel"])
    assert backed.uns["genomap"]["objective"] == adata.uns["genomap"]["objective"]


def test_dask_sample_layout_and_bad_input(counts):
    da = pytest.importorskip("dask.array")
    X, _ = counts
    D = da.from_array(X.astype(np.int32), chunks=(200, 64))  # integer counts are accepted
    a = gf.Genomap(8, 8).fit(D, sample=500, random_state=1)
    b = gf.Genomap(8, 8).fit(X.astype(np.int32), sample=500, random_state=1)
    assert np.array_equal(a.placement_, b.placement_)
    nhwc = a.transform(D, layout="nhwc")
    assert nhwc.shape == (1200, 8, 8, 1) and nhwc.dtype == np.float32
    np.testing.assert_array_equal(nhwc.compute(), b.transform(X, layout="nhwc"))
    with pytest.raises(ValueError, match="at least 2 cells"):
        gf.Genomap(8, 8).fit(D[:1])
    with pytest.raises(ValueError, match="X has 30 genes but this Genomap was fitted on 64"):
        a.transform(D[:, :30])


def test_accumulator_reuse_and_plain_add_csr(counts):
    X, _ = counts
    X64 = X.astype(np.float64)
    Xs = sp.csr_matrix(X64)
    fresh = _core.CorrelationAccumulator(X.shape[1])
    fresh.add_csr(Xs.indptr, Xs.indices, Xs.data, 1)
    reused = _core.CorrelationAccumulator(X.shape[1])
    reused.add_dense(X64[:50] + 5.0, 1)
    reused.take_correlation_distance(1)  # empties it; its old shift must not leak
    reused.add_csr(Xs.indptr, Xs.indices, Xs.data, 1)
    assert np.array_equal(reused.moments(0)[0], fresh.moments(0)[0])
    # add_csr into statistics around a non-zero shift merges the chunk as a block
    a, b = _core.CorrelationAccumulator(X.shape[1]), _core.CorrelationAccumulator(X.shape[1])
    for acc in (a, b):
        acc.add_dense(X64[:300], 1)
    a.add_csr(Xs[300:].indptr, Xs[300:].indices, Xs[300:].data, 2)
    b.add_csr_block(Xs[300:].indptr, Xs[300:].indices, Xs[300:].data, 1)
    assert np.array_equal(a.correlation_distance(1), b.correlation_distance(1))
    np.testing.assert_allclose(a.moments(0)[0], X64.mean(axis=0), rtol=1e-12)
