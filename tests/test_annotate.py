"""genoannotate (scType markers, offline): scores, cluster and per-cell labels, marker inputs,
errors, and what it writes into the AnnData."""
import anndata
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import genomap_fast as gf
from genomap_fast import annotate as an

N_TYPES, PER_TYPE, N_GENES = 4, 60, 48
NAMES = ["T0", "T1", "T2", "T3"]


def planted(seed=0, per_type=PER_TYPE):
    """Log-normalised cells of four types; type t expresses genes G{4t}..G{4t+3} highly."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(N_TYPES), per_type)
    X = rng.poisson(0.4, size=(y.size, N_GENES)).astype(float)
    for t in range(N_TYPES):
        X[y == t, 4 * t : 4 * t + 4] += rng.poisson(5.0, size=(per_type, 4))
    X[:, -1] = 1.0  # a constant gene
    obs = pd.DataFrame({"truth": np.asarray(NAMES)[y]},
                       index=[f"c{i}" for i in range(y.size)])
    var = pd.DataFrame(index=[f"G{j}" for j in range(N_GENES)])
    return anndata.AnnData(np.log1p(X).astype(np.float32), obs=obs, var=var)


MARKERS = {
    "T0": (["g0", "G1", "G2", "G3"], ["G4"]),
    "T1": ["G4", "G5", "G6", "G7", "G1"],  # G1 is shared with T0: lower sensitivity
    "T2": "G8, G9,G10,G11,NOTAGENE",
    "T3": (["G12", "G13", "G14", "G15", f"G{N_GENES - 1}"], []),  # the constant gene
}


def reference_scores(X, var_names, sets):
    """scType's sctype_score restated from the reference (genomap 1.3.6 genotype.py), loops and
    all: z-scores over cells with ddof=1 (NaN -> 0), sensitivity from the full positive lists,
    sum(z_pos)/sqrt(n_pos) + sum(-z_neg)/sqrt(n_neg) (NaN -> 0 without negatives)."""
    names = [v.upper() for v in var_names]
    gs = [p for p, _ in sets.values()]
    gs2 = [n for _, n in sets.values()]
    counts = pd.Series([g for lst in gs for g in lst]).value_counts()
    sens = {g: (len(gs) - c) / (len(gs) - 1) for g, c in counts.items()}
    with np.errstate(invalid="ignore", divide="ignore"):
        Z = (X - X.mean(0)) / X.std(0, ddof=1)
    Z = np.nan_to_num(Z, nan=0.0)
    Z = pd.DataFrame(Z, columns=names)
    gs = [[g for g in lst if g in names] for lst in gs]
    gs2 = [[g for g in lst if g in names] for lst in gs2]
    for g in set(np.concatenate(gs)):
        Z[g] = Z[g] * sens[g]
    out = np.zeros((X.shape[0], len(gs)))
    for t in range(len(gs)):
        for j in range(X.shape[0]):
            pos = Z.iloc[j][gs[t]].to_numpy()
            neg = -Z.iloc[j][gs2[t]].to_numpy()
            s1 = pos.sum() / np.sqrt(len(pos))
            with np.errstate(invalid="ignore"):
                s2 = neg.sum() / np.sqrt(len(neg))
            out[j, t] = s1 + (0.0 if np.isnan(s2) else s2)
    return out


def test_scores_equal_the_reference_formula():
    ad = planted(per_type=15)
    sets = an.read_markers(MARKERS)
    ours = an.sctype_scores(ad, an.MarkerWeights(sets, ad.var_names))
    ref = reference_scores(np.asarray(ad.X, dtype=np.float64), list(ad.var_names), sets)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-10)


def test_cluster_mode_labels_and_entries():
    ad = planted()
    X0 = ad.X.copy()
    gf.tl.genoannotate(ad, MARKERS, groupby="truth", method="cluster")
    assert np.array_equal(ad.X, X0)
    assert (ad.obs["genoannotate"].astype(str) == ad.obs["truth"]).all()
    assert isinstance(ad.obs["genoannotate"].dtype, pd.CategoricalDtype)
    assert ad.obsm["genoannotate_scores"].shape == (ad.n_obs, 4)
    u = ad.uns["genoannotate"]
    assert u["types"].tolist() == NAMES
    assert u["markers_missing"].tolist()[2] == "NOTAGENE"
    assert u["markers_used"].tolist()[0] == "G0,G1,G2,G3"
    assert u["negative_used"].tolist()[0] == "G4"
    assert list(u["clusters"]["type"]) == NAMES


def test_unknown_cluster():
    ad = planted()
    noise = ad.obs["truth"].to_numpy().copy()
    noise[:] = "all"  # one cluster of every type: no type sums to a quarter of its cells
    ad.obs["one"] = noise
    gf.tl.genoannotate(ad, {"T0": ["G0", "G1"], "T1": ["G4", "G5"]}, groupby="one",
                       method="cluster")
    # the summed z-scores of one cluster of all cells are 0: below n/4
    assert set(ad.obs["genoannotate"]) == {"Unknown"}


def test_per_cell_beats_cluster_labels_on_a_mixed_cluster():
    ad = planted(seed=1)
    mixed = ad.obs["truth"].to_numpy().copy()
    mixed[np.isin(mixed, ["T2", "T3"])] = "T2+T3"  # one cluster, two types
    ad.obs["clusters"] = mixed
    gf.tl.genoannotate(ad, MARKERS, groupby="clusters", method="cell", epochs=20, seed=0)
    truth = ad.obs["truth"].to_numpy()
    cell = np.mean(ad.obs["genoannotate"].astype(str).to_numpy() == truth)
    cluster = np.mean(ad.obs["genoannotate_cluster"].astype(str).to_numpy() == truth)
    assert cluster <= 0.76  # half of the mixed cluster is wrong
    assert cell >= 0.95 and cell > cluster + 0.15
    assert ad.obs["genoannotate_confident"].dtype == bool
    assert ad.uns["genoannotate"]["params"]["n_confident"] > 0


def test_marker_input_forms(tmp_path):
    ad = planted(per_type=10)
    ref = an.sctype_scores(ad, an.MarkerWeights(an.read_markers(MARKERS), ad.var_names))
    table = pd.DataFrame({
        "tissueType": ["Blood"] * 4 + ["Liver"],
        "cellName": NAMES + ["Hepatocyte"],
        "geneSymbolmore1": ["G0,G1,G2,G3", "G4,G5,G6,G7,G1", "G8,G9,G10,G11,NOTAGENE",
                            f"G12,G13,G14,G15,G{N_GENES - 1}", "ALB"],
        "geneSymbolmore2": ["G4", np.nan, None, "", "G0"],
    })
    table.to_csv(tmp_path / "m.csv", index=False)
    table.to_csv(tmp_path / "m.tsv", sep="\t", index=False)
    table.to_excel(tmp_path / "m.xlsx", index=False)
    as_lists = {**MARKERS, "T0": (np.array(["G0", "G1", "G2", "G3"]), "G4"),
                "T2": ["G8", "g9", "G10 ", "G11", "NOTAGENE", "G8"]}
    forms = [as_lists, (table, "Blood"), (str(tmp_path / "m.csv"), "Blood"),
             (tmp_path / "m.tsv", "Blood"), (tmp_path / "m.xlsx", "Blood")]
    for form in forms:
        m, tissue = form if isinstance(form, tuple) else (form, None)
        got = an.sctype_scores(ad, an.MarkerWeights(an.read_markers(m, tissue), ad.var_names))
        np.testing.assert_allclose(got, ref, atol=1e-12)
    single = table[table["tissueType"] == "Blood"].drop(columns="tissueType")
    assert an.read_markers(single) == an.read_markers(MARKERS)


def test_type_without_markers_is_named():
    ad = planted(per_type=10)
    bad = {**MARKERS, "Ghost cells": ["NOPE1", "nope2"]}
    with pytest.raises(ValueError, match="Ghost cells"):
        gf.tl.genoannotate(ad, bad, groupby="truth", method="cluster")
    gf.tl.genoannotate(ad, bad, groupby="truth", method="cluster", drop_empty=True)
    assert ad.uns["genoannotate"]["dropped"].tolist() == ["Ghost cells"]
    assert ad.uns["genoannotate"]["types"].tolist() == NAMES


def test_sparse_dense_backed_layer_equal(tmp_path):
    ad = planted(per_type=20)
    dense = an.sctype_scores(ad, an.MarkerWeights(an.read_markers(MARKERS), ad.var_names))
    sparse = ad.copy()
    sparse.X = sp.csr_matrix(sparse.X)
    Xs = sparse.X.copy()
    gf.tl.genoannotate(sparse, MARKERS, groupby="truth", method="cluster")
    assert (sparse.X != Xs).nnz == 0
    np.testing.assert_allclose(sparse.obsm["genoannotate_scores"], dense, atol=1e-10)
    for X in (ad.X, sparse.X):
        lay = anndata.AnnData(np.zeros(ad.shape, np.float32), obs=ad.obs.copy(),
                              var=ad.var.copy(), layers={"logn": X})
        gf.tl.genoannotate(lay, MARKERS, layer="logn", groupby="truth", method="cluster")
        np.testing.assert_allclose(lay.obsm["genoannotate_scores"], dense, atol=1e-10)
    sparse.write_h5ad(tmp_path / "s.h5ad")
    backed = anndata.read_h5ad(tmp_path / "s.h5ad", backed="r")
    out = an.sctype_scores(backed, an.MarkerWeights(an.read_markers(MARKERS),
                                                    backed.var_names), step=7)
    np.testing.assert_allclose(out, dense, atol=1e-10)
    backed.file.close()


def test_h5ad_round_trip_and_leiden(tmp_path):
    ad = planted(per_type=30)
    X0 = ad.X.copy()
    out = gf.tl.genoannotate(ad, MARKERS, method="cluster", copy=True)
    assert "genoannotate" not in ad.obs and np.array_equal(ad.X, X0)
    acc = np.mean(out.obs["genoannotate"].astype(str) == out.obs["truth"])
    assert acc >= 0.95  # Leiden finds the four planted types
    out.write_h5ad(tmp_path / "a.h5ad")
    back = anndata.read_h5ad(tmp_path / "a.h5ad")
    assert back.obs["genoannotate"].tolist() == out.obs["genoannotate"].tolist()
    np.testing.assert_array_equal(back.obsm["genoannotate_scores"],
                                  out.obsm["genoannotate_scores"])
    u, v = back.uns["genoannotate"], out.uns["genoannotate"]
    assert list(u["types"]) == list(v["types"])
    assert list(u["markers_missing"]) == list(v["markers_missing"])
    pd.testing.assert_frame_equal(u["clusters"].reset_index(drop=True),
                                  v["clusters"].reset_index(drop=True), check_dtype=False)


@pytest.mark.parametrize("markers, kwargs, err, match", [
    (3, {}, TypeError, "markers must be"),
    ({}, {}, ValueError, "empty"),
    ({"A": (["G0"], ["G1"], ["G2"])}, {}, ValueError, "positive, negative"),
    ({"A": 5}, {}, TypeError, "list of gene symbols"),
    (MARKERS, {"tissue": "Blood"}, ValueError, "tissue= filters a marker table"),
    ("/no/such/markers.csv", {}, ValueError, "does not exist"),
    ("markers.json", {}, ValueError, "does not exist"),
    (MARKERS, {"method": "vote"}, ValueError, "method"),
    (MARKERS, {"confidence": "sure"}, ValueError, "confidence"),
    (MARKERS, {"groupby": "nope"}, ValueError, "no obs column"),
    ({"A": ["X1"], "B": ["X2"]}, {"drop_empty": True}, ValueError, "no cell type"),
    # before: n_neighbors=0 failed in scikit-learn, resolution=nan and rows=0 passed silently
    (MARKERS, {"n_neighbors": 0}, ValueError, "n_neighbors must be >= 1, got 0"),
    (MARKERS, {"resolution": float("nan")}, ValueError, "resolution must be a finite number > 0"),
    (MARKERS, {"rows": 0}, ValueError, "rows must be >= 1, got 0"),
    (MARKERS, {"cols": 4.5}, TypeError, "cols must be an integer"),
    (MARKERS, {"epochs": 0}, ValueError, "epochs must be >= 1"),
    (MARKERS, {"max_train_per_type": 0}, ValueError, "max_train_per_type must be >= 1"),
])
def test_bad_input(markers, kwargs, err, match):
    ad = planted(per_type=5)
    with pytest.raises(err, match=match):
        gf.tl.genoannotate(ad, markers, **{"method": "cluster", "groupby": "truth", **kwargs})


def test_bad_tables(tmp_path):
    t = pd.DataFrame({"tissueType": ["A", "B"], "cellName": ["x", "y"],
                      "geneSymbolmore1": ["G0", "G1"]})
    with pytest.raises(ValueError, match="pass tissue="):
        an.read_markers(t)
    with pytest.raises(ValueError, match="no rows of tissue 'C'"):
        an.read_markers(t, "C")
    with pytest.raises(ValueError, match="no type column"):
        an.read_markers(t.drop(columns="cellName"), "A")
    with pytest.raises(ValueError, match="appears twice"):
        an.read_markers(pd.DataFrame({"cellName": ["x", "x"], "geneSymbolmore1": ["G0", "G1"]}))
    (tmp_path / "m.json").write_text("{}")
    with pytest.raises(ValueError, match="expected a .csv"):
        an.read_markers(tmp_path / "m.json")


# ------------------------------------------------- the reference's call and the command line
def _counts(seed=0, per_type=80, n_genes=400):
    """Raw counts of three types over n_genes genes (every cell expresses > 200 genes); type t
    has a program of n_genes // 6 genes high, its first five named M{t}_0..M{t}_4 (markers)."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), per_type)
    X = rng.poisson(1.5, size=(y.size, n_genes)).astype(np.float32)
    names = [f"G{j}" for j in range(n_genes)]
    width = n_genes // 6
    for t in range(3):
        for k in range(5):
            names[width * t + k] = f"M{t}_{k}"
        X[y == t, width * t : width * (t + 1)] += rng.poisson(6.0, size=(per_type, width))
    obs = pd.DataFrame({"truth": [f"Type{t}" for t in y]}, index=[f"c{i}" for i in range(y.size)])
    return anndata.AnnData(X, obs=obs, var=pd.DataFrame(index=names))


def _table(path):
    rows = [{"tissueType": "Blood", "cellName": f"Type{t}",
             "geneSymbolmore1": ",".join(f"M{t}_{k}" for k in range(5)),
             "geneSymbolmore2": ""} for t in range(3)]
    rows.append({"tissueType": "Other", "cellName": "Nope", "geneSymbolmore1": "M0_0",
                 "geneSymbolmore2": ""})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_compat_genoannotate_offline(tmp_path):
    from genomap_fast.compat import genoAnnotate

    ad = _counts()
    X0 = ad.X.copy()
    out = genoAnnotate(ad, "human", "Blood", database=_table(tmp_path / "db.csv"))
    assert np.array_equal(ad.X, X0) and "cell_type" not in ad.obs  # the caller's data kept
    assert out.n_obs == ad.n_obs and out.n_vars <= 2000 and "X_pca" in out.obsm
    assert "leiden" in out.obs
    acc = (out.obs["cell_type"].astype(str) == ad.obs["truth"].loc[out.obs_names]).mean()
    assert acc >= 0.95
    with pytest.raises(ValueError, match="database="):
        genoAnnotate(ad, "human", "Blood")
    with pytest.raises(ValueError, match="species"):
        genoAnnotate(ad, "fish", "Blood", database=tmp_path / "db.csv")
    with pytest.raises(FileNotFoundError, match="marker table"):
        genoAnnotate(ad, "human", "Blood", database=tmp_path / "missing.xlsx")


@pytest.mark.parametrize("method", ["cluster", "cell"])
def test_cli_annotate(tmp_path, method, capsys):
    from genomap_fast import cli

    ad = _counts(per_type=40, n_genes=60)
    ad.X = np.log1p(ad.X)
    ad.write_h5ad(tmp_path / "cells.h5ad")
    out = tmp_path / "labels.csv"
    code = cli.main(["annotate", str(tmp_path / "cells.h5ad"), "--markers",
                     str(_table(tmp_path / "db.csv")), "--tissue", "Blood", "-o", str(out),
                     "--method", method, "--epochs", "3"])
    assert code == 0, capsys.readouterr().err
    table = pd.read_csv(out, index_col=0)
    assert list(table.columns[:2]) == ["type", "cluster_type"]
    assert [c for c in table.columns if c.startswith("score:")] == [
        "score:Type0", "score:Type1", "score:Type2"]
    assert (table["type"] == ad.obs["truth"].loc[table.index]).mean() >= 0.9
    # a missing marker table: one line, exit 1, nothing written
    code = cli.main(["annotate", str(tmp_path / "cells.h5ad"), "--markers",
                     str(tmp_path / "none.csv"), "-o", str(tmp_path / "x.csv")])
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1 and "none.csv" in err
    assert not (tmp_path / "x.csv").exists()
