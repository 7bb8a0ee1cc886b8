import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from genomap_fast.datasets import synthetic_counts

# Fuzz profiles (tests/test_fuzz_*.py): "default" is deterministic for CI; "long" before a
# release (make fuzz-long, or pytest --hypothesis-profile=long).
_FUZZ_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile("default", derandomize=True, deadline=None, max_examples=100,
                          suppress_health_check=_FUZZ_HEALTH, print_blob=True)
settings.register_profile("long", derandomize=False, deadline=None, max_examples=3000,
                          suppress_health_check=_FUZZ_HEALTH, print_blob=True)
settings.load_profile("default")


def gw_objective(C1, C2, T):
    """KL-loss GW objective of a coupling T (genes x used pixels) with the problem's uniform
    marginals p = q = 1/n, dense numpy (the oracle, docs/design.md section 1)."""
    n = T.shape[0]
    p = q = np.full(n, 1.0 / n)
    f1 = C1 * np.log(C1 + 1e-15) - C1
    return p @ f1 @ p + q @ C2 @ q - np.sum((C1 @ T @ np.log(C2 + 1e-15).T) * T)


@pytest.fixture(scope="session")
def objective():
    return gw_objective


@pytest.fixture(scope="session")
def pbmc():
    from genomap_fast.datasets import pbmc68k_reduced

    adata = pbmc68k_reduced()
    return np.asarray(adata.X, dtype=np.float64), adata.obs["bulk_labels"].astype(str).to_numpy()


@pytest.fixture(scope="session")
def small():
    """300 cells x 150 genes of log-normalised counts with gene modules (float64)."""
    X, y = synthetic_counts(300, 150, n_types=4, n_modules=12, seed=1)
    return X.astype(np.float64), y
