"""The CUDA backend on a GPU (skipped without one): same placements, images and statistics as
the CPU path; device arrays in give device arrays out."""
import numpy as np
import pytest
import scipy.sparse as sp

import genomap_fast as gf
from genomap_fast import _core
from genomap_fast.backends import backends

pytestmark = pytest.mark.skipif(
    not backends()["cuda"]["available"],
    reason=f"no usable CUDA backend: {backends()['cuda'].get('reason', '')}",
)


def _data(cells=600, genes=49, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((cells, 5))
    return (z @ rng.standard_normal((5, genes)) + 0.3 * rng.standard_normal((cells, genes))
            + 3.0).astype(np.float32)


def test_placement_and_images_equal_cpu():
    X = _data()
    cpu = gf.Genomap(7, 7, device="cpu").fit(X)
    gpu = gf.Genomap(7, 7, device="cuda").fit(X)
    assert gpu.placement_obj_.device == "cuda"
    # the device's exact iteration reaches the CPU's objective or a lower one
    assert gpu.objective_ <= cpu.objective_ + 1e-12
    meta, arrays = gpu.to_state()  # the device's placement, rasterised on the CPU
    same_model = gf.Genomap.from_state({**meta, "params": {**meta["params"], "device": "cpu"}},
                                       arrays)
    np.testing.assert_array_equal(gpu.transform(X), same_model.transform(X))  # exactly
    Xs = sp.csr_matrix(np.where(X > 3.5, X, 0))
    np.testing.assert_array_equal(gpu.transform(Xs), cpu.transform(Xs))
    std_cpu = cpu.clone(standardize=True).fit(X)
    std_gpu = gpu.clone(standardize=True).fit(X)
    np.testing.assert_allclose(std_gpu.transform(X), std_cpu.transform(X), rtol=1e-6, atol=1e-6)


def test_interaction_matrix_equals_cpu():
    from genomap_fast import _gpu

    X = _data(5000, 300).astype(np.float64)
    ours = _gpu.interaction_matrix(X, chunk_size=777).distance
    cpu = gf.interaction_matrix(X, chunk_size=777).distance
    np.testing.assert_allclose(ours, cpu, rtol=0, atol=1e-12)


def test_cupy_in_cupy_out():
    cupy = pytest.importorskip("cupy")
    X = _data()
    gm = gf.Genomap(7, 7, device="cuda").fit(X)
    out = gm.transform(cupy.asarray(X))
    assert isinstance(out, cupy.ndarray) and out.dtype == np.float32
    np.testing.assert_array_equal(out.get(), gm.transform(X))
    for dtype in (np.float64, np.int32):  # any input dtype
        Xd = np.round(X).astype(dtype)
        np.testing.assert_array_equal(gm.transform(cupy.asarray(Xd)).get(),
                                      gm.transform(Xd.astype(np.float64)).astype(np.float32))
    import cupyx.scipy.sparse as csp

    Xs = sp.csr_matrix(np.where(X > 3.5, X, 0))
    np.testing.assert_array_equal(gm.transform(csp.csr_matrix(Xs)).get(), gm.transform(Xs))
    fit_dev = gf.Genomap(7, 7, device="cuda").fit(cupy.asarray(X))
    np.testing.assert_array_equal(fit_dev.placement_, gm.placement_)


def test_torch_in_torch_out():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch without CUDA")
    X = _data()
    gm = gf.Genomap(7, 7, device="cuda", layout="nhwc").fit(X)
    out = gm.transform(torch.as_tensor(X, device="cuda"))
    assert isinstance(out, torch.Tensor) and out.is_cuda and out.shape == (600, 7, 7, 1)
    np.testing.assert_array_equal(out.cpu().numpy(), gm.transform(X))


def test_float16_images():
    cupy = pytest.importorskip("cupy")
    from genomap_fast import _gpu

    X = _data()
    gm = gf.Genomap(7, 7).fit(X)
    dest, scale = _gpu.placement_dest(gm.placement_obj_, gm.genes_, gm.n_genes_in_)
    out = _gpu.rasterize_device(cupy.asarray(X), dest, scale, (600, 1, 7, 7), np.float16)
    ref = gm.clone(dtype=np.float64).fit(X).transform(X.astype(np.float64))
    np.testing.assert_array_equal(out.get(), ref.astype(np.float16))


@pytest.mark.parametrize("reg", [0.05, 0.005])
def test_sinkhorn_matches_cpu(reg):
    from genomap_fast import _gpu

    rng = np.random.default_rng(1)
    n, D = 400, 12
    capacity = (1 + rng.multinomial(n - D, np.full(D, 1 / D))).astype(np.int64)
    M = rng.uniform(0, 1, (n, D))
    ours, _, err = _gpu.sinkhorn_classes(M, capacity, reg, 10000, 1e-11)
    cpu = _core.sinkhorn_classes(M, capacity, reg, 10000, 1e-11)[0]
    assert err < 1e-11
    np.testing.assert_allclose(ours, cpu, rtol=1e-6, atol=1e-6 * cpu.max())


@pytest.mark.slow
def test_million_cells_through_a_small_device_cap():
    from genomap_fast import _gpu

    rng = np.random.default_rng(2)
    X = (rng.standard_normal((1_000_000, 64)) + rng.uniform(0, 5, 64)).astype(np.float32)
    small = _gpu.interaction_matrix(X, max_device_bytes=8 << 20).distance  # 8 MiB: ~5,000 rows
    large = _gpu.interaction_matrix(X, max_device_bytes=1 << 30).distance
    cpu = gf.interaction_matrix(X).distance
    np.testing.assert_allclose(small, cpu, rtol=0, atol=1e-12)
    np.testing.assert_allclose(large, cpu, rtol=0, atol=1e-12)
    gm = gf.Genomap(8, 8).fit(X[:20000])
    dest, scale = _gpu.placement_dest(gm.placement_obj_, gm.genes_, gm.n_genes_in_)
    capped = np.empty((1_000_000, 1, 8, 8), np.float32)
    _gpu.rasterize_host_block(X, dest, scale, capped, max_device_bytes=4 << 20)
    np.testing.assert_array_equal(capped, gm.transform(X))


def test_cnn_tasks_train_on_the_gpu(tmp_path):
    """The torch tasks on device="cuda": far above chance, the model on the GPU, reproducible
    with a seed on the GPU (up to float32 kernel rounding), save/load keeps the predictions."""
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch without CUDA")
    from genomap_fast.cnn import GenoDEC, GenoNetClassifier
    from genomap_fast.datasets import synthetic_counts

    X, y = synthetic_counts(400, 64, n_types=4, n_modules=8, seed=21)
    X = X.astype(np.float64)
    a = GenoNetClassifier(8, 8, epochs=15, seed=5, device="cuda").fit(X[:300], y[:300])
    assert next(a.model_.parameters()).is_cuda
    assert np.mean(a.predict(X[300:]) == y[300:]) > 0.8  # chance is 0.25
    b = GenoNetClassifier(8, 8, epochs=15, seed=5, device="cuda").fit(X[:300], y[:300])
    np.testing.assert_allclose(b.predict_proba(X[300:]), a.predict_proba(X[300:]), atol=1e-5)
    a.save(tmp_path / "clf.pt")
    back = GenoNetClassifier.load(tmp_path / "clf.pt")
    np.testing.assert_allclose(back.predict_proba(X[300:]), a.predict_proba(X[300:]),
                               atol=1e-5)
    dec = GenoDEC(8, 8, n_clusters=4, pretrain_epochs=5, maxiter=40, device="cuda").fit(X)
    assert dec.labels_.shape == (400,) and set(np.unique(dec.labels_)) <= {0, 1, 2, 3}
    assert dec.features_.shape == (400, 32) and np.isfinite(dec.features_).all()


def _gw_problem(n, seed=0):
    X = _data(800, n, seed).astype(np.float64)
    return gf.interaction_matrix(X).distance


@pytest.mark.parametrize("rows,cols,metric", [(10, 10, "radial"), (10, 10, "euclidean"),
                                               (12, 11, "euclidean")])
def test_device_gw_exact_reaches_the_cpu_objective(rows, cols, metric):
    from genomap_fast import _gpu_gw
    from genomap_fast.placement import make_grid

    n = rows * cols - 3
    C1 = _gw_problem(n)
    grid = make_grid(rows, cols, n, metric)
    cpu = _core.solve_gw_exact(C1, grid, 1000, 2)
    dev = _gpu_gw.place_exact(C1, grid, 1000)
    assert dev["converged"]
    assert dev["objective"] <= cpu.objective + 1e-12, (dev["objective"], cpu.objective)
    assert np.array_equal(np.bincount(dev["assign"], minlength=grid.n_classes), grid.capacity)
    again = _gpu_gw.place_exact(C1, grid, 1000)  # deterministic run to run
    np.testing.assert_array_equal(again["assign"], dev["assign"])
    assert again["objective"] == dev["objective"]


@pytest.mark.parametrize("metric", ["radial", "euclidean"])
def test_device_gw_entropic_equals_cpu(metric):
    from genomap_fast import _gpu_gw
    from genomap_fast.placement import make_grid

    C1 = _gw_problem(90)
    grid = make_grid(10, 9, 90, metric)
    cpu = _core.solve_gw_entropic(C1, grid, 0.05, 1000, 1e-9, 2)
    dev = _gpu_gw.place_entropic(C1, grid, 0.05, 1000, 1e-9)
    np.testing.assert_allclose(dev["coupling"], cpu.coupling, rtol=0, atol=1e-6)
    assert abs(dev["objective"] - cpu.objective) < 1e-6
    again = _gpu_gw.place_entropic(C1, grid, 0.05, 1000, 1e-9)
    np.testing.assert_array_equal(again["coupling"], dev["coupling"])


def test_backends_place_on_the_device():
    steps = backends()["cuda"]["steps"]
    assert steps["statistics"] == "cuda"
    assert steps["placement"] == "cuda", steps["placement"]
