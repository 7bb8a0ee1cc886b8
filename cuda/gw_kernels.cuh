// Arithmetic of the GW placement on the device, as __host__ __device__ functions: the kernels in
// cuda/gw_device.cu call them per thread and cuda/host_gw.cpp calls the same bodies in plain
// loops, so the CPU test suite checks them against the C++ core (tests/test_cuda_gw_host.py).
// Header-only, no CUDA headers.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels.cuh"

namespace genomap {
namespace gpu {

constexpr double kGWLogFloor = 1e-15;  // the reference's log(C2 + 1e-15), as the C++ core

// The grid's class log-cost L as the solvers read it: a dense (D, D) row-major matrix, or, for a
// translation-invariant grid whose classes are its first D pixels, the displacement table of
// (2 cols - 1) x (2 rows - 1) entries (cpp/include/genomap/grid.hpp, displacement_products).
struct LogCostView {
  const double* dense = nullptr;  // (D, D) or null
  const double* table = nullptr;  // displacement table or null
  int64_t D = 0, rows = 0, cols = 0;
};

GENOMAP_HD double log_cost_entry(const LogCostView& v, int64_t d, int64_t e) {
  if (v.dense) return v.dense[d * v.D + e];
  const int64_t r2 = 2 * v.rows - 1;
  return v.table[(e / v.rows - d / v.rows + v.cols - 1) * r2 + e % v.rows - d % v.rows +
                 v.rows - 1];
}

// ---- the problem's sums (each in the C++ core's order) ---------------------------------------

// a_i = sum_k C1[i, k], k in order (the first step's gene weights).
GENOMAP_HD double gene_row_sum(const double* C1, int64_t n, int64_t i) {
  double s = 0.0;
  for (int64_t k = 0; k < n; ++k) s += C1[i * n + k];
  return s;
}

// Row i of <f1(C1) p, p> before the 1/n^2: sum_k a log(a + 1e-15) - a.
GENOMAP_HD double f1_row(const double* C1, int64_t n, int64_t i) {
  double s = 0.0;
  for (int64_t k = 0; k < n; ++k) {
    const double a = C1[i * n + k];
    s += a * log(a + kGWLogFloor) - a;
  }
  return s;
}

// b_d = sum_e cap_e L[e, d], e in order (the first step's class weights).
GENOMAP_HD double class_weight(const LogCostView& v, const int64_t* capacity, int64_t d) {
  double s = 0.0;
  for (int64_t e = 0; e < v.D; ++e)
    s += static_cast<double>(capacity[e]) * log_cost_entry(v, e, d);
  return s;
}

// CS[i, d] = sum of C1[i, k] over the genes k of class d, in gene order (members of class d
// are members[start[d]:start[d+1]], ascending): the core's class_sums term for term.
GENOMAP_HD double class_sum(const double* C1, int64_t n, int64_t i, const int64_t* members,
                            const int64_t* start, int64_t d) {
  double s = 0.0;
  const double* c = C1 + i * n;
  for (int64_t t = start[d]; t < start[d + 1]; ++t) s += c[members[t]];
  return s;
}

// A = S @ L, one element, by the definition (the host twin of the device GEMM / convolution).
GENOMAP_HD double log_cost_product(const double* S, int64_t D, int64_t i, int64_t e,
                                   const LogCostView& v) {
  double s = 0.0;
  for (int64_t d = 0; d < D; ++d) s += S[i * D + d] * log_cost_entry(v, d, e);
  return s;
}

// ---- displacement grids by FFT: zero-padded P x Q images, [column][row] (row fastest) --------

// Offset of pixel p (row p % rows, column p / rows) in a padded image with P rows.
GENOMAP_HD int64_t padded_offset(int64_t p, int64_t rows, int64_t P) {
  return (p / rows) * P + p % rows;
}

// The padded kernel image at (r, c): the table entry for displacement (dr, dc) with dr = r or
// r - P (likewise dc), zero where neither is within the grid; the circular convolution of a
// padded gene row with it is the linear one, as P >= 2 rows - 1 and Q >= 2 cols - 1.
GENOMAP_HD double padded_kernel_value(const double* table, int64_t rows, int64_t cols, int64_t P,
                                      int64_t Q, int64_t r, int64_t c) {
  const int64_t dr = r < rows ? r : (r > P - rows ? r - P : rows);
  const int64_t dc = c < cols ? c : (c > Q - cols ? c - Q : cols);
  if (dr >= rows || dc >= cols) return 0.0;
  return table[(dc + cols - 1) * (2 * rows - 1) + dr + rows - 1];
}

// (X circ K)[r, c] by the definition (the host twin of the FFT product).
GENOMAP_HD double circular_convolution_point(const double* X, const double* K, int64_t P,
                                             int64_t Q, int64_t r, int64_t c) {
  double s = 0.0;
  for (int64_t cc = 0; cc < Q; ++cc)
    for (int64_t rr = 0; rr < P; ++rr)
      s += X[cc * P + rr] * K[((c - cc + Q) % Q) * P + (r - rr + P) % P];
  return s;
}

// Spectrum product of one frequency, with cuFFT's 1/(P Q) for the unnormalised inverse.
GENOMAP_HD void spectrum_product(double xr, double xi, double kr, double ki, double scale,
                                 double* outr, double* outi) {
  *outr = (xr * kr - xi * ki) * scale;
  *outi = (xr * ki + xi * kr) * scale;
}

// ---- auction assignment (maximise sum A[i, class(i)], class d holding capacity[d] genes) ------
// Pixels are the auction's objects, grouped by class (slots start[d] .. start[d + 1]); a gene
// bids for the cheapest pixel of its best class. Rounds are Jacobi rounds: all unassigned genes
// bid, each pixel takes its highest bid (lowest gene on ties), so a round's outcome does not
// depend on the order threads run in.

// Total order of doubles as unsigned integers (for atomicMax on bids); 0 is below every bid.
GENOMAP_HD uint64_t ordered_bits(double x) {
  uint64_t u;
  memcpy(&u, &x, sizeof u);
  return (u >> 63) ? ~u : (u | 0x8000000000000000ULL);
}

// Lowest and second-lowest pixel price of class d and the lowest-priced pixel (lowest index on
// ties); the second price is +inf for a one-pixel class.
GENOMAP_HD void class_price_minima(const double* price, const int64_t* start, int64_t d,
                                   double* lowest, double* second, int64_t* slot) {
  double m1 = INFINITY, m2 = INFINITY;
  int64_t s1 = start[d];
  for (int64_t s = start[d]; s < start[d + 1]; ++s) {
    const double p = price[s];
    if (p < m1) {
      m2 = m1;
      m1 = p;
      s1 = s;
    } else if (p < m2) {
      m2 = p;
    }
  }
  *lowest = m1;
  *second = m2;
  *slot = s1;
}

// A gene's bid from its benefits a_row (D,): the best class (lowest index on ties) and the price
// it offers for that class's cheapest pixel, raised by the margin over the second-best choice
// (another class, or the class's second pixel) plus eps.
GENOMAP_HD int64_t auction_bid(const double* a_row, int64_t D, const double* lowest,
                               const double* second, double eps, double* bid) {
  double v1 = -INFINITY, v2 = -INFINITY;
  int64_t d1 = 0;
  for (int64_t d = 0; d < D; ++d) {
    const double v = a_row[d] - lowest[d];
    if (v > v1) {
      v2 = v1;
      v1 = v;
      d1 = d;
    } else if (v > v2) {
      v2 = v;
    }
  }
  const double same = a_row[d1] - second[d1];
  if (same > v2) v2 = same;
  *bid = v2 == -INFINITY ? lowest[d1] + eps : lowest[d1] + (v1 - v2) + eps;
  return d1;
}

// ---- entropic steps --------------------------------------------------------------------------

// Row i of ||T - T_prev||_F^2 over pixels (a class entry spread evenly over its pixels).
GENOMAP_HD double coupling_change_row(const double* T, const double* prev,
                                      const int64_t* capacity, int64_t D, int64_t i) {
  double s = 0.0;
  for (int64_t d = 0; d < D; ++d) {
    const double x = T[i * D + d] - prev[i * D + d];
    s += x * x / static_cast<double>(capacity[d]);
  }
  return s;
}

// Row i of sum B * T.
GENOMAP_HD double row_dot(const double* B, const double* T, int64_t D, int64_t i) {
  double s = 0.0;
  for (int64_t d = 0; d < D; ++d) s += B[i * D + d] * T[i * D + d];
  return s;
}

}  // namespace gpu
}  // namespace genomap
