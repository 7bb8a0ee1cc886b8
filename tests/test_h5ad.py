""".h5ad files streamed with h5py (genomap_fast.h5ad): the same numbers and the same store, bit
for bit, as the anndata path; obs never read whole; every name encoding; corrupt files named;
CSC handled; a dask cluster run (``construct --scheduler``) writes the single-process store."""
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

import genomap_fast as gf
from genomap_fast import h5ad as gh
from genomap_fast import store as gstore
from genomap_fast.cli import main as cli_main
from genomap_fast.datasets import synthetic_counts
from genomap_fast.store import open_images

anndata = pytest.importorskip("anndata")
h5py = pytest.importorskip("h5py")
pd = pytest.importorskip("pandas")
zarr = pytest.importorskip("zarr")

N_CELLS, N_GENES = 1500, 49


@pytest.fixture(scope="module")
def counts():
    X, y = synthetic_counts(N_CELLS, N_GENES, n_types=3, n_modules=7, seed=11)
    return np.round(np.expm1(X)).astype(np.float32), y  # counts, about half zeros


def _write(path, X, kind="csr", layer=None, index_name=None):
    """An .h5ad written by anndata: X dense/CSR/CSC (or zeros and the data in ``layer``)."""
    wrap = {"dense": np.asarray, "csr": sp.csr_matrix, "csc": sp.csc_matrix}[kind]
    obs = pd.DataFrame({"cell_type": pd.Categorical([f"t{i % 3}" for i in range(X.shape[0])])},
                       index=pd.Index([f"cell-{i}" for i in range(X.shape[0])], name=index_name))
    var = pd.DataFrame(index=[f"g{j}" for j in range(X.shape[1])])
    adata = anndata.AnnData(wrap(np.zeros_like(X)) if layer else wrap(X), obs=obs, var=var)
    if layer:
        adata.layers[layer] = wrap(X)
    adata.write_h5ad(path)
    return str(path)


def _files(store):
    out = {}
    for root, _, names in os.walk(store):
        for n in names:
            p = os.path.join(root, n)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, store)] = fh.read()
    return out


def _same_store(a, b):
    fa, fb = _files(a), _files(b)
    assert sorted(fa) == sorted(fb)
    assert [k for k in fa if fa[k] != fb[k]] == []


@pytest.mark.parametrize("kind,layer", [("dense", None), ("csr", None), ("csc", None),
                                        ("csr", "counts"), ("dense", "counts")])
def test_streamed_equals_anndata_bit_for_bit(tmp_path, counts, kind, layer):
    X, _ = counts
    path = _write(tmp_path / "a.h5ad", X, kind, layer)
    mem = anndata.read_h5ad(path)  # the anndata path, in memory
    a = gf.Genomap(7, 7, chunk_size=200, standardize=True).fit(path, layer=layer)
    b = gf.Genomap(7, 7, chunk_size=200, standardize=True).fit(mem, layer=layer)
    assert np.array_equal(a.placement_, b.placement_) and a.objective_ == b.objective_
    assert np.array_equal(a.mean_, b.mean_) and np.array_equal(a.var_, b.var_)
    assert list(a.feature_names_in_) == list(mem.var_names)
    np.testing.assert_array_equal(a.transform(path, batch_size=333, layer=layer),
                                  b.transform(mem, layer=layer))
    if layer is None:
        sa = a.write_zarr(tmp_path / "streamed.zarr", path, batch_size=300)
        sb = b.write_zarr(tmp_path / "anndata.zarr", mem, batch_size=300)
        _same_store(sa, sb)
        names = zarr.open_group(sa, mode="r")["obs_names"][:]
        assert list(names) == list(mem.obs_names)


def test_cli_store_equals_in_memory_and_never_reads_obs_whole(tmp_path, counts, monkeypatch):
    """The CLI (.h5ad -> .zarr) gives the in-memory AnnData's store, byte for byte, without
    anndata.read_h5ad, reading names and rows in bounded chunks."""
    from genomap_fast import interaction

    X, _ = counts
    monkeypatch.setattr(interaction, "DEFAULT_CHUNK_ELEMENTS", 250 * N_GENES)  # 250-row blocks
    path = _write(tmp_path / "a.h5ad", X, "csr")
    mem = anndata.read_h5ad(path)
    gm = gf.Genomap(7, 7, dtype=np.float32).fit(mem)
    expected = gm.write_zarr(tmp_path / "expected.zarr", mem)

    def refuse(*a, **k):
        raise AssertionError("anndata.read_h5ad called on the streamed path")

    spans = {"names": [], "rows": []}
    read_names, read_rows = gh.H5adMatrix._read_names, gh.H5adMatrix.rows

    def names(self, key, lo, hi):
        spans["names"].append(hi - lo)
        return read_names(self, key, lo, hi)

    def rows(self, start, stop, buffers=None):
        spans["rows"].append(stop - start)
        return read_rows(self, start, stop, buffers)

    monkeypatch.setattr(anndata, "read_h5ad", refuse)
    monkeypatch.setattr(gh.H5adMatrix, "_read_names", names)
    monkeypatch.setattr(gh.H5adMatrix, "rows", rows)
    monkeypatch.setattr(gstore, "NAME_CHUNK", 400)
    out = tmp_path / "cli.zarr"
    assert cli_main(["construct", path, "-o", str(out), "--rows", "7", "--cols", "7",
                     "-q", "--batch-size", "300"]) == 0
    assert max(spans["names"]) == 400 and sum(spans["names"]) >= N_CELLS
    assert max(spans["rows"]) == 300 and sum(spans["rows"]) == 2 * N_CELLS  # fit + write
    np.testing.assert_array_equal(open_images(out)[:], open_images(expected)[:])
    g = zarr.open_group(str(out), mode="r")
    assert list(g["obs_names"][:]) == list(mem.obs_names)
    assert list(g["var_names"][:]) == list(mem.var_names)
    _same_store(out, expected)  # other batch and name steps, the same bytes


def _replace_index(path, make):
    """Rewrites obs's index column of an anndata-written file with ``make(group, names)``."""
    with h5py.File(path, "r+") as f:
        obs = f["obs"]
        col = obs.attrs["_index"]
        names = obs[col].asstr()[:]
        del obs[col]
        make(obs, names)


def _categorical(obs, names):
    g = obs.create_group("_index")
    g.attrs.update({"encoding-type": "categorical", "encoding-version": "0.2.0",
                    "ordered": False})
    cats = np.array(sorted(set(names)), dtype=object)
    codes = np.searchsorted(cats.astype(str), names).astype(np.int16)
    codes[5] = -1  # a missing value
    g.create_dataset("categories", data=cats, dtype=h5py.string_dtype())
    g.create_dataset("codes", data=codes)
    obs.attrs["_index"] = "_index"


def _fixed_bytes(obs, names):
    obs.create_dataset("barcodes", data=np.array(names, dtype="S"))
    obs.attrs["_index"] = "barcodes"


def _integers(obs, names):
    obs.create_dataset("_index", data=np.arange(len(names)) * 10)


def _nullable(obs, names):
    g = obs.create_group("_index")
    g.attrs.update({"encoding-type": "nullable-string-array", "encoding-version": "0.1.0"})
    g.create_dataset("values", data=np.array(names, dtype=object), dtype=h5py.string_dtype())
    mask = np.zeros(len(names), bool)
    mask[7] = True
    g.create_dataset("mask", data=mask)


def _expected(kind, n):
    names = np.array([f"cell-{i}" for i in range(n)], dtype=object)
    if kind == "categorical":
        names[5] = "nan"
    elif kind == "integers":
        names = np.array([str(10 * i) for i in range(n)], dtype=object)
    elif kind == "nullable":
        names[7] = "nan"
    return names.astype(str)


@pytest.mark.parametrize("kind", ["named", "categorical", "fixed_bytes", "integers", "nullable"])
def test_obs_index_encodings(tmp_path, counts, kind):
    X, _ = counts
    path = _write(tmp_path / "a.h5ad", X, "csr", index_name="barcode" if kind == "named" else None)
    make = {"categorical": _categorical, "fixed_bytes": _fixed_bytes, "integers": _integers,
            "nullable": _nullable}.get(kind)
    if make is not None:
        _replace_index(path, make)
    expected = _expected(kind, N_CELLS)
    m = gh.open_h5ad(path)
    assert len(m.obs_names) == N_CELLS
    assert np.array_equal(m.obs_names[3:1203], expected[3:1203])
    assert m.obs_names[-1] == expected[-1] and m.obs_names[5] == expected[5]
    assert np.array_equal(np.asarray(m.obs_names), expected)
    assert list(m.var_names)[:2] == ["g0", "g1"]
    if kind in ("named", "fixed_bytes", "integers"):  # anndata reads these back the same way
        assert np.array_equal(np.asarray(anndata.read_h5ad(path).obs_names, dtype=str), expected)
    gm = gf.Genomap(7, 7).fit(X)
    store = gm.write_zarr(tmp_path / "s.zarr", path)
    assert np.array_equal(zarr.open_group(store, mode="r")["obs_names"][:], expected)
    with pytest.raises(IndexError):
        m.obs_names[N_CELLS]
    with pytest.raises(TypeError, match="contiguous slices"):
        m.obs_names[::2]


def test_legacy_compound_obs_and_h5sparse_x(tmp_path, counts):
    """The pre-0.7 layout: obs/var as compound datasets, X a group with h5sparse attributes."""
    X, _ = counts
    Xs = sp.csr_matrix(X)
    path = tmp_path / "legacy.h5ad"
    with h5py.File(path, "w") as f:
        g = f.create_group("X")
        g.attrs["h5sparse_format"] = "csr"
        g.attrs["h5sparse_shape"] = np.array(X.shape)
        for k in ("data", "indices", "indptr"):
            g.create_dataset(k, data=getattr(Xs, k))
        obs = np.zeros(X.shape[0], dtype=[("index", "S12"), ("n", "i4")])
        obs["index"] = [f"cell-{i}".encode() for i in range(X.shape[0])]
        f.create_dataset("obs", data=obs)
        var = np.zeros(X.shape[1], dtype=[("index", "S8")])
        var["index"] = [f"g{j}".encode() for j in range(X.shape[1])]
        f.create_dataset("var", data=var)
    m = gh.open_h5ad(path)
    assert m.format == "csr" and m.shape == X.shape
    assert list(m.obs_names[:2]) == ["cell-0", "cell-1"] and m.var_names[48] == "g48"
    np.testing.assert_array_equal(m[10:20].toarray(), X[10:20])
    a, b = gf.Genomap(7, 7).fit(str(path)), gf.Genomap(7, 7).fit(Xs)
    assert np.array_equal(a.placement_, b.placement_) and a.objective_ == b.objective_


def test_rows_take_and_sample(tmp_path, counts):
    X, _ = counts
    for kind in ("dense", "csr", "csc"):
        m = gh.open_h5ad(_write(tmp_path / f"{kind}.h5ad", X, kind))
        rows = np.array([0, 3, 4, 700, 701, 1499])
        got = m.take(rows, window=256)
        got = got.toarray() if sp.issparse(got) else got
        np.testing.assert_array_equal(got, X[rows])
        blk = m[1490:]
        np.testing.assert_array_equal(blk.toarray() if sp.issparse(blk) else blk, X[1490:])
        assert m[5:5].shape == (0, N_GENES)
        with pytest.raises(ValueError, match="sorted indices"):
            m.take(np.array([5, 2]))
        with pytest.raises(TypeError, match="row slices"):
            m[:, 3]
    a = gf.Genomap(7, 7).fit(str(tmp_path / "csr.h5ad"), sample=600, random_state=4)
    b = gf.Genomap(7, 7).fit(sp.csr_matrix(X), sample=600, random_state=4)
    assert np.array_equal(a.placement_, b.placement_) and a.n_cells_ == 600


def test_corrupt_files_name_the_file(tmp_path, counts):
    X, _ = counts
    good = _write(tmp_path / "good.h5ad", X, "csr")
    size = os.path.getsize(good)
    with open(good, "rb") as fh:
        head = fh.read(size // 2)
    truncated = tmp_path / "truncated.h5ad"
    truncated.write_bytes(head)
    with pytest.raises(ValueError, match=r"truncated\.h5ad"):
        gf.Genomap(7, 7).fit(str(truncated))
    junk = tmp_path / "junk.h5ad"
    junk.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(ValueError, match=r"junk\.h5ad is not a readable \.h5ad file"):
        gf.Genomap(7, 7).fit(str(junk))

    def broken(name, edit):
        path = tmp_path / name
        path.write_bytes(open(good, "rb").read())
        with h5py.File(path, "r+") as f:
            edit(f)
        return str(path)

    no_indptr = broken("no_indptr.h5ad", lambda f: f["X"].__delitem__("indptr"))
    with pytest.raises(ValueError, match=r"no_indptr\.h5ad: X is not a valid csr_matrix"):
        gh.open_h5ad(no_indptr)

    def short_indptr(f):
        ptr = f["X/indptr"][:-1]
        del f["X/indptr"]
        f["X"].create_dataset("indptr", data=ptr)

    with pytest.raises(ValueError, match=r"short\.h5ad: X is not a valid csr_matrix.*indptr"):
        gh.open_h5ad(broken("short.h5ad", short_indptr))

    def bad_column(f):
        f["X/indices"][f["X/indptr"][900]] = N_GENES + 5

    path = broken("bad_column.h5ad", bad_column)
    with pytest.raises(ValueError, match=r"bad_column\.h5ad: X is corrupt in rows 800-999"):
        gf.Genomap(7, 7, chunk_size=200).fit(path)
    no_x = broken("no_x.h5ad", lambda f: f.__delitem__("X"))
    with pytest.raises(ValueError, match=r"no_x\.h5ad has no expression matrix X"):
        gf.Genomap(7, 7).fit(no_x)
    with pytest.raises(ValueError, match=r"good\.h5ad has no layer 'raw'"):
        gf.Genomap(7, 7).fit(good, layer="raw")
    with pytest.raises(FileNotFoundError):
        gh.open_h5ad(tmp_path / "missing.h5ad")


def test_large_csc_is_refused_with_the_conversion(tmp_path, counts, monkeypatch):
    X, _ = counts
    path = _write(tmp_path / "csc.h5ad", X, "csc")
    monkeypatch.setattr(gh, "CSC_IN_MEMORY_BYTES", 1000)
    with pytest.raises(ValueError, match=r"csc\.h5ad: X is stored CSC .*csc_to_csr"):
        gf.Genomap(7, 7).fit(path)
    out = gh.csc_to_csr(path, tmp_path / "rows.h5ad", memory_bytes=20_000)  # many passes
    m = gh.open_h5ad(out)
    assert m.format == "csr"
    np.testing.assert_array_equal(m[0:N_CELLS].toarray(), X)
    converted = anndata.read_h5ad(out)  # still a valid .h5ad for anndata
    assert list(converted.obs["cell_type"][:3]) == ["t0", "t1", "t2"]
    a, b = gf.Genomap(7, 7).fit(out), gf.Genomap(7, 7).fit(sp.csr_matrix(X))
    assert np.array_equal(a.placement_, b.placement_) and a.objective_ == b.objective_
    with pytest.raises(ValueError, match="is not stored CSC"):
        gh.csc_to_csr(out, tmp_path / "again.h5ad")


def test_unsupported_encoding_falls_back_to_anndata(tmp_path, counts, monkeypatch):
    X, _ = counts
    path = _write(tmp_path / "a.h5ad", X, "csr")

    def unsupported(self, layer):
        raise gh.UnsupportedH5ad("an encoding only anndata reads")

    monkeypatch.setattr(gh.H5adMatrix, "_setup", unsupported)
    a = gf.Genomap(7, 7).fit(path)
    b = gf.Genomap(7, 7).fit(sp.csr_matrix(X))
    assert np.array_equal(a.placement_, b.placement_)


def test_pickled_matrix_reopens_by_path(tmp_path, counts):
    import pickle

    X, _ = counts
    m = gh.open_h5ad(_write(tmp_path / "a.h5ad", X, "csr"))
    blob = pickle.dumps(m)
    assert len(blob) < 500  # the path, not the rows
    m2 = pickle.loads(blob)
    np.testing.assert_array_equal(m2[100:110].toarray(), X[100:110])


def test_dask_array_of_the_file_equals_single_process(tmp_path, counts):
    pytest.importorskip("dask.array")
    X, _ = counts
    path = _write(tmp_path / "a.h5ad", X, "csr")
    D = gh.open_h5ad(path).to_dask(250)
    a = gf.Genomap(7, 7, chunk_size=250).fit(D)
    b = gf.Genomap(7, 7, chunk_size=250).fit(path)
    assert np.array_equal(a.placement_, b.placement_) and a.objective_ == b.objective_
    _same_store(a.write_zarr(tmp_path / "d.zarr", D, obs_names=gh.open_h5ad(path).obs_names,
                             var_names=gh.open_h5ad(path).var_names),
                b.write_zarr(tmp_path / "s.zarr", path))


def _construct(path, out, *extra, env=None):
    res = subprocess.run([sys.executable, "-m", "genomap_fast.cli", "construct", str(path),
                          "-o", str(out), "--rows", "20", "--cols", "20", "-q", *extra],
                         capture_output=True, text=True, timeout=300,
                         env={**os.environ, **(env or {})})
    assert res.returncode == 0, res.stderr[-3000:]
    return out


def test_cli_scheduler_writes_the_single_process_store(tmp_path):
    distributed = pytest.importorskip("distributed")
    from genomap_fast.datasets import write_synthetic_atlas
    from genomap_fast.interaction import default_chunk_rows

    path = write_synthetic_atlas(tmp_path / "a.h5ad", 25_000, 400, seed=2)
    assert 25_000 > 2 * default_chunk_rows(400)  # three blocks: both workers read some
    one = _construct(path, tmp_path / "one.zarr", "--batch-size", "1000")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        by_flag = _construct(path, tmp_path / "flag.zarr", "--scheduler",
                             cluster.scheduler_address)
        by_env = _construct(path, tmp_path / "env.zarr",
                            env={"GENOMAP_FAST_SCHEDULER": cluster.scheduler_address})
        with distributed.Client(cluster) as client:  # both workers read blocks of the file
            logs = client.run(lambda: sorted(k[0] for k in gh._OPEN))
    assert sorted(logs.values()) == [[os.path.abspath(path)]] * 2
    _same_store(by_flag, one)
    _same_store(by_env, one)


def test_cli_scheduler_errors(tmp_path, counts):
    X, _ = counts
    path = _write(tmp_path / "a.h5ad", X, "csr")
    np.save(tmp_path / "x.npy", X)
    assert cli_main(["construct", path, "-o", str(tmp_path / "o.npy"), "--rows", "7", "--cols",
                     "7", "-q", "--scheduler", "tcp://127.0.0.1:1"]) == 1
    assert cli_main(["construct", str(tmp_path / "x.npy"), "-o", str(tmp_path / "o.zarr"),
                     "--rows", "7", "--cols", "7", "-q", "--scheduler",
                     "tcp://127.0.0.1:1"]) == 1
    with pytest.raises(ValueError, match="writes a .zarr store"):
        cli_main(["--debug", "construct", path, "-o", str(tmp_path / "o.npy"), "--rows", "7",
                  "--cols", "7", "-q", "--scheduler", "tcp://127.0.0.1:1"])
    with pytest.raises(ValueError, match="reads an .h5ad or .zarr input"):
        cli_main(["--debug", "construct", str(tmp_path / "x.npy"), "-o",
                  str(tmp_path / "o.zarr"), "--rows", "7", "--cols", "7", "-q",
                  "--scheduler", "tcp://127.0.0.1:1"])


@pytest.mark.parametrize("kind", ["dense", "csr"])
@pytest.mark.parametrize("prefetch", [False, True])
def test_blocks_read_into_reused_buffers_are_the_same_blocks(tmp_path, counts, kind, prefetch):
    """Streamed passes read each block into one of two reused buffer sets (memory flat in
    cells): every block, as the caller sees it, equals the block read into new arrays, also
    when the next block is being read ahead, and blocks that need more room grow the buffer."""
    from genomap_fast._source import as_source

    X = counts[0].copy()
    X[700:760] += 3.0  # denser rows: a later block needs a larger buffer than the first
    path = str(tmp_path / f"{kind}.h5ad")
    _write(path, X, kind)
    src = as_source(path)
    fresh = [(s, b.toarray() if sp.issparse(b) else np.array(b))
             for s, b in src.blocks(97, prefetch=prefetch)]
    seen = []
    for start, block in src.blocks(97, prefetch=prefetch, reuse=True):
        seen.append((start, block.toarray() if sp.issparse(block) else np.array(block)))
    assert [s for s, _ in seen] == [s for s, _ in fresh]
    for (_, a), (_, b) in zip(seen, fresh):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.concatenate([b for _, b in seen]), X)
