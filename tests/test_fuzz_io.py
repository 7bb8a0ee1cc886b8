"""Fuzzing the readers of every CLI input format with damaged files: truncated, wrong header,
empty, binary garbage, flipped bytes, a directory where a file is expected.

Property: ``read_table`` returns a table or raises FileNotFoundError/ValueError naming the
path, and ``genomap-fast construct`` on the file exits 0 (valid images) or 1 with a one-line
error; never a traceback, a crash or a hang.
"""
from __future__ import annotations

import contextlib
import gzip
import io
import os
import shutil

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from genomap_fast import cli
from genomap_fast.io import read_table

X = np.array([[0, 1, 2, 0, 5], [1, 0, 0, 3, 1], [2, 2, 1, 0, 0], [0, 4, 1, 1, 2],
              [3, 0, 2, 2, 0], [1, 1, 0, 4, 3]], dtype=np.float64)


def _bytes(writer) -> bytes:
    buf = io.BytesIO()
    writer(buf)
    return buf.getvalue()


def _h5ad_bytes(tmp):
    import anndata

    p = os.path.join(tmp, "valid.h5ad")
    anndata.AnnData(X=X.astype(np.float32)).write_h5ad(p)
    with open(p, "rb") as fh:
        return fh.read()


CSV = ("cell," + ",".join(f"g{i}" for i in range(5)) + "\n" + "".join(
    f"c{r}," + ",".join(f"{v:g}" for v in row) + "\n" for r, row in enumerate(X))).encode()
MTX = _bytes(lambda b: __import__("scipy.io", fromlist=["mmwrite"]).mmwrite(
    b, sp.coo_matrix(X.T)))
FILES = {
    "cells.csv": CSV,
    "cells.tsv": CSV.replace(b",", b"\t"),
    "cells.csv.gz": gzip.compress(CSV),
    "cells.npy": _bytes(lambda b: np.save(b, X)),
    "cells.npz": _bytes(lambda b: sp.save_npz(b, sp.csr_matrix(X))),
}
TENX = {"matrix.mtx": MTX, "features.tsv": b"".join(b"id%d\tg%d\n" % (i, i) for i in range(5)),
        "barcodes.tsv": b"".join(b"c%d\n" % i for i in range(6))}


@pytest.fixture(scope="module")
def h5ad_bytes(tmp_path_factory):
    return _h5ad_bytes(str(tmp_path_factory.mktemp("h5")))


def mutate(data: bytes, draw) -> bytes:
    kind = draw(st.sampled_from(["valid", "truncate", "empty", "garbage", "flip", "header",
                                 "prefix"]))
    if kind == "truncate":
        return data[: draw(st.integers(0, max(len(data) - 1, 0)))]
    if kind == "empty":
        return b""
    if kind == "garbage":
        return draw(st.binary(min_size=1, max_size=200))
    if kind == "flip" and data:
        b = bytearray(data)
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(b) - 1))
            b[i] = draw(st.integers(0, 255))
        return bytes(b)
    if kind == "header":  # a wrong first line / magic
        nl = data.find(b"\n")
        return draw(st.sampled_from([b"x,y\n", b"\x93NUMPY\x01\x00", b"%%MatrixMarket junk\n",
                                     b"PK\x03\x04", b"\x89HDF\r\n\x1a\n"])) + (
            data[nl + 1:] if nl >= 0 else data[8:])
    if kind == "prefix":
        return draw(st.binary(min_size=1, max_size=16)) + data
    return data


def construct_exits_cleanly(path, tmp):
    out = os.path.join(tmp, "out.npy")
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = cli.main(["construct", str(path), "-o", out, "--rows", "3", "--cols", "3",
                         "--genes", "variance", "--threads", "1", "-q"])
    err = stderr.getvalue()
    assert code in (0, 1), err
    if code == 1:
        assert err.startswith("genomap-fast: error:") and len(err.strip().splitlines()) == 1
        assert not os.path.exists(out)
    else:
        images = np.load(out)
        assert images.ndim == 4 and np.isfinite(images).all()
        os.unlink(out)
    assert [p for p in os.listdir(tmp) if ".partial-" in p] == []


def read_or_refuse(path):
    try:
        return read_table(path)
    except (FileNotFoundError, ValueError) as err:
        assert str(err)
        return None


@given(st.sampled_from(sorted(FILES) + ["cells.h5ad"]), st.data())
def test_damaged_files(tmp_path_factory, h5ad_bytes, name, data):
    tmp = str(tmp_path_factory.mktemp("io"))
    valid = h5ad_bytes if name == "cells.h5ad" else FILES[name]
    path = os.path.join(tmp, name)
    if data.draw(st.integers(0, 15)) == 0:
        os.mkdir(path)  # a directory where a file is expected
    else:
        with open(path, "wb") as fh:
            fh.write(mutate(valid, data.draw))
    read_or_refuse(path)
    construct_exits_cleanly(path, tmp)
    shutil.rmtree(tmp)


@given(st.sampled_from(sorted(TENX)), st.booleans(), st.data())
def test_damaged_10x_directory(tmp_path_factory, damaged, gz, data):
    tmp = str(tmp_path_factory.mktemp("tenx"))
    d = os.path.join(tmp, "filtered")
    os.mkdir(d)
    for name, content in TENX.items():
        if name == damaged:
            content = mutate(content, data.draw)
            if data.draw(st.integers(0, 6)) == 0:
                continue  # missing file
        if gz:
            with gzip.open(os.path.join(d, name + ".gz"), "wb") as fh:
                fh.write(content)
        else:
            with open(os.path.join(d, name), "wb") as fh:
                fh.write(content)
    read_or_refuse(d)
    construct_exits_cleanly(d, tmp)
    shutil.rmtree(tmp)


@given(st.data())
def test_damaged_zarr_array(tmp_path_factory, data):
    import zarr

    tmp = str(tmp_path_factory.mktemp("zarr"))
    path = os.path.join(tmp, "cells.zarr")
    zarr.open_array(path, mode="w", shape=X.shape, chunks=(3, 5), dtype="float64")[...] = X
    files = sorted(os.path.join(r, f) for r, _, fs in os.walk(path) for f in fs)
    victim = data.draw(st.sampled_from(files))
    with open(victim, "rb") as fh:
        content = fh.read()
    with open(victim, "wb") as fh:
        fh.write(mutate(content, data.draw))
    read_or_refuse(path)
    construct_exits_cleanly(path, tmp)
    shutil.rmtree(tmp)


def test_missing_and_unknown_paths(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_table(tmp_path / "nope.csv")
    (tmp_path / "cells.xyz").write_bytes(b"1,2\n3,4\n")
    with pytest.raises(ValueError, match="unknown input format"):
        read_table(tmp_path / "cells.xyz")
    construct_exits_cleanly(tmp_path / "nope.h5ad", str(tmp_path))


# ------------------------------------------------------------- files the package writes itself
def _flip_or_truncate(content: bytes, draw) -> bytes:
    """A file cut at a random offset, or with random bytes changed (never left valid)."""
    if draw(st.booleans()) or not content:
        return content[: draw(st.integers(0, max(len(content) - 1, 0)))]
    b = bytearray(content)
    for _ in range(draw(st.integers(1, 8))):
        i = draw(st.integers(0, len(b) - 1))
        b[i] = (b[i] + draw(st.integers(1, 255))) % 256
    return bytes(b)


@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory):
    import genomap_fast as gf

    path = tmp_path_factory.mktemp("model") / "gm.npz"
    gf.Genomap(3, 3, select_genes="variance").fit(X).save(path)
    return path.read_bytes()


@given(st.data())
def test_damaged_genomap_model(tmp_path_factory, model_bytes, data):
    """Genomap.load of a truncated or altered .npz: a ValueError naming the file, or (a byte
    that no reader looks at, e.g. a zip timestamp) the same model."""
    import genomap_fast as gf

    path = tmp_path_factory.mktemp("m") / "gm.npz"
    path.write_bytes(_flip_or_truncate(model_bytes, data.draw))
    try:
        gm = gf.Genomap.load(path)
    except ValueError as err:
        assert str(path) in str(err) and "Genomap file" in str(err)
        assert len(str(err).splitlines()) == 1
        return
    images = gm.transform(X)
    assert images.shape == (X.shape[0], 1, 3, 3) and np.isfinite(images).all()


@pytest.fixture(scope="module")
def store_files(tmp_path_factory):
    import genomap_fast as gf

    tmp = tmp_path_factory.mktemp("store")
    gm = gf.Genomap(3, 3, select_genes="variance").fit(X)
    path = tmp / "cells.zarr"
    gm.write_zarr(path, np.tile(X, (5, 1)), batch_size=4)
    files = {os.path.relpath(os.path.join(r, f), path): open(os.path.join(r, f), "rb").read()
             for r, _, fs in os.walk(path) for f in fs}
    return files, gm.transform(np.tile(X, (5, 1)))


@settings(max_examples=60)
@given(st.data())
def test_damaged_genomap_store(tmp_path_factory, store_files, data):
    """A store with one file truncated or altered: open_images and the training dataset give
    the right images, or ValueError (a damaged chunk: naming the store)."""
    from genomap_fast.cnn.data import GenomapStoreDataset
    from genomap_fast.store import open_images

    files, want = store_files
    path = tmp_path_factory.mktemp("s") / "cells.zarr"
    victim = data.draw(st.sampled_from(sorted(files)))
    for rel, content in files.items():
        os.makedirs(os.path.dirname(path / rel), exist_ok=True)
        with open(path / rel, "wb") as fh:
            fh.write(_flip_or_truncate(content, data.draw) if rel == victim else content)
    try:
        ds = GenomapStoreDataset(path)
        items = np.stack([ds[i][0].numpy() for i in range(len(ds))])
    except ValueError as err:
        assert str(err)
        items = None
    try:  # zarr's own array: its own error for a damaged chunk (zstd checksum)
        images = np.asarray(open_images(path)[:])
    except (ValueError, RuntimeError) as err:
        assert str(err)
        images = None
    if victim.startswith("images/c"):  # a chunk: checksummed, so right values or an error
        for got in (images, items):
            if got is not None:
                np.testing.assert_array_equal(got, want)
    for got in (images, items):  # metadata that still parses: whatever it says, no crash
        if got is not None:
            assert got.ndim == 4 and got.shape[1:] == want.shape[1:] or got.shape != want.shape


@settings(max_examples=60)
@given(st.data(), st.integers(1, 4), st.booleans())
def test_damaged_h5ad_streamed_with_read_ahead(tmp_path_factory, h5ad_bytes, data, chunk,
                                               read_ahead):
    """An .h5ad file truncated or altered, read in row blocks (the read-ahead thread on and
    off): the right values or a ValueError; never a crash."""
    from genomap_fast._source import as_source

    path = tmp_path_factory.mktemp("h") / "cells.h5ad"
    path.write_bytes(_flip_or_truncate(h5ad_bytes, data.draw))
    try:
        src = as_source(str(path))
        blocks = [b.toarray() if sp.issparse(b) else b
                  for _, b in src.blocks(chunk, prefetch=read_ahead)]
    except (ValueError, TypeError, FileNotFoundError) as err:
        assert str(err)
        return
    got = np.concatenate(blocks)
    assert got.shape == X.shape


@pytest.fixture(scope="module")
def classifier_bytes(tmp_path_factory):
    from genomap_fast.cnn import GenoNetClassifier

    path = tmp_path_factory.mktemp("clf") / "clf.pt"
    y = np.array([0, 1, 0, 1, 0, 1])
    GenoNetClassifier(rows=3, cols=3, epochs=1, seed=0).fit(X, y).save(path)
    return path.read_bytes()


@settings(max_examples=40)
@given(st.data())
def test_damaged_classifier_file(tmp_path_factory, classifier_bytes, data):
    """A CNN estimator file (torch zip of tensors and JSON) truncated or altered: a ValueError
    naming the file, or a model that predicts."""
    from genomap_fast.cnn import GenoNetClassifier

    path = tmp_path_factory.mktemp("c") / "clf.pt"
    path.write_bytes(_flip_or_truncate(classifier_bytes, data.draw))
    try:
        clf = GenoNetClassifier.load(path)
    except ValueError as err:
        assert str(path) in str(err)
        return
    assert clf.predict(X).shape == (X.shape[0],)
