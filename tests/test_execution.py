"""genomap_fast._execution: where a fit or transform runs is decided once (memory, dask, host
blocks with device statistics, device arrays), and every backend gets the estimator's memory
check and progress bars."""
import numpy as np
import pytest
import scipy.sparse as sp

import genomap_fast as gf
from genomap_fast import _execution, _gpu, estimator
from genomap_fast.datasets import synthetic_counts
from genomap_fast.interaction import interaction_matrix


class _FakeDeviceArray:
    """Stands in for a cupy array: recognised by _gpu.is_device_array, values on the host."""

    __cuda_array_interface__ = {}

    def __init__(self, a):
        self.a = np.asarray(a)
        self.shape = self.a.shape


@pytest.fixture
def fake_device(monkeypatch):
    """_gpu's device functions computed on the host (no GPU needed)."""
    monkeypatch.setattr(_gpu, "column_variance", lambda X: X.a.astype(np.float64).var(axis=0))
    monkeypatch.setattr(_gpu, "take_rows", lambda X, rows: _FakeDeviceArray(X.a[rows]))

    def stats(X, chunk_size=None, num_threads=None, columns=None, progress=None):
        data = X.a if isinstance(X, _FakeDeviceArray) else X
        return interaction_matrix(data, chunk_size, num_threads, columns, progress=progress)

    monkeypatch.setattr(_gpu, "interaction_matrix", stats)
    monkeypatch.setattr(_gpu, "transform_device",
                        lambda gm, X, shape: np.zeros(shape, dtype=gm.dtype))


@pytest.fixture
def memory_checks(monkeypatch):
    calls = []
    check = estimator.check_fit_memory

    def recorded(*args, **kwargs):
        calls.append(args[:3])
        return check(*args, **kwargs)

    monkeypatch.setattr(estimator, "check_fit_memory", recorded)
    return calls


def _cuda_genomap(**kwargs):
    gm = gf.Genomap(8, 8, **kwargs)
    gm.device_ = "cuda"  # as resolve_device gives on a GPU machine
    return gm


def test_the_backend_is_chosen_from_input_and_device(fake_device):
    da = pytest.importorskip("dask.array")
    X, _ = synthetic_counts(60, 20, seed=0)
    kinds = {
        "memory": _execution.execution_for(X),
        "csr": _execution.execution_for(sp.csr_matrix(X)),
        "dask": _execution.execution_for(da.from_array(X, chunks=(20, 20))),
        "dask+cuda": _execution.execution_for(da.from_array(X, chunks=(20, 20)), "cuda"),
        "host+cuda": _execution.execution_for(X, "cuda"),
        "device": _execution.execution_for(_FakeDeviceArray(X), "cuda"),
    }
    assert {k: type(v).__name__ for k, v in kinds.items()} == {
        "memory": "InProcess", "csr": "InProcess", "dask": "OnDask", "dask+cuda": "OnDask",
        "host+cuda": "HostOnDevice", "device": "OnDevice"}
    assert all(v.shape == (60, 20) for v in kinds.values())


@pytest.mark.parametrize("path", ["memory", "dask", "host+cuda", "device"])
def test_every_path_checks_memory_and_reports_progress(path, fake_device, memory_checks,
                                                       capsys):
    X, _ = synthetic_counts(200, 90, seed=1)  # more genes than pixels: the selection pass too
    data, gm = X, gf.Genomap(8, 8, select_genes="variance", progress=True)
    if path == "dask":
        da = pytest.importorskip("dask.array")
        data = da.from_array(X, chunks=(50, 90))
    elif path == "host+cuda":
        gm = _cuda_genomap(select_genes="variance", progress=True)
    elif path == "device":
        data, gm = _FakeDeviceArray(X), _cuda_genomap(select_genes="variance", progress=True)
    gm.fit(data)
    assert memory_checks == [(90, 64, gm.placement_obj_.grid().n_classes)]
    assert "statistics" in capsys.readouterr().err
    reference = gf.Genomap(8, 8, select_genes="variance").fit(X)
    np.testing.assert_array_equal(gm.placement_, reference.placement_)
    np.testing.assert_array_equal(gm.mean_, reference.mean_)
    images = gm.transform(data)
    assert images.shape == (200, 1, 8, 8)
    if path != "dask":  # a dask transform is lazy: nothing runs, nothing to report
        assert "genomaps" in capsys.readouterr().err


def test_device_sample_and_gene_names(fake_device):
    X, _ = synthetic_counts(200, 40, seed=2)
    names = [f"g{j}" for j in range(40)]
    gm = _cuda_genomap().fit(_FakeDeviceArray(X), sample=120, random_state=3, gene_names=names)
    host = gf.Genomap(8, 8).fit(X, sample=120, random_state=3, gene_names=names)
    np.testing.assert_array_equal(gm.placement_, host.placement_)
    assert gm.n_cells_ == 120 and list(gm.feature_names_in_) == names
    with pytest.raises(ValueError, match="39 gene names for 40 genes"):
        _cuda_genomap().fit(_FakeDeviceArray(X), gene_names=names[:-1])
    with pytest.raises(ValueError, match="sample must be an integer >= 2"):
        _cuda_genomap().fit(_FakeDeviceArray(X), sample=1)
    with pytest.raises(ValueError, match="X has 39 genes but this Genomap was fitted on 40"):
        gm.transform(_FakeDeviceArray(X[:, 1:]))
