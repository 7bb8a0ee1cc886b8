// solve_gw_anneal: a start, then for each restart a swap descent, the annealing and a second
// descent; the best restart wins. Only orchestrates: the starts are in starts.cpp, the descent
// in swap_descent.cpp, the annealing in swap_anneal.cpp.
#include <algorithm>
#include <exception>
#include <limits>
#include <stdexcept>

#include "common.hpp"
#include "starts.hpp"

namespace genomap {

namespace {

void check_options(const AnnealOptions& opt) {
  if (!(opt.eps_start > 0) || !(opt.eps_end > 0) || opt.eps_end > opt.eps_start)
    throw std::invalid_argument("need 0 < eps_end <= eps_start");
  if (!(opt.decay > 0 && opt.decay < 1)) throw std::invalid_argument("decay must be in (0, 1)");
  if (opt.steps_per_eps < 1 || opt.sinkhorn_iter < 1 || opt.polish_iter < 1 || opt.restarts < 1)
    throw std::invalid_argument("steps_per_eps, sinkhorn_iter, polish_iter, restarts must be >= 1");
  if (opt.swap_rounds < 0 || opt.swap_passes < 0)
    throw std::invalid_argument("swap_rounds and swap_passes must be >= 0");
  if (!(opt.noise >= 0)) throw std::invalid_argument("noise must be >= 0");
  if (opt.sa_neighbours < 0) throw std::invalid_argument("sa_neighbours must be >= 0");
  if (!(opt.sa_sweeps >= 0) || !(opt.sa_max_work >= 0))
    throw std::invalid_argument("sa_sweeps and sa_max_work must be >= 0");
  if (!(opt.sa_t_start > 0) || !(opt.sa_t_end > 0) || opt.sa_t_end > opt.sa_t_start)
    throw std::invalid_argument("need 0 < sa_t_end <= sa_t_start");
  if (opt.multilevel_start && opt.entropic_start)
    throw std::invalid_argument("choose one start: entropic or multilevel");
  if (opt.multilevel_tile < 1) throw std::invalid_argument("multilevel_tile must be >= 1");
}

// Counters of one restart (merged into the result in restart order).
struct Tally {
  int64_t exact_iters = 0, swaps = 0, sa_proposals = 0, sa_accepted = 0;
  void merge_into(AnnealResult& res) const {
    res.exact_iters += exact_iters;
    res.swaps += swaps;
    res.sa_proposals += sa_proposals;
    res.sa_accepted += sa_accepted;
  }
};

// The steps after a start: the swap descent and the annealing of one restart.
class Improve {
 public:
  Improve(const GWProblem& p, const AnnealOptions& opt, int nt) : p_(p), opt_(opt), nt_(nt) {}

  // Swap descent and exact iteration alternate while either improves. B: (n, D) workspace.
  void descend(std::vector<int64_t>& assign, double& obj, std::vector<double>& B,
               Tally& t) const {
    for (int64_t round = 0; round < opt_.swap_rounds; ++round) {
      const SwapStats sw =
          swap_local_search(p_, assign.data(), opt_.swap_passes, nt_, opt_.swap_max_work);
      t.swaps += sw.swaps;
      obj = std::min(obj, sw.objective);
      if (sw.swaps == 0) break;
      linear_term_assignment(p_, assign.data(), B.data(), nt_);
      ExactStart again;
      again.linear_term = B.data();
      ExactResult e2 = solve_gw_exact(p_, opt_.polish_iter, nt_, &again);
      t.exact_iters += e2.n_iter;
      if (!(e2.objective < obj)) break;
      assign = e2.assign;
      obj = e2.objective;
    }
  }

  // Restart r's annealing (seeded by r) from assign, then a descent if it gained.
  void anneal(int64_t r, std::vector<int64_t>& assign, double& obj, std::vector<double>& B,
              Tally& t) const {
    const int64_t n = p_.n, D = p_.grid->n_classes;
    const double work_cap = opt_.sa_max_work / static_cast<double>(D);
    const int64_t proposals =
        static_cast<int64_t>(std::min(opt_.sa_sweeps * static_cast<double>(n), work_cap));
    if (proposals <= 0) return;
    const SwapAnnealStats sa =
        swap_anneal(p_, assign.data(), proposals, opt_.sa_t_start, opt_.sa_t_end,
                    opt_.seed * 1000003ULL + static_cast<uint64_t>(r), nt_, opt_.sa_neighbours);
    t.sa_proposals += sa.proposals;
    t.sa_accepted += sa.accepted;
    if (sa.objective < obj) {
      obj = sa.objective;
      descend(assign, obj, B, t);
    }
  }

 private:
  const GWProblem& p_;
  const AnnealOptions& opt_;
  int nt_;
};

// Restart r's outcome kept if it is the best so far (ties: the lower r).
void keep(AnnealResult& res, int64_t r, const std::vector<int64_t>& assign, double obj,
          double coupling_obj, double rounded) {
  res.restart_objectives.push_back(obj);
  if (obj < res.objective) {
    res.objective = obj;
    res.assign = assign;
    res.best_restart = r;
    res.coupling_objective = coupling_obj;
    res.rounded_objective = rounded;
  }
}

// The exact (or multilevel) start is deterministic: computed and descended once, shared by
// all restarts, which differ only in the annealing's seed. On a small problem (one thread
// each) the restarts run side by side on the threads given; each computes exactly what it
// would alone and they are merged in restart order, so the result does not depend on the
// thread count.
void shared_start_restarts(const GWProblem& p, const AnnealOptions& opt, int nt,
                           int num_threads, std::vector<double>& B, AnnealResult& res) {
  const Improve improve(p, opt, nt);
  Tally t0;
  anneal::Start s =
      opt.multilevel_start
          ? anneal::multilevel_start(p, opt.multilevel_tile, opt.polish_iter, nt,
                                     anneal::large_unit_grid(p))
          : anneal::exact_start(p, opt.polish_iter, nt);
  t0.exact_iters += s.exact_iters;
  const double rounded = s.objective;
  improve.descend(s.assign, s.objective, B, t0);
  t0.merge_into(res);
  const int64_t R = opt.restarts, nD = p.n * p.grid->n_classes;
  std::vector<std::vector<int64_t>> assigns(R, s.assign);
  std::vector<double> objs(R, s.objective);
  std::vector<Tally> tallies(R);
  const int side_by_side =
      nt == 1 ? static_cast<int>(std::min<int64_t>(std::max(num_threads, 1), R)) : 1;
  std::vector<std::exception_ptr> errors(R);
#pragma omp parallel for schedule(dynamic, 1) num_threads(side_by_side) if (side_by_side > 1)
  for (int64_t r = 0; r < R; ++r) {
    try {
      std::vector<double> Bw(r == 0 || side_by_side == 1 || B.empty() ? 0 : nD);
      improve.anneal(r, assigns[r], objs[r], Bw.empty() ? B : Bw, tallies[r]);
    } catch (...) {
      errors[r] = std::current_exception();
    }
  }
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  for (int64_t r = 0; r < R; ++r) {
    tallies[r].merge_into(res);
    keep(res, r, assigns[r], objs[r], std::numeric_limits<double>::quiet_NaN(), rounded);
  }
}

// The entropic start differs by restart (perturbed couplings): each restart starts, descends
// and anneals in turn.
void entropic_restarts(const GWProblem& p, const AnnealOptions& opt, int nt,
                       std::vector<double>& B, AnnealResult& res) {
  const Improve improve(p, opt, nt);
  anneal::EntropicStart entropic(p, opt, nt, B);
  for (int64_t r = 0; r < opt.restarts; ++r) {
    anneal::Start s = entropic.run(r, B, res.gw_steps, res.sinkhorn_iters);
    Tally t;
    t.exact_iters += s.exact_iters;
    const double rounded = s.objective;
    improve.descend(s.assign, s.objective, B, t);
    improve.anneal(r, s.assign, s.objective, B, t);
    t.merge_into(res);
    keep(res, r, s.assign, s.objective, s.coupling_objective, rounded);
  }
}

}  // namespace

AnnealResult solve_gw_anneal(const GWProblem& p, const AnnealOptions& opt, int num_threads) {
  check_options(opt);
  const int64_t n = p.n, D = p.grid->n_classes;
  // Small problems run on one thread: their parallel loops are too short to pay for the
  // threads, and idle OpenMP threads spinning between them slow the serial annealing.
  const int nt = num_threads > 0 && n * D >= (int64_t{1} << 20) ? num_threads : 1;
  // B: the (n, D) linear term, for the entropic start and the descents only (n x n doubles on
  // a euclidean grid, where the multilevel start needs neither).
  std::vector<double> B(opt.entropic_start || opt.swap_rounds > 0 ? n * D : 0);
  AnnealResult res;
  res.objective = std::numeric_limits<double>::infinity();
  if (opt.entropic_start)
    entropic_restarts(p, opt, nt, B, res);
  else
    shared_start_restarts(p, opt, nt, num_threads, B, res);
  return res;
}

}  // namespace genomap
