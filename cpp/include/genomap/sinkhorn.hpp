// Entropic transport between n genes (mass 1/n each) and D pixel classes (capacity c_d pixels,
// mass 1/n per pixel), following POT's sinkhorn_knopp iteration exactly (same updates, same
// stopping test on the per-pixel column marginal every 10th iteration), but computed with
// absorbed log-domain potentials so that it stays finite where exp(-M/reg) underflows.
#pragma once
#include <cstdint>

namespace genomap {

struct SinkhornStats {
  int64_t n_iter = 0;
  double marginal_error = 0.0;
  int64_t n_absorb = 0;
};

// M: (n, D) cost, row-major. capacity: (D,). out: (n, D) class mass T_c[i, d] (the sum of the
// pixel-level coupling over the pixels of class d).
SinkhornStats sinkhorn_classes(const double* M, int64_t n, int64_t D, const int64_t* capacity,
                               double reg, int64_t max_iter, double stop_thr, double* out,
                               int num_threads);

}  // namespace genomap
