#include "genomap/simd.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace genomap {
namespace simd {

GENOMAP_CLONES void axpy(int64_t n, double a, const double* __restrict x, double* __restrict y) {
  for (int64_t e = 0; e < n; ++e) y[e] += a * x[e];
}

GENOMAP_CLONES double block_dot(const float* __restrict bi, const float* __restrict bj,
                                const float* __restrict La, const float* __restrict Lb,
                                int64_t m, int lanes, int li, int lj) {
  float ai[kDotLanes] = {}, aj[kDotLanes] = {};
  for (int64_t c = 0; c < m; c += kDotLanes)
    for (int64_t l = 0; l < kDotLanes; ++l) {
      const float d = Lb[c + l] - La[c + l];
      ai[l] += bi[c + l] * d;
      aj[l] += bj[c + l] * d;
    }
  double si = 0.0, sj = 0.0;
  for (int64_t l = li; l < kDotLanes; l += lanes) si += static_cast<double>(ai[l]);
  for (int64_t l = lj; l < kDotLanes; l += lanes) sj += static_cast<double>(aj[l]);
  return si - sj;
}

namespace {

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define GENOMAP_GATHER_AVX2 1
__attribute__((target("avx2"))) double lookup_dot_avx2(const float* __restrict ri,
                                                       const float* __restrict rj,
                                                       const float* La, const float* Lb,
                                                       const int32_t* __restrict idx, int64_t m) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t k = 0; k < m; k += 8) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx + k));
    const __m256 dl = _mm256_sub_ps(_mm256_i32gather_ps(Lb, x, 4), _mm256_i32gather_ps(La, x, 4));
    const __m256 dr = _mm256_sub_ps(_mm256_loadu_ps(ri + k), _mm256_loadu_ps(rj + k));
    acc = _mm256_add_ps(acc, _mm256_mul_ps(dr, dl));
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc);
  double s = 0.0;
  for (float v : lanes) s += static_cast<double>(v);
  return s;
}
#endif

double lookup_dot_scalar(const float* ri, const float* rj, const float* La, const float* Lb,
                         const int32_t* idx, int64_t m) {
  float lanes[8] = {};
  for (int64_t k = 0; k < m; k += 8)
    for (int64_t l = 0; l < 8; ++l) {
      const float dl = Lb[idx[k + l]] - La[idx[k + l]];
      const float dr = ri[k + l] - rj[k + l];
      lanes[l] += dr * dl;
    }
  double s = 0.0;
  for (float v : lanes) s += static_cast<double>(v);
  return s;
}

}  // namespace

LookupDot pick_lookup_dot() {
#ifdef GENOMAP_GATHER_AVX2
  if (__builtin_cpu_supports("avx2")) return lookup_dot_avx2;
#endif
  return lookup_dot_scalar;
}

GENOMAP_CLONES void move_class_rows(float* __restrict ca, float* __restrict cb,
                                    const float* __restrict ri, const float* __restrict rj,
                                    int64_t m) {
  for (int64_t k = 0; k < m; ++k) {
    const float w = ri[k] - rj[k];
    ca[k] -= w;
    cb[k] += w;
  }
}

}  // namespace simd
}  // namespace genomap
