// The true Euclidean metric between pixel centres: translation-invariant, so costs are kept as
// functions of the displacement; products by FFT (grid_displacement.cpp) or, on small grids,
// BLAS over the dense pixel matrices (grid_dense.cpp). Coarse levels: grid_tiles.cpp.
#include <algorithm>
#include <cmath>

#include "genomap/grid.hpp"

namespace genomap {

GridCost euclidean_grid(int64_t rows, int64_t cols, int64_t n_used, bool fft) {
  check_grid_shape(rows, cols, n_used);
  GridCost g;
  g.metric = "euclidean";
  g.rows = rows;
  g.cols = cols;
  g.n_used = n_used;
  g.n_classes = n_used;
  g.capacity.assign(n_used, 1);
  g.class_of_pixel.resize(n_used);
  for (int64_t a = 0; a < n_used; ++a) g.class_of_pixel[a] = a;
  // Unit spacing on both axes (grid_coordinate), so costs depend on the displacement only.
  // A pixel's log-distance to itself is taken as log(1) (one grid step), not log(1e-15).
  // For permutations the diagonal never enters the objective (C1 has a zero diagonal); in the
  // linearisation, -34.5 on it pins every gene to its current pixel and the iteration cannot move.
  const int64_t r2 = 2 * rows - 1;
  std::vector<double> cost(r2 * (2 * cols - 1)), log_cost(cost.size());
  for (int64_t dc = -(cols - 1); dc < cols; ++dc)
    for (int64_t dr = -(rows - 1); dr < rows; ++dr) {
      const int64_t at = (dc + cols - 1) * r2 + dr + rows - 1;
      const double d = std::sqrt(static_cast<double>(dr * dr + dc * dc));
      cost[at] = d;
      log_cost[at] = (dr == 0 && dc == 0) ? 0.0 : std::log(d + kLogFloor);
    }
  // <C2 q, q>: pairs of used pixels, summed per column pair (a column holds up to `rows`).
  double s = 0.0;
  for (int64_t a = 0; a < n_used; ++a) {
    const int64_t ra = a % rows, ca = a / rows;
    for (int64_t cb = 0; cb * rows < n_used; ++cb) {
      const double* col = cost.data() + (cb - ca + cols - 1) * r2 + rows - 1 - ra;
      for (int64_t rb = 0; rb < std::min(rows, n_used - cb * rows); ++rb) s += col[rb];
    }
  }
  g.mean_cost = s / (static_cast<double>(n_used) * static_cast<double>(n_used));
  g.coarsen = [rows, cols, n_used, fft](int64_t tile) {
    return euclidean_tiles(rows, cols, n_used, tile, fft);
  };
  if (fft) {
    g.products = displacement_products(rows, cols, n_used, std::move(cost), std::move(log_cost));
    return g;
  }
  // BLAS products read the dense (pixel, pixel) matrices, unfolded from the tables.
  const int64_t D = n_used;
  std::vector<double> dense_cost(D * D), dense_log_cost(D * D);
  for (int64_t d = 0; d < D; ++d)
    for (int64_t e = 0; e < D; ++e) {
      const int64_t at = (e / rows - d / rows + cols - 1) * r2 + e % rows - d % rows + rows - 1;
      dense_cost[d * D + e] = cost[at];
      dense_log_cost[d * D + e] = log_cost[at];
    }
  g.products = dense_products(D, std::move(dense_cost), std::move(dense_log_cost));
  return g;
}

}  // namespace genomap
