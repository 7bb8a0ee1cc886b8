// Error checks and launch sizes shared by the CUDA sources (device.cu, gw_device.cu).
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace genomap {
namespace gpu {

inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess)
    throw std::runtime_error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(e));
}
#define GENOMAP_CUDA(call) ::genomap::gpu::check((call), #call)

constexpr int kThreads = 256;

// Blocks of kThreads for `work` elements (grid-stride loops cover the rest).
inline int blocks_for(int64_t work) {
  const int64_t b = (work + kThreads - 1) / kThreads;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(b, 65535 * 16)));
}

}  // namespace gpu
}  // namespace genomap
