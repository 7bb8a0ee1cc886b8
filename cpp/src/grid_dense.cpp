// Dense class costs, products by BLAS: the user-supplied pixel cost (one class per pixel), and
// the products of every grid that keeps its (D, D) class matrices (radial rings, small
// euclidean grids, euclidean tiles without FFT).
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "genomap/blas.hpp"
#include "genomap/grid.hpp"

namespace genomap {

namespace {

class DenseProducts final : public GridProducts {
 public:
  DenseProducts(int64_t D, std::vector<double> cost, std::vector<double> log_cost)
      : D_(D), cost_(std::move(cost)), log_cost_(std::move(log_cost)) {
    if (static_cast<int64_t>(cost_.size()) != D * D ||
        static_cast<int64_t>(log_cost_.size()) != D * D)
      throw std::invalid_argument("dense class costs must be (classes, classes)");
  }
  void apply_log_cost(const double* S, int64_t n, double* out, int num_threads) const override {
    gemm_rowmajor(false, false, n, D_, D_, 1.0, S, D_, log_cost_.data(), D_, 0.0, out, D_,
                  num_threads);
  }
  void log_cost_row(int64_t d, double* out) const override {
    std::copy(log_cost_.begin() + d * D_, log_cost_.begin() + (d + 1) * D_, out);
  }
  void cost_row(int64_t d, double* out) const override {
    std::copy(cost_.begin() + d * D_, cost_.begin() + (d + 1) * D_, out);
  }
  double product_flops(int64_t n) const override {  // an (n, D) x (D, D) GEMM
    const double nd = static_cast<double>(n), dd = static_cast<double>(D_);
    return 2.0 * nd * dd * dd;
  }
  const char* kind() const override { return "blas"; }
  bool stores_dense_cost() const override { return true; }

 private:
  int64_t D_;
  std::vector<double> cost_, log_cost_;
};

}  // namespace

std::shared_ptr<const GridProducts> dense_products(int64_t D, std::vector<double> cost,
                                                   std::vector<double> log_cost) {
  return std::make_shared<DenseProducts>(D, std::move(cost), std::move(log_cost));
}

std::shared_ptr<const GridProducts> dense_products(int64_t D, std::vector<double> cost) {
  std::vector<double> log_cost(cost.size());
  for (size_t i = 0; i < cost.size(); ++i) log_cost[i] = std::log(cost[i] + kLogFloor);
  return dense_products(D, std::move(cost), std::move(log_cost));
}

GridCost dense_grid(const double* cost, int64_t n, int64_t rows, int64_t cols) {
  check_grid_shape(rows, cols, n);
  GridCost g;
  g.metric = "dense";
  g.rows = rows;
  g.cols = cols;
  g.n_used = n;
  g.n_classes = n;
  g.capacity.assign(n, 1);
  g.class_of_pixel.resize(n);
  for (int64_t a = 0; a < n; ++a) g.class_of_pixel[a] = a;
  std::vector<double> class_cost(cost, cost + n * n);
  for (double v : class_cost)
    if (!(v >= 0.0) || !std::isfinite(v))
      throw std::invalid_argument("grid cost must be finite and non-negative");
  g.mean_cost = class_mean_cost(class_cost, g.capacity, n);
  g.products = dense_products(n, std::move(class_cost));
  return g;
}

}  // namespace genomap
