"""Malformed sparse matrices through every entry point.

A scipy.sparse object's index arrays can be set to anything (``m.indptr = ...`` bypasses
scipy's checks), and an ``.h5ad`` file's can be written so. scipy's compiled routines trust
them and read or write out of bounds, so they must be refused before anything touches them.

Property: every entry point (drop-in functions, estimator fit and transform, the interaction
matrix, ``tl.genomap``, the zarr writer), in memory, from an ``.h5ad`` path or a backed AnnData
read in several blocks with the read-ahead thread on or off, either gives the right result (a
valid structure) or raises ValueError naming the malformed structure; the process goes on.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import genomap_fast as gf
from genomap_fast._source import as_source, check_sparse_structure

CORRUPTIONS = ["valid", "indptr_swap", "indptr_dip", "indptr_past_end", "indptr_negative",
               "indptr_first", "indptr_short", "index_negative", "index_past_end",
               "nnz_mismatch"]
# what the ValueError must name: the structure, in our words or the .h5ad reader's
NAMES = ("malformed sparse", "corrupt", "not a valid csr_matrix", "cannot read rows")


def corrupt(m: sp.spmatrix, kind: str, rng: np.random.Generator) -> sp.spmatrix:
    """m (CSR or CSC, at least two rows and a stored value) with one structural defect; the
    arrays are assigned after construction, as a user's code can, so scipy checks nothing."""
    ptr, idx, val = m.indptr.copy(), m.indices.copy(), m.data.copy()
    major = ptr.size - 1
    minor = m.shape[1] if m.format == "csr" else m.shape[0]
    r = int(rng.integers(1, major))
    if kind == "indptr_swap":  # a row ends before it starts
        ptr[r] = ptr[r + 1] + 1 + int(rng.integers(0, 5))
    elif kind == "indptr_dip":
        ptr[r] = -1 if ptr[r - 1] == 0 else int(rng.integers(0, ptr[r - 1]))
        if ptr[r] == ptr[r - 1]:
            ptr[r] -= 1
    elif kind == "indptr_past_end":
        ptr[r:] = ptr[-1] + 10**6
    elif kind == "indptr_negative":
        ptr[:r] = -int(rng.integers(1, 10**6))
    elif kind == "indptr_first":
        ptr[0] = min(1, int(ptr[1]))
        ptr[0] = ptr[0] if ptr[0] else -1
    elif kind == "indptr_short":
        ptr = ptr[:-1]
    elif kind == "index_negative":
        idx[int(rng.integers(0, idx.size))] = -int(rng.integers(1, 2**20))
    elif kind == "index_past_end":
        idx[int(rng.integers(0, idx.size))] = minor + int(rng.integers(0, 2**20))
    elif kind == "nnz_mismatch":
        idx = idx[: int(rng.integers(0, idx.size))]
    out = m.copy()
    out.indptr, out.indices, out.data = ptr, idx, val
    return out


@st.composite
def cases(draw):
    cells = draw(st.integers(3, 40))
    genes = draw(st.integers(2, 12))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    dense = rng.random((cells, genes)) * (rng.random((cells, genes)) < 0.6)
    dense[0, 0] = dense[-1, -1] = 1.0  # a stored value in the first and the last row
    kind = draw(st.sampled_from(CORRUPTIONS))
    fmt = draw(st.sampled_from(["csr", "csr", "csc"]))
    m = sp.csr_matrix(dense) if fmt == "csr" else sp.csc_matrix(dense)
    if draw(st.booleans()):
        m.indices, m.indptr = m.indices.astype(np.int64), m.indptr.astype(np.int64)
    return (m if kind == "valid" else corrupt(m, kind, rng)), dense, kind


def refuses(fn):
    """fn() -> result, or None when it raised ValueError naming the sparse structure."""
    try:
        return fn()
    except ValueError as err:
        assert any(n in str(err) for n in NAMES), str(err)
        return None


ENTRY_POINTS = ["construct", "construct_returnT", "fit", "fit_chunked", "transform",
                "interaction", "tl", "write_zarr"]


@given(cases(), st.sampled_from(ENTRY_POINTS))
def test_malformed_sparse_in_memory(tmp_path_factory, case, entry):
    m, dense, kind = case
    rows = cols = 4
    if entry == "construct":
        out = refuses(lambda: gf.construct_genomap(m, rows, cols, num_iter=5))
        want = None if out is None else gf.construct_genomap(dense, rows, cols, num_iter=5)
    elif entry == "construct_returnT":
        out = refuses(lambda: gf.construct_genomap_returnT(m, rows, cols, num_iter=5)[0])
        want = None if out is None else gf.construct_genomap_returnT(dense, rows, cols,
                                                                    num_iter=5)[0]
    elif entry in ("fit", "fit_chunked"):
        chunk = 2 if entry == "fit_chunked" else None
        gm = refuses(lambda: gf.Genomap(rows, cols, chunk_size=chunk, max_iter=5).fit(m))
        out = None if gm is None else gm.placement_
        want = None if gm is None else gf.Genomap(rows, cols, max_iter=5).fit(dense).placement_
    elif entry == "transform":
        gm = gf.Genomap(rows, cols, max_iter=5, chunk_size=3).fit(dense)
        out = refuses(lambda: gm.transform(m))
        want = None if out is None else gm.transform(dense)
    elif entry == "interaction":
        out = refuses(lambda: gf.interaction_matrix(m, chunk_size=2).distance)
        want = None if out is None else gf.interaction_matrix(dense).distance
    elif entry == "tl":
        import anndata

        adata = anndata.AnnData(X=sp.csr_matrix(dense.shape))
        adata.X = m  # anndata checks only the shape
        out = refuses(lambda: gf.tl.genomap(adata, rows, cols, max_iter=5, copy=True,
                                            store_images=True).obsm["X_genomap"])
        want = None if out is None else gf.tl.genomap(
            anndata.AnnData(X=dense), rows, cols, max_iter=5, copy=True,
            store_images=True).obsm["X_genomap"]
    else:
        tmp = tmp_path_factory.mktemp("z")
        gm = gf.Genomap(rows, cols, max_iter=5).fit(dense)
        path = tmp / "g.zarr"
        out = refuses(lambda: gm.write_zarr(path, m, batch_size=2))
        assert (out is None) == (not os.path.exists(path))  # nothing half-written is left
        assert [p for p in os.listdir(tmp) if ".partial-" in p] == []
        want = None
        if out is not None:
            from genomap_fast.store import open_images

            out, want = np.asarray(open_images(path)[:]), gm.transform(dense)
    if kind == "valid":
        assert out is not None
    else:
        assert out is None, f"{kind} was accepted"
    if want is not None:
        np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)


def _write_h5ad(path, dense, kind, seed):
    """An .h5ad file holding ``dense`` as CSR with one structural defect in its arrays."""
    import anndata
    import h5py

    anndata.AnnData(X=sp.csr_matrix(dense.astype(np.float32))).write_h5ad(path)
    if kind == "valid":
        return
    good = sp.csr_matrix(dense.astype(np.float32))
    bad = corrupt(good, kind, np.random.default_rng(seed))
    with h5py.File(path, "r+") as f:
        g = f["X"]
        for key in ("indptr", "indices", "data"):
            del g[key]
            g.create_dataset(key, data=getattr(bad, key))


@settings(max_examples=40)
@given(cases(), st.sampled_from(["path", "backed"]), st.booleans(), st.integers(1, 7))
def test_malformed_sparse_on_disk_with_read_ahead(tmp_path_factory, case, how, read_ahead,
                                                  chunk):
    """The file's row blocks go through the read-ahead thread (several blocks, small chunks)
    and through the plain loop; an error raised in the reader thread ends the run cleanly."""
    import anndata

    _, dense, kind = case
    path = str(tmp_path_factory.mktemp("h") / "cells.h5ad")
    _write_h5ad(path, dense, kind, seed=dense.shape[0])
    src = refuses(lambda: as_source(path if how == "path"
                                    else anndata.read_h5ad(path, backed="r")))
    if src is None:
        assert kind != "valid"
        return
    blocks = refuses(lambda: [b.toarray() if sp.issparse(b) else b
                              for _, b in src.blocks(chunk, prefetch=read_ahead)])
    if kind == "valid":
        assert blocks is not None
    if blocks is not None:  # only a defect that changes no row may pass (none of these)
        np.testing.assert_allclose(np.concatenate(blocks), dense, rtol=1e-6)
    if how == "path":
        gm = refuses(lambda: gf.Genomap(4, 4, chunk_size=chunk, max_iter=5).fit(path))
        if kind == "valid":
            assert gm is not None


@pytest.mark.parametrize("kind", CORRUPTIONS[1:])
def test_check_sparse_structure_names_the_defect(kind):
    m = corrupt(sp.csr_matrix(np.eye(6)), kind, np.random.default_rng(1))
    with pytest.raises(ValueError, match="cells is a malformed sparse CSR matrix"):
        check_sparse_structure(m, "cells")


def test_coo_with_coordinates_out_of_range():
    m = sp.coo_matrix(np.eye(4))
    m.row = m.row.copy()
    m.row[1] = 9
    with pytest.raises(ValueError, match="malformed sparse COO"):
        gf.construct_genomap(m, 2, 2)
    m.row[1] = -1
    with pytest.raises(ValueError, match="malformed sparse COO"):
        gf.Genomap(2, 2).fit(m)


def test_non_monotone_indptr_regression():
    """The report: construct_genomap on a CSR matrix with a non-monotone indptr aborted the
    process (double free) after its error; now one ValueError and the process goes on."""
    X = sp.random(60, 30, density=0.3, format="csr", random_state=0)
    ptr = X.indptr.copy()
    ptr[10], ptr[11] = ptr[11] + 5, ptr[10]
    bad = X.copy()
    bad.indptr = ptr
    for _ in range(3):
        with pytest.raises(ValueError, match="indptr is not non-decreasing"):
            gf.construct_genomap(bad, 6, 6)
    images = gf.construct_genomap(X, 6, 6)  # and the process goes on
    assert images.shape == (60, 6, 6, 1) and np.isfinite(images).all()
