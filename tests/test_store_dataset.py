"""GenomapStoreDataset / ChunkShuffleSampler: CNN training from a zarr store, lazily."""
import numpy as np
import pytest

import genomap_fast as gf
from genomap_fast.datasets import synthetic_counts

zarr = pytest.importorskip("zarr")
torch = pytest.importorskip("torch")
from genomap_fast.cnn import ChunkShuffleSampler, GenomapStoreDataset  # noqa: E402


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    X, y = synthetic_counts(700, 60, n_types=3, n_modules=6, seed=5)
    g = gf.Genomap(48, 48).fit(X)  # 227 images per 2 MiB chunk: 4 chunks
    path = tmp_path_factory.mktemp("ds") / "s.zarr"
    g.write_zarr(path, X, batch_size=200)
    return str(path), g.transform(X), y


def test_items_equal_transform(store):
    path, images, y = store
    ds = GenomapStoreDataset(path, labels=y)
    assert len(ds) == 700 and ds.chunk_len < 700  # several chunks
    for i in (0, 1, ds.chunk_len, 699, -1):
        img, label = ds[i]
        assert img.shape == (1, 48, 48) and img.dtype == torch.float32
        np.testing.assert_array_equal(img.numpy(), images[i])
        assert label == y[i]
    with pytest.raises(IndexError):
        ds[700]
    assert GenomapStoreDataset(path)[5][1] == 5  # no labels: the cell index


def test_batch_fetch_reads_each_chunk_once(store):
    path, images, _ = store
    ds = GenomapStoreDataset(path, cache_chunks=0)
    idx = [650, 3, 3, 400, 1, 699, 2]
    batch = ds.__getitems__(idx)
    assert [b[1] for b in batch] == idx
    for (img, _), i in zip(batch, idx):
        np.testing.assert_array_equal(img.numpy(), images[i])
    chunks = {i // ds.chunk_len for i in idx}
    assert ds.n_chunk_reads == len(chunks)


def test_sequential_pass_decodes_each_chunk_once(store):
    path, images, _ = store
    ds = GenomapStoreDataset(path, cache_chunks=1)
    seen = np.stack([ds[i][0].numpy() for i in range(len(ds))])
    np.testing.assert_array_equal(seen, images)
    assert ds.n_chunk_reads == -(-700 // ds.chunk_len)


def test_bad_input(store, tmp_path):
    path, _, y = store
    with pytest.raises(ValueError, match="700 cells in the store but 3 labels"):
        GenomapStoreDataset(path, labels=y[:3])
    X, _ = synthetic_counts(50, 30, seed=1)
    g = gf.Genomap(6, 6).fit(X)
    bad = g.write_zarr(tmp_path / "bad.zarr", X)
    zarr.open_group(bad, mode="r+").attrs["complete"] = False  # as if killed mid-write
    with pytest.raises(ValueError, match="incomplete genomap store"):
        GenomapStoreDataset(bad)


def test_sampler_is_a_reproducible_chunk_shuffle(store):
    path, _, _ = store
    ds = GenomapStoreDataset(path)
    s = ChunkShuffleSampler(ds, seed=3)
    a = list(s)
    assert sorted(a) == list(range(700)) and a != list(range(700))
    assert list(ChunkShuffleSampler(ds, seed=3)) == a
    s.set_epoch(1)
    assert list(s) != a and sorted(s) == list(range(700))
    # cells of one chunk come together: chunk changes only between runs of a chunk
    runs = [c for k, c in enumerate(i // ds.chunk_len for i in a)
            if k == 0 or c != a[k - 1] // ds.chunk_len]
    assert len(runs) == len(set(runs)) == -(-700 // ds.chunk_len)


@pytest.mark.parametrize("context", ["fork", "forkserver"])  # forkserver pickles the dataset
def test_dataloader_training_loop_sees_every_image_once_per_epoch(store, context):
    path, images, y = store
    ds = GenomapStoreDataset(path)  # no labels: the cell index comes back as the label
    sampler = ChunkShuffleSampler(ds, seed=0)
    loader = torch.utils.data.DataLoader(ds, batch_size=32, num_workers=2, sampler=sampler,
                                         multiprocessing_context=context)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.Flatten(),
                                torch.nn.LazyLinear(3))
    model(torch.zeros(1, 1, 48, 48))
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    target = torch.as_tensor(y, dtype=torch.long)
    orders = []
    for epoch in range(2):
        sampler.set_epoch(epoch)
        order = []
        for xb, ib in loader:
            assert xb.shape[1:] == (1, 48, 48) and xb.dtype == torch.float32
            np.testing.assert_array_equal(xb.numpy(), images[ib.numpy()])
            loss = torch.nn.functional.cross_entropy(model(xb), target[ib])
            opt.zero_grad()
            loss.backward()
            opt.step()
            assert torch.isfinite(loss)
            order += ib.tolist()
        assert order == list(sampler)  # the sampler's order, batches kept in order
        assert sorted(order) == list(range(700))  # every cell exactly once per epoch
        orders.append(order)
    assert orders[0] != orders[1]


def test_opened_array_and_pickle(store):
    import pickle

    path, images, y = store
    arr = zarr.open_group(path, mode="r")["images"]
    ds = GenomapStoreDataset(arr, labels=y)
    assert ds.path is None and len(ds) == 700
    for i in (0, 350, -1):
        np.testing.assert_array_equal(ds[i][0].numpy(), images[i])
    copy = pickle.loads(pickle.dumps(ds))  # an opened array travels with the dataset
    np.testing.assert_array_equal(copy[699][0].numpy(), images[699])

    ds = GenomapStoreDataset(path, labels=y)
    ds[0]
    state = ds.__getstate__()
    assert state["images"] is None and len(state["_cache"]) == 0  # no handle, no cached data
    copy = pickle.loads(pickle.dumps(ds))
    assert len(copy._cache) == 0
    for i in (0, 400, -2):
        img, label = copy[i]
        np.testing.assert_array_equal(img.numpy(), images[i])
        assert label == y[i]
    with pytest.raises(ValueError, match="expected images"):
        GenomapStoreDataset(zarr.open_group(path, mode="r")["placement"])


def test_negative_and_out_of_range(store):
    path, images, _ = store
    ds = GenomapStoreDataset(path)
    img, label = ds[-700]
    np.testing.assert_array_equal(img.numpy(), images[0])
    assert label == 0 and ds[-1][1] == 699
    for bad in (700, -701):
        with pytest.raises(IndexError):
            ds[bad]
        with pytest.raises(IndexError):
            ds.__getitems__([0, bad])


def test_lru_cache_is_bounded(store):
    path, _, _ = store
    ds = GenomapStoreDataset(path, cache_chunks=2)
    c = ds.chunk_len
    for chunk in (0, 1, 0, 2):  # 0 is reused, so 1 is the least recently used when 2 comes
        ds[chunk * c]
    assert ds.n_chunk_reads == 3 and list(ds._cache) == [0, 2]
    ds[c + 1]  # chunk 1 was evicted: read again
    assert ds.n_chunk_reads == 4 and list(ds._cache) == [2, 1]
    off = GenomapStoreDataset(path, cache_chunks=0)
    for i in range(5):
        off[i]
    assert off.n_chunk_reads == 5 and len(off._cache) == 0  # no cache: a read per item
