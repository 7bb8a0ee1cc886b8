"""Deep embedded clustering (genoVis / genoDR): tiny, fast versions asserting real outcomes."""
import numpy as np
import pytest

pytest.importorskip("torch", reason="the CNN tasks need torch (installed by `make test`)")

from sklearn.metrics import adjusted_rand_score  # noqa: E402

from genomap_fast.cnn import GenoDEC, estimate_n_clusters, genoDR, genoVis  # noqa: E402
from genomap_fast.datasets import synthetic_counts  # noqa: E402

FAST = {"pretrain_epochs": 15, "maxiter": 40}


@pytest.fixture(scope="module")
def cells():
    X, y = synthetic_counts(240, 64, n_types=3, n_modules=8, seed=31)
    return X.astype(np.float64), y


def test_clusters_recover_cell_types_and_are_reproducible(cells):
    X, y = cells
    a = GenoDEC(8, 8, n_clusters=3, seed=1, **FAST).fit(X)
    assert a.labels_.shape == (240,) and a.features_.shape == (240, 32)
    assert a.n_clusters_ == 3
    assert adjusted_rand_score(y, a.labels_) > 0.3  # chance is 0
    b = GenoDEC(8, 8, n_clusters=3, seed=1, **FAST).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.features_, b.features_)
    np.testing.assert_array_equal(a.predict(X), a.labels_)
    assert a.transform(X[:7]).shape == (7, 32)


def test_genovis_and_genodr_shapes(cells):
    X, y = cells
    emb, labels = genoVis(X, n_clusters=None, rowNum=8, colNum=6, **FAST)
    assert emb.shape == (240, 2) and emb.dtype == np.float32
    assert labels.shape == (240,) and len(np.unique(labels)) >= 2
    feats = genoDR(X, n_dim=5, n_clusters=3, rowNum=8, colNum=8, **FAST)
    assert feats.shape == (240, 5) and np.isfinite(feats).all()


def test_estimate_n_clusters_on_separated_groups():
    rng = np.random.default_rng(0)
    pts = np.concatenate([rng.normal(c * 20, 1, size=(50, 3)) for c in range(4)])
    k, labels = estimate_n_clusters(pts)
    assert k == 4 and adjusted_rand_score(np.repeat(np.arange(4), 50), labels) == 1.0


def test_clustering_bad_input(cells):
    X, _ = cells
    with pytest.raises(ValueError, match="n_clusters=500 is more than the 240 cells"):
        GenoDEC(8, 8, n_clusters=500, **FAST).fit(X)
    with pytest.raises(ValueError, match="at least 3 cells"):
        GenoDEC(8, 8, n_clusters=2).fit(X[:2])
    bad = X.copy()
    bad[5, 5] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        GenoDEC(8, 8, n_clusters=2, **FAST).fit(bad)
    with pytest.raises(ValueError, match="n_clusters must be"):
        GenoDEC(8, 8, n_clusters=0)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"n_dim": 0}, ValueError, "n_dim must be >= 1, got 0"),
    ({"pretrain_epochs": -1}, ValueError, "pretrain_epochs must be >= 0, got -1"),
    ({"maxiter": -1}, ValueError, "maxiter must be >= 0"),
    ({"update_interval": 0}, ValueError, "update_interval must be >= 1"),
    ({"batch_size": 0}, ValueError, "batch_size must be >= 1"),
    ({"gamma": float("nan")}, ValueError, "gamma must be a finite number >= 0"),
    ({"gamma": -0.1}, ValueError, "gamma must be"),
    ({"lr": 0.0}, ValueError, "lr must be a finite number > 0"),
    ({"lr": float("inf")}, ValueError, "lr must be"),
    ({"tol": -1.0}, ValueError, "tol must be"),
    ({"n_dim": 2.5}, TypeError, "n_dim must be an integer, got float"),
    ({"batch_size": "64"}, TypeError, "batch_size must be an integer, got str"),
    ({"pretrain_epochs": True}, TypeError, "pretrain_epochs must be an integer, got bool"),
    ({"gamma": "0.1"}, TypeError, "gamma must be a number, got str"),
])
def test_clustering_parameters_are_checked(kwargs, error, message):
    """Each count and rate is checked when the estimator is made, by name (before: a batch of
    0 ended in a torch RuntimeError, an update interval of 0 in a ZeroDivisionError, n_dim 0 in
    k-means, a negative epoch count ran nothing)."""
    with pytest.raises(error, match=message):
        GenoDEC(8, 8, n_clusters=2, **kwargs)
    GenoDEC(8, 8, n_clusters=2, n_dim=np.int64(4), pretrain_epochs=0, maxiter=0, gamma=0)


def test_estimate_n_clusters_on_few_cells():
    """Fewer rows than n_neighbors + 2 (the graph then links each row to every other but its
    nearest): an estimate, not sklearn's "n_neighbors < n_samples_fit" error; one row is one
    cluster, none an error."""
    rng = np.random.default_rng(0)
    for n in (2, 3, 5, 16, 17):
        k, labels = estimate_n_clusters(rng.normal(size=(n, 3)))
        assert labels.shape == (n,) and 1 <= k <= n and set(labels) == set(range(k))
    assert estimate_n_clusters(np.ones((1, 3)))[0] == 1
    with pytest.raises(ValueError, match="at least 1 row"):
        estimate_n_clusters(np.ones((0, 3)))


def test_embeddings_of_very_few_cells():
    """genoTraj and genoVis on a handful of cells: an embedding from 4 cells up, a clear error
    below (PHATE and UMAP's initialisation fail on 3)."""
    from genomap_fast.cnn import genoTraj
    from genomap_fast.cnn.embedding import umap_2d

    X, _ = synthetic_counts(6, 64, n_types=2, seed=3)
    tiny = {"rowNum": 8, "colNum": 8, "pretrain_epochs": 1, "maxiter": 2}
    emb = genoTraj(X[:5], n_clusters=2, **tiny)
    assert emb.shape == (5, 2) and np.isfinite(emb).all()
    with pytest.raises(ValueError, match="genoTraj needs at least 4 cells, got 3"):
        genoTraj(X[:3], n_clusters=2, **tiny)
    with pytest.raises(ValueError, match="at least 4 cells, got 3"):
        umap_2d(np.ones((3, 4), dtype=np.float32), 0)
    with pytest.raises(ValueError, match="at least 4 cells, got 3"):
        genoVis(X[:3], n_clusters=2, **tiny)
    with pytest.raises(ValueError, match="pass n_clusters >= 2"):
        genoTraj(X[:5], n_clusters=1, **tiny)


def test_genotraj_follows_a_trajectory():
    from scipy.stats import spearmanr

    from genomap_fast.cnn import genoTraj

    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(0, 1, 240))
    centres, amp = rng.uniform(0, 1, 64), rng.uniform(1, 3, 64)
    X = amp / (1 + np.exp(-(t[:, None] - centres) * 12)) + rng.normal(0, 0.3, (240, 64))
    emb = genoTraj(X, n_clusters=8, rowNum=8, colNum=8, **FAST)
    assert emb.shape == (240, 2) and emb.dtype == np.float32 and np.isfinite(emb).all()
    assert max(abs(spearmanr(emb[:, i], t)[0]) for i in range(2)) > 0.5  # random: ~0


def test_principal_components_match_sklearn():
    from sklearn.decomposition import PCA

    from genomap_fast.cnn.traj import principal_components

    rng = np.random.default_rng(4)
    for A in (rng.normal(size=(40, 90)), rng.normal(size=(90, 40))):  # wide and tall
        scores, comps = principal_components(A, 10)
        ref = PCA(10, svd_solver="full").fit(A)
        assert scores.shape == (A.shape[0], 10) and comps.shape == (10, A.shape[1])
        np.testing.assert_allclose(np.abs(scores), np.abs(ref.transform(A)), atol=1e-9)
        np.testing.assert_allclose(comps @ comps.T, np.eye(10), atol=1e-12)
        assert (comps[np.arange(10), np.abs(comps).argmax(1)] > 0).all()
        again, _ = principal_components(-A, 10)  # the sign convention, not the input's sign
        np.testing.assert_allclose(np.abs(again), np.abs(scores), atol=1e-9)
    scores, comps = principal_components(rng.normal(size=(3, 5)), 50)  # capped at n - 1
    assert scores.shape == (3, 2) and comps.shape == (2, 5)


def test_principal_components_of_a_large_matrix_are_randomized_and_close(monkeypatch):
    from genomap_fast.cnn import traj

    rng = np.random.default_rng(5)
    A = rng.normal(size=(300, 8)) @ rng.normal(size=(8, 200)) + 0.01 * rng.normal(size=(300, 200))
    exact, _ = traj.principal_components(A, 5)
    monkeypatch.setattr(traj, "EXACT_PCA_MAX_SIDE", 100)  # both sides above: randomized
    approx, comps = traj.principal_components(A, 5)
    np.testing.assert_allclose(np.abs(approx), np.abs(exact), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(comps @ comps.T, np.eye(5), atol=1e-10)


def _sigmoid_course(seed, n=300, genes=40):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, 1, n))
    centres, amp = rng.uniform(0, 1, genes), rng.uniform(1, 3, genes)
    X = amp / (1 + np.exp(-(t[:, None] - centres) * 8)) + rng.normal(0, 0.3, (n, genes))
    return t, (X - X.mean(0)) / X.std(0, ddof=1)


def test_states_plus_pcs_keep_the_order_inside_a_state():
    """Four coarse states along a continuous course: the projection alone flattens the cells
    of a state; with the principal components beside it PHATE keeps their order."""
    from scipy.stats import spearmanr

    from genomap_fast.cnn.traj import trajectory_from_clusters

    t, Z = _sigmoid_course(0)
    labels = np.minimum((t * 4).astype(int), 3)

    def scores(emb):
        inside = []
        for c in range(4):
            idx = np.flatnonzero(labels == c)
            inside.append(abs(spearmanr(t[idx], np.linalg.norm(emb[idx] - emb[idx[0]], axis=1))[0]))
        return np.mean(inside), abs(spearmanr(t, np.linalg.norm(emb - emb[0], axis=1))[0])

    states = trajectory_from_clusters(Z, labels, 0, phate_input="states")
    both = trajectory_from_clusters(Z, labels, 0, phate_input="states+pcs")
    assert both.shape == (300, 2) and both.dtype == np.float32 and np.isfinite(both).all()
    (in_states, all_states), (in_both, all_both) = scores(states), scores(both)
    assert in_both > in_states + 0.05  # measured 0.83 against 0.73
    assert all_both > max(0.8, all_states)  # measured 0.94 (the projection alone: 0.06)


def test_phate_input_is_checked():
    from genomap_fast.cnn import genoTraj
    from genomap_fast.cnn.traj import trajectory_from_clusters

    t, Z = _sigmoid_course(1, n=40)
    with pytest.raises(ValueError, match="phate_input must be one of"):
        trajectory_from_clusters(Z, np.repeat([0, 1], 20), phate_input="pcs")
    with pytest.raises(ValueError, match="phate_input must be one of"):
        genoTraj(Z, n_clusters=2, rowNum=8, colNum=8, phate_input=None)  # before any training


def test_class_discriminative_projection_separates_classes():
    from genomap_fast.cnn import class_discriminative_projection

    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(3), 40)
    K = rng.normal(size=(120, 6)) + np.eye(3, 6)[labels] * 3
    P = class_discriminative_projection(K, labels, 2)
    assert P.shape == (120, 2)
    means = np.stack([P[labels == c].mean(0) for c in range(3)])
    within = np.mean([P[labels == c].std(0).mean() for c in range(3)])
    assert np.min(np.linalg.norm(means[:, None] - means[None], axis=2)[np.triu_indices(3, 1)]) \
        > 2 * within


def test_streamed_clustering_equals_materialised(cells):
    X, _ = cells
    whole = GenoDEC(8, 8, n_clusters=3, seed=2, **FAST).fit(X)
    streamed = GenoDEC(8, 8, n_clusters=3, seed=2, max_image_bytes=0, **FAST).fit(X)
    np.testing.assert_array_equal(whole.labels_, streamed.labels_)
    np.testing.assert_allclose(whole.features_, streamed.features_, atol=1e-5)
    eu = GenoDEC(8, 8, n_clusters=3, grid_metric="euclidean", **FAST).fit(X)
    assert eu.genomap_.grid_metric == "euclidean" and eu.labels_.shape == (240,)


@pytest.mark.parametrize("shape", [(28, 28), (32, 32), (6, 6), (1, 5), (33, 33), (28, 32)])
def test_reference_autoencoder_shapes(shape):
    """The reference's ConvIDEC autoencoder: 15/5/3-pixel kernels, a 'valid' last convolution
    when a side does not divide by 8 (28x28 -> 3x3x128, 32x32 -> 4x4x128), any grid shape."""
    import torch

    from genomap_fast.cnn.cluster import _modules

    _, ConvAutoencoder = _modules()
    rows, cols = shape
    model = ConvAutoencoder(rows, cols, 32, "reference")
    kernels = [conv.kernel_size for conv in model.convs]
    assert kernels == [(15, 15), (5, 5), (3, 3)]
    if shape == (28, 28):
        assert model.shape == (128, 3, 3)
    if shape == (32, 32):
        assert model.shape == (128, 4, 4)
    x = torch.randn(3, 1, rows, cols)
    z = model.encode(x)
    assert z.shape == (3, 32)
    assert model.decode(z).shape == (3, 1, rows, cols)
    with pytest.raises(ValueError, match="architecture must be one of"):
        ConvAutoencoder(rows, cols, 32, "resnet")


def test_tolerance_stops_the_clustering_stage(cells):
    X, _ = cells
    run_all = GenoDEC(8, 8, n_clusters=3, pretrain_epochs=2, maxiter=30, update_interval=10,
                      tol=0.0).fit(X)
    assert run_all.n_iter_ == 30
    # with tol = 1 every update after the first stops (fewer than 100% of cells moved)
    early = GenoDEC(8, 8, n_clusters=3, pretrain_epochs=2, maxiter=30, update_interval=10,
                    tol=1.0).fit(X)
    assert early.n_iter_ == 10
    with pytest.raises(ValueError, match="tol must be"):
        GenoDEC(tol=-1)
    with pytest.raises(ValueError, match="architecture must be one of"):
        GenoDEC(architecture="resnet")
