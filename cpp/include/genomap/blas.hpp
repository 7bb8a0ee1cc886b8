// Matrix products for the core. The core links no BLAS itself: the Python layer hands it the
// dgemm of the BLAS that SciPy already ships (Fortran ABI), so products run at BLAS speed
// without a build-time BLAS dependency. Without one, a blocked, OpenMP-parallel loop is used.
#pragma once
#include <cstdint>

namespace genomap {

using dgemm_fn = void (*)(const char* transa, const char* transb, const int* m, const int* n,
                          const int* k, const double* alpha, const double* a, const int* lda,
                          const double* b, const int* ldb, const double* beta, double* c,
                          const int* ldc);

void set_dgemm(dgemm_fn fn);

// C = alpha * op(A) @ op(B) + beta * C, all matrices row-major.
// op(A) is (m x k), op(B) is (k x n), C is (m x n) with leading dimension ldc.
// Rows of C are cut into blocks of a fixed size, each computed by one single-threaded BLAS call
// on one of `num_threads` OpenMP threads: the result does not depend on the thread count
// (a multi-threaded BLAS call does: it changes summation order). The caller keeps the BLAS
// library itself at one thread.
void gemm_rowmajor(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                   const double* A, int64_t lda, const double* B, int64_t ldb, double beta,
                   double* C, int64_t ldc, int num_threads);

}  // namespace genomap
