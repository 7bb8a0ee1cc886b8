"""Typed solver results: named read-only attributes with the documented shapes, and the frozen
PlacementResult built from them."""
import dataclasses

import numpy as np
import pytest

import genomap_fast as gf
from genomap_fast import _core
from genomap_fast.placement import Placement, PlacementResult, make_grid


@pytest.fixture(scope="module")
def problem(small):
    C1 = gf.interaction_matrix(small[0][:, :144]).distance
    return C1, make_grid(12, 12, 144, "radial")


def _read_only(result, names):
    for name in names:
        with pytest.raises(AttributeError):
            setattr(result, name, getattr(result, name))
        value = getattr(result, name)
        if isinstance(value, np.ndarray):
            assert not value.flags.writeable
            with pytest.raises(ValueError):
                value[...] = 0


def test_exact_result_fields(problem):
    C1, grid = problem
    r = _core.solve_gw_exact(C1, grid, 1000, 1)
    assert isinstance(r, _core.ExactResult)
    assert r.assign.shape == (144,) and r.assign.dtype == np.int64
    assert np.array_equal(np.bincount(r.assign, minlength=grid.n_classes), grid.capacity)
    assert r.trace.shape == (r.n_iter - r.converged,) and r.trace.dtype == np.float64
    assert r.objective == r.trace.min() and r.converged
    assert r.moved.shape == r.scans.shape == r.seconds.shape == (r.n_iter - 1,)
    assert r.potentials.shape == (grid.n_classes,)
    assert r.objective == pytest.approx(_core.objective_assignment(C1, grid, r.assign), rel=1e-12)
    _read_only(r, ["assign", "objective", "n_iter", "converged", "trace", "moved"])
    assert "ExactResult(n_genes=144" in repr(r)


def test_entropic_and_within_class_result_fields(problem):
    C1, grid = problem
    e = _core.solve_gw_entropic(C1, grid, 0.05, 20)
    assert isinstance(e, _core.EntropicResult)
    assert e.coupling.shape == (144, grid.n_classes)
    np.testing.assert_allclose(e.coupling.sum(1), 1 / 144, rtol=1e-6)
    assert e.n_iter >= 1 and e.sinkhorn_iters >= e.n_iter and e.last_change >= 0
    _read_only(e, ["coupling", "objective", "n_iter", "last_change"])
    r = _core.solve_gw_exact(C1, grid, 1000, 1)
    w = _core.place_within_classes(C1, grid, r.assign, 10, 1)
    assert isinstance(w, _core.WithinClassResult)
    assert np.array_equal(np.sort(w.pixel), np.arange(144))
    assert np.array_equal(grid.class_of_pixel[w.pixel], r.assign)
    assert w.euclidean_after >= w.euclidean_before
    _read_only(w, ["pixel", "rounds", "euclidean_after"])


def test_multilevel_result_fields(small):
    C1 = gf.interaction_matrix(small[0][:, :144]).distance
    m = _core.solve_gw_multilevel(C1, make_grid(12, 12, 144, "euclidean"), 1000, 1, 16, 2)
    assert isinstance(m, _core.MultilevelResult) and isinstance(m.finest, _core.ExactResult)
    assert list(m.tiles) == [2, 1] and m.level_iter.shape == m.level_seconds.shape == (2,)
    assert m.n_iter == m.level_iter.sum() and m.finest_iter == m.finest.n_iter == m.level_iter[-1]
    assert np.array_equal(m.assign, m.finest.assign) and m.objective == m.finest.objective
    assert m.trace.shape == (m.finest_iter - m.converged,)
    _read_only(m, ["assign", "n_iter", "tiles", "finest"])
    finest, assign = m.finest, m.assign
    del m  # views and the finest result keep the solver's arrays alive
    assert np.array_equal(finest.assign, assign) and assign.sum() == 144 * 143 // 2


def test_placement_result_is_frozen_with_named_fields(problem):
    C1, _ = problem
    p = gf.solve_placement(C1, 12, 12)
    assert Placement is PlacementResult and isinstance(p, PlacementResult)
    assert p.epsilon == 0.0 and p.class_coupling is None
    assert p.pixel.shape == p.classes.shape == (144,)
    assert p.trace.shape == (p.n_iter - p.converged,)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.objective = 0.0
    q = dataclasses.replace(p, objective=1.0)  # keyword construction from fields
    assert q.objective == 1.0 and q.pixel is p.pixel
    e = gf.solve_placement(C1, 12, 12, epsilon=0.05, max_iter=20)
    assert e.pixel is None and e.classes is None and e.class_coupling.shape[0] == 144
    assert e.coupling().shape == (144, 144)


def test_transport_result_fields():
    rng = np.random.default_rng(0)
    cap = np.array([2, 1, 3])
    cost = rng.normal(size=(6, 3))
    t = _core.solve_transport(cost, cap)
    assert isinstance(t, _core.TransportResult)
    assert np.array_equal(np.bincount(t.assign, minlength=3), cap)
    assert t.cost == pytest.approx(cost[np.arange(6), t.assign].sum(), rel=1e-14)
    assert t.potentials.shape == (3,) and t.n_greedy + t.n_augment >= 1
    _read_only(t, ["assign", "cost", "potentials", "n_augment"])
    again = _core.solve_transport(cost, cap, potentials=t.potentials, previous=t.assign)
    assert np.array_equal(again.assign, t.assign)
