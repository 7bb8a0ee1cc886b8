// Cost structure of the genomap grid (the "geometry" layer).
//
// Pixels are numbered in the reference's flattened order: pixel k sits at image row k % rows and
// image column k / rows (the reference reshapes in Fortran order). Only the first `n_used`
// pixels take part when there are fewer genes than pixels.
//
// Every grid cost is described by pixel *classes*: pixels of one class are interchangeable for
// the GW problem (same cost to every other pixel). The radial metric has one class per distinct
// radius (a 33x33 grid: 1,089 pixels, 135 classes); a metric without such structure has one
// class per pixel. Solvers only see classes, capacities and the class log-cost matrix, so a new
// metric is a new factory function here and nothing else.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "genomap/convolution.hpp"

namespace genomap {

constexpr double kLogFloor = 1e-15;  // the reference's log(C2 + 1e-15)

struct GridCost {
  std::string metric;
  int64_t rows = 0, cols = 0, n_used = 0;
  int64_t n_classes = 0;
  std::vector<int64_t> class_of_pixel;  // (n_used,)
  std::vector<int64_t> capacity;        // (n_classes,) pixels per class
  std::vector<double> class_cost;       // (n_classes, n_classes) C2 between classes
  std::vector<double> log_cost;         // (n_classes, n_classes) log(C2 + 1e-15)
  // A translation-invariant grid solved by FFT keeps its costs as functions of the displacement
  // instead (class_cost and log_cost stay empty: 1.6 GB at 100x100): entry
  // (dc + cols - 1) * (2 rows - 1) + dr + rows - 1 for dr rows and dc columns apart.
  std::vector<double> offset_cost, offset_log_cost;
  double mean_cost = 0.0;               // <C2 q, q> for uniform q over the used pixels
  // Set for translation-invariant costs (one class per pixel): products with log_cost are then
  // taken by 2-D FFT convolution instead of a matrix product.
  std::shared_ptr<const GridConvolution> convolution;

  // Row d of log_cost / class_cost, from the dense matrix or the displacement table: (n_classes,)
  void log_cost_row(int64_t d, double* out) const;
  void cost_row(int64_t d, double* out) const;
  // The dense (n_classes, n_classes) matrices, built from the table when not stored.
  std::vector<double> dense_log_cost() const;
  std::vector<double> dense_cost() const;
};

// Reference grid coordinates: x over rows, y over columns (linspace as in the reference).
double grid_coordinate(int64_t index, int64_t size);

// C2[i, j] = |r_i - r_j|, r the distance of a pixel from the grid centre (reference parity).
GridCost radial_grid(int64_t rows, int64_t cols, int64_t n_used);
// C2[i, j] = true Euclidean distance between pixel centres; log-cost of a pixel to itself is 0.
// fft: products by 2-D FFT convolution (O(n^2 log n) per GW step) instead of BLAS (O(n^3)).
GridCost euclidean_grid(int64_t rows, int64_t cols, int64_t n_used, bool fft = false);
// The euclidean grid seen in tiles of tile x tile pixels (a coarse level of the multilevel
// solver): one class per tile holding used pixels, numbered like pixels (tile row fastest), its
// capacity the used pixels in it. The log-cost between two tiles is the mean log-distance over
// their pixel pairs (distinct pixels within one tile), taken as if every tile were full, so it
// is translation-invariant and products go by FFT on the tile grid (fft) or BLAS. rows and
// cols are those of the tile grid; n_used stays the number of used pixels (genes).
GridCost euclidean_tiles(int64_t rows, int64_t cols, int64_t n_used, int64_t tile, bool fft);
// The tile (of euclidean_tiles(rows, cols, n_used, tile)) holding each used pixel: (n_used,)
std::vector<int64_t> tile_of_pixel(int64_t rows, int64_t cols, int64_t n_used, int64_t tile);
// Any user-supplied symmetric pixel cost (n x n, row-major); one class per pixel.
GridCost dense_grid(const double* cost, int64_t n, int64_t rows, int64_t cols);

}  // namespace genomap
