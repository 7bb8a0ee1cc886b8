// Which pixel of a class a gene gets. The radial GW objective cannot tell pixels of one ring
// apart, and the reference leaves that choice to its LP solver. Our rule, deterministic and
// documented: start from genes in index order on the ring's pixels in flattened order, then run
// block-coordinate steps of the *true 2-D* (Euclidean) GW linearisation restricted to
// ring-preserving moves (one small assignment per ring), keeping a step only while the 2-D
// objective decreases. The radial objective is unchanged by construction.
#pragma once
#include <cstdint>
#include <vector>

#include "genomap/grid.hpp"

namespace genomap {

struct PlacementStats {
  int64_t rounds = 0;
  double euclidean_before = 0.0;  // 2-D linear term before refinement
  double euclidean_after = 0.0;
};

// assign: (n,) class per gene. pixel_out: (n,) flat pixel index (reference order) per gene.
PlacementStats place_within_classes(const double* C1, int64_t n, const GridCost& grid,
                                    const int64_t* assign, int64_t max_rounds, int64_t* pixel_out,
                                    int num_threads);

// <C1 P log(D_euclid + 1e-15) P^T> / n^2 for a pixel placement: the 2-D GW linear term
// (larger is better; the objective is constants minus this).
double euclidean_linear_term(const double* C1, int64_t n, int64_t rows, int64_t cols,
                             const int64_t* pixel, int num_threads);

}  // namespace genomap
