#include "genomap/grid.hpp"

#include <cmath>
#include <cstdlib>
#include <algorithm>
#include <map>
#include <stdexcept>

namespace genomap {

double grid_coordinate(int64_t index, int64_t size) {
  // even size: linspace(-N, N-1, size); odd: linspace(-N, N, size); both have unit spacing.
  const int64_t half = (size % 2 == 0) ? size / 2 : (size - 1) / 2;
  return static_cast<double>(index - half);
}

static void check_shape(int64_t rows, int64_t cols, int64_t n_used) {
  if (rows < 1 || cols < 1) throw std::invalid_argument("grid rows and cols must be >= 1");
  // rows * cols must not overflow, and n_used x n_used products must stay addressable
  if (rows > (int64_t{1} << 31) || cols > (int64_t{1} << 31))
    throw std::invalid_argument("grid rows and cols must be <= 2^31");
  if (n_used > (int64_t{1} << 31))
    throw std::invalid_argument("more than 2^31 used pixels is not supported");
  if (n_used < 1 || n_used > rows * cols)
    throw std::invalid_argument("number of used pixels must be in [1, rows*cols]");
}

static void finish(GridCost& g) {
  const int64_t D = g.n_classes;
  g.log_cost.resize(D * D);
  for (int64_t i = 0; i < D * D; ++i) g.log_cost[i] = std::log(g.class_cost[i] + kLogFloor);
  double s = 0.0;
  for (int64_t a = 0; a < D; ++a) {
    double row = 0.0;
    for (int64_t b = 0; b < D; ++b) row += static_cast<double>(g.capacity[b]) * g.class_cost[a * D + b];
    s += static_cast<double>(g.capacity[a]) * row;
  }
  const double n = static_cast<double>(g.n_used);
  g.mean_cost = s / (n * n);
}

GridCost radial_grid(int64_t rows, int64_t cols, int64_t n_used) {
  check_shape(rows, cols, n_used);
  GridCost g;
  g.metric = "radial";
  g.rows = rows;
  g.cols = cols;
  g.n_used = n_used;
  // Squared radii are exact integers: group pixels by them (classes in increasing radius).
  std::vector<int64_t> sq(n_used);
  std::map<int64_t, int64_t> classes;
  for (int64_t k = 0; k < n_used; ++k) {
    const int64_t x = static_cast<int64_t>(grid_coordinate(k % rows, rows));
    const int64_t y = static_cast<int64_t>(grid_coordinate(k / rows, cols));
    sq[k] = x * x + y * y;
    classes.emplace(sq[k], 0);
  }
  int64_t next = 0;
  std::vector<double> radius;
  for (auto& kv : classes) {
    kv.second = next++;
    radius.push_back(std::sqrt(static_cast<double>(kv.first)));
  }
  g.n_classes = next;
  g.capacity.assign(next, 0);
  g.class_of_pixel.resize(n_used);
  for (int64_t k = 0; k < n_used; ++k) {
    g.class_of_pixel[k] = classes[sq[k]];
    g.capacity[g.class_of_pixel[k]]++;
  }
  g.class_cost.resize(next * next);
  for (int64_t a = 0; a < next; ++a)
    for (int64_t b = 0; b < next; ++b) g.class_cost[a * next + b] = std::fabs(radius[a] - radius[b]);
  finish(g);
  return g;
}

GridCost euclidean_grid(int64_t rows, int64_t cols, int64_t n_used, bool fft) {
  check_shape(rows, cols, n_used);
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
  g.offset_cost.resize(r2 * (2 * cols - 1));
  g.offset_log_cost.resize(g.offset_cost.size());
  for (int64_t dc = -(cols - 1); dc < cols; ++dc)
    for (int64_t dr = -(rows - 1); dr < rows; ++dr) {
      const int64_t at = (dc + cols - 1) * r2 + dr + rows - 1;
      const double d = std::sqrt(static_cast<double>(dr * dr + dc * dc));
      g.offset_cost[at] = d;
      g.offset_log_cost[at] = (dr == 0 && dc == 0) ? 0.0 : std::log(d + kLogFloor);
    }
  // <C2 q, q>: pairs of used pixels, summed per column pair (a column holds up to `rows`).
  double s = 0.0;
  for (int64_t a = 0; a < n_used; ++a) {
    const int64_t ra = a % rows, ca = a / rows;
    for (int64_t cb = 0; cb * rows < n_used; ++cb) {
      const double* col = g.offset_cost.data() + (cb - ca + cols - 1) * r2 + rows - 1 - ra;
      for (int64_t rb = 0; rb < std::min(rows, n_used - cb * rows); ++rb) s += col[rb];
    }
  }
  g.mean_cost = s / (static_cast<double>(n_used) * static_cast<double>(n_used));
  if (fft) {
    auto table = std::make_shared<std::vector<double>>(g.offset_log_cost);
    g.convolution = std::make_shared<GridConvolution>(
        rows, cols, [table, rows, cols, r2](int64_t dr, int64_t dc) {
          return (*table)[(dc + cols - 1) * r2 + dr + rows - 1];
        });
  } else {  // BLAS products read the dense matrices
    g.class_cost = g.dense_cost();
    g.log_cost = g.dense_log_cost();
    g.offset_cost.clear();
    g.offset_log_cost.clear();
  }
  return g;
}

namespace {
void offset_row(const GridCost& g, const std::vector<double>& table, int64_t d, double* out) {
  const int64_t rows = g.rows, r2 = 2 * rows - 1;
  const int64_t rd = d % rows, cd = d / rows;
  for (int64_t e = 0; e < g.n_classes; ++e)
    out[e] = table[(e / rows - cd + g.cols - 1) * r2 + e % rows - rd + rows - 1];
}
}  // namespace

void GridCost::log_cost_row(int64_t d, double* out) const {
  if (!log_cost.empty()) {
    std::copy(log_cost.begin() + d * n_classes, log_cost.begin() + (d + 1) * n_classes, out);
    return;
  }
  offset_row(*this, offset_log_cost, d, out);
}

void GridCost::cost_row(int64_t d, double* out) const {
  if (!class_cost.empty()) {
    std::copy(class_cost.begin() + d * n_classes, class_cost.begin() + (d + 1) * n_classes, out);
    return;
  }
  offset_row(*this, offset_cost, d, out);
}

std::vector<double> GridCost::dense_log_cost() const {
  if (!log_cost.empty()) return log_cost;
  std::vector<double> out(n_classes * n_classes);
  for (int64_t d = 0; d < n_classes; ++d) log_cost_row(d, out.data() + d * n_classes);
  return out;
}

std::vector<double> GridCost::dense_cost() const {
  if (!class_cost.empty()) return class_cost;
  std::vector<double> out(n_classes * n_classes);
  for (int64_t d = 0; d < n_classes; ++d) cost_row(d, out.data() + d * n_classes);
  return out;
}

std::vector<int64_t> tile_of_pixel(int64_t rows, int64_t cols, int64_t n_used, int64_t tile) {
  check_shape(rows, cols, n_used);
  if (tile < 1) throw std::invalid_argument("tile size must be >= 1");
  const int64_t tile_rows = (rows + tile - 1) / tile;
  std::vector<int64_t> t(n_used);
  // Tiles holding no used pixel come after every tile that holds one in this order (used
  // pixels are a prefix of the column-major order), so the used tiles are 0..max.
  for (int64_t k = 0; k < n_used; ++k) t[k] = (k % rows) / tile + ((k / rows) / tile) * tile_rows;
  return t;
}

GridCost euclidean_tiles(int64_t rows, int64_t cols, int64_t n_used, int64_t tile, bool fft) {
  check_shape(rows, cols, n_used);
  if (tile < 1) throw std::invalid_argument("tile size must be >= 1");  // before dividing by it
  GridCost g;
  g.metric = "euclidean";
  g.rows = (rows + tile - 1) / tile;  // the tile grid
  g.cols = (cols + tile - 1) / tile;
  g.class_of_pixel = tile_of_pixel(rows, cols, n_used, tile);
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
  g.class_cost.resize(D * D);
  g.log_cost.resize(D * D);
  double s = 0.0;
  for (int64_t a = 0; a < D; ++a)
    for (int64_t b = 0; b < D; ++b) {
      g.class_cost[a * D + b] = kdist[offset(a, b)];
      g.log_cost[a * D + b] = klog[offset(a, b)];
      const int64_t pairs = g.capacity[a] * (g.capacity[b] - (a == b ? 1 : 0));  // p != q
      s += static_cast<double>(pairs) * kdist[offset(a, b)];
    }
  const double n = static_cast<double>(n_used);
  g.mean_cost = s / (n * n);
  if (fft) {
    const int64_t r2 = 2 * R - 1;
    auto table = std::make_shared<std::vector<double>>(klog);
    g.convolution = std::make_shared<GridConvolution>(R, C, [table, R, C, r2](int64_t dr, int64_t dc) {
      return (*table)[(dc + C - 1) * r2 + dr + R - 1];
    });
  }
  return g;
}

GridCost dense_grid(const double* cost, int64_t n, int64_t rows, int64_t cols) {
  check_shape(rows, cols, n);
  GridCost g;
  g.metric = "dense";
  g.rows = rows;
  g.cols = cols;
  g.n_used = n;
  g.n_classes = n;
  g.capacity.assign(n, 1);
  g.class_of_pixel.resize(n);
  for (int64_t a = 0; a < n; ++a) g.class_of_pixel[a] = a;
  g.class_cost.assign(cost, cost + n * n);
  for (double v : g.class_cost)
    if (!(v >= 0.0) || !std::isfinite(v))
      throw std::invalid_argument("grid cost must be finite and non-negative");
  finish(g);
  return g;
}

}  // namespace genomap
