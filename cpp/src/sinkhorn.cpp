#include "genomap/sinkhorn.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace genomap {

namespace {

constexpr double kAbsorbAbove = 1e50;  // absorb the scalings into the potentials beyond this
constexpr int64_t kRowBlock = 64;      // classes: fixed reduction blocks, never the thread count

bool in_range(const std::vector<double>& x) {
  for (double a : x)
    if (!(a > 1.0 / kAbsorbAbove && a < kAbsorbAbove)) return false;
  return true;
}

bool finite_positive(const std::vector<double>& x) {
  for (double a : x)
    if (!(std::isfinite(a) && a > 0.0)) return false;
  return true;
}

}  // namespace

ClassSinkhorn::ClassSinkhorn(int64_t n, int64_t D, const int64_t* capacity,
                             SinkhornMarginals marginals, int num_threads)
    : n_(n), D_(D), block_(marginals == SinkhornMarginals::pixels ? std::max<int64_t>(n, 1)
                                                                   : kRowBlock),
      pixels_(marginals == SinkhornMarginals::pixels), nt_(num_threads > 0 ? num_threads : 1),
      weight_(D), log_weight_(D), mass_(D), log_mass_(D), K_(n * D), u_(n), v_(D), ktu_(D),
      colmax_(D) {
  const double target = 1.0 / static_cast<double>(n);
  for (int64_t d = 0; d < D; ++d) {
    const double cap = static_cast<double>(capacity[d]);
    weight_[d] = pixels_ ? cap : 1.0;
    log_weight_[d] = std::log(weight_[d]);
    mass_[d] = pixels_ ? target : cap / static_cast<double>(n);
    log_mass_[d] = std::log(mass_[d]);
  }
}

// Column sums over the rows in fixed blocks of block_ rows (one block: gene order), so that
// they do not depend on the thread count.
template <class RowFn>
void ClassSinkhorn::column_reduce(double* out, RowFn&& row_into) {
  const int64_t n = n_, D = D_, blocks = (n + block_ - 1) / block_;
  partial_.assign(blocks * D, 0.0);
#pragma omp parallel for schedule(static) num_threads(nt_) if (n * D > 100000)
  for (int64_t b = 0; b < blocks; ++b) {
    double* acc = partial_.data() + b * D;
    const int64_t r1 = std::min(n, (b + 1) * block_);
    for (int64_t i = b * block_; i < r1; ++i) row_into(i, acc);
  }
  std::fill(out, out + D, 0.0);
  for (int64_t b = 0; b < blocks; ++b) {
    const double* acc = partial_.data() + b * D;
    for (int64_t d = 0; d < D; ++d) out[d] += acc[d];
  }
}

// Exact log-domain half steps: g from f (columns), then f from g (rows).
void ClassSinkhorn::log_update(const double* M, double reg, std::vector<double>& f,
                               std::vector<double>& g) {
  const int64_t n = n_, D = D_, blocks = (n + block_ - 1) / block_;
  const double ninf = -std::numeric_limits<double>::infinity();
  partial_.assign(blocks * D, ninf);
#pragma omp parallel for schedule(static) num_threads(nt_) if (n * D > 100000)
  for (int64_t b = 0; b < blocks; ++b) {
    double* mx = partial_.data() + b * D;
    const int64_t r1 = std::min(n, (b + 1) * block_);
    for (int64_t i = b * block_; i < r1; ++i) {
      const double* m = M + i * D;
      for (int64_t d = 0; d < D; ++d) mx[d] = std::max(mx[d], (f[i] - m[d]) / reg);
    }
  }
  std::fill(colmax_.begin(), colmax_.end(), ninf);
  for (int64_t b = 0; b < blocks; ++b)
    for (int64_t d = 0; d < D; ++d) colmax_[d] = std::max(colmax_[d], partial_[b * D + d]);
  column_reduce(ktu_.data(), [&](int64_t i, double* acc) {
    const double* m = M + i * D;
    for (int64_t d = 0; d < D; ++d) acc[d] += std::exp((f[i] - m[d]) / reg - colmax_[d]);
  });
  for (int64_t d = 0; d < D; ++d)
    g[d] = pixels_ ? reg * (log_mass_[d] - (colmax_[d] + std::log(ktu_[d])))
                   : reg * (log_mass_[d] - colmax_[d] - std::log(ktu_[d]));
  // the row mass 1/n in log (the two conventions round it differently)
  const double log_r =
      pixels_ ? std::log(1.0 / static_cast<double>(n)) : -std::log(static_cast<double>(n));
  const bool pixels = pixels_;
  const double* lw = log_weight_.data();
#pragma omp parallel for schedule(static) num_threads(nt_) if (n * D > 100000)
  for (int64_t i = 0; i < n; ++i) {
    const double* m = M + i * D;
    double mx = ninf, s = 0.0;
    if (pixels) {  // a row's mass spread over the pixels of each class
      for (int64_t d = 0; d < D; ++d) mx = std::max(mx, lw[d] + (g[d] - m[d]) / reg);
      for (int64_t d = 0; d < D; ++d) s += std::exp(lw[d] + (g[d] - m[d]) / reg - mx);
      f[i] = reg * (log_r - (mx + std::log(s)));
    } else {
      for (int64_t d = 0; d < D; ++d) mx = std::max(mx, (g[d] - m[d]) / reg);
      for (int64_t d = 0; d < D; ++d) s += std::exp((g[d] - m[d]) / reg - mx);
      f[i] = reg * (log_r - mx - std::log(s));
    }
  }
}

void ClassSinkhorn::build_kernel(const double* M, double reg, const std::vector<double>& f,
                                 const std::vector<double>& g) {
  const int64_t n = n_, D = D_;
#pragma omp parallel for schedule(static) num_threads(nt_) if (n * D > 100000)
  for (int64_t i = 0; i < n; ++i) {
    const double* m = M + i * D;
    double* k = K_.data() + i * D;
    for (int64_t d = 0; d < D; ++d) k[d] = std::exp((f[i] + g[d] - m[d]) / reg);
  }
  std::fill(u_.begin(), u_.end(), 1.0);
  std::fill(v_.begin(), v_.end(), 1.0);
}

void ClassSinkhorn::absorb(double reg, std::vector<double>& f, std::vector<double>& g) {
  for (int64_t i = 0; i < n_; ++i) f[i] += reg * std::log(u_[i]);
  for (int64_t d = 0; d < D_; ++d) g[d] += reg * std::log(v_[d]);
}

// One scaling iteration from ktu_ = K^T u: v, then u; scalings that under/overflow are
// replaced by the last good ones and the iteration redone in the log domain; with pixel
// marginals, scalings merely outside [1e-50, 1e50] are absorbed into the potentials.
void ClassSinkhorn::scale(const double* M, double reg, std::vector<double>& f,
                          std::vector<double>& g, SinkhornStats& st) {
  const int64_t n = n_, D = D_;
  const double r = 1.0 / static_cast<double>(n);
  u_ok_ = u_;
  v_ok_ = v_;
  for (int64_t d = 0; d < D; ++d) v_[d] = mass_[d] / ktu_[d];
#pragma omp parallel for schedule(static) num_threads(nt_) if (n * D > 100000)
  for (int64_t i = 0; i < n; ++i) {
    const double* k = K_.data() + i * D;
    double s = 0.0;
    for (int64_t d = 0; d < D; ++d) s += weight_[d] * k[d] * v_[d];
    u_[i] = r / s;
  }
  const bool finite = finite_positive(v_) && finite_positive(u_);
  const bool ok = in_range(u_) && in_range(v_);
  if (!finite || (!ok && !pixels_)) {
    u_.swap(u_ok_);
    v_.swap(v_ok_);
    absorb(reg, f, g);  // g is recomputed from f by the log update
    log_update(M, reg, f, g);
    build_kernel(M, reg, f, g);
    st.n_absorb++;
  } else if (!ok) {
    absorb(reg, f, g);
    build_kernel(M, reg, f, g);
    st.n_absorb++;
  }
}

double ClassSinkhorn::marginal_error() const {
  double err = 0.0;
  for (int64_t d = 0; d < D_; ++d) {
    const double m = ktu_[d] * v_[d] - mass_[d];
    err += pixels_ ? weight_[d] * m * m : std::fabs(m);
  }
  return pixels_ ? std::sqrt(err) : err;
}

SinkhornStats ClassSinkhorn::solve(const double* M, double reg, std::vector<double>& f,
                                   std::vector<double>& g, int64_t max_updates, double tol,
                                   double* T) {
  const int64_t n = n_, D = D_;
  SinkhornStats st;
  log_update(M, reg, f, g);
  build_kernel(M, reg, f, g);
  int64_t it = 0;
  for (;; ++it) {
    column_reduce(ktu_.data(), [&](int64_t i, double* acc) {
      const double ui = u_[i];
      const double* k = K_.data() + i * D;
      for (int64_t d = 0; d < D; ++d) acc[d] += k[d] * ui;
    });
    if (it % 10 == 0) {  // the column marginals of the current coupling (rows are exact)
      st.marginal_error = marginal_error();
      if (st.marginal_error < tol) break;
    }
    if (it >= max_updates) break;
    scale(M, reg, f, g, st);
  }
#pragma omp parallel for schedule(static) num_threads(nt_) if (n * D > 100000)
  for (int64_t i = 0; i < n; ++i) {
    const double* k = K_.data() + i * D;
    double* t = T + i * D;
    for (int64_t d = 0; d < D; ++d) t[d] = weight_[d] * u_[i] * k[d] * v_[d];
  }
  absorb(reg, f, g);
  st.n_iter = it;
  return st;
}

SinkhornStats sinkhorn_classes(const double* M, int64_t n, int64_t D, const int64_t* capacity,
                               double reg, int64_t max_iter, double stop_thr, double* out,
                               int num_threads) {
  if (max_iter < 1) {
    std::fill(out, out + n * D, 0.0);
    SinkhornStats st;
    st.marginal_error = 1.0;
    return st;
  }
  ClassSinkhorn sk(n, D, capacity, SinkhornMarginals::pixels, num_threads);
  std::vector<double> f(n, 0.0), g(D, 0.0);
  SinkhornStats st = sk.solve(M, reg, f, g, max_iter - 1, stop_thr, out);
  st.n_iter += 1;  // the first log-domain update counts as POT's first iteration
  return st;
}

}  // namespace genomap
