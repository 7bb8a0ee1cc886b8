"""genoVis / genoMOIvis's UMAP drawing with umap's compiled code cached on disk: the cache is
written by the first process and read by the next, and the embedding is the one an uncached
run gives, to the bit."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("umap")

SCRIPT = r"""
import json, sys, numpy as np
from genomap_fast.cnn import embedding
F = np.random.default_rng(3).normal(size=(80, 6)).astype(np.float32)
turned_on = embedding.cache_umap_compilation()
again = embedding.cache_umap_compilation()
emb = embedding.umap_2d(F, 7)
import numba
print(json.dumps({"turned_on": turned_on, "again": again, "emb": emb.tolist(),
                  "dtype": str(emb.dtype), "layer": numba.threading_layer()}))
"""


def _run(cache_dir, enabled=True, stderr=None):
    env = {**{k: v for k, v in os.environ.items() if k != "NUMBA_THREADING_LAYER"},
           "NUMBA_CACHE_DIR": str(cache_dir),
           "GENOMAP_FAST_NUMBA_CACHE": "1" if enabled else "0"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    if stderr is not None:
        stderr.append(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _cache_files(folder):
    """Index files of the umap functions numba cached under ``folder`` (pynndescent, which umap
    imports, caches its own whatever we do)."""
    return sorted(f for root, _, files in os.walk(folder) for f in files
                  if f.endswith(".nbi") and os.path.basename(root).startswith("umap_"))


def test_cached_umap_gives_the_uncached_embedding(tmp_path):
    plain = _run(tmp_path / "off", enabled=False)
    assert plain["turned_on"] == 0
    first = _run(tmp_path / "cache")
    files = _cache_files(tmp_path / "cache")
    assert first["turned_on"] > 0 and first["again"] == 0
    # umap caches one function of its own (layouts.rdist); the rest only with the switch on
    new = set(files) - set(_cache_files(tmp_path / "off"))
    for name in ("smooth_knn_dist", "compute_membership_strengths", "optimize_layout"):
        assert any(name in f for f in new), files
    second = _run(tmp_path / "cache")  # loads what the first wrote
    assert _cache_files(tmp_path / "cache") == files
    # damaged cache files (all but umap's own layouts.rdist, which `import umap` loads and
    # which is umap's business): UMAP runs uncached with a warning, same embedding
    for root, _, names in os.walk(tmp_path / "cache"):
        for f in names:
            if os.path.basename(root).startswith("umap_") and "rdist" not in f:
                path = os.path.join(root, f)
                with open(path, "r+b") as fh:
                    fh.truncate(10)
    stderr = []
    damaged = _run(tmp_path / "cache", stderr=stderr)
    assert "RuntimeWarning" in stderr[0] and "GENOMAP_FAST_NUMBA_CACHE=0" in stderr[0]
    for run in (plain, first, second, damaged):
        assert run["layer"] == "workqueue"  # numba's own pool, not libgomp (see umap_2d)
    for run in (first, second, damaged):
        assert run["dtype"] == "float32"
        np.testing.assert_array_equal(np.array(run["emb"]), np.array(plain["emb"]))
    assert np.array(plain["emb"]).shape == (80, 2)


def test_umap_2d_is_seeded():
    from genomap_fast.cnn.embedding import umap_2d

    F = np.random.default_rng(0).normal(size=(40, 5))
    a, b = umap_2d(F, 1), umap_2d(F, 1)
    assert a.shape == (40, 2) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)


def test_an_input_error_is_not_taken_for_a_damaged_cache():
    import warnings

    from genomap_fast.cnn.embedding import cache_umap_compilation, umap_2d

    cache_umap_compilation()
    bad = np.random.default_rng(0).normal(size=(40, 5))
    bad[3, 2] = np.nan
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError):
            umap_2d(bad, 0)
    assert not [w for w in caught if "numba's cache" in str(w.message)]


WARM_SCRIPT = r"""
import json, numpy as np
from genomap_fast.cnn import embedding
F = np.random.default_rng(3).normal(size=(80, 6)).astype(np.float32)
before = embedding.umap_cache_is_filled()
started = embedding.start_umap_warmup()
again = embedding.start_umap_warmup()
embedding._wait_for_warmup()
filled = embedding.umap_cache_is_filled()
emb = embedding.umap_2d(F, 7)
# the dispatchers whose cache it turned on (umap's tau_rand* have explicit signatures: numba
# compiles them when umap is imported, cache or not)
stats = {}
for d in embedding._cached:  # (some names are bound to two dispatchers)
    hits, misses = stats.setdefault(d.py_func.__name__, [0, 0])
    stats[d.py_func.__name__] = [hits + sum(d.stats.cache_hits.values()),
                                 misses + sum(d.stats.cache_misses.values())]
print(json.dumps({"before": before, "started": started, "again": again, "filled": filled,
                  "stats": stats, "emb": emb.tolist()}))
"""


def test_warmup_helper_fills_the_cache_this_process_then_reads(tmp_path, monkeypatch):
    """An empty cache: a helper process compiles umap while the caller works; the caller's
    UMAP then loads every function from the cache (no compilation of its own) and draws the
    same embedding."""
    from genomap_fast.cnn import embedding

    env = {**{k: v for k, v in os.environ.items()
              if k not in ("NUMBA_THREADING_LAYER", "GENOMAP_FAST_UMAP_WARMUP")},
           "NUMBA_CACHE_DIR": str(tmp_path), "GENOMAP_FAST_NUMBA_CACHE": "1"}
    done = subprocess.run([sys.executable, "-c", WARM_SCRIPT], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    run = json.loads(done.stdout.strip().splitlines()[-1])
    assert not run["before"] and run["started"] and not run["again"] and run["filled"]
    for name in ("fast_knn_indices", "smooth_knn_dist", "compute_membership_strengths",
                 "_optimize_layout_euclidean_single_epoch"):
        assert run["stats"][name] == [1, 0], (name, run["stats"])  # loaded, not compiled
    names = _cache_files(tmp_path)
    for name in ("smooth_knn_dist", "compute_membership_strengths", "optimize_layout"):
        assert any(name in f for f in names), names
    F = np.random.default_rng(3).normal(size=(80, 6)).astype(np.float32)
    np.testing.assert_array_equal(np.array(run["emb"], dtype=np.float32),
                                  embedding.umap_2d(F, 7))
    # nothing to do once filled, or when switched off (no process is started)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert embedding.umap_cache_is_filled() and not embedding.start_umap_warmup()
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "empty"))
    assert not embedding.umap_cache_is_filled()
    for variable in ("GENOMAP_FAST_UMAP_WARMUP", "GENOMAP_FAST_NUMBA_CACHE"):
        monkeypatch.setenv(variable, "0")
        assert not embedding.start_umap_warmup()
        monkeypatch.delenv(variable)


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """The embedding module with an empty numba cache in tmp_path, the cache and the helper
    switched on, and no helper failure recorded in this process."""
    from genomap_fast.cnn import embedding

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("GENOMAP_FAST_NUMBA_CACHE", "1")
    monkeypatch.delenv("GENOMAP_FAST_UMAP_WARMUP", raising=False)
    monkeypatch.setattr(embedding, "_warmup_failed", False)
    return embedding


def test_a_helper_that_fills_nothing_is_not_started_again(empty_cache, monkeypatch):
    """A helper that ends without filling the cache (here it exits at once; in practice: no
    writable cache folder) is not started again in the same process."""
    embedding = empty_cache
    monkeypatch.setattr(embedding, "_WARMUP_SCRIPT", "raise SystemExit(3)")
    monkeypatch.setattr(embedding, "_enabled", False)  # as in a process where UMAP never ran
    assert embedding.start_umap_warmup()
    embedding._wait_for_warmup()
    assert not embedding.umap_cache_is_filled() and not embedding.start_umap_warmup()


def test_no_helper_once_umap_ran_in_this_process(empty_cache, monkeypatch):
    """After a UMAP call in this process its functions are compiled here: an empty cache on
    disk (e.g. an unwritable one) starts no helper on later calls."""
    embedding = empty_cache
    monkeypatch.setattr(embedding, "_enabled", True)
    assert not embedding.umap_cache_is_filled() and not embedding.start_umap_warmup()
