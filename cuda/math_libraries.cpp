#include "math_libraries.hpp"

#include <dlfcn.h>

#include <mutex>
#include <stdexcept>

namespace genomap {
namespace gpu {
namespace mathlib {

namespace {

std::mutex g_mutex;
Api g_api;
bool g_loaded = false;
std::vector<std::string> g_paths;

void* open_first(const std::vector<std::string>& dirs, const std::vector<std::string>& names,
                 std::string* path, std::string* why) {
  std::vector<std::string> tried;
  for (const auto& dir : dirs)
    for (const auto& name : names) tried.push_back(dir + "/" + name);
  for (const auto& name : names) tried.push_back(name);  // the loader's search path
  for (const auto& p : tried) {
    if (void* h = dlopen(p.c_str(), RTLD_NOW | RTLD_LOCAL)) {
      *path = p;
      return h;
    }
  }
  *why = names.front() + " not found (" + std::to_string(tried.size()) +
         " places tried; pip install nvidia-cublas nvidia-cufft, or install torch/cupy "
         "built for CUDA 13)";
  return nullptr;
}

template <class F>
bool bind(void* lib, const char* symbol, F& fn, std::string* why) {
  fn = reinterpret_cast<F>(dlsym(lib, symbol));
  if (!fn) *why = std::string("symbol ") + symbol + " missing";
  return fn != nullptr;
}

}  // namespace

const std::vector<std::string>& cublas_names() {
  static const std::vector<std::string> names{"libcublas.so.13"};
  return names;
}
const std::vector<std::string>& cufft_names() {
  static const std::vector<std::string> names{"libcufft.so.12"};
  return names;
}

bool load(const std::vector<std::string>& dirs, std::string* reason) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_loaded) return true;
  std::string why, blas_path, fft_path;
  void* blas = open_first(dirs, cublas_names(), &blas_path, &why);
  void* fft = blas ? open_first(dirs, cufft_names(), &fft_path, &why) : nullptr;
  Api a;
  const bool ok = blas && fft && bind(blas, "cublasCreate_v2", a.cublasCreate, &why) &&
                  bind(blas, "cublasDestroy_v2", a.cublasDestroy, &why) &&
                  bind(blas, "cublasSetStream_v2", a.cublasSetStream, &why) &&
                  bind(blas, "cublasDgemm_v2", a.cublasDgemm, &why) &&
                  bind(fft, "cufftPlanMany", a.cufftPlanMany, &why) &&
                  bind(fft, "cufftExecD2Z", a.cufftExecD2Z, &why) &&
                  bind(fft, "cufftExecZ2D", a.cufftExecZ2D, &why) &&
                  bind(fft, "cufftSetStream", a.cufftSetStream, &why) &&
                  bind(fft, "cufftDestroy", a.cufftDestroy, &why);
  if (!ok) {
    if (fft) dlclose(fft);
    if (blas) dlclose(blas);
    if (reason) *reason = why;
    return false;
  }
  g_api = a;
  g_paths = {blas_path, fft_path};
  g_loaded = true;
  return true;
}

const Api& api() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!g_loaded)
    throw std::runtime_error(
        "cuBLAS/cuFFT are not loaded: the GW placement on the device needs libcublas.so.13 and "
        "libcufft.so.12 (pip install nvidia-cublas nvidia-cufft)");
  return g_api;
}

std::vector<std::string> loaded_paths() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_paths;
}

}  // namespace mathlib
}  // namespace gpu
}  // namespace genomap
