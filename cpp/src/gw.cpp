#include "genomap/gw.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <unordered_map>

#include "genomap/blas.hpp"
#include "genomap/sinkhorn.hpp"
#include "genomap/transport.hpp"

namespace genomap {

GWProblem make_problem(const double* C1, int64_t n, const GridCost& grid, int num_threads) {
  if (n != grid.n_used) throw std::invalid_argument("gene count must equal the grid's used pixels");
  GWProblem p;
  p.C1 = C1;
  p.n = n;
  p.grid = &grid;
  const int nt = num_threads > 0 ? num_threads : 1;
  std::vector<double> rows(n);
#pragma omp parallel for schedule(static) num_threads(nt)
  for (int64_t i = 0; i < n; ++i) {
    double s = 0.0;
    for (int64_t k = 0; k < n; ++k) {
      const double a = C1[i * n + k];
      s += a * std::log(a + kLogFloor) - a;
    }
    rows[i] = s;
  }
  const double nn = static_cast<double>(n) * static_cast<double>(n);
  p.f1_term = std::accumulate(rows.begin(), rows.end(), 0.0) / nn;
  return p;
}

void class_sums(const GWProblem& p, const int64_t* assign, int64_t D, double* CS, int num_threads) {
  const int64_t n = p.n;
  const int nt = num_threads > 0 ? num_threads : 1;
#pragma omp parallel for schedule(static) num_threads(nt) if (n * n > 100000)
  for (int64_t i = 0; i < n; ++i) {
    const double* c = p.C1 + i * n;
    double* s = CS + i * D;
    std::fill(s, s + D, 0.0);
    for (int64_t k = 0; k < n; ++k) s[assign[k]] += c[k];
  }
}

void apply_log_cost(const GWProblem& p, const double* CS, double* A, int num_threads) {
  p.grid->apply_log_cost(CS, p.n, A, num_threads > 0 ? num_threads : 1);
}

void linear_term_assignment(const GWProblem& p, const int64_t* assign, double* A, int num_threads) {
  std::vector<double> S(p.n * p.grid->n_classes);
  class_sums(p, assign, p.grid->n_classes, S.data(), num_threads);
  apply_log_cost(p, S.data(), A, num_threads);
}

void linear_term_coupling(const GWProblem& p, const double* Tc, double* B, int num_threads) {
  const int64_t n = p.n, D = p.grid->n_classes;
  std::vector<double> TL(n * D);
  p.grid->apply_log_cost(Tc, n, TL.data(), num_threads);
  gemm_rowmajor(false, false, n, D, n, 1.0, p.C1, n, TL.data(), D, 0.0, B, D, num_threads);
}

static double objective_from_A(const GWProblem& p, const double* A, const int64_t* assign) {
  const int64_t D = p.grid->n_classes;
  double s = 0.0;
  for (int64_t i = 0; i < p.n; ++i) s += A[i * D + assign[i]];
  const double nn = static_cast<double>(p.n) * static_cast<double>(p.n);
  return p.f1_term + p.grid->mean_cost - s / nn;
}

double objective_assignment(const GWProblem& p, const int64_t* assign, int num_threads) {
  std::vector<double> A(p.n * p.grid->n_classes);
  linear_term_assignment(p, assign, A.data(), num_threads);
  return objective_from_A(p, A.data(), assign);
}

double objective_coupling(const GWProblem& p, const double* Tc, int num_threads) {
  const int64_t n = p.n, D = p.grid->n_classes;
  std::vector<double> B(n * D);
  linear_term_coupling(p, Tc, B.data(), num_threads);
  double s = 0.0;
  for (int64_t i = 0; i < n * D; ++i) s += B[i] * Tc[i];
  return p.f1_term + p.grid->mean_cost - s;
}

// First step from T = p q^T: the linearised cost is rank one, -(a_i b_d) / n^2 with a the row
// sums of C1 and b_d = sum_d' cap_d' L[d', d]; pairing sorted a with sorted b is optimal.
// Returns potentials for the next step's transport: its cost -(C1 S L) is close to the rank-one
// -(a b^T) / n when classes hold genes in proportion, so v_d = -mean(a) b_d / n balances the
// classes' demand far better than a cold start (5x fewer path searches at 64x64).
static std::vector<double> first_step(const GWProblem& p, int64_t* assign) {
  const int64_t n = p.n, D = p.grid->n_classes;
  const auto& cap = p.grid->capacity;
  std::vector<double> a(n, 0.0), b(D, 0.0), L(D);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < n; ++k) a[i] += p.C1[i * n + k];
  for (int64_t e = 0; e < D; ++e) {
    p.grid->log_cost_row(e, L.data());
    for (int64_t d = 0; d < D; ++d) b[d] += static_cast<double>(cap[e]) * L[d];
  }
  std::vector<int64_t> genes(n), classes(D);
  std::iota(genes.begin(), genes.end(), 0);
  std::iota(classes.begin(), classes.end(), 0);
  std::stable_sort(genes.begin(), genes.end(), [&](int64_t x, int64_t y) { return a[x] > a[y]; });
  std::stable_sort(classes.begin(), classes.end(), [&](int64_t x, int64_t y) { return b[x] > b[y]; });
  int64_t c = 0, used = 0;
  for (int64_t g : genes) {
    while (used == cap[classes[c]]) {
      ++c;
      used = 0;
    }
    assign[g] = classes[c];
    ++used;
  }
  const double a_mean = std::accumulate(a.begin(), a.end(), 0.0) / static_cast<double>(n);
  std::vector<double> v(D);
  for (int64_t d = 0; d < D; ++d) v[d] = -a_mean * b[d] / static_cast<double>(n);
  return v;
}

void update_linear_term(const GWProblem& p, const int64_t* had, const int64_t* g, double* A,
                        int num_threads) {
  const int64_t n = p.n, D = p.grid->n_classes;
  std::vector<int64_t> moved;
  for (int64_t j = 0; j < n; ++j)
    if (g[j] != had[j]) moved.push_back(j);
  const int64_t m = static_cast<int64_t>(moved.size());
  if (m == 0) return;
  std::vector<double> cols(n * m), delta(m * D), from(D);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t t = 0; t < m; ++t) cols[i * m + t] = p.C1[i * n + moved[t]];
  for (int64_t t = 0; t < m; ++t) {
    double* row = delta.data() + t * D;
    p.grid->log_cost_row(g[moved[t]], row);
    p.grid->log_cost_row(had[moved[t]], from.data());
    for (int64_t e = 0; e < D; ++e) row[e] -= from[e];
  }
  gemm_rowmajor(false, false, n, D, m, 1.0, cols.data(), m, delta.data(), D, 1.0, A, D,
                num_threads);
}

// Brings A = C1 S_g L (n, D) up to date for the assignment g. `had` is the assignment A was
// last computed for (empty: none). The update above costs 2 n |M| D flops; a full product costs
// what the grid's products say (GridProducts::product_flops: an n x D x D GEMM, or a 2-D FFT
// convolution per gene counted at 25 flops per point and log2 point). The choice depends only
// on |M|, so results do not depend on timing or threads; a full product every 20 updates bounds the rounding drift.
static void refresh_linear_term(const GWProblem& p, const std::vector<int64_t>& g,
                                std::vector<int64_t>& had, int& updates, double* A, int nt) {
  const int64_t n = p.n, D = p.grid->n_classes;
  int64_t m = 0;
  if (!had.empty())
    for (int64_t j = 0; j < n; ++j) m += g[j] != had[j];
  const double nd = static_cast<double>(n), dd = static_cast<double>(D);
  const double full = p.grid->product_flops(n);
  if (!had.empty() && updates < 20 && 2.0 * nd * static_cast<double>(m) * dd < full) {
    update_linear_term(p, had.data(), g.data(), A, nt);
    ++updates;
  } else {
    linear_term_assignment(p, g.data(), A, nt);
    updates = 0;
  }
  had = g;
}

static uint64_t hash_assign(const std::vector<int64_t>& x) {
  uint64_t h = 1469598103934665603ULL;
  for (int64_t v : x) {
    h ^= static_cast<uint64_t>(v) + 0x9e3779b97f4a7c15ULL;
    h *= 1099511628211ULL;
  }
  return h;
}

ExactResult solve_gw_exact(const GWProblem& p, int64_t max_iter, int num_threads,
                           const ExactStart* start) {
  if (max_iter < 1) throw std::invalid_argument("max_iter must be >= 1");
  const int64_t n = p.n, D = p.grid->n_classes;
  ExactResult r;
  std::vector<int64_t> g(n);
  std::vector<double> A(n * D);
  std::vector<double> v;
  if (start && start->linear_term) {
    for (int64_t i = 0; i < n * D; ++i) A[i] = -start->linear_term[i];
    v = start->potentials;
    const TransportStats ts = solve_class_transport(A.data(), n, D, p.grid->capacity.data(),
                                                    g.data(), v, v.size() == size_t(D));
    r.n_augment += ts.n_augment;
  } else {
    v = first_step(p, g.data());
  }
  r.n_iter = 1;
  std::unordered_multimap<uint64_t, size_t> seen;
  std::vector<std::vector<int64_t>> history;
  seen.emplace(hash_assign(g), 0);
  history.push_back(g);

  std::vector<double> cost(n * D);
  std::vector<int64_t> had;  // the assignment A holds the linear term of
  int updates = 0;
  double best = std::numeric_limits<double>::infinity();
  bool warm = true;
  while (true) {
    const auto t0 = std::chrono::steady_clock::now();
    refresh_linear_term(p, g, had, updates, A.data(), num_threads);
    const double obj = objective_from_A(p, A.data(), g.data());
    r.trace.push_back(obj);
    if (obj < best) {
      best = obj;
      r.assign = g;
    }
    if (r.n_iter >= max_iter) break;
    for (int64_t i = 0; i < n * D; ++i) cost[i] = -A[i];
    std::vector<int64_t> next(n);
    const TransportStats ts =
        solve_class_transport(cost.data(), n, D, p.grid->capacity.data(), next.data(), v, warm,
                              g.data());
    warm = true;
    r.n_augment += ts.n_augment;
    r.n_iter++;
    int64_t moved = 0;
    for (int64_t i = 0; i < n; ++i) moved += next[i] != g[i];
    r.moved.push_back(moved);
    r.scans.push_back(ts.n_scans);
    r.seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    const uint64_t h = hash_assign(next);
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
  r.potentials = v;
  return r;
}

EntropicResult solve_gw_entropic(const GWProblem& p, double epsilon, int64_t max_iter, double tol,
                                 int num_threads) {
  if (!(epsilon > 0)) throw std::invalid_argument("epsilon must be > 0");
  const int64_t n = p.n, D = p.grid->n_classes;
  const auto& cap = p.grid->capacity;
  const double nn = static_cast<double>(n) * static_cast<double>(n);
  EntropicResult r;
  std::vector<double> T(n * D), prev(n * D), B(n * D);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t d = 0; d < D; ++d) T[i * D + d] = static_cast<double>(cap[d]) / nn;
  double err = 1.0;
  int64_t cpt = 0;
  while (err > tol && cpt < max_iter) {
    prev = T;
    linear_term_coupling(p, T.data(), B.data(), num_threads);
    double mn = std::numeric_limits<double>::infinity();
    for (int64_t i = 0; i < n * D; ++i) {
      B[i] = -B[i];
      mn = std::min(mn, B[i]);
    }
    for (int64_t i = 0; i < n * D; ++i) B[i] -= mn;
    const SinkhornStats ss =
        sinkhorn_classes(B.data(), n, D, cap.data(), epsilon, max_iter, 1e-9, T.data(), num_threads);
    r.sinkhorn_iters += ss.n_iter;
    if (cpt % 10 == 0) {
      // ||T - T_prev||_F over pixels: a class entry spreads evenly over its cap pixels.
      double e2 = 0.0;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t d = 0; d < D; ++d) {
          const double x = T[i * D + d] - prev[i * D + d];
          e2 += x * x / static_cast<double>(cap[d]);
        }
      err = std::sqrt(e2);
    }
    ++cpt;
  }
  r.n_iter = cpt;
  r.last_change = err;
  r.objective = objective_coupling(p, T.data(), num_threads);
  r.coupling.swap(T);
  return r;
}

}  // namespace genomap
