// Runtime dispatch for hot loops (an AVX2 clone where the CPU has it, the baseline otherwise;
// wheels are never built with -march=native) and the vector kernels shared by the solvers.
// No kernel uses FMA in any clone, so every clone gives the same sums.
#pragma once
#include <cstdint>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define GENOMAP_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define GENOMAP_CLONES
#endif

namespace genomap {
namespace simd {

// y += a x (n values).
void axpy(int64_t n, double a, const double* __restrict x, double* __restrict y);

constexpr int64_t kDotLanes = 16;  // float accumulators of block_dot

// The dot products of a proposal over two blocks of interleaved class sums (`lanes` genes per
// block, m floats each, m a multiple of kDotLanes) with the duplicated log-cost difference
// Lb - La: sum_e CS[i, e] (Lb[e] - La[e]) - sum_e CS[j, e] (Lb[e] - La[e]), i the gene in lane
// li of block bi, j in lane lj of bj. Both lanes of each block are summed (vectorised over
// whole blocks) and the wanted lane picked at the end, in float accumulators.
double block_dot(const float* __restrict bi, const float* __restrict bj,
                 const float* __restrict La, const float* __restrict Lb, int64_t m, int lanes,
                 int li, int lj);

// sum_k (ri[k] - rj[k]) (Lb[idx[k]] - La[idx[k]]) over m values (m a multiple of 8) in eight
// float lanes (k mod 8), summed in double at the end; the AVX2 version gathers.
using LookupDot = double (*)(const float* ri, const float* rj, const float* La, const float* Lb,
                             const int32_t* idx, int64_t m);
LookupDot pick_lookup_dot();  // the AVX2 version where the CPU has it

// Class a loses w = ri - rj, class b gains it (m values).
void move_class_rows(float* __restrict ca, float* __restrict cb, const float* __restrict ri,
                     const float* __restrict rj, int64_t m);

// Blocked class sums ([block][class][lane], kLane lanes): class column a loses the weights w
// (kLane per block), column b gains them, in each of nb blocks `stride` floats apart.
template <int64_t kLane>
inline void move_columns(float* __restrict col_a, float* __restrict col_b,
                         const float* __restrict w, int64_t nb, int64_t stride) {
  for (int64_t kb = 0; kb < nb; ++kb) {
    float* ca = col_a + kb * stride;
    float* cb = col_b + kb * stride;
    const float* wk = w + kb * kLane;
    for (int64_t t = 0; t < kLane; ++t) {
      ca[t] -= wk[t];
      cb[t] += wk[t];
    }
  }
}

// The same with w = ri - rj read from two rows (padded to nb * kLane).
template <int64_t kLane>
inline void move_rows(float* __restrict col_a, float* __restrict col_b,
                      const float* __restrict ri, const float* __restrict rj, int64_t nb,
                      int64_t stride) {
  for (int64_t kb = 0; kb < nb; ++kb) {
    float* ca = col_a + kb * stride;
    float* cb = col_b + kb * stride;
    for (int64_t t = 0; t < kLane; ++t) {
      const float wk = ri[kb * kLane + t] - rj[kb * kLane + t];
      ca[t] -= wk;
      cb[t] += wk;
    }
  }
}

}  // namespace simd
}  // namespace genomap
