// Coarse-to-fine exact GW placement for the euclidean metric (a solver built on solve_gw_exact).
//
// With one class per pixel, every exact GW step is an n x n linear assignment, and from the
// reference's rank-one first step almost every gene moves for many steps: the assignments cost
// O(n^3)-like path searches (64x64: 2.0 M Dijkstra steps of 4,096 columns in the first step
// alone). Here the problem is first solved on the grid seen in tiles of 2^L x 2^L pixels (few
// classes with many pixels each: cheap class transports), and each finer level starts from the
// coarser level's coupling, spread evenly over the pixels of its tiles: the first step's linear
// term is C1 T_spread L at the finer level, and the transport is warm-started from the coarser
// level's potentials. The finest level runs the usual exact iteration to its fixed point
// (another fixed point than the single-level iteration's: benchmarks/test_large.py measures
// both). max_iter caps each level.
#pragma once
#include <cstdint>

#include "genomap/grid.hpp"
#include "genomap/gw.hpp"

namespace genomap {

struct MultilevelResult {
  ExactResult finest;             // the iteration on the pixel grid (assign: class == pixel)
  std::vector<int64_t> tiles;     // tile size of each level, coarsest first, ending with 1
  std::vector<int64_t> level_iter;  // transport problems solved at each level
  std::vector<double> level_seconds;
};

// Tile sizes 2^L, ..., 2, 1 where the coarsest tile grid still has at least min_tiles used
// tiles (and L <= max_levels - 1).
std::vector<int64_t> multilevel_tiles(int64_t rows, int64_t cols, int64_t n_used,
                                      int64_t min_tiles, int64_t max_levels);

// C1: (n, n) with n == fine.n_used; fine: a one-class-per-pixel euclidean grid.
// stop_tile > 1 stops before the levels of smaller tiles: `finest` is then the level of tile
// stop_tile (assign: a tile of fine.coarsen(stop_tile) per gene), and `tiles` ends there.
MultilevelResult solve_gw_multilevel(const double* C1, int64_t n, const GridCost& fine,
                                     int64_t max_iter, int num_threads, int64_t min_tiles = 256,
                                     int64_t max_levels = 4, int64_t stop_tile = 1);

}  // namespace genomap
