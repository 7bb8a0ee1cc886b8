// Translation-invariant costs kept as functions of the displacement between pixels (a table of
// (2 rows - 1) x (2 cols - 1) entries instead of D x D matrices: 1.6 GB at 100x100), products
// by 2-D FFT convolution: O(n^2 log n) per GW step instead of the O(n^3) matrix product.
#include <cmath>
#include <stdexcept>

#include "genomap/convolution.hpp"
#include "genomap/grid.hpp"

namespace genomap {

namespace {

class DisplacementProducts final : public GridProducts {
 public:
  DisplacementProducts(int64_t rows, int64_t cols, int64_t D, std::vector<double> cost,
                       std::vector<double> log_cost)
      : rows_(rows),
        cols_(cols),
        D_(D),
        cost_(std::move(cost)),
        log_cost_(std::move(log_cost)),
        convolution_(rows, cols, [this](int64_t dr, int64_t dc) { return log_cost_[at(dr, dc)]; }) {
  }
  void apply_log_cost(const double* S, int64_t n, double* out, int num_threads) const override {
    convolution_.apply(S, n, D_, out, num_threads);
  }
  void log_cost_row(int64_t d, double* out) const override { row(log_cost_, d, out); }
  void cost_row(int64_t d, double* out) const override { row(cost_, d, out); }
  // A forward and an inverse 2-D FFT of the padded grid per pair of rows, counted at 25 flops
  // per point and log2 point (FFT flops are slower than GEMM flops).
  double product_flops(int64_t n) const override {
    const double nd = static_cast<double>(n);
    const double pq =
        static_cast<double>(convolution_.padded_rows() * convolution_.padded_cols());
    return 25.0 * nd * pq * std::log2(pq);
  }
  const char* kind() const override { return "fft"; }
  bool stores_dense_cost() const override { return false; }
  bool displacement_log_table(std::vector<double>& table) const override {
    table = log_cost_;
    return true;
  }
  // L[d, e] = table[(ce - cd + cols - 1) r2 + re - rd + rows - 1] = table[row_base[d] + column[e]]
  // with column[e] = ce r2 + re and row_base[d] = (cols - 1) r2 + rows - 1 - column[d].
  void log_cost_lookup(int64_t, std::vector<float>& table, std::vector<int64_t>& row_base,
                       std::vector<int64_t>& column) const override {
    const int64_t r2 = 2 * rows_ - 1, centre = (cols_ - 1) * r2 + rows_ - 1;
    table.assign(log_cost_.begin(), log_cost_.end());
    column.resize(D_);
    row_base.resize(D_);
    for (int64_t e = 0; e < D_; ++e) {
      column[e] = (e / rows_) * r2 + e % rows_;
      row_base[e] = centre - column[e];
    }
  }

 private:
  int64_t at(int64_t dr, int64_t dc) const {
    return (dc + cols_ - 1) * (2 * rows_ - 1) + dr + rows_ - 1;
  }
  void row(const std::vector<double>& table, int64_t d, double* out) const {
    const int64_t rows = rows_, r2 = 2 * rows - 1;
    const int64_t rd = d % rows, cd = d / rows;
    for (int64_t e = 0; e < D_; ++e)
      out[e] = table[(e / rows - cd + cols_ - 1) * r2 + e % rows - rd + rows - 1];
  }

  int64_t rows_, cols_, D_;
  std::vector<double> cost_, log_cost_;
  GridConvolution convolution_;  // after log_cost_: built from it
};

}  // namespace

std::shared_ptr<const GridProducts> displacement_products(int64_t rows, int64_t cols, int64_t D,
                                                          std::vector<double> cost_table,
                                                          std::vector<double> log_cost_table) {
  if (rows < 1 || cols < 1) throw std::invalid_argument("grid rows and cols must be >= 1");
  if (D < 1 || D > rows * cols) throw std::invalid_argument("classes must be in [1, rows*cols]");
  const int64_t entries = (2 * rows - 1) * (2 * cols - 1);
  if (static_cast<int64_t>(log_cost_table.size()) != entries ||
      static_cast<int64_t>(cost_table.size()) != entries)
    throw std::invalid_argument("displacement tables must be (2 cols - 1) x (2 rows - 1)");
  return std::make_shared<DisplacementProducts>(rows, cols, D, std::move(cost_table),
                                                std::move(log_cost_table));
}

}  // namespace genomap
