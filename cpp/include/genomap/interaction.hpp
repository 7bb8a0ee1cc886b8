// Gene-gene interaction matrix C1 = 1 - corr(g_i, g_j), accumulated in one streaming pass.
//
// Accumulators are float64 sums and cross-products of values shifted by the first row seen
// (a stable shift: a constant gene gives exactly zero variance). Memory is O(genes^2), never
// O(cells). Partial accumulators can be merged, so chunks may be processed anywhere. Only the
// upper triangle (and diagonal) of the cross-products is kept up to date.
//
// The canonical reduction over row blocks is a left fold: the first block's statistics, then
// merge(statistics of block b) for b = 1, 2, ... . add_*_block perform one such step without
// forming the block's n x n partial (its cross-products are made and merged in slabs of rows),
// so a streaming pass holds one n x n matrix and equals, bit for bit, partials computed
// elsewhere (dask workers) and merged in block order.
#pragma once
#include <cstdint>
#include <vector>

namespace genomap {

class CorrelationAccumulator {
 public:
  explicit CorrelationAccumulator(int64_t n_genes);
  // Adds a dense row-major chunk (rows x n_genes) of float64 values.
  void add_dense(const double* chunk, int64_t rows, int num_threads);
  // Adds a CSR chunk (rows x n_genes; column indices sorted within each row, no duplicates).
  // Sparse chunks are accumulated unshifted (shift 0), in O(sum of nnz(row)^2), each output
  // element summed in cell order by one thread: the result does not depend on num_threads.
  template <class Idx, class Val>
  void add_csr(const Idx* indptr, const Idx* indices, const Val* data, int64_t rows,
               int num_threads);
  // One step of the block fold (see above): as merge(accumulator of this block alone).
  void add_dense_block(const double* chunk, int64_t rows, int num_threads);
  template <class Idx, class Val>
  void add_csr_block(const Idx* indptr, const Idx* indices, const Val* data, int64_t rows,
                     int num_threads);
  // Merges another accumulator (same gene count) into this one.
  void merge(const CorrelationAccumulator& other);

  int64_t n_genes() const { return n_; }
  int64_t count() const { return count_; }
  bool has_shift() const { return has_shift_; }
  const std::vector<double>& shift() const { return shift_; }
  const std::vector<double>& sums() const { return sums_; }
  const std::vector<double>& cross() const { return cross_; }
  void set_state(int64_t count, const double* shift, const double* sums, const double* cross,
                 bool has_shift);

  // Per-gene mean and variance (ddof as given).
  void moments(double* mean, double* var, int ddof) const;
  // Correlation distance (n x n, row-major). Genes with zero variance have distance 1 to every
  // other gene (correlation 0) and 0 to themselves. Values are clipped to [0, 2].
  void correlation_distance(double* out, int num_threads) const;
  // As correlation_distance, computed in place in the cross-product buffer, which is moved
  // out (the accumulator is empty afterwards): peak memory one n x n buffer instead of two.
  std::vector<double> take_correlation_distance(int num_threads);
  // Boolean mask of zero-variance genes.
  std::vector<uint8_t> constant_genes() const;

 private:
  int64_t n_;
  int64_t count_ = 0;
  bool has_shift_ = false;
  std::vector<double> shift_, sums_, cross_;  // cross_ is n x n, upper triangle valid
  int64_t slab_rows() const;
  // cross_[i][j] (j >= i, i in [i0, i1)) += slab terms of a block with `m` rows, sums `bs`,
  // shift difference `delta`: the merge formula, term for term.
  void merge_slab(const double* slab, int64_t i0, int64_t i1, const std::vector<double>& bs,
                  const std::vector<double>& delta, double m);
};

}  // namespace genomap
