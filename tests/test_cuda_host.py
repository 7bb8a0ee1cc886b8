"""The CUDA backend on every machine: the module is built, imports without a GPU, reports
itself honestly, and its kernels' bodies (compiled for the host) equal the C++ core."""
import numpy as np
import pytest
import scipy.sparse as sp

import genomap_fast as gf
from genomap_fast import _core
from genomap_fast.backends import backends, resolve_device

_cuda = pytest.importorskip(
    "genomap_fast._cuda",
    reason="built without the CUDA backend (no CUDA compiler at install, or GENOMAP_FAST_CUDA=OFF)",
)


def _dest(rng, genes, image):
    dest = np.full(genes, -1, dtype=np.int64)
    placed = rng.choice(genes, size=min(genes, image) - 2, replace=False)
    dest[placed] = rng.choice(image, size=placed.size, replace=False)
    return dest


def test_module_reports_its_build():
    assert _cuda.runtime_version() >= 13000
    archs = set(_cuda.architectures.split(","))
    assert archs, "no architectures recorded"
    info = backends()
    assert info["cpu"] == {"available": True}
    assert info["cuda"]["runtime_version"] == _cuda.runtime_version()
    count, reason = _cuda.device_count()
    assert info["cuda"]["available"] == (count > 0 and _cuda.driver_version() > 0)
    if not info["cuda"]["available"]:
        assert info["cuda"]["reason"]  # says why: no driver, or no device
        assert ("driver" in info["cuda"]["reason"]) or ("device" in info["cuda"]["reason"])


@pytest.mark.skipif(backends()["cuda"]["available"], reason="a CUDA device is present")
def test_cuda_without_device_is_a_one_line_error():
    reason = backends()["cuda"]["reason"]
    with pytest.raises(RuntimeError) as err:
        gf.Genomap(4, 4, device="cuda")
    msg = str(err.value)
    assert "\n" not in msg and reason in msg
    assert gf.Genomap(4, 4, device="auto").device_ == "cpu"
    assert resolve_device("auto") == "cpu"
    X = np.random.default_rng(0).normal(size=(20, 16))
    with pytest.raises(RuntimeError, match="device='cuda' is unavailable") as err:
        gf.construct_genomap(X, 4, 4, device="cuda")
    assert "\n" not in str(err.value)
    np.testing.assert_array_equal(gf.construct_genomap(X, 4, 4, device="auto"),
                                  gf.construct_genomap(X, 4, 4))


def test_device_argument_is_checked():
    with pytest.raises(ValueError, match="device must be one of"):
        gf.Genomap(4, 4, device="gpu")
    assert gf.Genomap(4, 4).get_params()["device"] == "cpu"


@pytest.mark.parametrize("in_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("out_dtype", [np.float32, np.float64])
def test_host_raster_dense_equals_core(in_dtype, out_dtype):
    rng = np.random.default_rng(0)
    cells, genes, image = 37, 30, 36
    x = rng.standard_normal((cells, genes)).astype(in_dtype)
    dest = _dest(rng, genes, image)
    scale = image / 28
    ours = np.full((cells, image), 7, dtype=out_dtype)
    core = np.empty((cells, image), dtype=out_dtype)
    assert _cuda.host_raster_dense(x, dest, scale, ours) == -1
    assert _core.rasterize_dense(x, dest, scale, core, 1) == -1
    np.testing.assert_array_equal(ours, core)  # exactly
    x[5, 3] = np.nan
    x[9, 0] = np.inf
    assert _cuda.host_raster_dense(x, dest, scale, ours) == 5
    assert _core.rasterize_dense(x, dest, scale, core, 1) == 5


@pytest.mark.parametrize("idx_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("in_dtype", [np.float32, np.float64])
def test_host_raster_csr_equals_core(idx_dtype, in_dtype):
    rng = np.random.default_rng(1)
    cells, genes, image = 41, 25, 25
    dense = sp.random(cells, genes, density=0.3, random_state=2, dtype=in_dtype).toarray()
    dense[7] = 0  # an empty row
    m = sp.csr_matrix(dense)
    ip, ix = m.indptr.astype(idx_dtype), m.indices.astype(idx_dtype)
    dest = _dest(rng, genes, image)
    ours = np.full((cells, image), 3, dtype=np.float32)
    core = np.empty((cells, image), dtype=np.float32)
    assert _cuda.host_raster_csr(ip, ix, m.data, dest, 1.5, ours) == -1
    assert _core.rasterize_csr(ip, ix, m.data, dest, 1.5, core, 1) == -1
    np.testing.assert_array_equal(ours, core)
    data = m.data.copy()
    data[ip[12] + 1] = np.nan
    assert _cuda.host_raster_csr(ip, ix, data, dest, 1.5, ours) == 12
    assert _core.rasterize_csr(ip, ix, data, dest, 1.5, core, 1) == 12


@pytest.mark.parametrize("block_rows", [13, 50, 400])
def test_host_block_fold_equals_core(block_rows):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((203, 17)) * rng.uniform(0.1, 50, 17) + rng.uniform(-1e3, 1e3, 17)
    x[:, 4] = 2.5  # a constant gene
    count, shift, sums, cross = _cuda.host_block_fold(x, block_rows)
    acc = _core.CorrelationAccumulator(17)
    for start in range(0, x.shape[0], block_rows):
        acc.add_dense_block(np.ascontiguousarray(x[start : start + block_rows]), 1)
    n, c_count, has_shift, c_shift, c_sums, c_cross = acc.__getstate__()
    assert count == c_count == 203 and has_shift
    np.testing.assert_array_equal(shift, c_shift)
    np.testing.assert_allclose(sums, c_sums, rtol=1e-12, atol=1e-12 * np.abs(c_sums).max())
    up = np.triu_indices(17)
    scale = np.abs(c_cross[up]).max()
    np.testing.assert_allclose(cross[up], c_cross[up], rtol=1e-12, atol=1e-12 * scale)
    # the distance matrix the device's statistics give
    from genomap_fast._gpu import _accumulator_from_state
    from genomap_fast.interaction import stats_from_accumulator

    ours = stats_from_accumulator(_accumulator_from_state(count, shift, sums, cross)).distance
    core = gf.interaction_matrix(x, chunk_size=block_rows).distance
    np.testing.assert_allclose(ours, core, rtol=0, atol=1e-12)


def _sinkhorn_problem(seed, n=23, D=6):
    rng = np.random.default_rng(seed)
    capacity = (1 + rng.multinomial(n - D, np.full(D, 1 / D))).astype(np.int64)  # sums to n
    M = rng.uniform(0, 1, (n, D))
    return M, capacity


@pytest.mark.parametrize("reg", [0.5, 0.01, 1e-3])
def test_host_sinkhorn_step_equals_core(reg):
    M, capacity = _sinkhorn_problem(4)
    ours, it, _ = _cuda.host_sinkhorn_log(M, capacity, reg, 1, 0.0)
    core = _core.sinkhorn_classes(M, capacity, reg, 1, 0.0)
    core = core[0]
    assert it == 1
    np.testing.assert_allclose(ours, core, rtol=1e-12, atol=0)


def test_host_sinkhorn_converges_to_core():
    M, capacity = _sinkhorn_problem(5)
    ours, it, err = _cuda.host_sinkhorn_log(M, capacity, 0.05, 5000, 1e-12)
    core = _core.sinkhorn_classes(M, capacity, 0.05, 5000, 1e-12)
    core = core[0]
    assert err < 1e-12 and it < 5000
    np.testing.assert_allclose(ours, core, rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(ours.sum(1), 1 / M.shape[0], rtol=1e-12)


class _HostDevice:
    """Stands in for the device entry points of _cuda with the host-compiled kernel bodies, so
    the estimator's device="cuda" path (host arrays) runs here end to end."""

    def raster_dense_streamed(self, x, dest, scale, out, chunk_rows):
        assert chunk_rows >= 1
        bad = -1
        for c0 in range(0, x.shape[0], chunk_rows):
            b = _cuda.host_raster_dense(x[c0 : c0 + chunk_rows], dest, scale,
                                        out[c0 : c0 + chunk_rows])
            if b >= 0 and bad < 0:
                bad = c0 + b
        return bad

    class DeviceAccumulator:
        def __init__(self, n_genes, max_rows):
            self.n_genes, self.max_rows, self.blocks = n_genes, max_rows, []

        def add_host_block(self, block):
            assert block.shape[0] <= self.max_rows
            assert block.dtype in (np.float32, np.float64) and block.flags.c_contiguous
            self.blocks.append(block.astype(np.float64))  # the device widens float32 exactly

        def state(self):
            x = np.concatenate(self.blocks)
            sizes = {b.shape[0] for b in self.blocks[:-1]}
            assert len(sizes) <= 1  # equal blocks but the last: one block_rows describes them
            return _cuda.host_block_fold(x, self.blocks[0].shape[0])


def test_estimator_cuda_path_with_host_kernels(monkeypatch):
    from genomap_fast import _gpu

    monkeypatch.setattr(_gpu, "_cuda", lambda: _HostDevice())
    rng = np.random.default_rng(6)
    X = (rng.standard_normal((300, 4)) @ rng.standard_normal((4, 30))
         + rng.uniform(0, 3, 30)).astype(np.float32)
    cpu = gf.Genomap(6, 6, chunk_size=64).fit(X)
    gpu = gf.Genomap(6, 6, chunk_size=64)
    gpu.device_ = "cuda"  # as resolve_device gives on a GPU machine
    gpu.fit(X)
    np.testing.assert_array_equal(gpu.placement_, cpu.placement_)
    np.testing.assert_array_equal(gpu.transform(X), cpu.transform(X))
    Xs = sp.csr_matrix(np.where(X > 1, X, 0))
    np.testing.assert_array_equal(gpu.transform(Xs, batch_size=50), cpu.transform(Xs))
    bad = X.copy()
    bad[123, 7] = np.nan
    with pytest.raises(ValueError, match="123"):
        gpu.transform(bad)
    # the host-streamed rasterisation (kept beside the CPU gather, which is faster for host
    # arrays): same images in blocks that fit the cap, NaN named by its cell
    dest, scale = _gpu.placement_dest(gpu.placement_obj_, gpu.genes_, gpu.n_genes_in_)
    streamed = np.empty((300, 1, 6, 6), np.float32)
    _gpu.rasterize_host_block(X, dest, scale, streamed, max_device_bytes=4 * (30 + 36) * 7)
    np.testing.assert_array_equal(streamed, cpu.transform(X))
    with pytest.raises(ValueError, match="123"):
        _gpu.rasterize_host_block(bad, dest, scale, streamed)
    # a device-memory cap smaller than one block of 64 rows: blocks of what fits
    monkeypatch.setenv("GENOMAP_FAST_DEVICE_MEMORY", str(2 * 30 * 30 * 8 + 3 * 30 * 8 * 10))
    assert _gpu.block_rows(30) == 10
    capped = _gpu.interaction_matrix(X, chunk_size=64).distance
    np.testing.assert_allclose(capped, gf.interaction_matrix(X, chunk_size=10).distance,
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("solve", ["host_sinkhorn_log", "sinkhorn_log"])
def test_sinkhorn_bindings_refuse_bad_shapes(solve):
    """Both Sinkhorn bindings check their arguments the same way before any work (the device
    one before touching a device)."""
    fn = getattr(_cuda, solve)
    with pytest.raises(ValueError, match="M must be 2-D"):
        fn(np.ones(4), np.ones(4, dtype=np.int64), 0.1, 10, 1e-9)
    with pytest.raises(ValueError, match="one capacity per class"):
        fn(np.ones((4, 3)), np.ones(4, dtype=np.int64), 0.1, 10, 1e-9)


def test_device_block_rows_follow_the_cap(monkeypatch):
    from genomap_fast import _gpu

    monkeypatch.delenv("GENOMAP_FAST_DEVICE_MEMORY", raising=False)
    n = 300
    assert _gpu.block_rows(n, 8 << 20) == ((8 << 20) - 2 * n * n * 8) // (3 * n * 8)
    # the default cap (1 GiB) grows for wide statistics instead of refusing them
    wide = 10_000
    assert 2 * wide * wide * 8 > _gpu.DEFAULT_DEVICE_BYTES
    assert _gpu.block_rows(wide) == _gpu.DEFAULT_MIN_BLOCK_ROWS
    with pytest.raises(ValueError, match="cannot hold the 10000 x 10000 statistics"):
        _gpu.block_rows(wide, 1 << 30)  # a cap the caller gave is kept
    monkeypatch.setenv("GENOMAP_FAST_DEVICE_MEMORY", str(1 << 30))
    with pytest.raises(ValueError, match="cannot hold"):
        _gpu.block_rows(wide)
