#include "genomap/blas.hpp"

#include <algorithm>
#include <stdexcept>
#include <vector>

namespace genomap {

static dgemm_fn g_dgemm = nullptr;

void set_dgemm(dgemm_fn fn) { g_dgemm = fn; }
bool has_blas() { return g_dgemm != nullptr; }

void gemm_rowmajor(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                   const double* A, int64_t lda, const double* B, int64_t ldb, double beta,
                   double* C, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (g_dgemm && m < (1LL << 31) && n < (1LL << 31) && k < (1LL << 31)) {
    // Row-major C = op(A) op(B)  <=>  column-major C^T = op(B)^T op(A)^T.
    const char ta = trans_b ? 'T' : 'N';
    const char tb = trans_a ? 'T' : 'N';
    const int M = static_cast<int>(n), N = static_cast<int>(m), K = static_cast<int>(k);
    const int LDA = static_cast<int>(ldb), LDB = static_cast<int>(lda), LDC = static_cast<int>(ldc);
    g_dgemm(&ta, &tb, &M, &N, &K, &alpha, B, &LDA, A, &LDB, &beta, C, &LDC);
    return;
  }
  // Fallback: each output row is owned by one thread and summed in a fixed order, so the
  // result does not depend on the thread count.
#pragma omp parallel for schedule(static)
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
