"""The drop-in layer (genomap_fast.compat): patch() puts our functions where the reference,
genomap 1.3.6, and the modules that import from it look them up; unpatch() restores them."""
import sys

import numpy as np
import pytest

import genomap_fast as gf
from genomap_fast.datasets import synthetic_counts


@pytest.fixture(scope="module")
def table():
    X, y = synthetic_counts(80, 40, n_types=3, n_modules=6, seed=11)
    return X.astype(np.float64), y


def test_patch_round_trip(table):
    import genomap
    import genomap.genomap as ref

    X, _ = table
    original = ref.construct_genomap
    patched = gf.compat.patch()
    try:
        assert "genomap.construct_genomap" in patched
        assert genomap.construct_genomap is gf.construct_genomap
        assert ref.construct_genomap_returnT is gf.construct_genomap_returnT
        out = genomap.construct_genomap(X, 7, 7)
        assert out.shape == (80, 7, 7, 1) and out.dtype == np.float64
    finally:
        gf.compat.unpatch()
    assert ref.construct_genomap is original


def test_patch_replaces_task_functions_where_the_reference_module_imports(monkeypatch):
    import types

    pytest.importorskip("torch")
    fake = types.ModuleType("genomap.genoVis")

    def reference_genovis(data, n_clusters=None):
        return "reference"

    fake.genoVis = reference_genovis
    monkeypatch.setitem(sys.modules, "genomap.genoVis", fake)
    patched = gf.compat.patch()
    try:
        assert "genomap.genoVis.genoVis" in patched
        from genomap_fast.cnn import genoVis

        assert fake.genoVis is genoVis
    finally:
        gf.compat.unpatch()
    assert fake.genoVis is reference_genovis
