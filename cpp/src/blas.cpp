#include "genomap/blas.hpp"

#include <algorithm>
#include <stdexcept>
#include <vector>

namespace genomap {

static dgemm_fn g_dgemm = nullptr;

void set_dgemm(dgemm_fn fn) { g_dgemm = fn; }

void gemm_rowmajor(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                   const double* A, int64_t lda, const double* B, int64_t ldb, double beta,
                   double* C, int64_t ldc, int num_threads) {
  if (m == 0 || n == 0) return;
  const int nt = num_threads > 0 ? num_threads : 1;
  if (g_dgemm && m < (1LL << 31) && n < (1LL << 31) && k < (1LL << 31)) {
    constexpr int64_t kBlock = 256;  // fixed: never derived from the thread count
    const int64_t blocks = (m + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(dynamic) num_threads(nt) if (blocks > 1 && n * k > 4096)
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t r0 = b * kBlock, rows = std::min(kBlock, m - r0);
      // Row-major C = op(A) op(B)  <=>  column-major C^T = op(B)^T op(A)^T.
      const char ta = trans_b ? 'T' : 'N';
      const char tb = trans_a ? 'T' : 'N';
      const int M = static_cast<int>(n), N = static_cast<int>(rows), K = static_cast<int>(k);
      const int LDA = static_cast<int>(ldb), LDB = static_cast<int>(lda);
      const int LDC = static_cast<int>(ldc);
      const double* Ab = trans_a ? A + r0 : A + r0 * lda;
      g_dgemm(&ta, &tb, &M, &N, &K, &alpha, B, &LDA, Ab, &LDB, &beta, C + r0 * ldc, &LDC);
    }
    return;
  }
  // Fallback: each output row is owned by one thread and summed in a fixed order, so the
  // result does not depend on the thread count.
#pragma omp parallel for schedule(static) num_threads(nt)
  for (int64_t i = 0; i < m; ++i) {
    double* c = C + i * ldc;
    if (beta == 0.0) {
      std::fill(c, c + n, 0.0);
    } else if (beta != 1.0) {
      for (int64_t j = 0; j < n; ++j) c[j] *= beta;
    }
    for (int64_t p = 0; p < k; ++p) {
      const double a = alpha * (trans_a ? A[p * lda + i] : A[i * lda + p]);
      if (a == 0.0) continue;
      if (!trans_b) {
        const double* b = B + p * ldb;
        for (int64_t j = 0; j < n; ++j) c[j] += a * b[j];
      } else {
        for (int64_t j = 0; j < n; ++j) c[j] += a * B[j * ldb + p];
      }
    }
  }
}

}  // namespace genomap
