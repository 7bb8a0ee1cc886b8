#include "genomap/multilevel.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <vector>

namespace genomap {

std::vector<int64_t> multilevel_tiles(int64_t rows, int64_t cols, int64_t n_used,
                                      int64_t min_tiles, int64_t max_levels) {
  if (rows < 1 || cols < 1 || n_used < 1 || n_used > rows * cols)
    throw std::invalid_argument("grid rows and cols must be >= 1 and used pixels in [1, rows*cols]");
  std::vector<int64_t> tiles{1};
  for (int64_t t = 2; static_cast<int64_t>(tiles.size()) < max_levels; t *= 2) {
    if (t > rows && t > cols) break;
    const auto tiles_of = tile_of_pixel(rows, cols, n_used, t);
    if (*std::max_element(tiles_of.begin(), tiles_of.end()) + 1 < min_tiles) break;
    tiles.insert(tiles.begin(), t);
  }
  return tiles;
}

MultilevelResult solve_gw_multilevel(const double* C1, int64_t n, const GridCost& fine,
                                     int64_t max_iter, int num_threads, int64_t min_tiles,
                                     int64_t max_levels, int64_t stop_tile) {
  if (fine.n_classes != fine.n_used || !fine.coarsen)
    throw std::invalid_argument(
        "the multilevel solver needs a grid with coarse levels (a euclidean grid), one class per "
        "pixel");
  const GWProblem p_fine = make_problem(C1, n, fine, num_threads);
  MultilevelResult out;
  if (stop_tile < 1) throw std::invalid_argument("stop_tile must be >= 1");
  out.tiles = multilevel_tiles(fine.rows, fine.cols, fine.n_used, min_tiles, max_levels);
  while (out.tiles.size() > 1 && out.tiles.back() < stop_tile) out.tiles.pop_back();

  GridCost prev_grid;
  std::vector<int64_t> prev_assign;    // class (tile) of each gene at the previous level
  std::vector<double> prev_potentials;
  for (const int64_t tile : out.tiles) {
    const auto t0 = std::chrono::steady_clock::now();
    GridCost level_grid;
    if (tile > 1) level_grid = fine.coarsen(tile);
    const GridCost& grid = tile > 1 ? level_grid : fine;
    GWProblem p = p_fine;  // f1_term does not depend on the grid
    p.grid = &grid;
    const int64_t D = grid.n_classes;
    ExactResult r;
    if (prev_assign.empty()) {
      r = solve_gw_exact(p, max_iter, num_threads);
    } else {
      // parent[q]: the previous level's tile holding this level's class q
      std::vector<int64_t> parent(D);
      const std::vector<int64_t>& here = grid.class_of_pixel;
      const std::vector<int64_t>& up = prev_grid.class_of_pixel;
      for (int64_t k = 0; k < fine.n_used; ++k) parent[here[k]] = up[k];
      // Previous coupling spread over pixels: class q of a parent tile d gets cap[q] / cap[d].
      const int64_t Dp = prev_grid.n_classes;
      std::vector<double> sums(n * Dp), spread(n * D), A0(n * D);
      class_sums(p, prev_assign.data(), Dp, sums.data(), num_threads);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t q = 0; q < D; ++q)
          spread[i * D + q] = sums[i * Dp + parent[q]] * static_cast<double>(grid.capacity[q]) /
                              static_cast<double>(prev_grid.capacity[parent[q]]);
      sums = std::vector<double>();
      apply_log_cost(p, spread.data(), A0.data(), num_threads);
      spread = std::vector<double>();
      ExactStart start;
      start.linear_term = A0.data();
      start.potentials.resize(D);
      for (int64_t q = 0; q < D; ++q) start.potentials[q] = prev_potentials[parent[q]];
      r = solve_gw_exact(p, max_iter, num_threads, &start);
    }
    out.level_iter.push_back(r.n_iter);
    out.level_seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    prev_assign = r.assign;
    prev_potentials = r.potentials;
    if (tile == out.tiles.back()) {
      out.finest = std::move(r);
    } else {
      prev_grid = std::move(level_grid);
    }
  }
  return out;
}

}  // namespace genomap
