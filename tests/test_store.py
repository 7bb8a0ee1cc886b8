"""zarr stores of genomaps: streamed, complete or refused, never half-written."""
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

import genomap_fast as gf
from genomap_fast.datasets import synthetic_counts
from genomap_fast.store import open_images

zarr = pytest.importorskip("zarr")


@pytest.fixture(scope="module")
def fitted():
    X, _ = synthetic_counts(500, 60, n_types=3, n_modules=6, seed=61)
    return X, gf.Genomap(8, 8).fit(X)


def test_store_equals_transform(tmp_path, fitted):
    X, gm = fitted
    path = tmp_path / "out.zarr"
    gm.write_zarr(path, sp.csr_matrix(X), obs_names=[f"c{i}" for i in range(500)],
                  batch_size=37)
    images = open_images(path)
    assert images.shape == (500, 1, 8, 8) and images.chunks[1:] == (1, 8, 8)  # along cells
    np.testing.assert_array_equal(images[:], gm.transform(X))
    g = zarr.open_group(str(path), mode="r")
    assert g["obs_names"][3] == "c3" and g.attrs["rows"] == 8
    np.testing.assert_array_equal(g["placement"][:], gm.placement_)
    assert [p for p in os.listdir(tmp_path) if p != "out.zarr"] == []


def test_interrupted_write_leaves_nothing_and_keeps_old_store(tmp_path, fitted, monkeypatch):
    X, gm = fitted
    path = tmp_path / "out.zarr"
    gm.write_zarr(path, X[:100])
    calls = {"n": 0}
    original = gf.Genomap.rasterize_block

    def failing(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed mid-write")
        return original(self, *a, **k)

    monkeypatch.setattr(gf.Genomap, "rasterize_block", failing)
    with pytest.raises(KeyboardInterrupt):
        gm.write_zarr(path, X, batch_size=50)
    assert os.listdir(tmp_path) == ["out.zarr"]
    assert open_images(path).shape[0] == 100  # the previous complete store is untouched


def test_incomplete_store_is_refused(tmp_path, fitted):
    X, gm = fitted
    path = tmp_path / "out.zarr"
    gm.write_zarr(path, X[:20])
    g = zarr.open_group(str(path), mode="r+")
    g.attrs["complete"] = False  # what a store killed before its last step looks like
    with pytest.raises(ValueError, match="incomplete genomap store"):
        open_images(path)
    with pytest.raises(ValueError, match="not a readable genomap store"):
        open_images(tmp_path / "missing.zarr")


def test_cli_construct_to_zarr(tmp_path, fitted):
    X, gm = fitted
    np.save(tmp_path / "x.npy", X)
    out = tmp_path / "out.zarr"
    res = subprocess.run([sys.executable, "-m", "genomap_fast.cli", "construct",
                          str(tmp_path / "x.npy"), "-o", str(out), "--rows", "8", "--cols", "8",
                          "-q"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    np.testing.assert_allclose(open_images(out)[:], gm.transform(X), rtol=1e-6)


def _files(root):
    return {os.path.relpath(os.path.join(d, f), root): open(os.path.join(d, f), "rb").read()
            for d, _, fs in os.walk(root) for f in fs}


@pytest.mark.parametrize("batch", [37, 64, 1000])
def test_chunk_writer_writes_zarrs_own_bytes(tmp_path, batch):
    """The direct chunk writer (the atlas path) leaves the files zarr itself would: blocks
    not aligned with chunks, a padded edge chunk, an all-zero chunk not written."""
    from genomap_fast.store import ChunkWriter, image_compressor

    x = np.random.default_rng(batch).random((530, 1, 4, 4)).astype(np.float32)
    x[x < 0.7] = 0
    x[64:128] = 0  # chunk 1 is all fill value
    roots = {}
    for name in ("direct", "zarr"):
        roots[name] = str(tmp_path / f"{name}.zarr")
        a = zarr.create_array(roots[name], shape=x.shape, chunks=(64, 1, 4, 4), dtype="float32",
                              compressors=image_compressor())
        if name == "zarr":
            a[:] = x
            continue
        writer = ChunkWriter(a, num_threads=2)
        assert writer.direct
        for start in range(0, len(x), batch):
            writer.write(start, x[start : start + batch])
        writer.flush()
        writer.close()
    direct, own = _files(roots["direct"]), _files(roots["zarr"])
    assert "c/1/0/0/0" not in own and sorted(direct) == sorted(own)
    assert all(direct[k] == own[k] for k in own)
    np.testing.assert_array_equal(zarr.open_array(roots["direct"], mode="r")[:], x)


def test_chunk_writer_refuses_blocks_out_of_order(tmp_path):
    from genomap_fast.store import ChunkWriter, image_compressor

    a = zarr.create_array(str(tmp_path / "a.zarr"), shape=(100, 2), chunks=(10, 2),
                          dtype="float32", compressors=image_compressor())
    writer = ChunkWriter(a)
    writer.write(0, np.ones((15, 2), np.float32))
    with pytest.raises(ValueError, match="expected cell 15, got 20"):
        writer.write(20, np.ones((5, 2), np.float32))
