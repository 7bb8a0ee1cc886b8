// The reference's radial metric: C2[i, j] = |r_i - r_j|, r the distance of a pixel from the
// grid centre. Pixels at one radius form a class (a ring), so products are dense BLAS over the
// rings (135 classes for 1,089 pixels at 33x33).
#include <cmath>
#include <map>

#include "genomap/grid.hpp"

namespace genomap {

GridCost radial_grid(int64_t rows, int64_t cols, int64_t n_used) {
  check_grid_shape(rows, cols, n_used);
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
  std::vector<double> class_cost(next * next);
  for (int64_t a = 0; a < next; ++a)
    for (int64_t b = 0; b < next; ++b) class_cost[a * next + b] = std::fabs(radius[a] - radius[b]);
  g.mean_cost = class_mean_cost(class_cost, g.capacity, n_used);
  g.products = dense_products(next, std::move(class_cost));
  return g;
}

}  // namespace genomap
