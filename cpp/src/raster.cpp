#include "genomap/raster.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace genomap {

namespace {

// True when any value is NaN/inf: all exponent bits set. An integer OR-reduction, which the
// compiler vectorises (a floating-point sum would need -ffast-math to be reordered).
template <class F, class U>
inline bool any_nonfinite_bits(const F* x, int64_t n, U exponent) {
  static_assert(sizeof(F) == sizeof(U), "bit pattern and value must have the same size");
  U flag = 0;
  for (int64_t i = 0; i < n; ++i) {
    U u;
    std::memcpy(&u, x + i, sizeof u);
    flag |= static_cast<U>((u & exponent) == exponent);
  }
  return flag != 0;
}

inline bool any_nonfinite(const float* x, int64_t n) {
  return any_nonfinite_bits<float, uint32_t>(x, n, 0x7f800000u);
}

inline bool any_nonfinite(const double* x, int64_t n) {
  return any_nonfinite_bits<double, uint64_t>(x, n, 0x7ff0000000000000ull);
}

}  // namespace

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
    if (any_nonfinite(xr, genes) && c < first_bad) first_bad = c;
    for (int64_t g = 0; g < genes; ++g) {
      const int64_t d = dest[g];
      if (d >= 0) o[d] = static_cast<Out>(static_cast<double>(xr[g]) * scale);
    }
    // a finite value can still overflow once scaled (or narrowed to float32)
    if (c < first_bad && any_nonfinite(o, image_size)) first_bad = c;
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
    if (any_nonfinite(data + indptr[c], static_cast<int64_t>(indptr[c + 1] - indptr[c])) &&
        c < first_bad)
      first_bad = c;
    for (Idx p = indptr[c]; p < indptr[c + 1]; ++p) {
      const int64_t d = dest[indices[p]];
      if (d >= 0) o[d] = static_cast<Out>(static_cast<double>(data[p]) * scale);
    }
    if (c < first_bad && any_nonfinite(o, image_size)) first_bad = c;
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
