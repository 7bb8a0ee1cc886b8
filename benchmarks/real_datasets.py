"""Real labelled single-cell datasets for the task benchmarks, extracted from local clones of
public GitHub repositories at pinned commits (nothing is downloaded; no data is committed here).

Point ``GENOMAP_FAST_REAL_DATA`` at a folder holding the clones, each named ``owner+name`` (or
``name``; a bare mirror ``owner+name/repo`` works too), e.g.::

    mkdir -p ~/real && cd ~/real
    git clone https://github.com/ttgump/scDCC ttgump+scDCC            # atlases
    git clone https://github.com/gcyuan/SCUBA gcyuan+SCUBA            # time course
    git clone https://github.com/LuyiTian/sc_mixology LuyiTian+sc_mixology   # batches
    git clone https://github.com/tarohi24/tmscc tarohi24+tmscc        # ES-cell time course
    GENOMAP_FAST_REAL_DATA=~/real python benchmarks/real_datasets.py  # prints a summary

Files are read at the pinned commit with ``git show <commit>:<path>`` (the clone may be at any
revision); a folder without git metadata is read as a work tree at that commit. Benchmarks that
use these sets skip cleanly when the variable is unset or a clone is missing.

Datasets (all small enough for a 2-core / 24 GB machine; every file < 4.2 MB):

``atlas``       Mouse Cell Atlas bladder (Han et al. 2018), 2746 cells x 2003
                genes, 16 cell types, raw UMI counts (scDCC top-2000 genes
                file).  Gene names and type names are NOT stored in the file:
                var_names are ``gene0..``; labels are the integer codes 1..16.
``timecourse``  Mouse pre-implantation embryo (Deng et al. 2014, Science) as
                shipped with SCUBA: 294 embryo cells x 1000 genes, RPKM
                (not counts), 10 developmental stages.  obs["day"] is the
                ordinal time point 0..9 (zygote .. late blastocyst);
                obs["stage_cells"] is the stage code stored by SCUBA
                (1, 1.7, 2, 2.5, 4, 8, 16, 32, 48, 64); obs["approx_day"] is an
                approximate embryonic day added by this script.
``batches``     CellBench / sc_mixology lung-adenocarcinoma cell lines
                (Tian et al. 2019, Nat Methods): 5 batches (CEL-seq2 3-line,
                Drop-seq 3-line, CEL-seq2 5-line plates 1-3), labels = cell
                line (3 lines shared by all 5 batches, 2 more in the 5-line
                plates), raw UMI counts, Ensembl gene ids.

Extras (not required, handy for comparisons):

``atlas_kidney``   Human kidney (Young et al. 2018) 5685 x 2000, 11 types,
                   raw counts, no gene names (same scDCC format).
``atlas_pbmc68k``  scanpy's pbmc68k_reduced: 700 cells x 765 genes with gene
                   names and 10 named FACS-based labels, raw counts.
``pbmc_ifnb``      Human PBMC, control and IFN-beta stimulated (Kang et al. 2018;
                   chthub/rDeepmaps ifnb_2800.rda): 2800 cells x 14053 genes, raw
                   counts, Seurat-vignette labels (13 of its 15 occur);
                   obs["sample"] CTRL/STIM.
``pancreas_xin``   Human islets (Xin et al. 2016; scClassify's example subset):
                   674 cells x 980 genes, log-expression (not counts), 4 types.
                   Both .rda files need the ``rdata`` package (R lists).
``esc_klein``      Mouse embryonic stem cells after LIF withdrawal (Klein et al.
                   2015, Cell; inDrop, GSE65525) as shipped by tarohi24/tmscc (MIT):
                   1000 cells x 900 genes, UMI counts, days 0 / 2 / 4 / 7 after
                   withdrawal (obs["day"], also the label).

"""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass

import anndata
import numpy as np
import pandas as pd
import scipy.sparse as sp


@dataclass(frozen=True)
class Source:
    repo: str
    commit: str
    paths: tuple


SOURCES = {
    "atlas": Source(
        "ttgump/scDCC",
        "142e4e0370f4134751e92a160f95f97fce8db369",
        ("data/Small_Datasets/mouse_bladder_cell_top2000.h5",),
    ),
    "atlas_kidney": Source(
        "ttgump/scDCC",
        "142e4e0370f4134751e92a160f95f97fce8db369",
        ("data/Small_Datasets/human_kidney_counts_top2000.h5",),
    ),
    "atlas_pbmc68k": Source(
        "scverse/scanpy",
        "a224e517a9bb55b06a17c3f74417e435429cd881",
        (
            "src/scanpy/datasets/10x_pbmc68k_reduced.h5ad",
            "src/scanpy/datasets/10x_pbmc68k_reduced_counts.npz",
        ),
    ),
    "timecourse": Source(
        "gcyuan/SCUBA",
        "49484f3f96aa62e24e87be3ad006d0d3d450e6c3",
        ("sample_data/deng2014/deng2014Data.txt",),
    ),
    # human PBMC, control + IFN-beta stimulated (Kang et al. 2018, as in SeuratData's ifnb),
    # every 5th cell, with Seurat's integration-vignette labels (13 types occur): an R list
    # (expr: 14053 genes x 2800 cells of raw counts, meta: sample / cell_type / sex)
    "pbmc_ifnb": Source(
        "chthub/rDeepmaps",
        "2d0baac86ccb806a52834062287fd1d6cfbc09cd",
        ("data/ifnb_2800.rda",),
    ),
    # human pancreatic islets (Xin et al. 2016, Cell Metab), the subset scClassify ships as
    # an example: 674 cells x 980 genes (dgCMatrix of log-expression, not counts), 4 types
    "pancreas_xin": Source(
        "SydneyBioX/scClassify",
        "74fe32784b401492da0fd203736f39bcd6f2a2c5",
        ("data/scClassify_example.rda",),
    ),
    # mouse ES cells 0, 2, 4 and 7 days after LIF withdrawal (Klein et al. 2015), the subset
    # tmscc ships: profile.txt (genes x 1000 cells, counts), labels.txt (one day per cell)
    "esc_klein": Source(
        "tarohi24/tmscc",
        "5e0f30fd009fe827ac2263f369c099a5bbc91a48",
        ("tmscc/data/klein/profile.txt", "tmscc/data/klein/labels.txt"),
    ),
    "batches": Source(
        "LuyiTian/sc_mixology",
        "7d00ffb0bd043467f365a9358d7312f294f13c9f",
        tuple(
            f"data/csv/{b}.{kind}.csv.gz"
            for b in (
                "sc_celseq2",
                "sc_dropseq",
                "sc_celseq2_5cl_p1",
                "sc_celseq2_5cl_p2",
                "sc_celseq2_5cl_p3",
            )
            for kind in ("count", "metadata")
        ),
    ),
}

# --------------------------------------------------------------------------
# reading files out of a clone / bare mirror
# --------------------------------------------------------------------------
def _read_bytes(clone_dir: str, commit: str, path: str) -> bytes:
    """The file at the pinned commit (``git show``: a clone, bare or not), else the copy in a
    plain folder of the files."""
    shown = subprocess.run(["git", "-C", clone_dir, "show", f"{commit}:{path}"],
                           capture_output=True)
    if shown.returncode == 0:
        return shown.stdout
    local = os.path.join(clone_dir, path)
    if os.path.isfile(local):
        with open(local, "rb") as fh:
            return fh.read()
    raise FileNotFoundError(f"{commit}:{path} is not in {clone_dir}: "
                            f"{shown.stderr.decode(errors='replace').strip()}")


def _check_not_lfs(data: bytes, path: str) -> bytes:
    if data[:40].startswith(b"version https://git-lfs"):
        raise ValueError(f"{path} is a Git LFS pointer, not data")
    if len(data) == 0:
        raise ValueError(f"{path} is empty (blob missing from snapshot?)")
    return data


class _Fetched:
    """Context manager giving local temp-file paths for a Source's files."""

    def __init__(self, src: Source, clone_dir: str):
        self.src, self.clone_dir = src, clone_dir

    def __enter__(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="realds_")
        out = {}
        for p in self.src.paths:
            data = _check_not_lfs(_read_bytes(self.clone_dir, self.src.commit, p), p)
            local = os.path.join(self._tmp.name, p.replace("/", "__"))
            with open(local, "wb") as fh:
                fh.write(data)
            out[p] = local
        return out

    def __exit__(self, *exc):
        self._tmp.cleanup()


# --------------------------------------------------------------------------
# loaders
# --------------------------------------------------------------------------
def _load_scdcc_h5(path: str, prefix: str) -> anndata.AnnData:
    import h5py

    with h5py.File(path, "r") as h:
        X = np.asarray(h["X"][...], dtype=np.float32)  # cells x genes, raw counts
        y = np.asarray(h["Y"][...]).astype(int)
    var = pd.DataFrame(index=[f"gene{i}" for i in range(X.shape[1])])
    obs = pd.DataFrame(index=[f"{prefix}{i}" for i in range(X.shape[0])])
    obs["label"] = pd.Categorical([str(v) for v in y], categories=[str(v) for v in sorted(set(y))])
    return anndata.AnnData(X=X, obs=obs, var=var)


# Deng 2014 stages in developmental order.  obs["day"] is the ordinal time
# point 0..9 (exact, from the stage labels in the file); obs["approx_day"] is an
# approximate embryonic day (E0.5 = zygote ... E4.5 = late blastocyst), for
# plotting only -- it is NOT stored in the source file.
_DENG_STAGES = (
    "zygote", "early2cell", "mid2cell", "late2cell", "4cell",
    "8cell", "16cell", "earlyblast", "midblast", "lateblast",
)
_DENG_APPROX_DAY = dict(zip(_DENG_STAGES, (0.5, 1.3, 1.5, 1.9, 2.3, 2.8, 3.3, 3.6, 3.9, 4.2)))


def _load_deng(path: str) -> anndata.AnnData:
    df = pd.read_csv(path, sep="\t", index_col=0)
    stage_cells = df.loc["Stage"].astype(float)
    expr = df.drop(index="Stage")
    names = list(expr.columns)
    stage = []
    for c in names:
        s = re.sub(r"[_-].*", "", c)
        if s.startswith("zy"):
            s = "zygote"
        elif s == "C57twocell":  # C57 mid-2-cell embryos (SCUBA stage value 2)
            s = "mid2cell"
        stage.append(s)
    obs = pd.DataFrame(index=pd.Index(names, name="cell"))
    obs["label"] = stage
    obs["stage_cells"] = stage_cells.values
    keep = obs["label"].isin(_DENG_STAGES).values  # drop fibroblasts, BXC
    obs = obs.loc[keep].copy()
    obs["label"] = pd.Categorical(obs["label"], categories=list(_DENG_STAGES))
    obs["day"] = obs["label"].cat.codes.astype(np.int64)
    obs["approx_day"] = obs["label"].map(_DENG_APPROX_DAY).astype(float)
    X = expr.values.T[keep].astype(np.float32)  # RPKM
    var_names = pd.Index(expr.index.astype(str), name="gene")
    if not var_names.is_unique:
        var_names = anndata.utils.make_index_unique(var_names)
    return anndata.AnnData(X=X, obs=obs, var=pd.DataFrame(index=var_names))


def _load_klein(files: dict, paths: tuple) -> anndata.AnnData:
    expr = pd.read_csv(files[paths[0]], index_col=0)  # genes x cells
    with open(files[paths[1]]) as fh:
        day = np.array([int(v) for v in fh.read().split()], dtype=np.int64)
    if len(day) != expr.shape[1]:
        raise ValueError(f"{paths[1]}: {len(day)} labels for {expr.shape[1]} cells")
    obs = pd.DataFrame(index=pd.Index(expr.columns.astype(str), name="cell"))
    obs["label"] = pd.Categorical([f"day {d}" for d in day],
                                  categories=[f"day {d}" for d in sorted(set(day))])
    obs["day"] = day
    var = pd.DataFrame(index=anndata.utils.make_index_unique(pd.Index(expr.index.astype(str),
                                                                      name="gene")))
    return anndata.AnnData(X=expr.values.T.astype(np.float32), obs=obs, var=var)


def _load_mixology(files: dict, paths: tuple) -> anndata.AnnData:
    batches = []
    for p in paths:
        if p.endswith(".count.csv.gz"):
            batches.append(p[len("data/csv/"): -len(".count.csv.gz")])
    parts = []
    for b in batches:
        cnt = pd.read_csv(files[f"data/csv/{b}.count.csv.gz"], index_col=0)  # genes x cells
        meta = pd.read_csv(files[f"data/csv/{b}.metadata.csv.gz"], index_col=0)
        meta = meta.loc[cnt.columns]
        if "cell_line" in meta.columns:
            lab = meta["cell_line"]
            keep = lab.notna()
        else:  # 5-cell-line plates: keep demuxlet singlets from 1-cell wells
            lab = meta["cell_line_demuxlet"]
            keep = (meta["demuxlet_cls"] == "SNG") & (meta.get("cell_number", 1) == 1)
        if "outliers" in meta.columns:
            keep &= ~meta["outliers"].astype(bool)
        cnt = cnt.loc[:, keep.values]
        obs = pd.DataFrame(
            {"label": lab[keep].astype(str).values, "batch": b},
            index=[f"{b}:{c}" for c in cnt.columns],
        )
        X = sp.csr_matrix(cnt.values.T.astype(np.float32))
        parts.append(anndata.AnnData(X=X, obs=obs, var=pd.DataFrame(index=cnt.index.astype(str))))
    ad = anndata.concat(parts, join="inner", merge=None)  # genes shared by all batches
    ad.obs["label"] = pd.Categorical(ad.obs["label"])
    ad.obs["batch"] = pd.Categorical(ad.obs["batch"], categories=batches)
    ad.X = sp.csr_matrix(ad.X, dtype=np.float32)
    return ad


def _load_pbmc68k(files: dict, paths: tuple) -> anndata.AnnData:
    h5ad, npz = paths
    ref = anndata.read_h5ad(files[h5ad])
    z = np.load(files[npz], allow_pickle=False)
    shape = tuple(int(s) for s in z["shape"])
    X = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=shape).astype(np.float32)
    obs = pd.DataFrame({"label": ref.obs["bulk_labels"].values}, index=ref.obs_names)
    return anndata.AnnData(X=X, obs=obs, var=pd.DataFrame(index=ref.var_names.copy()))


def _read_rda(path: str) -> dict:
    """The objects of an .rda file (R lists included), read with the pure-Python ``rdata``
    package (``pyreadr`` skips R lists, and both sets below are lists)."""
    import warnings

    import rdata

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "missing constructor for dgCMatrix": handled below
        return rdata.conversion.convert(rdata.parser.parse_file(path))


def _dgc_to_csr(m) -> tuple:
    """An R dgCMatrix (genes x cells, as ``rdata`` returns it) -> (cells x genes CSR, genes,
    cells)."""
    n_genes, n_cells = (int(d) for d in np.asarray(m.Dim))
    X = sp.csc_matrix((np.asarray(m.x, dtype=np.float32), np.asarray(m.i), np.asarray(m.p)),
                      shape=(n_genes, n_cells))
    genes, cells = ([str(x) for x in names] for names in m.Dimnames)
    return X.T.tocsr(), genes, cells


def _load_ifnb(path: str) -> anndata.AnnData:
    d = _read_rda(path)["ifnb_2800"]
    expr, meta = d["expr"], d["meta"]
    genes = [str(g) for g in expr.coords[expr.dims[0]].values]
    cells = [str(c) for c in expr.coords[expr.dims[1]].values]
    X = sp.csr_matrix(np.asarray(expr.values, dtype=np.float32).T)
    meta = meta.loc[cells]
    obs = pd.DataFrame({"label": meta["cell_type"].astype(str).values,
                        "sample": meta["sample"].astype(str).values}, index=cells)
    return anndata.AnnData(X=X, obs=obs, var=pd.DataFrame(index=genes))


def _load_xin(path: str) -> anndata.AnnData:
    d = _read_rda(path)["scClassify_example"]
    X, genes, cells = _dgc_to_csr(d["exprsMat_xin_subset"])
    labels = np.asarray(d["xin_cellTypes"]).astype(str)
    obs = pd.DataFrame({"label": labels}, index=cells)
    return anndata.AnnData(X=X, obs=obs, var=pd.DataFrame(index=genes))


def extract(name: str, clone_dir: str, log_normalise: bool = False) -> anndata.AnnData:
    """Return the dataset ``name`` read from ``clone_dir`` as float32 AnnData.

    obs["label"] is always set; ``timecourse`` and ``esc_klein`` also have obs["day"],
    ``batches`` has obs["batch"].  X holds raw counts (atlas*, batches) or
    RPKM (timecourse) unless ``log_normalise`` is True, in which case X is
    log1p(counts / total * 1e4) as float32.
    """
    if name not in SOURCES:
        raise KeyError(f"unknown dataset {name!r}; choose from {sorted(SOURCES)}")
    src = SOURCES[name]
    with _Fetched(src, clone_dir) as files:
        if name in ("atlas", "atlas_kidney"):
            ad = _load_scdcc_h5(files[src.paths[0]], prefix=name + "_")
        elif name == "atlas_pbmc68k":
            ad = _load_pbmc68k(files, src.paths)
        elif name == "timecourse":
            ad = _load_deng(files[src.paths[0]])
        elif name == "batches":
            ad = _load_mixology(files, src.paths)
        elif name == "esc_klein":
            ad = _load_klein(files, src.paths)
        elif name == "pbmc_ifnb":
            ad = _load_ifnb(files[src.paths[0]])
        elif name == "pancreas_xin":
            ad = _load_xin(files[src.paths[0]])
        else:  # pragma: no cover
            raise KeyError(name)
    ad.uns["source"] = {"repo": src.repo, "commit": src.commit, "paths": list(src.paths)}
    if log_normalise:
        X = ad.X.toarray() if sp.issparse(ad.X) else np.asarray(ad.X)
        tot = X.sum(1, keepdims=True)
        tot[tot == 0] = 1
        ad.X = np.log1p(X / tot * 1e4).astype(np.float32)
    else:
        ad.X = ad.X.astype(np.float32)
    return ad


ENV = "GENOMAP_FAST_REAL_DATA"


def clone_of(repo: str, root: str | None = None) -> str | None:
    """The local clone of ``owner/name`` under ``root`` (default: $GENOMAP_FAST_REAL_DATA), or
    None when there is none."""
    root = root or os.environ.get(ENV)
    if not root:
        return None
    owner, name = repo.split("/")
    for cand in (f"{owner}+{name}/repo", f"{owner}+{name}", name):
        path = os.path.join(os.path.expanduser(root), cand)
        if os.path.isdir(path):
            return path
    return None


def load(name: str, root: str | None = None, log_normalise: bool = True):
    """``extract(name, <its clone>)``, or None when the clone is not there."""
    clone = clone_of(SOURCES[name].repo, root)
    return None if clone is None else extract(name, clone, log_normalise=log_normalise)


if __name__ == "__main__":
    import sys

    for n in sys.argv[1:] or list(SOURCES):
        try:
            a = load(n, log_normalise=False)
        except ImportError as e:  # the .rda sets need the rdata package
            print(f"{n}: {e}")
            continue
        if a is None:
            print(f"{n}: no clone of {SOURCES[n].repo} under ${ENV}")
            continue
        extra = [c for c in ("day", "batch") if c in a.obs]
        print(f"{n}: {a.n_obs} cells x {a.n_vars} genes, labels={a.obs['label'].nunique()}, "
              f"from {SOURCES[n].repo}@{SOURCES[n].commit[:10]}")
        print("   label counts:", a.obs["label"].value_counts().to_dict())
        for c in extra:
            print(f"   {c}:", a.obs[c].value_counts().sort_index().to_dict())


# --------------------------------------------------------------------------
# marker tables (read from a clone, never copied here)
# --------------------------------------------------------------------------
MARKER_SOURCES = {
    # scType's marker table (GPL-3.0): tissueType, cellName, geneSymbolmore1 (positive),
    # geneSymbolmore2 (negative), shortName; 268 rows, 16 tissues at this commit
    "sctype": Source(
        "IanevskiAleksandr/sc-type",
        "630e15cf1e51f2612eda4ad0406dfb17503fa8c9",
        ("ScTypeDB_full.xlsx",),
    ),
}


def marker_table(name: str = "sctype", root: str | None = None):
    """The marker table ``name`` as a DataFrame read from its clone at the pinned commit, or
    None when the clone is not there (reading .xlsx needs openpyxl)."""
    src = MARKER_SOURCES[name]
    clone = clone_of(src.repo, root)
    if clone is None:
        return None
    with _Fetched(src, clone) as files:
        return pd.read_excel(files[src.paths[0]])
