// cuBLAS and cuFFT, loaded at run time (dlopen) from NVIDIA's own shared libraries: the pip
// wheels (nvidia-cublas / nvidia-cufft, which torch and cupy install too) or a CUDA toolkit.
// Nothing is linked at build time, so genomap_fast._cuda builds without their headers and
// imports without them; only the GW placement on the device needs them. The few entry points
// used are declared here from their documented C ABI (handles, enums and signatures that
// NVIDIA keeps stable across releases).
#pragma once
#include <string>
#include <vector>

namespace genomap {
namespace gpu {
namespace mathlib {

using cublasHandle_t = struct cublasContext*;
using cufftHandle = int;
constexpr int kCublasOpN = 0;   // CUBLAS_OP_N
constexpr int kCublasOpT = 1;   // CUBLAS_OP_T
constexpr int kCufftD2Z = 0x6a; // CUFFT_D2Z
constexpr int kCufftZ2D = 0x6c; // CUFFT_Z2D

struct Api {
  int (*cublasCreate)(cublasHandle_t*) = nullptr;
  int (*cublasDestroy)(cublasHandle_t) = nullptr;
  int (*cublasSetStream)(cublasHandle_t, void*) = nullptr;
  int (*cublasDgemm)(cublasHandle_t, int, int, int, int, int, const double*, const double*, int,
                     const double*, int, const double*, double*, int) = nullptr;
  int (*cufftPlanMany)(cufftHandle*, int, int*, int*, int, int, int*, int, int, int,
                       int) = nullptr;
  int (*cufftExecD2Z)(cufftHandle, double*, void*) = nullptr;
  int (*cufftExecZ2D)(cufftHandle, void*, double*) = nullptr;
  int (*cufftSetStream)(cufftHandle, void*) = nullptr;
  int (*cufftDestroy)(cufftHandle) = nullptr;
};

// The shared-object names tried (CUDA 13: cuBLAS 13, cuFFT 12).
const std::vector<std::string>& cublas_names();
const std::vector<std::string>& cufft_names();

// Loads both libraries, trying each directory in `dirs` in turn and then the loader's own
// search path. Returns true when both are loaded (also on later calls); otherwise false with
// the reason. Thread-safe; a library once loaded stays loaded.
bool load(const std::vector<std::string>& dirs, std::string* reason);
// The loaded API; throws std::runtime_error (saying how to install the libraries) if `load`
// has not succeeded.
const Api& api();
// Paths the two libraries were loaded from ("" before a successful load).
std::vector<std::string> loaded_paths();

}  // namespace mathlib
}  // namespace gpu
}  // namespace genomap
