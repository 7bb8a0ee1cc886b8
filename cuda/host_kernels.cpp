// The GPU kernels' bodies (kernels.cuh) run by plain host loops, in the order in which the
// kernels' threads apply them. No CUDA runtime call: this runs on any machine.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "gpu.hpp"
#include "kernels.cuh"

namespace genomap {
namespace gpu {

template <class In, class Out>
int64_t host_raster_dense(const In* x, int64_t cells, int64_t genes, const int64_t* dest,
                          double scale, Out* out, int64_t image_size) {
  std::fill(out, out + cells * image_size, Out(0));
  int64_t first_bad = -1;
  for (int64_t c = 0; c < cells; ++c)
    for (int64_t g = 0; g < genes; ++g)
      if (!raster_dense_element(x, genes, c, g, dest, scale, out, image_size) && first_bad < 0)
        first_bad = c;
  return first_bad;
}

template <class In, class Idx, class Out>
int64_t host_raster_csr(const Idx* indptr, const Idx* indices, const In* data, int64_t cells,
                        const int64_t* dest, double scale, Out* out, int64_t image_size) {
  std::fill(out, out + cells * image_size, Out(0));
  int64_t first_bad = -1;
  const int64_t nnz = cells > 0 ? static_cast<int64_t>(indptr[cells]) : 0;
  for (int64_t p = 0; p < nnz; ++p) {  // one device thread per stored entry
    const int64_t c = csr_row_of(indptr, cells, p);
    if (!raster_csr_entry(indices, data, p, c, dest, scale, out, image_size) &&
        (first_bad < 0 || c < first_bad))
      first_bad = c;
  }
  return first_bad;
}

void host_block_fold(const double* x, int64_t rows, int64_t n, int64_t block_rows,
                     double* shift, double* sums, double* cross) {
  std::vector<double> centred, bs(n), delta(n), partial(n * n);
  int64_t count = 0;
  for (int64_t r0 = 0; r0 < rows; r0 += block_rows) {
    const int64_t m = std::min(block_rows, rows - r0);
    const double* blk = x + r0 * n;
    centred.assign(m * n, 0.0);
    for (int64_t r = 0; r < m; ++r)
      for (int64_t j = 0; j < n; ++j) centred[r * n + j] = centred_value(blk, n, r, j);
    for (int64_t j = 0; j < n; ++j) bs[j] = centred_column_sum(centred.data(), m, n, j);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = i; j < n; ++j)
        partial[i * n + j] = cross_accumulate(centred.data(), n, 0, m, i, j, 0.0);
    if (count == 0) {
      for (int64_t j = 0; j < n; ++j) {
        shift[j] = blk[j];
        sums[j] = bs[j];
      }
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = i; j < n; ++j) cross[i * n + j] = partial[i * n + j];
    } else {
      for (int64_t j = 0; j < n; ++j) delta[j] = blk[j] - shift[j];
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = i; j < n; ++j)
          cross[i * n + j] += merge_term(partial[i * n + j], delta[i], delta[j], bs[i], bs[j],
                                         static_cast<double>(m));
      for (int64_t j = 0; j < n; ++j) sums[j] += bs[j] + static_cast<double>(m) * delta[j];
    }
    count += m;
  }
}

SinkhornResult host_sinkhorn_log(const double* M, int64_t n, int64_t D, const int64_t* capacity,
                                 double reg, int64_t max_iter, double stop_thr, double* out) {
  const double target = 1.0 / static_cast<double>(n);
  const double log_target = std::log(target);
  std::vector<double> log_cap(D), alpha(n, 0.0), beta(D, 0.0);
  for (int64_t d = 0; d < D; ++d) log_cap[d] = std::log(static_cast<double>(capacity[d]));
  SinkhornResult res;
  double err = 1.0;
  int64_t ii = 0;
  for (; ii < max_iter; ++ii) {
    for (int64_t d = 0; d < D; ++d)  // one device thread per class
      beta[d] = log_column_potential(M, n, D, d, reg, log_target, alpha.data());
    for (int64_t i = 0; i < n; ++i)  // one device thread per gene
      alpha[i] = log_row_potential(M, D, i, reg, log_target, log_cap.data(), beta.data());
    if (ii % 10 == 0) {
      double e2 = 0.0;
      for (int64_t d = 0; d < D; ++d) {
        const double m = pixel_marginal(M, n, D, d, reg, alpha.data(), beta[d]) - target;
        e2 += static_cast<double>(capacity[d]) * m * m;
      }
      err = std::sqrt(e2);
      if (err < stop_thr) break;
    }
  }
  res.n_iter = std::min(ii + 1, max_iter);
  res.marginal_error = err;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t d = 0; d < D; ++d)
      out[i * D + d] = class_mass(M[i * D + d], alpha[i], beta[d], reg,
                                  static_cast<double>(capacity[d]));
  return res;
}

#define GENOMAP_HOST_DENSE(In, Out)                                                       \
  template int64_t host_raster_dense<In, Out>(const In*, int64_t, int64_t, const int64_t*, \
                                              double, Out*, int64_t);
GENOMAP_HOST_DENSE(float, float)
GENOMAP_HOST_DENSE(float, double)
GENOMAP_HOST_DENSE(double, float)
GENOMAP_HOST_DENSE(double, double)
#define GENOMAP_HOST_CSR(In, Idx, Out)                                                         \
  template int64_t host_raster_csr<In, Idx, Out>(const Idx*, const Idx*, const In*, int64_t,   \
                                                 const int64_t*, double, Out*, int64_t);
GENOMAP_HOST_CSR(float, int32_t, float)
GENOMAP_HOST_CSR(double, int32_t, float)
GENOMAP_HOST_CSR(float, int64_t, float)
GENOMAP_HOST_CSR(double, int64_t, float)
GENOMAP_HOST_CSR(float, int32_t, double)
GENOMAP_HOST_CSR(double, int32_t, double)
GENOMAP_HOST_CSR(float, int64_t, double)
GENOMAP_HOST_CSR(double, int64_t, double)

}  // namespace gpu
}  // namespace genomap
