"""The reference's TensorFlow tasks (genomap 1.3.6 genoVis, ...) in a separate, benchmark-only
environment that this module creates, never in the package's dependencies.

``reference_python()`` builds ``benchmarks/.reference-tf`` once (a venv of the running Python
with tensorflow-cpu 2.15 (Keras 2: the reference's ConvIDEC breaks under Keras 3), numpy < 2,
scanpy, umap-learn, POT, scikit-learn < 1.6, phate, scanorama, and genomap 1.3.6 without its
declared dependencies, which would pull a CUDA torch), and returns its interpreter, or None
with the reason when it cannot (no network, no wheel for this Python); a package added to
``PACKAGES`` later is installed into the existing environment. ``run_reference(task, arrays,
**kwargs)`` runs one reference task there in a subprocess on arrays passed through a temporary
.npz and returns the task's outputs and its wall time.

Set ``GENOMAP_FAST_REFERENCE_TF=0`` to skip, or to a directory to keep the environment there.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ENV_VAR = "GENOMAP_FAST_REFERENCE_TF"
# scikit-learn < 1.6: the reference's ClassDiscriminative_OPT (genoTraj, genoMOItraj) calls
# BaseEstimator._validate_data, which 1.6 removed
PACKAGES = ["tensorflow-cpu==2.15.1", "numpy<2", "scikit-learn<1.6", "umap-learn", "scanpy",
            "pot", "pandas", "phate", "scanorama"]
REFERENCE = "genomap==1.3.6"

# genomap 1.3.6 task -> (imports, run before the clock starts; code run in the environment:
# `inputs` holds the arrays, `kw` the keyword arguments, the result dict is saved with numpy).
TASKS = {
    "genoVis": ("import genomap.genoVis", """
        from genomap.genoVis import genoVis
        emb, labels = genoVis(inputs["X"], verbose=0, **kw)
        result = {"embedding": np.asarray(emb), "labels": np.asarray(labels)}
    """),
    "genoTraj": ("import genomap.genoTraj", """
        from genomap.genoTraj import genoTraj
        emb = genoTraj(inputs["X"], verbose=0, **kw)
        result = {"embedding": np.asarray(emb)}
    """),
    # inputs batch00, batch01, ...: one array per batch, in order
    "genoMOIvis": ("import genomap.genoMOI", """
        from genomap.genoMOI import genoMOIvis
        arrays = [inputs[k] for k in sorted(inputs) if k.startswith("batch")]
        emb, labels, feats = genoMOIvis(*arrays, **kw)
        result = {"embedding": np.asarray(emb), "labels": np.asarray(labels),
                  "features": np.asarray(feats)}
    """),
}


def env_dir() -> str | None:
    v = os.environ.get(ENV_VAR, "")
    if v == "0":
        return None
    return v or os.path.join(HERE, ".reference-tf")


def reference_python() -> tuple[str | None, str]:
    """(interpreter of the reference environment or None, why not)."""
    d = env_dir()
    if d is None:
        return None, f"{ENV_VAR}=0"
    py = os.path.join(d, "bin", "python")
    stamp = os.path.join(d, ".complete")
    spec = " ".join(PACKAGES + [REFERENCE]) + "\n"
    if os.path.exists(stamp):
        with open(stamp) as fh:
            if fh.read() == spec:
                return py, ""  # built for this package list; else pip adds what is new
    try:
        if not os.path.exists(py):
            subprocess.run([sys.executable, "-m", "venv", d], check=True, capture_output=True)
        pip = [py, "-m", "pip", "install", "-q"]
        subprocess.run(pip + ["--upgrade", "pip"], check=True, capture_output=True, text=True)
        subprocess.run(pip + PACKAGES, check=True, capture_output=True, text=True)
        subprocess.run(pip + ["--no-deps", REFERENCE], check=True, capture_output=True,
                       text=True)
        imports = "; ".join(imp for imp, _ in TASKS.values())
        subprocess.run([py, "-c", f"import tensorflow; {imports}"], check=True,
                       capture_output=True, text=True)
    except subprocess.CalledProcessError as err:
        tail = (err.stderr or "")[-400:] if isinstance(err.stderr, str) else ""
        return None, f"could not build the reference environment in {d}: {tail}"
    with open(stamp, "w") as fh:
        fh.write(spec)
    return py, ""


def run_reference(task: str, arrays: dict[str, np.ndarray], timeout: float = 3600,
                  **kwargs) -> tuple[dict[str, np.ndarray], float]:
    """Runs genomap 1.3.6's ``task`` in the reference environment: (outputs, seconds of the
    task itself, imports excluded). Raises RuntimeError with the reason when it cannot."""
    py, why = reference_python()
    if py is None:
        raise RuntimeError(why)
    imports, body = TASKS[task]
    code = textwrap.dedent("""
        import json, os, sys, time
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import numpy as np
        import tensorflow  # imports out of the timing
        import genomap.genomap
    """) + imports + textwrap.dedent("""
        inputs = dict(np.load(sys.argv[1]))
        kw = json.loads(sys.argv[2])
        t0 = time.perf_counter()
    """) + textwrap.dedent(body) + textwrap.dedent("""
        seconds = time.perf_counter() - t0
        np.savez(sys.argv[3], seconds=seconds, **result)
    """)
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = os.path.join(tmp, "in.npz"), os.path.join(tmp, "out.npz")
        np.savez(inp, **arrays)
        # cwd: the reference writes its checkpoints under ./results/temp
        res = subprocess.run([py, "-c", code, inp, json.dumps(kwargs), out], cwd=tmp,
                             capture_output=True, text=True, timeout=timeout)
        if res.returncode != 0:
            raise RuntimeError(f"reference {task} failed: {res.stderr[-2000:]}")
        with np.load(out) as z:
            result = {k: z[k] for k in z.files}
        seconds = float(result.pop("seconds"))
    return result, seconds
