// An annealed GW placement solver: aims at a lower KL-loss GW objective than the reference's
// fixed point instead of reproducing it.
//
// 1. A start, one of
//    - "exact": the exact iteration (solve_gw_exact) from the reference's first step, i.e. the
//      reference's own fixed point, or
//    - "multilevel" (euclidean grids): the coarse-to-fine exact iteration (multilevel.hpp)
//      down to tiles of 2 x 2 pixels, then one small assignment per tile; no exact polish, the
//      annealing refines the pixel level, or
//    - "entropic": epsilon scaling (entropic GW steps: linearise at the current class coupling,
//      solve the entropic transport by a warm-started, log-stabilised Sinkhorn over the grid's
//      classes, while epsilon decreases geometrically), rounded by the exact class transport on
//      the last coupling's linear term, then the exact iteration as a polish.
// 2. Pair-swap descent: exchanges of two genes between classes with the exact change of the
//    (quadratic) objective, which the linearised iteration does not see; swap descent and exact
//    iteration alternate while either improves.
// 3. Simulated annealing over pair swaps (seeded), then step 2 again.
// 4. Restarts: restart r has its own annealing seed; with the entropic start, restart r > 0
//    also starts from the product coupling perturbed by seeded multiplicative noise. The lowest
//    objective wins (ties: lowest r).
// Every stage keeps the best assignment it has seen, so with the exact start the result is never
// worse than the reference's fixed point. On pbmc68k_reduced the exact start leads the annealing
// to lower objectives than the entropic one (the annealing benchmark), hence the default.
//
// Everything is deterministic for a given seed: parallel loops write disjoint outputs or reduce
// in a fixed block order, so results do not depend on the thread count.
#pragma once
#include <cstdint>
#include <limits>
#include <vector>

#include "genomap/gw.hpp"

namespace genomap {

enum class AnnealStart { exact, entropic, multilevel };

// The defaults below are the ones that run. The six fields that depend on the start and the
// grid (swap_rounds and the sa_ schedule) have none: anneal_schedule() sets them from its table
// (cpp/src/anneal/schedule.cpp), and options left unset are refused by solve_gw_anneal.
struct AnnealOptions {
  bool entropic_start = false;    // start from epsilon scaling instead of the exact fixed point
  // Start from the coarse-to-fine exact iteration stopped at tiles of multilevel_tile pixels,
  // genes placed within their tiles by the spread coupling's linear term (a one-class-per-pixel
  // grid with coarse levels: euclidean); the exact iteration at pixel level costs n x n
  // assignments per step.
  bool multilevel_start = false;
  int64_t multilevel_tile = 2;
  // Epsilon schedule, relative to the spread of the first linear term (mean over classes of
  // max - min over genes): eps_start * s, eps_start * s * decay, ..., down to eps_end * s.
  double eps_start = 4.0;
  double eps_end = 0.05;
  double decay = 0.7;
  int64_t steps_per_eps = 1;      // GW steps at each epsilon
  int64_t sinkhorn_iter = 200;    // cap on scaling iterations per Sinkhorn solve
  double sinkhorn_tol = 1e-5;     // L1 error of the class marginals (total mass 1)
  int64_t polish_iter = 1000;     // cap on exact iterations per polish
  int64_t swap_rounds = -1;       // alternations of swap search and exact iteration (0: none)
  int64_t swap_passes = 50;       // cap on passes over all genes per swap search
  double swap_max_work = 4e9;     // cap on multiply-adds per swap search (0: none)
  // Simulated annealing over pair swaps after the first swap descent: sa_sweeps * n random
  // proposals (at most sa_max_work / n_classes), temperature from sa_t_start to sa_t_end
  // times the mean |gain| of a random swap. 0 sweeps: none.
  double sa_sweeps = kUnset;
  double sa_max_work = kUnset;
  double sa_t_start = kUnset;
  double sa_t_end = kUnset;
  int64_t sa_neighbours = -1;     // 0: swap partners from all genes; k: from the k nearest classes
  int64_t restarts = 1;
  uint64_t seed = 0;
  double noise = 0.5;             // log-normal sigma of the restart perturbation

  static constexpr double kUnset = std::numeric_limits<double>::quiet_NaN();
};

// The options that run for a start on a grid (the table in cpp/src/anneal/schedule.cpp).
AnnealOptions anneal_schedule(AnnealStart start, const GridCost& grid);

struct AnnealResult {
  std::vector<int64_t> assign;    // (n,) class of each gene, the best restart's
  double objective = 0.0;         // its KL-loss GW objective
  int64_t best_restart = 0;
  std::vector<double> restart_objectives;  // (restarts,) final objective of each restart
  double coupling_objective = 0.0;  // best restart: objective of the last entropic coupling
  double rounded_objective = 0.0;   // best restart: after rounding + exact polish
  int64_t gw_steps = 0;           // entropic GW steps, all restarts
  int64_t sinkhorn_iters = 0;     // scaling iterations, all restarts
  int64_t exact_iters = 0;        // exact transport steps, all restarts
  int64_t swaps = 0;              // pair swaps made by swap descents, all restarts
  int64_t sa_proposals = 0;       // simulated-annealing proposals, all restarts
  int64_t sa_accepted = 0;
};

AnnealResult solve_gw_anneal(const GWProblem& p, const AnnealOptions& opt, int num_threads);

struct SwapStats {
  int64_t swaps = 0;
  int64_t passes = 0;
  double objective = 0.0;  // of the returned assignment
};

// Steepest pair-swap descent from `assign` (changed in place): for each gene in turn, the swap
// with another gene of a different class that lowers the objective most, taken if it lowers it
// at all; passes over all genes until none improves or max_passes.
// max_work > 0 stops the search after about that many multiply-adds (a swap costs n x
// n_classes of them), for large grids.
SwapStats swap_local_search(const GWProblem& p, int64_t* assign, int64_t max_passes,
                            int num_threads, double max_work = 0.0);

struct SwapAnnealStats {
  int64_t proposals = 0;
  int64_t accepted = 0;
  int64_t class_major_proposals = 0;  // proposals scored on class-major sums (see below)
  double objective = 0.0;  // of the returned assignment (the best one visited)
};

// Simulated annealing over pair swaps from `assign` (changed in place, to the best assignment
// visited): `proposals` random swaps of two genes of different classes, each accepted with
// probability min(1, exp(gain / T)), T decreasing geometrically from t_start to t_end (relative
// to the mean |gain| of random swaps at the start). Seeded; deterministic.
// neighbours > 0: the second gene is drawn from one of the `neighbours` classes nearest (in
// grid cost) to the first gene's class; 0: from all genes.
// One gene per class from gather_min_genes genes on (euclidean grids): the class sums are
// read through the assignment instead of stored (n x n doubles), an accepted swap costs O(1).
// From lookup_min_genes up to 4,096 genes, the same in float with the log-cost read through
// the grid's lookup (GridProducts::log_cost_lookup).
// Stored class sums of at most class_major_max_bytes (float) are held class-major while the
// share of proposals accepted stays above about 0.72 x classes / genes (cheap accepted swaps),
// then in gene blocks (cheap proposals); never on one-gene-per-class grids; 0: gene blocks
// throughout.
constexpr int64_t kGatherMinGenes = 4097;
constexpr int64_t kLookupMinGenes = 2049;
constexpr int64_t kClassMajorMaxBytes = int64_t{16} << 20;
SwapAnnealStats swap_anneal(const GWProblem& p, int64_t* assign, int64_t proposals,
                            double t_start, double t_end, uint64_t seed, int num_threads,
                            int64_t neighbours = 0, int64_t gather_min_genes = kGatherMinGenes,
                            int64_t lookup_min_genes = kLookupMinGenes,
                            int64_t class_major_max_bytes = kClassMajorMaxBytes);

}  // namespace genomap
