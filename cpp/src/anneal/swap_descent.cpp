// Steepest pair-swap descent (swap_local_search).
#include <algorithm>
#include <cmath>
#include <limits>

#include "common.hpp"
#include "genomap/simd.hpp"

namespace genomap {

namespace {

// The state of a pair-swap search: A = C1 S L (n, D) for the current assignment, kept up to
// date by rank-one updates, and Q = sum_k A[k, a_k] (the objective is constants - Q / n^2).
// A is held transposed (AT, D x n): scoring gene i against every j reads class a's row of AT
// contiguously, and a swap's update is D contiguous axpys of length n.
struct SwapState {
  const GWProblem& p;
  int64_t n, D;
  int nt;
  anneal::LogCostRows L;
  std::vector<double> AT, rowmajor, Ai, diagA, dC, Ldiag, rowA, rowB, delta, col;

  SwapState(const GWProblem& p_, int nt_)
      : p(p_), n(p_.n), D(p_.grid->n_classes), nt(nt_),
        L(*p_.grid, D <= anneal::kDenseLogCostMax), AT(n * D), Ai(D), diagA(n), dC(n),
        Ldiag(D), rowA(D), rowB(D), delta(D), col(n) {
    for (int64_t d = 0; d < D; ++d) Ldiag[d] = L.row(d, rowA.data())[d];
    for (int64_t i = 0; i < n; ++i) dC[i] = p.C1[i * n + i];
  }
  void refresh(const int64_t* assign) {
    rowmajor.resize(n * D);
    linear_term_assignment(p, assign, rowmajor.data(), nt);
    for (int64_t k = 0; k < n; ++k)
      for (int64_t e = 0; e < D; ++e) AT[e * n + k] = rowmajor[k * D + e];
    for (int64_t k = 0; k < n; ++k) diagA[k] = AT[assign[k] * n + k];
  }
  // Gains of trading gene i (class a) with every gene j (class assign[j]) into g (n); -inf
  // where j is in class a. (C1 symmetric.)
  void gains(int64_t i, const int64_t* assign, double* g, double* buf) {
    const int64_t a = assign[i];
    const double* La_row = L.row(a, buf);
    for (int64_t e = 0; e < D; ++e) Ai[e] = AT[e * n + i];
    const double* ATa = AT.data() + a * n;
    const double* Ci = p.C1 + i * n;
    const double Aia = Ai[a], La = Ldiag[a], dCi = dC[i];
    const double ninf = -std::numeric_limits<double>::infinity();
#pragma omp parallel for schedule(static) num_threads(nt) if (n >= 16384)
    for (int64_t j = 0; j < n; ++j) {
      const int64_t b = assign[j];
      if (b == a) {
        g[j] = ninf;
        continue;
      }
      const double Lab = La_row[b], Lb = Ldiag[b];
      g[j] = 2.0 * ((Ai[b] - Aia) - (diagA[j] - ATa[j])) +
             2.0 * Ci[j] * (2.0 * Lab - La - Lb) - 2.0 * dCi * (Lab - La) +
             2.0 * dC[j] * (Lb - Lab) + (dCi - dC[j]) * (Lb - La);
    }
  }
  // Genes i and j trade classes: A += (C1[:, i] - C1[:, j]) (L[b, :] - L[a, :]).
  void apply(int64_t i, int64_t j, int64_t* assign) {
    const int64_t a = assign[i], b = assign[j];
    const double* La = L.row(a, rowA.data());
    const double* Lb = L.row(b, rowB.data());
    for (int64_t e = 0; e < D; ++e) delta[e] = Lb[e] - La[e];
    const double* ci = p.C1 + i * n;  // C1 symmetric: rows for columns
    const double* cj = p.C1 + j * n;
    for (int64_t k = 0; k < n; ++k) col[k] = ci[k] - cj[k];
#pragma omp parallel for schedule(static) num_threads(nt) if (n * D >= (int64_t{1} << 22))
    for (int64_t e = 0; e < D; ++e)
      if (delta[e] != 0.0) simd::axpy(n, delta[e], col.data(), AT.data() + e * n);
    assign[i] = b;
    assign[j] = a;
    for (int64_t k = 0; k < n; ++k) diagA[k] = AT[assign[k] * n + k];
  }
  // Smallest gain worth taking: far above the rounding of the incremental updates.
  double tolerance() const {
    const int64_t m = std::min<int64_t>(n, 64);
    double scale = 0.0;
    for (int64_t i = 0; i < n * m; ++i) scale += std::fabs(p.C1[i]);
    return 1e-10 * (1.0 + scale / static_cast<double>(m));
  }
};

// The partner of gene i whose swap gains most, above tol; -1 if none.
int64_t best_partner(const std::vector<double>& gain, double tol) {
  int64_t best = -1;
  double best_gain = tol;
  for (int64_t j = 0; j < static_cast<int64_t>(gain.size()); ++j)
    if (gain[j] > best_gain) {
      best_gain = gain[j];
      best = j;
    }
  return best;
}

}  // namespace

SwapStats swap_local_search(const GWProblem& p, int64_t* assign, int64_t max_passes,
                            int num_threads, double max_work) {
  const int64_t n = p.n, D = p.grid->n_classes;
  const int nt = num_threads > 0 ? num_threads : 1;
  SwapStats st;
  const std::vector<int64_t> start(assign, assign + n);
  const double start_obj = objective_assignment(p, assign, nt);
  st.objective = start_obj;
  if (D < 2 || n < 2) return st;
  SwapState S(p, nt);
  const double tol = S.tolerance();
  std::vector<double> gain(n), buf(D);
  // Work in multiply-adds: a refresh n D (D + n / D), a scan n, a swap n D.
  const double nd = static_cast<double>(n) * static_cast<double>(D);
  double work = 0.0;
  bool out_of_work = false;
  // A is recomputed (n x n x D multiply-adds, most of a pass on small grids) at the first pass
  // and then once kRefreshSwaps rank-one updates have accumulated: their drift (about 1e-16
  // relative each) stays far below the tolerance.
  constexpr int64_t kRefreshSwaps = 4096;
  int64_t since_refresh = kRefreshSwaps;
  for (int64_t pass = 0; pass < max_passes && !out_of_work; ++pass) {
    st.passes++;
    if (since_refresh >= kRefreshSwaps) {
      S.refresh(assign);
      since_refresh = 0;
      work += nd * static_cast<double>(D) + static_cast<double>(n) * static_cast<double>(n);
    }
    int64_t swaps = 0;
    for (int64_t i = 0; i < n; ++i) {
      work += static_cast<double>(n);
      if (max_work > 0 && work > max_work) {
        out_of_work = true;
        break;
      }
      S.gains(i, assign, gain.data(), buf.data());
      const int64_t best = best_partner(gain, tol);
      if (best < 0) continue;
      S.apply(i, best, assign);
      work += nd;
      ++swaps;
      ++since_refresh;
    }
    st.swaps += swaps;
    if (swaps == 0) break;
  }
  st.objective = objective_assignment(p, assign, nt);
  if (!(st.objective <= start_obj)) {  // rounding could only ever make this a tie; keep start
    std::copy(start.begin(), start.end(), assign);
    st.objective = start_obj;
  }
  return st;
}

}  // namespace genomap
