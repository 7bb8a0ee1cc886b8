// Arithmetic of the GPU kernels, as __host__ __device__ functions: the __global__ kernels
// (cuda/*.cu) call them per thread, and cuda/host_kernels.cpp calls the very same bodies in
// plain loops on the CPU, so the CPU test suite checks them against the C++ core on every
// machine (tests/test_cuda_host.py). Header-only, no CUDA headers: compiles with g++ too.
#pragma once
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define GENOMAP_HD __host__ __device__ inline
#else
#define GENOMAP_HD inline
#endif

namespace genomap {
namespace gpu {

// ---- rasterisation (permutation placements: a gather) ----------------------------------------

// One image value: the cell's expression times the reference's rows*cols/n_placed scale, rounded
// once to the output type (as the C++ core: the product in double, then one cast).
template <class Out, class In>
GENOMAP_HD Out raster_value(In x, double scale) {
  return static_cast<Out>(static_cast<double>(x) * scale);
}

GENOMAP_HD bool is_finite_value(double x) { return x - x == 0.0; }  // false for NaN and +-inf

// Element (cell c, gene g) of a dense row-major block: writes the pixel of a placed gene.
// Returns false when the value is NaN/inf (the caller records the first such cell).
template <class In, class Out>
GENOMAP_HD bool raster_dense_element(const In* x, int64_t ld_x, int64_t c, int64_t g,
                                     const int64_t* dest, double scale, Out* out,
                                     int64_t image_size) {
  const In v = x[c * ld_x + g];
  const int64_t d = dest[g];
  if (d >= 0) out[c * image_size + d] = raster_value<Out>(v, scale);
  return is_finite_value(static_cast<double>(v));
}

// Row of CSR entry p: the last row r with indptr[r] <= p (binary search; rows >= 1).
template <class Idx>
GENOMAP_HD int64_t csr_row_of(const Idx* indptr, int64_t rows, int64_t p) {
  int64_t lo = 0, hi = rows;  // indptr[lo] <= p < indptr[hi]
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (static_cast<int64_t>(indptr[mid]) <= p) lo = mid; else hi = mid;
  }
  return lo;
}

// CSR entry p (row c): writes the pixel of its gene when placed; false when NaN/inf.
template <class In, class Idx, class Out>
GENOMAP_HD bool raster_csr_entry(const Idx* indices, const In* data, int64_t p, int64_t c,
                                 const int64_t* dest, double scale, Out* out,
                                 int64_t image_size) {
  const In v = data[p];
  const int64_t d = dest[static_cast<int64_t>(indices[p])];
  if (d >= 0) out[c * image_size + d] = raster_value<Out>(v, scale);
  return is_finite_value(static_cast<double>(v));
}

// ---- interaction matrix (the C++ core's block fold, cpp/src/interaction.cpp) -----------------

// A block's values shifted by its own first row.
template <class In>
GENOMAP_HD double centred_value(const In* x, int64_t n, int64_t r, int64_t j) {
  return static_cast<double>(x[r * n + j]) - static_cast<double>(x[j]);
}

// Column j's sum over the centred block, in row order (as the core's sums).
GENOMAP_HD double centred_column_sum(const double* centred, int64_t rows, int64_t n, int64_t j) {
  double s = 0.0;
  for (int64_t r = 0; r < rows; ++r) s += centred[r * n + j];
  return s;
}

// One cross-product element sum_r a[r, i] * a[r, j], accumulated in row order from `acc`.
GENOMAP_HD double cross_accumulate(const double* a, int64_t n, int64_t r0, int64_t r1, int64_t i,
                                   int64_t j, double acc) {
  for (int64_t r = r0; r < r1; ++r) acc += a[r * n + i] * a[r * n + j];
  return acc;
}

// The merge term of a block with m rows, partial cross-product o, sums bs, shift difference
// delta = block shift - accumulator shift: cross[i][j] += this (term for term as merge_slab).
GENOMAP_HD double merge_term(double o, double delta_i, double delta_j, double bs_i, double bs_j,
                             double m) {
  return o + delta_i * bs_j + bs_i * delta_j + m * delta_i * delta_j;
}

// ---- log-domain Sinkhorn on genes x classes (the core's log_update_columns/rows) -------------

// Potential of class d from the gene potentials alpha (cost units).
GENOMAP_HD double log_column_potential(const double* M, int64_t n, int64_t D, int64_t d,
                                       double reg, double log_target, const double* alpha) {
  double mx = -INFINITY;
  for (int64_t i = 0; i < n; ++i) mx = fmax(mx, (alpha[i] - M[i * D + d]) / reg);
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += exp((alpha[i] - M[i * D + d]) / reg - mx);
  return reg * (log_target - (mx + log(s)));
}

// Potential of gene i from the class potentials beta (class d holds exp(log_cap[d]) pixels).
GENOMAP_HD double log_row_potential(const double* M, int64_t D, int64_t i, double reg,
                                    double log_target, const double* log_cap,
                                    const double* beta) {
  const double* m = M + i * D;
  double mx = -INFINITY;
  for (int64_t d = 0; d < D; ++d) mx = fmax(mx, log_cap[d] + (beta[d] - m[d]) / reg);
  double s = 0.0;
  for (int64_t d = 0; d < D; ++d) s += exp(log_cap[d] + (beta[d] - m[d]) / reg - mx);
  return reg * (log_target - (mx + log(s)));
}

// Coupling mass of gene i on class d (capacity cap) from the potentials.
GENOMAP_HD double class_mass(double M_id, double alpha_i, double beta_d, double reg, double cap) {
  return cap * exp((alpha_i + beta_d - M_id) / reg);
}

// Column marginal of one pixel of class d (the core's stopping test uses cap[d] * (this -
// 1/n)^2 summed over classes).
GENOMAP_HD double pixel_marginal(const double* M, int64_t n, int64_t D, int64_t d, double reg,
                                 const double* alpha, double beta_d) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += exp((alpha[i] + beta_d - M[i * D + d]) / reg);
  return s;
}

}  // namespace gpu
}  // namespace genomap
