// The euclidean grid seen in tile x tile pixel tiles: the coarse levels of the multilevel solver
// (one class per tile). Tile costs are means over pixel pairs, translation-invariant on the tile
// grid: products by FFT (grid_displacement.cpp) or BLAS (grid_dense.cpp).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <stdexcept>

#include "genomap/grid.hpp"

namespace genomap {

std::vector<int64_t> tile_of_pixel(int64_t rows, int64_t cols, int64_t n_used, int64_t tile) {
  check_grid_shape(rows, cols, n_used);
  if (tile < 1) throw std::invalid_argument("tile size must be >= 1");
  const int64_t tile_rows = (rows + tile - 1) / tile;
  std::vector<int64_t> t(n_used);
  // Tiles holding no used pixel come after every tile that holds one in this order (used
  // pixels are a prefix of the column-major order), so the used tiles are 0..max.
  for (int64_t k = 0; k < n_used; ++k) t[k] = (k % rows) / tile + ((k / rows) / tile) * tile_rows;
  return t;
}

GridCost euclidean_tiles(int64_t rows, int64_t cols, int64_t n_used, int64_t tile, bool fft) {
  check_grid_shape(rows, cols, n_used);
  if (tile < 1) throw std::invalid_argument("tile size must be >= 1");  // before dividing by it
  GridCost g;
  g.metric = "euclidean";
  g.class_of_pixel = tile_of_pixel(rows, cols, n_used, tile);  // checks the shape and tile
  g.rows = (rows + tile - 1) / tile;  // the tile grid
  g.cols = (cols + tile - 1) / tile;
  g.n_classes = *std::max_element(g.class_of_pixel.begin(), g.class_of_pixel.end()) + 1;
  g.n_used = n_used;  // pixels, as for every class grid (rows and cols: the tile grid)
  g.capacity.assign(g.n_classes, 0);
  for (int64_t t : g.class_of_pixel) g.capacity[t]++;
  // Mean over pixel pairs of two full tiles dr, dc tiles apart: pixel offsets within the tiles
  // differ by (a, b) in (-tile, tile)^2 with multiplicity (tile - |a|)(tile - |b|).
  auto mean_of = [tile](int64_t dr, int64_t dc, auto&& f) {
    double s = 0.0;
    for (int64_t a = -(tile - 1); a < tile; ++a)
      for (int64_t b = -(tile - 1); b < tile; ++b) {
        const double w = static_cast<double>((tile - std::abs(a)) * (tile - std::abs(b)));
        const int64_t x = dr * tile + a, y = dc * tile + b;
        if (x != 0 || y != 0) s += w * f(std::sqrt(static_cast<double>(x * x + y * y)));
      }
    const double t2 = static_cast<double>(tile * tile);
    if (dr == 0 && dc == 0) return tile == 1 ? 0.0 : s / (t2 * (t2 - 1.0));
    return s / (t2 * t2);
  };
  const int64_t R = g.rows, C = g.cols;
  std::vector<double> klog((2 * R - 1) * (2 * C - 1)), kdist(klog.size());
  for (int64_t dc = -(C - 1); dc < C; ++dc)
    for (int64_t dr = -(R - 1); dr < R; ++dr) {
      const int64_t at = (dc + C - 1) * (2 * R - 1) + dr + R - 1;
      // a pixel to itself: log-cost 0, as in euclidean_grid
      klog[at] = mean_of(dr, dc, [](double d) { return std::log(d + kLogFloor); });
      kdist[at] = mean_of(dr, dc, [](double d) { return d; });
    }
  auto offset = [&](int64_t a, int64_t b) {  // tiles a -> b, in the klog/kdist layout
    const int64_t dr = b % R - a % R, dc = b / R - a / R;
    return (dc + C - 1) * (2 * R - 1) + dr + R - 1;
  };
  const int64_t D = g.n_classes;
  double s = 0.0;
  for (int64_t a = 0; a < D; ++a)
    for (int64_t b = 0; b < D; ++b) {
      const int64_t pairs = g.capacity[a] * (g.capacity[b] - (a == b ? 1 : 0));  // p != q
      s += static_cast<double>(pairs) * kdist[offset(a, b)];
    }
  const double n = static_cast<double>(n_used);
  g.mean_cost = s / (n * n);
  if (fft) {
    g.products = displacement_products(R, C, D, std::move(kdist), std::move(klog));
    return g;
  }
  std::vector<double> class_cost(D * D), log_cost(D * D);
  for (int64_t a = 0; a < D; ++a)
    for (int64_t b = 0; b < D; ++b) {
      class_cost[a * D + b] = kdist[offset(a, b)];
      log_cost[a * D + b] = klog[offset(a, b)];
    }
  g.products = dense_products(D, std::move(class_cost), std::move(log_cost));
  return g;
}

}  // namespace genomap
