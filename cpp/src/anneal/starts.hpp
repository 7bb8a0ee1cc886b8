// The annealing's starts (solve_gw_anneal step 1): each gives an assignment and its objective.
#pragma once
#include <cstdint>
#include <vector>

#include "genomap/anneal.hpp"
#include "genomap/sinkhorn.hpp"

namespace genomap {
namespace anneal {

struct Start {
  std::vector<int64_t> assign;
  double objective = 0.0;
  double coupling_objective = 0.0;  // entropic start: of the last coupling
  int64_t exact_iters = 0;
};

// The exact iteration from the reference's first step: the reference's fixed point.
Start exact_start(const GWProblem& p, int64_t max_iter, int nt);

// The coarse-to-fine exact iteration down to tiles of `tile` pixels, then each tile's genes
// placed on its pixels by one small exact assignment (independent of the thread count).
Start multilevel_start(const GWProblem& p, int64_t tile, int64_t max_iter, int nt, bool by_rows);

// Epsilon scaling: entropic GW steps (linearise at the current class coupling, warm-started
// Sinkhorn over the classes) while epsilon decreases geometrically, relative to the spread of
// the first linear term; rounded by the exact class transport on the last coupling's linear
// term, then the exact iteration as a polish. Restart r > 0 starts from the product coupling
// perturbed by seeded multiplicative noise.
class EntropicStart {
 public:
  EntropicStart(const GWProblem& p, const AnnealOptions& opt, int nt, std::vector<double>& B);
  // B: (n, D), left holding the linear term of the last coupling. Adds its GW steps and
  // scaling iterations to gw_steps and sinkhorn_iters.
  Start run(int64_t r, std::vector<double>& B, int64_t& gw_steps, int64_t& sinkhorn_iters);

 private:
  std::vector<double> perturbed(int64_t r) const;
  const GWProblem& p_;
  const AnnealOptions& opt_;
  int nt_;
  int64_t n_, D_;
  std::vector<double> product_, M_;
  double spread_ = 1.0;
  ClassSinkhorn sinkhorn_;
};

}  // namespace anneal
}  // namespace genomap
