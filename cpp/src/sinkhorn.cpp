#include "genomap/sinkhorn.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace genomap {

namespace {

constexpr double kAbsorbAbove = 1e50;

// Exact log-domain half steps on potentials alpha (rows) and beta (classes), in cost units:
// u_i = exp(alpha_i / reg), v_d = exp(beta_d / reg).
void log_update_columns(const double* M, int64_t n, int64_t D, double reg, double log_target,
                        const std::vector<double>& alpha, std::vector<double>& beta, int nt) {
#pragma omp parallel for schedule(static) num_threads(nt) if (n * D > 100000)
  for (int64_t d = 0; d < D; ++d) {
    double mx = -std::numeric_limits<double>::infinity();
    for (int64_t i = 0; i < n; ++i) mx = std::max(mx, (alpha[i] - M[i * D + d]) / reg);
    double s = 0.0;
    for (int64_t i = 0; i < n; ++i) s += std::exp((alpha[i] - M[i * D + d]) / reg - mx);
    beta[d] = reg * (log_target - (mx + std::log(s)));
  }
}

void log_update_rows(const double* M, int64_t n, int64_t D, double reg, double log_target,
                     const std::vector<double>& log_cap, std::vector<double>& alpha,
                     const std::vector<double>& beta, int nt) {
#pragma omp parallel for schedule(static) num_threads(nt) if (n * D > 100000)
  for (int64_t i = 0; i < n; ++i) {
    const double* m = M + i * D;
    double mx = -std::numeric_limits<double>::infinity();
    for (int64_t d = 0; d < D; ++d) mx = std::max(mx, log_cap[d] + (beta[d] - m[d]) / reg);
    double s = 0.0;
    for (int64_t d = 0; d < D; ++d) s += std::exp(log_cap[d] + (beta[d] - m[d]) / reg - mx);
    alpha[i] = reg * (log_target - (mx + std::log(s)));
  }
}

}  // namespace

SinkhornStats sinkhorn_classes(const double* M, int64_t n, int64_t D, const int64_t* capacity,
                               double reg, int64_t max_iter, double stop_thr, double* out,
                               int num_threads) {
  const int nt = num_threads > 0 ? num_threads : 1;
  const double target = 1.0 / static_cast<double>(n);  // per gene and per pixel
  const double log_target = std::log(target);
  std::vector<double> log_cap(D), cap(D);
  for (int64_t d = 0; d < D; ++d) {
    cap[d] = static_cast<double>(capacity[d]);
    log_cap[d] = std::log(cap[d]);
  }
  std::vector<double> alpha(n, 0.0), beta(D, 0.0), u(n, 1.0), v(D, 1.0);
  std::vector<double> K(n * D), ktu(D), u_prev(n);
  SinkhornStats st;

  auto rebuild_kernel = [&]() {
#pragma omp parallel for schedule(static) num_threads(nt) if (n * D > 100000)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t d = 0; d < D; ++d) K[i * D + d] = std::exp((alpha[i] + beta[d] - M[i * D + d]) / reg);
  };
  auto absorb = [&]() {
    for (int64_t i = 0; i < n; ++i) alpha[i] += reg * std::log(u[i]);
    for (int64_t d = 0; d < D; ++d) beta[d] += reg * std::log(v[d]);
    std::fill(u.begin(), u.end(), 1.0);
    std::fill(v.begin(), v.end(), 1.0);
    rebuild_kernel();
    st.n_absorb++;
  };
  // K^T u per class (sum over genes), deterministic order per class.
  auto kt_u = [&](std::vector<double>& res) {
    std::fill(res.begin(), res.end(), 0.0);
    for (int64_t i = 0; i < n; ++i) {
      const double ui = u[i];
      const double* k = K.data() + i * D;
      for (int64_t d = 0; d < D; ++d) res[d] += k[d] * ui;
    }
  };
  auto scalings_ok = [&]() {
    for (double x : u)
      if (!(x < kAbsorbAbove && x > 1.0 / kAbsorbAbove)) return false;
    for (double x : v)
      if (!(x < kAbsorbAbove && x > 1.0 / kAbsorbAbove)) return false;
    return true;
  };

  double err = 1.0;
  int64_t ii = 0;
  for (; ii < max_iter; ++ii) {
    if (ii == 0) {
      // First iteration from u = 1 exactly as POT, in log domain (exp(-M/reg) may underflow).
      log_update_columns(M, n, D, reg, log_target, alpha, beta, nt);
      log_update_rows(M, n, D, reg, log_target, log_cap, alpha, beta, nt);
      rebuild_kernel();
    } else {
      u_prev = u;
      kt_u(ktu);
      bool ok = true;
      for (int64_t d = 0; d < D; ++d) {
        v[d] = target / ktu[d];
        ok = ok && std::isfinite(v[d]) && v[d] > 0.0;
      }
      if (ok) {
#pragma omp parallel for schedule(static) num_threads(nt) if (n * D > 100000)
        for (int64_t i = 0; i < n; ++i) {
          const double* k = K.data() + i * D;
          double s = 0.0;
          for (int64_t d = 0; d < D; ++d) s += cap[d] * k[d] * v[d];
          u[i] = target / s;
        }
        for (double x : u) ok = ok && std::isfinite(x) && x > 0.0;
      }
      if (!ok) {
        // The absorbed kernel under/overflowed: redo this iteration in the log domain.
        for (int64_t i = 0; i < n; ++i) alpha[i] += reg * std::log(u_prev[i]);
        std::fill(u.begin(), u.end(), 1.0);
        std::fill(v.begin(), v.end(), 1.0);
        log_update_columns(M, n, D, reg, log_target, alpha, beta, nt);
        log_update_rows(M, n, D, reg, log_target, log_cap, alpha, beta, nt);
        rebuild_kernel();
        st.n_absorb++;
      } else if (!scalings_ok()) {
        absorb();
      }
    }
    if (ii % 10 == 0) {
      kt_u(ktu);
      double e2 = 0.0;
      for (int64_t d = 0; d < D; ++d) {
        const double m = ktu[d] * v[d] - target;  // column marginal of each pixel of class d
        e2 += cap[d] * m * m;
      }
      err = std::sqrt(e2);
      if (err < stop_thr) break;
    }
  }
  st.n_iter = std::min(ii + 1, max_iter);
  st.marginal_error = err;
#pragma omp parallel for schedule(static) num_threads(nt) if (n * D > 100000)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t d = 0; d < D; ++d) out[i * D + d] = cap[d] * u[i] * K[i * D + d] * v[d];
  return st;
}

}  // namespace genomap
