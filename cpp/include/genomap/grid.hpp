// Cost structure of the genomap grid (the "geometry" layer).
//
// Pixels are numbered in the reference's flattened order: pixel k sits at image row k % rows and
// image column k / rows (the reference reshapes in Fortran order). Only the first `n_used`
// pixels take part when there are fewer genes than pixels.
//
// Every grid cost is described by pixel *classes*: pixels of one class are interchangeable for
// the GW problem (same cost to every other pixel). The radial metric has one class per distinct
// radius (a 33x33 grid: 1,089 pixels, 135 classes); a metric without such structure has one
// class per pixel. Solvers only see classes, capacities and the grid's products with its class
// log-cost matrix L (GridProducts): they never ask which kind of grid they hold. A new metric is
// one source file (grid_<metric>.cpp) with its factory, declared here, reusing a GridProducts
// (dense BLAS, displacement-table FFT) or bringing its own.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace genomap {

constexpr double kLogFloor = 1e-15;  // the reference's log(C2 + 1e-15)

// How a grid applies its cost: the products with the (D, D) class cost C2 and log-cost L the
// solvers need, each implementation in its own way (BLAS on a stored matrix, FFT convolution on
// a displacement table, ...). Results must not depend on num_threads.
class GridProducts {
 public:
  virtual ~GridProducts() = default;
  // out = S @ L over classes: S and out (n, D) row-major.
  virtual void apply_log_cost(const double* S, int64_t n, double* out, int num_threads) const = 0;
  // Row d of L / of C2: out (D,).
  virtual void log_cost_row(int64_t d, double* out) const = 0;
  virtual void cost_row(int64_t d, double* out) const = 0;
  // The cost model of one apply_log_cost on n rows, in GEMM-flop units: solvers compare it with
  // the 2 n m D flops of updating a linear term by the m genes that moved.
  virtual double product_flops(int64_t n) const = 0;
  // "blas" or "fft" (reported to Python; solvers never read it).
  virtual const char* kind() const = 0;
  // Whether the dense (D, D) matrices are held (false: rows are made on demand).
  virtual bool stores_dense_cost() const = 0;
  // L as a lookup: L[d, e] = table[row_base[d] + column[e]] (row_base, column: (D,)). The
  // default is the dense (D, D) matrix (row_base[d] = d D, column[e] = e); a translation-invariant
  // grid returns its displacement table, small enough to stay in cache. For solvers that only
  // steer by L (float).
  virtual void log_cost_lookup(int64_t D, std::vector<float>& table,
                               std::vector<int64_t>& row_base, std::vector<int64_t>& column) const;
  // A translation-invariant grid's log-cost displacement table in double precision (the
  // layout of displacement_products' tables), for products taken elsewhere (the CUDA
  // backend's FFT); false for grids without one.
  virtual bool displacement_log_table(std::vector<double>& table) const {
    (void)table;
    return false;
  }
};

// Products with dense (D, D) row-major class costs by BLAS: O(n D^2) per product. Without
// log_cost, L = log(cost + 1e-15). (grid_dense.cpp)
std::shared_ptr<const GridProducts> dense_products(int64_t D, std::vector<double> cost);
std::shared_ptr<const GridProducts> dense_products(int64_t D, std::vector<double> cost,
                                                   std::vector<double> log_cost);
// Products with a translation-invariant cost on a rows x cols grid whose classes are its pixels
// in flat order (the first D of them), by 2-D FFT convolution: O(n rows cols log) per product.
// Tables (2 rows - 1) x (2 cols - 1): entry (dc + cols - 1) * (2 rows - 1) + dr + rows - 1 holds
// the cost between pixels dr rows and dc columns apart. (grid_displacement.cpp)
std::shared_ptr<const GridProducts> displacement_products(int64_t rows, int64_t cols, int64_t D,
                                                          std::vector<double> cost_table,
                                                          std::vector<double> log_cost_table);

struct GridCost {
  std::string metric;
  int64_t rows = 0, cols = 0, n_used = 0;
  int64_t n_classes = 0;
  std::vector<int64_t> class_of_pixel;  // (n_used,)
  std::vector<int64_t> capacity;        // (n_classes,) pixels per class
  double mean_cost = 0.0;               // <C2 q, q> for uniform q over the used pixels
  std::shared_ptr<const GridProducts> products;
  // The same metric seen in tile x tile pixel tiles (a coarse level for the multilevel solver);
  // empty for metrics without coarse levels.
  std::function<GridCost(int64_t tile)> coarsen;

  // A = S @ L, S and A (n, n_classes) row-major.
  void apply_log_cost(const double* S, int64_t n, double* A, int num_threads) const {
    products->apply_log_cost(S, n, A, num_threads);
  }
  void log_cost_lookup(std::vector<float>& table, std::vector<int64_t>& row_base,
                       std::vector<int64_t>& column) const {
    products->log_cost_lookup(n_classes, table, row_base, column);
  }
  // Row d of L / of C2: (n_classes,)
  void log_cost_row(int64_t d, double* out) const { products->log_cost_row(d, out); }
  void cost_row(int64_t d, double* out) const { products->cost_row(d, out); }
  double product_flops(int64_t n) const { return products->product_flops(n); }
  // The dense (n_classes, n_classes) matrices, row by row.
  std::vector<double> dense_log_cost() const;
  std::vector<double> dense_cost() const;
};

// Reference grid coordinates: x over rows, y over columns (linspace as in the reference).
double grid_coordinate(int64_t index, int64_t size);
// Throws std::invalid_argument unless rows, cols >= 1 and 1 <= n_used <= rows * cols.
void check_grid_shape(int64_t rows, int64_t cols, int64_t n_used);
// <C2 q, q> for uniform q over the used pixels, from class costs: (n_classes, n_classes).
double class_mean_cost(const std::vector<double>& class_cost, const std::vector<int64_t>& capacity,
                       int64_t n_used);

// C2[i, j] = |r_i - r_j|, r the distance of a pixel from the grid centre (reference parity).
// (grid_radial.cpp)
GridCost radial_grid(int64_t rows, int64_t cols, int64_t n_used);
// C2[i, j] = true Euclidean distance between pixel centres; log-cost of a pixel to itself is 0.
// fft: products by 2-D FFT convolution (O(n^2 log n) per GW step) instead of BLAS (O(n^3)).
// (grid_euclidean.cpp)
GridCost euclidean_grid(int64_t rows, int64_t cols, int64_t n_used, bool fft = false);
// The euclidean grid seen in tiles of tile x tile pixels (a coarse level of the multilevel
// solver): one class per tile holding used pixels, numbered like pixels (tile row fastest), its
// capacity the used pixels in it. The log-cost between two tiles is the mean log-distance over
// their pixel pairs (distinct pixels within one tile), taken as if every tile were full, so it
// is translation-invariant and products go by FFT on the tile grid (fft) or BLAS. rows and
// cols are those of the tile grid; n_used stays the number of used pixels (genes).
// (grid_tiles.cpp)
GridCost euclidean_tiles(int64_t rows, int64_t cols, int64_t n_used, int64_t tile, bool fft);
// The tile (of euclidean_tiles(rows, cols, n_used, tile)) holding each used pixel: (n_used,)
std::vector<int64_t> tile_of_pixel(int64_t rows, int64_t cols, int64_t n_used, int64_t tile);
// Any user-supplied symmetric pixel cost (n x n, row-major); one class per pixel.
// (grid_dense.cpp)
GridCost dense_grid(const double* cost, int64_t n, int64_t rows, int64_t cols);

}  // namespace genomap
