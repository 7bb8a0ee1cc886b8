// What every grid shares: coordinates, shape checks, the mean cost of class costs, and the
// dense matrices of any GridProducts, row by row. Each metric has its own grid_<metric>.cpp;
// each way of taking products its own file (grid_dense.cpp, grid_displacement.cpp).
#include "genomap/grid.hpp"

#include <stdexcept>

namespace genomap {

double grid_coordinate(int64_t index, int64_t size) {
  // even size: linspace(-N, N-1, size); odd: linspace(-N, N, size); both have unit spacing.
  const int64_t half = (size % 2 == 0) ? size / 2 : (size - 1) / 2;
  return static_cast<double>(index - half);
}

void check_grid_shape(int64_t rows, int64_t cols, int64_t n_used) {
  if (rows < 1 || cols < 1) throw std::invalid_argument("grid rows and cols must be >= 1");
  // rows * cols must not overflow, and n_used x n_used products must stay addressable
  if (rows > (int64_t{1} << 31) || cols > (int64_t{1} << 31))
    throw std::invalid_argument("grid rows and cols must be <= 2^31");
  if (n_used > (int64_t{1} << 31))
    throw std::invalid_argument("more than 2^31 used pixels is not supported");
  if (n_used < 1 || n_used > rows * cols)
    throw std::invalid_argument("number of used pixels must be in [1, rows*cols]");
}

double class_mean_cost(const std::vector<double>& class_cost, const std::vector<int64_t>& capacity,
                       int64_t n_used) {
  const int64_t D = static_cast<int64_t>(capacity.size());
  double s = 0.0;
  for (int64_t a = 0; a < D; ++a) {
    double row = 0.0;
    for (int64_t b = 0; b < D; ++b) row += static_cast<double>(capacity[b]) * class_cost[a * D + b];
    s += static_cast<double>(capacity[a]) * row;
  }
  const double n = static_cast<double>(n_used);
  return s / (n * n);
}

void GridProducts::log_cost_lookup(int64_t D, std::vector<float>& table,
                                   std::vector<int64_t>& row_base,
                                   std::vector<int64_t>& column) const {
  table.assign(D * D, 0.0f);
  row_base.resize(D);
  column.resize(D);
  std::vector<double> row(D);
  for (int64_t d = 0; d < D; ++d) {
    log_cost_row(d, row.data());
    for (int64_t e = 0; e < D; ++e) table[d * D + e] = static_cast<float>(row[e]);
    row_base[d] = d * D;
    column[d] = d;
  }
}

std::vector<double> GridCost::dense_log_cost() const {
  std::vector<double> out(n_classes * n_classes);
  for (int64_t d = 0; d < n_classes; ++d) log_cost_row(d, out.data() + d * n_classes);
  return out;
}

std::vector<double> GridCost::dense_cost() const {
  std::vector<double> out(n_classes * n_classes);
  for (int64_t d = 0; d < n_classes; ++d) cost_row(d, out.data() + d * n_classes);
  return out;
}

}  // namespace genomap
