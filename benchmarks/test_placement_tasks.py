"""Does a lower GW objective help the tasks? The same CNN tasks on pbmc68k_reduced with the
reference's placement (``solver="exact"``) and with the annealed one (``solver="anneal"``),
same seeds, same splits, torch on 2 threads (its results depend on the thread count).

- cell recognition: GenoNetClassifier (genoNet, 100 epochs), 5 fixed stratified 80/20 splits
  (random_state 0-4); placement and standardisation fitted on the training cells;
- clustering: GenoDEC with the true number of clusters (10), ARI against ``bulk_labels``.
"""
import time

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score
from sklearn.model_selection import train_test_split

import genomap_fast as gf
from genomap_fast.datasets import pbmc68k_reduced

SUITE = "test_placement_tasks"
SIDE, SPLITS, EPOCHS = 28, 5, 100


def _pbmc():
    ad = pbmc68k_reduced()
    return np.asarray(ad.X, dtype=np.float64), ad.obs["bulk_labels"].astype(str).to_numpy()


def _template(solver):
    return gf.Genomap(SIDE, SIDE, solver=solver, seed=0, standardize=True)


@pytest.mark.parametrize("solver", ["exact", "anneal"])
def test_cell_recognition_by_placement(benchmark, record, quick, solver):
    torch = pytest.importorskip("torch")
    from genomap_fast.cnn import GenoNetClassifier

    torch.set_num_threads(2)
    X, y = _pbmc()
    splits = 1 if quick else SPLITS
    accs, objectives = [], []

    def run():
        for seed in range(splits):
            Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=seed,
                                                  stratify=y)
            clf = GenoNetClassifier(SIDE, SIDE, epochs=3 if quick else EPOCHS, seed=seed,
                                    genomap=_template(solver)).fit(Xtr, ytr)
            accs.append(float(np.mean(clf.predict(Xte) == yte)))
            objectives.append(clf.genomap_.objective_)

    benchmark.group = "cell recognition, pbmc68k_reduced"
    t0 = time.perf_counter()
    benchmark.pedantic(run, rounds=1, iterations=1)
    record(SUITE, f"cell recognition, {splits} splits, solver={solver}", "genomap_fast",
           time.perf_counter() - t0, accuracy=round(float(np.mean(accs)), 4),
           accuracy_sd=round(float(np.std(accs)), 4),
           objective=round(float(np.mean(objectives)), 6))
    assert np.mean(accs) > 0.15  # far above chance (10 classes)


@pytest.mark.parametrize("solver", ["exact", "anneal"])
def test_clustering_by_placement(benchmark, record, quick, solver):
    torch = pytest.importorskip("torch")
    from genomap_fast.cnn import GenoDEC

    torch.set_num_threads(2)
    X, y = _pbmc()
    k = len(np.unique(y))
    dec = GenoDEC(SIDE, SIDE, n_clusters=k, seed=0, genomap=_template(solver),
                  pretrain_epochs=3 if quick else 100, maxiter=10 if quick else 300)
    benchmark.group = "clustering, pbmc68k_reduced"
    t0 = time.perf_counter()
    benchmark.pedantic(dec.fit, args=(X,), rounds=1, iterations=1)
    ari = adjusted_rand_score(y, dec.labels_)
    record(SUITE, f"clustering, GenoDEC true k, solver={solver}", "genomap_fast",
           time.perf_counter() - t0,
           ari=round(float(ari), 4), objective=round(float(dec.genomap_.objective_), 6))
    assert ari > 0.05
