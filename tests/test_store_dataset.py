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


def test_dataloader_with_workers_sees_every_image_once(store):
    path, images, y = store
    ds = GenomapStoreDataset(path, labels=y)
    loader = torch.utils.data.DataLoader(ds, batch_size=32, num_workers=2,
                                         sampler=ChunkShuffleSampler(ds, seed=0))
    seen = {}
    for xb, yb in loader:
        assert xb.shape[1:] == (1, 48, 48)
        for img, lab in zip(xb, yb):
            matches = np.flatnonzero((images == img.numpy()).all(axis=(1, 2, 3)) & (y == int(lab)))
            assert matches.size >= 1
            seen[int(matches[0])] = seen.get(int(matches[0]), 0) + 1
    assert sum(seen.values()) == 700
