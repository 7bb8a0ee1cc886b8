#include "genomap/refine.hpp"

#include <cmath>
#include <cstdlib>
#include <vector>

#include "genomap/simd.hpp"
#include "genomap/transport.hpp"

namespace genomap {

namespace {

// log(distance + 1e-15) depends only on |d_row| and |d_col|.
struct LogDistTable {
  int64_t rows, cols;
  std::vector<double> t;
  LogDistTable(int64_t r, int64_t c) : rows(r), cols(c), t(r * c) {
    for (int64_t a = 0; a < r; ++a)
      for (int64_t b = 0; b < c; ++b)
        t[a * c + b] = std::log(std::sqrt(static_cast<double>(a * a + b * b)) + kLogFloor);
  }
  double operator()(int64_t p, int64_t q) const {
    const int64_t dr = std::llabs(p % rows - q % rows), dc = std::llabs(p / rows - q / rows);
    return t[dr * cols + dc];
  }
};

// sum_k c[k] f[k] in four partial sums (one serial chain is add-latency bound); the same
// order in both clones.
GENOMAP_CLONES double dot4(const double* __restrict c, const double* __restrict f, int64_t n) {
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  int64_t k = 0;
  for (; k + 4 <= n; k += 4) {
    s0 += c[k] * f[k];
    s1 += c[k + 1] * f[k + 1];
    s2 += c[k + 2] * f[k + 2];
    s3 += c[k + 3] * f[k + 3];
  }
  for (; k < n; ++k) s0 += c[k] * f[k];
  return (s0 + s1) + (s2 + s3);
}

double linear_term(const double* C1, int64_t n, const LogDistTable& tab, const int64_t* pixel,
                   int nt) {
  std::vector<double> rows(n);
  std::vector<int64_t> pr(n), pc(n);
  for (int64_t k = 0; k < n; ++k) {
    pr[k] = pixel[k] % tab.rows;
    pc[k] = pixel[k] / tab.rows;
  }
#pragma omp parallel num_threads(nt)
  {
    std::vector<double> f(n);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t k = 0; k < n; ++k)
        f[k] = tab.t[std::llabs(pr[i] - pr[k]) * tab.cols + std::llabs(pc[i] - pc[k])];
      rows[i] = dot4(C1 + i * n, f.data(), n);
    }
  }
  double s = 0.0;
  for (double x : rows) s += x;
  return s / (static_cast<double>(n) * static_cast<double>(n));
}

int64_t a_index_of(const std::vector<int64_t>& ps, int64_t pixel) {
  for (size_t b = 0; b < ps.size(); ++b)
    if (ps[b] == pixel) return static_cast<int64_t>(b);
  return -1;
}

}  // namespace

double euclidean_linear_term(const double* C1, int64_t n, int64_t rows, int64_t cols,
                             const int64_t* pixel, int num_threads) {
  LogDistTable tab(rows, cols);
  return linear_term(C1, n, tab, pixel, num_threads > 0 ? num_threads : 1);
}

PlacementStats place_within_classes(const double* C1, int64_t n, const GridCost& grid,
                                    const int64_t* assign, int64_t max_rounds, int64_t* pixel_out,
                                    int num_threads) {
  const int nt = num_threads > 0 ? num_threads : 1;
  const int64_t D = grid.n_classes;
  std::vector<std::vector<int64_t>> pixels(D), genes(D);
  for (int64_t k = 0; k < grid.n_used; ++k) pixels[grid.class_of_pixel[k]].push_back(k);
  for (int64_t i = 0; i < n; ++i) genes[assign[i]].push_back(i);
  for (int64_t d = 0; d < D; ++d)
    for (size_t j = 0; j < genes[d].size(); ++j) pixel_out[genes[d][j]] = pixels[d][j];

  PlacementStats st;
  LogDistTable tab(grid.rows, grid.cols);
  st.euclidean_before = linear_term(C1, n, tab, pixel_out, nt);
  st.euclidean_after = st.euclidean_before;
  bool has_ties = false;
  for (int64_t d = 0; d < D; ++d) has_ties = has_ties || genes[d].size() > 1;
  if (!has_ties) return st;

  std::vector<int64_t> prow(n), pcol(n), ring_of(n);
  for (int64_t k = 0; k < n; ++k) {
    prow[k] = pixel_out[k] % grid.rows;
    pcol[k] = pixel_out[k] / grid.rows;
    ring_of[k] = assign[k];
  }
  auto L = [&](int64_t r1, int64_t c1, int64_t r2, int64_t c2) {
    return tab.t[std::llabs(r1 - r2) * tab.cols + std::llabs(c1 - c2)];
  };
  // Gauss-Seidel over rings: each ring's genes are re-assigned to its pixels by one small
  // assignment against all genes outside the ring (held fixed); the move is kept only if the
  // exact 2-D objective improves (within-ring terms included).
  for (int64_t round = 0; round < max_rounds; ++round) {
    int64_t moved = 0;
    for (int64_t d = 0; d < D; ++d) {
      const auto& gs = genes[d];
      const auto& ps = pixels[d];
      const int64_t m = static_cast<int64_t>(gs.size());
      if (m < 2) continue;
      // field[b][k] = log-distance from gene k's pixel to ring pixel b (0 for genes of this
      // ring, whose pairs are handled exactly below); cost[a][b] = -<C1[g_a], field[b]>.
      std::vector<double> field(m * n), cost(m * m);
      for (int64_t b = 0; b < m; ++b) {
        const int64_t br = ps[b] % grid.rows, bc = ps[b] / grid.rows;
        double* f = field.data() + b * n;
        for (int64_t k = 0; k < n; ++k)
          f[k] = ring_of[k] == d ? 0.0 : L(prow[k], pcol[k], br, bc);
      }
#pragma omp parallel for schedule(static) num_threads(nt) if (m * m * n > 400000)
      for (int64_t a = 0; a < m; ++a) {
        const double* c = C1 + gs[a] * n;
        for (int64_t b = 0; b < m; ++b) cost[a * m + b] = -dot4(c, field.data() + b * n, n);
      }
      std::vector<int64_t> cap(m, 1), out(m);
      std::vector<double> v;
      solve_class_transport(cost.data(), m, m, cap.data(), out.data(), v, false);
      // Exact change: cross terms (2x, C1 symmetric) plus within-ring terms.
      double old_cross = 0.0, new_cross = 0.0, old_in = 0.0, new_in = 0.0;
      for (int64_t a = 0; a < m; ++a) {
        old_cross += -cost[a * m + a_index_of(ps, pixel_out[gs[a]])];
        new_cross += -cost[a * m + out[a]];
        for (int64_t b = 0; b < m; ++b) {
          const double w = C1[gs[a] * n + gs[b]];
          old_in += w * L(prow[gs[a]], pcol[gs[a]], prow[gs[b]], pcol[gs[b]]);
          const int64_t pa = ps[out[a]], pb = ps[out[b]];
          new_in += w * L(pa % grid.rows, pa / grid.rows, pb % grid.rows, pb / grid.rows);
        }
      }
      const double gain = 2.0 * (new_cross - old_cross) + (new_in - old_in);
      if (gain > 1e-12 * (std::fabs(old_cross) + std::fabs(old_in))) {
        for (int64_t a = 0; a < m; ++a) {
          const int64_t p = ps[out[a]];
          if (pixel_out[gs[a]] != p) ++moved;
          pixel_out[gs[a]] = p;
          prow[gs[a]] = p % grid.rows;
          pcol[gs[a]] = p / grid.rows;
        }
      }
    }
    if (moved == 0) break;
    st.rounds++;
  }
  st.euclidean_after = linear_term(C1, n, tab, pixel_out, nt);
  return st;
}

}  // namespace genomap
