"""Where a CUDA compiler is installed, the package must have been built with its CUDA backend
(GENOMAP_FAST_CUDA=AUTO finds it): a silently skipped _cuda would hide compile errors in cuda/."""
import importlib.util
import os
import shutil

import pytest


def _nvcc():
    return shutil.which("nvcc") or next(
        (p for p in ("/usr/local/bin/nvcc", "/usr/local/cuda/bin/nvcc") if os.path.exists(p)), None)


@pytest.mark.skipif(_nvcc() is None, reason="no CUDA compiler on this machine")
@pytest.mark.skipif(os.environ.get("GENOMAP_FAST_CUDA", "AUTO").upper() == "OFF",
                    reason="GENOMAP_FAST_CUDA=OFF")
def test_cuda_module_is_built_where_nvcc_exists():
    assert importlib.util.find_spec("genomap_fast._cuda") is not None, (
        f"{_nvcc()} exists but genomap_fast._cuda was not built")
    from genomap_fast import _cuda

    assert "90" in _cuda.architectures.split(",")  # sm_90 (+ PTX); sm_80 in the default list
