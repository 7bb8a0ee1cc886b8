// Pieces shared by the annealing's parts (cpp/src/anneal/): not part of the public headers.
#pragma once
#include <cstdint>
#include <vector>

#include "genomap/anneal.hpp"
#include "genomap/gw.hpp"

namespace genomap {
namespace anneal {

// Class log-cost rows kept as a dense (D, D) copy up to this many classes (128 MB), else
// computed row by row by the grid.
constexpr int64_t kDenseLogCostMax = 4096;

// Rows of the grid's class log-cost L: a view into a dense copy, or computed into a buffer.
class LogCostRows {
 public:
  LogCostRows(const GridCost& grid, bool dense)
      : grid_(&grid), dense_(dense ? grid.dense_log_cost() : std::vector<double>()) {}
  const double* row(int64_t d, double* buf) const {
    if (!dense_.empty()) return dense_.data() + d * grid_->n_classes;
    grid_->log_cost_row(d, buf);
    return buf;
  }
  bool dense() const { return !dense_.empty(); }
  double at(int64_t a, int64_t b) const { return dense_[a * grid_->n_classes + b]; }  // dense
  const std::vector<double>& table() const { return dense_; }

 private:
  const GridCost* grid_;
  std::vector<double> dense_;
};

// One gene per class from min_genes genes on (euclidean grids of more than 4,096 pixels by
// default): the class sums are read through the assignment instead of stored (n x n), and
// objectives are computed by rows (objective_by_rows).
bool large_unit_grid(const GWProblem& p, int64_t min_genes = kGatherMinGenes);

// The objective of an assignment from rows of the log-cost, O(n^2 + n D) without the (n, D)
// linear term, in fixed row blocks (independent of the thread count).
double objective_by_rows(const GWProblem& p, const int64_t* assign, int nt);

// The objective of an assignment, by rows on large one-gene-per-class grids.
inline double objective_of(const GWProblem& p, const int64_t* assign, int nt, bool by_rows) {
  return by_rows ? objective_by_rows(p, assign, nt) : objective_assignment(p, assign, nt);
}

// C1 (n, n) in float, rows padded with zeros to `width` values.
std::vector<float> float_rows(const double* C1, int64_t n, int64_t width);

}  // namespace anneal
}  // namespace genomap
