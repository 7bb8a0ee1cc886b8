#include "genomap/raster.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace genomap {

template <class In, class Out>
int64_t rasterize_dense(const In* x, int64_t cells, int64_t genes, int64_t ld_x,
                        const int64_t* dest, double scale, Out* out, int64_t image_size,
                        int num_threads) {
  const int nt = num_threads > 0 ? num_threads : 1;
  int64_t first_bad = std::numeric_limits<int64_t>::max();
#pragma omp parallel for schedule(static) num_threads(nt) reduction(min : first_bad)
  for (int64_t c = 0; c < cells; ++c) {
    Out* o = out + c * image_size;
    std::fill(o, o + image_size, Out(0));
    const In* xr = x + c * ld_x;
    In bad = In(0);  // x - x is 0 for finite x, NaN for NaN/inf
    for (int64_t g = 0; g < genes; ++g) {
      const int64_t d = dest[g];
      bad += xr[g] - xr[g];
      if (d >= 0) o[d] = static_cast<Out>(static_cast<double>(xr[g]) * scale);
    }
    if (bad != In(0) && c < first_bad) first_bad = c;
  }
  return first_bad == std::numeric_limits<int64_t>::max() ? -1 : first_bad;
}

template <class In, class Idx, class Out>
int64_t rasterize_csr(const Idx* indptr, const Idx* indices, const In* data, int64_t cells,
                      const int64_t* dest, double scale, Out* out, int64_t image_size,
                      int num_threads) {
  const int nt = num_threads > 0 ? num_threads : 1;
  int64_t first_bad = std::numeric_limits<int64_t>::max();
#pragma omp parallel for schedule(static) num_threads(nt) reduction(min : first_bad)
  for (int64_t c = 0; c < cells; ++c) {
    Out* o = out + c * image_size;
    std::fill(o, o + image_size, Out(0));
    In bad = In(0);
    for (Idx p = indptr[c]; p < indptr[c + 1]; ++p) {
      const int64_t d = dest[indices[p]];
      bad += data[p] - data[p];
      if (d >= 0) o[d] = static_cast<Out>(static_cast<double>(data[p]) * scale);
    }
    if (bad != In(0) && c < first_bad) first_bad = c;
  }
  return first_bad == std::numeric_limits<int64_t>::max() ? -1 : first_bad;
}

#define GENOMAP_DENSE(In, Out)                                                               \
  template int64_t rasterize_dense<In, Out>(const In*, int64_t, int64_t, int64_t, const int64_t*, \
                                         double, Out*, int64_t, int);
GENOMAP_DENSE(float, float)
GENOMAP_DENSE(float, double)
GENOMAP_DENSE(double, float)
GENOMAP_DENSE(double, double)
#define GENOMAP_CSR(In, Idx, Out)                                                       \
  template int64_t rasterize_csr<In, Idx, Out>(const Idx*, const Idx*, const In*, int64_t, \
                                            const int64_t*, double, Out*, int64_t, int);
GENOMAP_CSR(float, int32_t, float)
GENOMAP_CSR(float, int32_t, double)
GENOMAP_CSR(double, int32_t, float)
GENOMAP_CSR(double, int32_t, double)
GENOMAP_CSR(float, int64_t, float)
GENOMAP_CSR(float, int64_t, double)
GENOMAP_CSR(double, int64_t, float)
GENOMAP_CSR(double, int64_t, double)

}  // namespace genomap
