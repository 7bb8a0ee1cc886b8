#include "genomap/interaction.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "genomap/blas.hpp"

namespace genomap {

namespace {

// Rows [i0, i1) of the upper-triangle cross-products of a CSR chunk (sorted unique indices per
// row), added into out (row i at out + (i - i0) * n). Gene by gene (Gustavson): the chunk's
// entries of each gene are listed in cell order first (a counting sort), then gene i walks its
// cells and adds v_i * v_q over each cell's entries q >= i into its own row of out, which stays
// in cache (walking cells and scattering into all rows at once misses the cache on a
// 1,000-gene slab). Each element's sum runs over cells in order either way, and thread t owns
// genes i with i % T == t, so sums do not depend on the thread count.
template <class Idx, class Val>
void csr_cross_rows(const Idx* indptr, const Idx* indices, const Val* data, int64_t rows,
                    int64_t n, int64_t i0, int64_t i1, double* out, int num_threads) {
  const int64_t G = i1 - i0;
  std::vector<int64_t> first(G + 1, 0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t p = static_cast<int64_t>(indptr[r]); p < static_cast<int64_t>(indptr[r + 1]); ++p) {
      const int64_t i = static_cast<int64_t>(indices[p]);
      if (i >= i0 && i < i1) ++first[i - i0 + 1];
    }
  for (int64_t g = 0; g < G; ++g) first[g + 1] += first[g];
  std::vector<int64_t> entry(first[G]), cell(first[G]), next(first.begin(), first.end() - 1);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t p = static_cast<int64_t>(indptr[r]); p < static_cast<int64_t>(indptr[r + 1]); ++p) {
      const int64_t i = static_cast<int64_t>(indices[p]);
      if (i < i0 || i >= i1) continue;
      const int64_t k = next[i - i0]++;
      entry[k] = p;
      cell[k] = r;
    }
#pragma omp parallel num_threads(num_threads > 0 ? num_threads : 1)
  {
    int t = 0, T = 1;
#ifdef _OPENMP
    t = omp_get_thread_num();
    T = omp_get_num_threads();
#endif
    for (int64_t i = i0; i < i1; ++i) {
      if (i % T != t) continue;
      double* row = out + (i - i0) * n;
      for (int64_t k = first[i - i0]; k < first[i - i0 + 1]; ++k) {
        const int64_t p = entry[k], hi = static_cast<int64_t>(indptr[cell[k] + 1]);
        const double vi = static_cast<double>(data[p]);
        for (int64_t q = p; q < hi; ++q)
          row[static_cast<int64_t>(indices[q])] += vi * static_cast<double>(data[q]);
      }
    }
  }
}

// Each gene's sum over a CSR chunk, in cell order.
template <class Idx, class Val>
void csr_sums(const Idx* indptr, const Idx* indices, const Val* data, int64_t rows, double* sums) {
  for (int64_t r = 0; r < rows; ++r)
    for (Idx p = indptr[r]; p < indptr[r + 1]; ++p)
      sums[static_cast<int64_t>(indices[p])] += static_cast<double>(data[p]);
}

}  // namespace

CorrelationAccumulator::CorrelationAccumulator(int64_t n_genes)
    : n_(n_genes), shift_(n_genes, 0.0), sums_(n_genes, 0.0), cross_(n_genes * n_genes, 0.0) {
  if (n_genes < 1) throw std::invalid_argument("need at least one gene");
}

void CorrelationAccumulator::add_dense(const double* chunk, int64_t rows, int num_threads) {
  if (rows <= 0) return;
  if (cross_.empty()) cross_.assign(n_ * n_, 0.0);  // after take_correlation_distance
  if (!has_shift_) {
    std::copy(chunk, chunk + n_, shift_.begin());
    has_shift_ = true;
  }
  std::vector<double> centred(rows * n_);
#pragma omp parallel for schedule(static) num_threads(num_threads > 0 ? num_threads : 1)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < n_; ++j) centred[r * n_ + j] = chunk[r * n_ + j] - shift_[j];
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < n_; ++j) sums_[j] += centred[r * n_ + j];
  gemm_rowmajor(true, false, n_, n_, rows, 1.0, centred.data(), n_, centred.data(), n_,
                count_ == 0 ? 0.0 : 1.0, cross_.data(), n_, num_threads);
  count_ += rows;
}

int64_t CorrelationAccumulator::slab_rows() const {
  // whole 256-row blocks (gemm_rowmajor's fixed blocks: a slab's rows are bitwise the rows of
  // the full product), about 64 MB of slab
  const int64_t rows = std::max<int64_t>(256, (int64_t{1} << 23) / std::max<int64_t>(n_, 1));
  return rows / 256 * 256;
}

void CorrelationAccumulator::merge_slab(const double* slab, int64_t i0, int64_t i1,
                                        const std::vector<double>& bs,
                                        const std::vector<double>& delta, double m) {
  for (int64_t i = i0; i < i1; ++i) {
    const double* o = slab + (i - i0) * n_;
    double* c = cross_.data() + i * n_;
    for (int64_t j = i; j < n_; ++j)
      c[j] += o[j] + delta[i] * bs[j] + bs[i] * delta[j] + m * delta[i] * delta[j];
  }
}

void CorrelationAccumulator::add_dense_block(const double* chunk, int64_t rows, int num_threads) {
  if (rows <= 0) return;
  if (count_ == 0) {  // the first block is its own statistics
    add_dense(chunk, rows, num_threads);
    return;
  }
  const int nt = num_threads > 0 ? num_threads : 1;
  std::vector<double> centred(rows * n_), bs(n_, 0.0), delta(n_);
  const double* shift = chunk;  // the block's own shift: its first row
#pragma omp parallel for schedule(static) num_threads(nt)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < n_; ++j) centred[r * n_ + j] = chunk[r * n_ + j] - shift[j];
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < n_; ++j) bs[j] += centred[r * n_ + j];
  for (int64_t j = 0; j < n_; ++j) delta[j] = shift[j] - shift_[j];
  const int64_t S = slab_rows();
  std::vector<double> slab(std::min(S, n_) * n_);
  for (int64_t i0 = 0; i0 < n_; i0 += S) {
    const int64_t i1 = std::min(n_, i0 + S);
    gemm_rowmajor(true, false, i1 - i0, n_, rows, 1.0, centred.data() + i0, n_, centred.data(),
                  n_, 0.0, slab.data(), n_, nt);
    merge_slab(slab.data(), i0, i1, bs, delta, static_cast<double>(rows));
  }
  for (int64_t j = 0; j < n_; ++j) sums_[j] += bs[j] + static_cast<double>(rows) * delta[j];
  count_ += rows;
}

template <class Idx, class Val>
void CorrelationAccumulator::add_csr_block(const Idx* indptr, const Idx* indices, const Val* data,
                                           int64_t rows, int num_threads) {
  if (rows <= 0) return;
  if (count_ == 0) {
    add_csr(indptr, indices, data, rows, num_threads);
    return;
  }
  std::vector<double> bs(n_, 0.0), delta(n_);
  csr_sums(indptr, indices, data, rows, bs.data());
  for (int64_t j = 0; j < n_; ++j) delta[j] = 0.0 - shift_[j];  // sparse blocks: shift 0
  const int64_t S = slab_rows();
  std::vector<double> slab(std::min(S, n_) * n_);
  for (int64_t i0 = 0; i0 < n_; i0 += S) {
    const int64_t i1 = std::min(n_, i0 + S);
    std::fill(slab.begin(), slab.end(), 0.0);
    csr_cross_rows(indptr, indices, data, rows, n_, i0, i1, slab.data(), num_threads);
    merge_slab(slab.data(), i0, i1, bs, delta, static_cast<double>(rows));
  }
  for (int64_t j = 0; j < n_; ++j) sums_[j] += bs[j] + static_cast<double>(rows) * delta[j];
  count_ += rows;
}

template <class Idx, class Val>
void CorrelationAccumulator::add_csr(const Idx* indptr, const Idx* indices, const Val* data,
                                     int64_t rows, int num_threads) {
  if (rows <= 0) return;
  bool zero_shift = true;
  for (int64_t j = 0; j < n_ && zero_shift; ++j) zero_shift = shift_[j] == 0.0;
  if (count_ > 0 && !zero_shift) {  // statistics around another shift: merge as a block
    add_csr_block(indptr, indices, data, rows, num_threads);
    return;
  }
  if (count_ == 0) std::fill(shift_.begin(), shift_.end(), 0.0);  // sparse: shift 0
  if (cross_.empty()) cross_.assign(n_ * n_, 0.0);
  has_shift_ = true;  // shift 0
  csr_sums(indptr, indices, data, rows, sums_.data());
  csr_cross_rows(indptr, indices, data, rows, n_, 0, n_, cross_.data(), num_threads);
  count_ += rows;  // the loops filled the upper triangle (indices sorted), all that is kept
}

#define GENOMAP_ADD_CSR(Idx, Val)                                                          \
  template void CorrelationAccumulator::add_csr<Idx, Val>(const Idx*, const Idx*, const Val*,   \
                                                          int64_t, int);                       \
  template void CorrelationAccumulator::add_csr_block<Idx, Val>(const Idx*, const Idx*,         \
                                                                const Val*, int64_t, int);
GENOMAP_ADD_CSR(int32_t, float)
GENOMAP_ADD_CSR(int32_t, double)
GENOMAP_ADD_CSR(int64_t, float)
GENOMAP_ADD_CSR(int64_t, double)

void CorrelationAccumulator::merge(const CorrelationAccumulator& o) {
  if (o.n_ != n_) throw std::invalid_argument("cannot merge accumulators of different gene counts");
  if (o.count_ == 0) return;
  if (count_ == 0) {
    *this = o;
    return;
  }
  if (cross_.empty()) cross_.assign(n_ * n_, 0.0);
  // Re-express the other's moments around this shift: x - s = (x - t) + (t - s).
  std::vector<double> delta(n_);
  for (int64_t j = 0; j < n_; ++j) delta[j] = o.shift_[j] - shift_[j];
  const double m = static_cast<double>(o.count_);
  for (int64_t i = 0; i < n_; ++i)  // upper triangle: the same expression as merge_slab
    for (int64_t j = i; j < n_; ++j)
      cross_[i * n_ + j] += o.cross_[i * n_ + j] + delta[i] * o.sums_[j] + o.sums_[i] * delta[j] +
                            m * delta[i] * delta[j];
  for (int64_t j = 0; j < n_; ++j) sums_[j] += o.sums_[j] + m * delta[j];
  count_ += o.count_;
}

void CorrelationAccumulator::set_state(int64_t count, const double* shift, const double* sums,
                                       const double* cross, bool has_shift) {
  count_ = count;
  has_shift_ = has_shift;
  std::copy(shift, shift + n_, shift_.begin());
  std::copy(sums, sums + n_, sums_.begin());
  std::copy(cross, cross + n_ * n_, cross_.begin());
}

void CorrelationAccumulator::moments(double* mean, double* var, int ddof) const {
  const double c = static_cast<double>(count_);
  for (int64_t j = 0; j < n_; ++j) {
    const double ms = count_ > 0 ? sums_[j] / c : 0.0;
    mean[j] = shift_[j] + ms;
    const double ss = cross_[j * n_ + j] - c * ms * ms;
    const double denom = c - static_cast<double>(ddof);
    var[j] = (denom > 0 && ss > 0) ? ss / denom : 0.0;
  }
}

std::vector<uint8_t> CorrelationAccumulator::constant_genes() const {
  std::vector<uint8_t> out(n_, 0);
  const double c = static_cast<double>(count_);
  for (int64_t j = 0; j < n_; ++j) {
    const double ms = count_ > 0 ? sums_[j] / c : 0.0;
    const double ss = cross_[j * n_ + j] - c * ms * ms;
    // Relative test: cancellation leaves ~1e-16 * diag of noise for a truly constant column.
    out[j] = !(ss > 1e-12 * cross_[j * n_ + j]) || ss <= 0.0;
  }
  return out;
}

// Turns a buffer holding the cross-products (n x n, row-major, only the upper triangle and the
// diagonal are read) into the correlation distance, in place; symmetric by construction.
static void distance_in_place(double* buf, int64_t n, int64_t count, const std::vector<double>& sums,
                              const std::vector<uint8_t>& constant, int num_threads) {
  if (count < 2) throw std::invalid_argument("correlation needs at least 2 cells");
  const double c = static_cast<double>(count);
  std::vector<double> ms(n), sd(n);
  for (int64_t j = 0; j < n; ++j) {
    ms[j] = sums[j] / c;
    const double ss = buf[j * n + j] - c * ms[j] * ms[j];
    sd[j] = constant[j] ? 0.0 : std::sqrt(ss);
  }
  const int nt = num_threads > 0 ? num_threads : 1;
#pragma omp parallel for schedule(dynamic, 16) num_threads(nt)
  for (int64_t i = 0; i < n; ++i) {
    double* row = buf + i * n;
    row[i] = 0.0;
    for (int64_t j = i + 1; j < n; ++j) {
      double d;
      if (constant[i] || constant[j]) {
        d = 1.0;
      } else {
        d = 1.0 - (row[j] - c * ms[i] * ms[j]) / (sd[i] * sd[j]);
        d = std::min(2.0, std::max(0.0, d));
      }
      row[j] = d;
    }
  }
#pragma omp parallel for schedule(static) num_threads(nt)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < i; ++j) buf[i * n + j] = buf[j * n + i];
}

std::vector<double> CorrelationAccumulator::take_correlation_distance(int num_threads) {
  distance_in_place(cross_.data(), n_, count_, sums_, constant_genes(), num_threads);
  std::vector<double> out;
  out.swap(cross_);
  count_ = 0;
  has_shift_ = false;
  std::fill(sums_.begin(), sums_.end(), 0.0);
  return out;
}

void CorrelationAccumulator::correlation_distance(double* out, int num_threads) const {
  std::copy(cross_.begin(), cross_.end(), out);
  distance_in_place(out, n_, count_, sums_, constant_genes(), num_threads);
}

}  // namespace genomap
