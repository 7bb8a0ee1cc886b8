// The GW iterations of the device placement, written once over a backend `Ops` that holds the
// problem and does the heavy steps: DeviceGWOps (cuda/gw_device.cu: cuBLAS, cuFFT and kernels)
// and HostGWOps (cuda/host_gw.cpp: the same kernel bodies in plain loops, for the CPU tests).
// The control flow (first step, stopping rule, epsilon scaling) runs on the host in both, so
// the two differ only in how products are summed. Both follow the C++ core (cpp/src/gw.cpp):
// the same first step, the same linear term and objective, the same stopping rules.
#pragma once
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "gpu.hpp"

namespace genomap {
namespace gpu {

// The auction's epsilon schedule: from spread / 4 down by 8x per phase to spread * 1e-12 (the
// assignment is then optimal within n * 1e-12 * spread of the total benefit: exact in double
// precision for the GW linear terms). Prices carry over between phases and GW steps.
constexpr double kAuctionStart = 0.25, kAuctionFinal = 1e-12, kAuctionFactor = 8.0;

template <class Ops>
int64_t auction_assign(Ops& ops, std::vector<int64_t>& classes) {
  const auto [lo, hi] = ops.linear_range();
  const double spread = hi - lo > 0 ? hi - lo : 1.0;
  const double eps_final = spread * kAuctionFinal;
  int64_t rounds = 0;
  for (double eps = spread * kAuctionStart;; eps = std::max(eps / kAuctionFactor, eps_final)) {
    ops.auction_unassign_all();
    while (ops.auction_round(eps) > 0) ++rounds;
    ++rounds;
    if (eps == eps_final) break;
  }
  ops.auction_classes(classes);
  return rounds;
}

inline uint64_t hash_classes(const std::vector<int64_t>& x) {
  uint64_t h = 1469598103934665603ULL;
  for (int64_t v : x) {
    h ^= static_cast<uint64_t>(v) + 0x9e3779b97f4a7c15ULL;
    h *= 1099511628211ULL;
  }
  return h;
}

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The first step from T = p q^T (rank-one cost, solved by sorting), as the core's first_step.
inline std::vector<int64_t> first_step_classes(const std::vector<double>& a,
                                               const std::vector<double>& b,
                                               const std::vector<int64_t>& cap) {
  const int64_t n = static_cast<int64_t>(a.size()), D = static_cast<int64_t>(b.size());
  std::vector<int64_t> genes(n), classes(D), g(n);
  std::iota(genes.begin(), genes.end(), 0);
  std::iota(classes.begin(), classes.end(), 0);
  std::stable_sort(genes.begin(), genes.end(), [&](int64_t x, int64_t y) { return a[x] > a[y]; });
  std::stable_sort(classes.begin(), classes.end(), [&](int64_t x, int64_t y) { return b[x] > b[y]; });
  int64_t c = 0, used = 0;
  for (int64_t gene : genes) {
    while (used == cap[classes[c]]) {
      ++c;
      used = 0;
    }
    g[gene] = classes[c];
    ++used;
  }
  return g;
}

inline double ordered_sum(const std::vector<double>& x) {
  double s = 0.0;
  for (double v : x) s += v;
  return s;
}

// Exact GW steps: linear term, auction, until an assignment repeats or max_iter transport
// problems were solved; the assignment of lowest objective is returned.
template <class Ops>
GWExactOutcome gw_exact_loop(Ops& ops, const GridDesc& grid, int64_t n, int64_t max_iter) {
  if (max_iter < 1) throw std::invalid_argument("max_iter must be >= 1");
  const double nn = static_cast<double>(n) * static_cast<double>(n);
  GWExactOutcome r;
  auto t0 = std::chrono::steady_clock::now();
  const double f1 = ordered_sum(ops.f1_rows()) / nn;
  std::vector<int64_t> g = first_step_classes(ops.row_sums(), ops.class_weights(), grid.capacity);
  r.seconds_setup = seconds_since(t0);
  r.n_iter = 1;
  std::unordered_multimap<uint64_t, size_t> seen;
  std::vector<std::vector<int64_t>> history{g};
  seen.emplace(hash_classes(g), 0);
  double best = INFINITY;
  while (true) {
    t0 = std::chrono::steady_clock::now();
    ops.linear_term(g);
    const double obj = f1 + grid.mean_cost - ordered_sum(ops.assigned_values(g)) / nn;
    r.seconds_products += seconds_since(t0);
    r.trace.push_back(obj);
    if (obj < best) {
      best = obj;
      r.assign = g;
    }
    if (r.n_iter >= max_iter) break;
    t0 = std::chrono::steady_clock::now();
    std::vector<int64_t> next;
    r.auction_rounds += auction_assign(ops, next);
    r.seconds_transport += seconds_since(t0);
    r.n_iter++;
    const uint64_t h = hash_classes(next);
    bool repeated = false;
    auto range = seen.equal_range(h);
    for (auto it = range.first; it != range.second; ++it)
      if (history[it->second] == next) repeated = true;
    if (repeated) {
      r.converged = true;
      break;
    }
    seen.emplace(h, history.size());
    history.push_back(next);
    g.swap(next);
  }
  r.objective = best;
  return r;
}

// The reference's entropic loop (the core's solve_gw_entropic): T0 = p q^T, at most max_iter
// steps, stop when ||T - T_prev||_F < tol, checked every 10th step; each Sinkhorn run capped
// at max_iter with the core's marginal tolerance 1e-9.
template <class Ops>
GWEntropicOutcome gw_entropic_loop(Ops& ops, const GridDesc& grid, int64_t n, double epsilon,
                                   int64_t max_iter, double tol) {
  if (!(epsilon > 0)) throw std::invalid_argument("epsilon must be > 0");
  const double nn = static_cast<double>(n) * static_cast<double>(n);
  GWEntropicOutcome r;
  auto t0 = std::chrono::steady_clock::now();
  const double f1 = ordered_sum(ops.f1_rows()) / nn;
  ops.coupling_init();
  r.seconds_setup = seconds_since(t0);
  double err = 1.0;
  int64_t cpt = 0;
  while (err > tol && cpt < max_iter) {
    t0 = std::chrono::steady_clock::now();
    ops.save_previous();
    ops.coupling_cost();
    r.seconds_products += seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    r.sinkhorn_iters += ops.sinkhorn(epsilon, max_iter, 1e-9);
    r.seconds_transport += seconds_since(t0);
    if (cpt % 10 == 0) err = std::sqrt(ordered_sum(ops.change_rows()));
    ++cpt;
  }
  r.n_iter = cpt;
  r.last_change = err;
  r.objective = f1 + grid.mean_cost - ordered_sum(ops.objective_rows());
  r.coupling = ops.coupling();
  return r;
}

}  // namespace gpu
}  // namespace genomap
