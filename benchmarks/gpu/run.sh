#!/usr/bin/env bash
# GPU check, on a machine with a CUDA device (H200, driver >= 580, CUDA 13, nvcc on PATH,
# Python 3.12 with torch cu130, cupy-cuda13x, pytest, pybind11, scikit-build-core installed).
# Builds genomap_fast with its _cuda module from this working tree (sm_90 only: faster), runs the
# GPU tests and the GPU benchmark, and writes everything into $OUT (default ./gpu-out).
# Budget: about 8 minutes (build ~2, tests ~1, benchmark ~4). The GW placement on the device
# loads cuBLAS/cuFFT from torch's or cupy's CUDA 13 libraries (or nvidia-cublas/nvidia-cufft
# wheels); the million-cell .h5ad -> zarr case needs h5py and zarr (wheels in $WHEELS) and
# GENOMAP_FAST_ATLAS_CELLS sets its size (default 1,000,000).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-$PWD/gpu-out}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
exec > >(tee "$OUT/run.log") 2>&1
echo "== $(date -u) on $(hostname)"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/nvidia-smi.csv"
nvcc --version | tail -1
start=$(date +%s)
export PATH="$PATH:/usr/local/cuda/bin"
export CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)"

# The package needs numpy, scipy, threadpoolctl and tqdm (POT is optional: the benchmark's POT
# column). The GPU machine has no network: wheels put in benchmarks/gpu/wheels (ignored, carried
# along) are installed from there.
WHEELS="${WHEELS:-benchmarks/gpu/wheels}"
if compgen -G "$WHEELS/*.whl" >/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile "$WHEELS"/*.whl \
    || echo "some wheels in $WHEELS did not install"
fi
"$PY" - <<'PYEOF'
import importlib.util
missing = [m for m in ("numpy", "scipy", "threadpoolctl", "tqdm", "cupy", "torch", "pytest", "ot")
           if importlib.util.find_spec(m) is None]
print("missing modules:", missing or "none")
PYEOF

echo "== build (GENOMAP_FAST_CUDA=ON, sm_90)"
"$PY" -m pip install -q --no-build-isolation --no-deps \
  -Ccmake.define.GENOMAP_FAST_CUDA=ON -Ccmake.define.CMAKE_CUDA_ARCHITECTURES=90 \
  -Cbuild-dir=build/gpu . || { echo "BUILD FAILED"; exit 1; }
echo "build: $(( $(date +%s) - start )) s"
"$PY" -c "import genomap_fast as gf, json; print(json.dumps(gf.backends(), indent=1))" \
  | tee "$OUT/backends.json"

echo "== GPU tests"
# in 4 worker processes: a crash (illegal address, abort) loses one test, not the rest
XDIST=""
"$PY" -c "import xdist" 2>/dev/null && XDIST="-n 4"
timeout 240 "$PY" -m pytest -q -p no:cacheprovider $XDIST tests/test_cuda_device.py \
  tests/test_cuda_host.py tests/test_cuda_gw_host.py tests/test_cuda_build.py --junitxml="$OUT/tests.xml" -ra --tb=short \
  --durations=10
tests_rc=$?
echo "tests: rc=$tests_rc, $(( $(date +%s) - start )) s"

echo "== GPU benchmark"
timeout 270 "$PY" -m pytest -q -s -p no:cacheprovider benchmarks/test_gpu.py -ra --tb=short
bench_rc=$?
cp benchmarks/results/test_gpu.md "$OUT/" 2>/dev/null || echo "no benchmark table written"
echo "benchmark: rc=$bench_rc, total $(( $(date +%s) - start )) s"

san_rc=0
if [ "${SANITIZE:-0}" = 1 ] && command -v compute-sanitizer >/dev/null; then
  echo "== compute-sanitizer memcheck on the device tests (not the million-cell one)"
  timeout 150 compute-sanitizer --tool memcheck --error-exitcode 99 --print-limit 20 \
    "$PY" -m pytest -q -p no:cacheprovider tests/test_cuda_device.py -k "not million" --tb=short \
    > "$OUT/memcheck.log" 2>&1
  san_rc=$?
  tail -15 "$OUT/memcheck.log"
  echo "memcheck: rc=$san_rc, total $(( $(date +%s) - start )) s"
fi
exit $(( tests_rc != 0 || bench_rc != 0 || san_rc != 0 ))
