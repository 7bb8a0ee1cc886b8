#include "starts.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "common.hpp"
#include "genomap/multilevel.hpp"
#include "genomap/transport.hpp"

namespace genomap {
namespace anneal {

namespace {

// Mean over classes of the spread (max - min over genes) of a linear term (n, D).
double class_spread(const double* B, int64_t n, int64_t D) {
  std::vector<double> lo(D, std::numeric_limits<double>::infinity()),
      hi(D, -std::numeric_limits<double>::infinity());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t d = 0; d < D; ++d) {
      lo[d] = std::min(lo[d], B[i * D + d]);
      hi[d] = std::max(hi[d], B[i * D + d]);
    }
  double s = 0.0;
  for (int64_t d = 0; d < D; ++d) s += hi[d] - lo[d];
  return s / static_cast<double>(D);
}

// LT[q, t]: the mean log-cost from fine pixel q to the pixels of coarse tile t.
std::vector<double> tile_log_cost(const GridCost& fine, const GridCost& coarse, int nt) {
  const int64_t D = fine.n_classes, Dc = coarse.n_classes;
  const std::vector<int64_t>& tile_of = coarse.class_of_pixel;  // fine class == pixel
  std::vector<double> LT(D * Dc, 0.0);
#pragma omp parallel num_threads(nt)
  {
    std::vector<double> row(D);
#pragma omp for schedule(static)
    for (int64_t q = 0; q < D; ++q) {
      fine.log_cost_row(q, row.data());
      double* lt = LT.data() + q * Dc;
      for (int64_t e = 0; e < D; ++e) lt[tile_of[e]] += row[e];
      for (int64_t c = 0; c < Dc; ++c) lt[c] /= static_cast<double>(coarse.capacity[c]);
    }
  }
  return LT;
}

}  // namespace

Start exact_start(const GWProblem& p, int64_t max_iter, int nt) {
  ExactResult er = solve_gw_exact(p, max_iter, nt);
  Start s;
  s.assign = std::move(er.assign);
  s.objective = er.objective;
  s.exact_iters = er.n_iter;
  return s;
}

// Each tile's genes go to its pixels by the linear term of the tile coupling spread evenly
// over the tile's pixels (the next level's first linear term in solve_gw_multilevel):
// A0[i, q] = sum_t CS[i, t] LT[q, t], CS the tile sums of C1.
Start multilevel_start(const GWProblem& p, int64_t tile, int64_t max_iter, int nt, bool by_rows) {
  const GridCost& fine = *p.grid;
  const MultilevelResult ml = solve_gw_multilevel(p.C1, p.n, fine, max_iter, nt, 256, 4, tile);
  Start s;
  for (int64_t it : ml.level_iter) s.exact_iters += it;
  const int64_t t = ml.tiles.back();
  if (t == 1) {
    s.assign = ml.finest.assign;
    s.objective = objective_of(p, s.assign.data(), nt, by_rows);
    return s;
  }
  const GridCost coarse = fine.coarsen(t);
  const int64_t n = p.n, D = fine.n_classes, Dc = coarse.n_classes;
  const std::vector<int64_t>& tile_of = coarse.class_of_pixel;
  const std::vector<int64_t>& gene_tile = ml.finest.assign;
  const std::vector<double> LT = tile_log_cost(fine, coarse, nt);
  std::vector<double> CS(n * Dc);
  class_sums(p, gene_tile.data(), Dc, CS.data(), nt);
  std::vector<std::vector<int64_t>> genes(Dc), pixels(Dc);
  for (int64_t i = 0; i < n; ++i) genes[gene_tile[i]].push_back(i);
  for (int64_t q = 0; q < D; ++q) pixels[tile_of[q]].push_back(q);
  std::vector<int64_t> assign(n, -1);
#pragma omp parallel for schedule(dynamic, 64) num_threads(nt)
  for (int64_t c = 0; c < Dc; ++c) {
    const int64_t k = static_cast<int64_t>(genes[c].size());
    if (k == 0) continue;
    std::vector<double> cost(k * k);
    for (int64_t a = 0; a < k; ++a) {
      const double* cs = CS.data() + genes[c][a] * Dc;
      for (int64_t b = 0; b < k; ++b) {
        const double* lt = LT.data() + pixels[c][b] * Dc;
        double sum = 0.0;
        for (int64_t e = 0; e < Dc; ++e) sum += cs[e] * lt[e];
        cost[a * k + b] = -sum;
      }
    }
    std::vector<int64_t> ones(k, 1), local(k);
    std::vector<double> v;
    solve_class_transport(cost.data(), k, k, ones.data(), local.data(), v, false);
    for (int64_t a = 0; a < k; ++a) assign[genes[c][a]] = pixels[c][local[a]];
  }
  s.assign = std::move(assign);
  s.objective = objective_of(p, s.assign.data(), nt, by_rows);
  return s;
}

EntropicStart::EntropicStart(const GWProblem& p, const AnnealOptions& opt, int nt,
                             std::vector<double>& B)
    : p_(p), opt_(opt), nt_(nt), n_(p.n), D_(p.grid->n_classes), product_(n_ * D_),
      M_(n_ * D_), sinkhorn_(n_, D_, p.grid->capacity.data(), SinkhornMarginals::classes, nt) {
  const double nn = static_cast<double>(n_) * static_cast<double>(n_);
  const auto& cap = p.grid->capacity;
  for (int64_t i = 0; i < n_; ++i)
    for (int64_t d = 0; d < D_; ++d) product_[i * D_ + d] = static_cast<double>(cap[d]) / nn;
  linear_term_coupling(p, product_.data(), B.data(), nt);
  spread_ = class_spread(B.data(), n_, D_);
  if (!(spread_ > 1e-12)) spread_ = 1e-12;
}

std::vector<double> EntropicStart::perturbed(int64_t r) const {
  std::vector<double> Tc = product_;
  if (r == 0 || !(opt_.noise > 0)) return Tc;
  std::mt19937_64 rng(opt_.seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(r));
  std::normal_distribution<double> z(0.0, 1.0);
  double total = 0.0;
  for (int64_t k = 0; k < n_ * D_; ++k) {
    Tc[k] *= std::exp(opt_.noise * z(rng));
    total += Tc[k];
  }
  for (int64_t k = 0; k < n_ * D_; ++k) Tc[k] /= total;
  return Tc;
}

Start EntropicStart::run(int64_t r, std::vector<double>& B, int64_t& gw_steps,
                         int64_t& sinkhorn_iters) {
  std::vector<double> Tc = perturbed(r);
  std::vector<double> f(n_, 0.0), g(D_, 0.0);
  double eps = opt_.eps_start * spread_;
  const double eps_min = opt_.eps_end * spread_;
  while (true) {
    for (int64_t s = 0; s < opt_.steps_per_eps; ++s) {
      linear_term_coupling(p_, Tc.data(), B.data(), nt_);
      for (int64_t k = 0; k < n_ * D_; ++k) M_[k] = -B[k];
      sinkhorn_iters += sinkhorn_.solve(M_.data(), eps, f, g, opt_.sinkhorn_iter,
                                        opt_.sinkhorn_tol, Tc.data()).n_iter;
      gw_steps++;
    }
    if (eps <= eps_min * (1.0 + 1e-12)) break;
    eps = std::max(eps * opt_.decay, eps_min);
  }
  linear_term_coupling(p_, Tc.data(), B.data(), nt_);
  double tb = 0.0;
  for (int64_t k = 0; k < n_ * D_; ++k) tb += B[k] * Tc[k];
  ExactStart warm;
  warm.linear_term = B.data();
  ExactResult er = solve_gw_exact(p_, opt_.polish_iter, nt_, &warm);
  Start s;
  s.coupling_objective = p_.f1_term + p_.grid->mean_cost - tb;
  s.assign = std::move(er.assign);
  s.objective = er.objective;
  s.exact_iters = er.n_iter;
  return s;
}

}  // namespace anneal
}  // namespace genomap
