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
from hypothesis import given
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
