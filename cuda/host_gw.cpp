// The device GW placement's kernel bodies (gw_kernels.cuh) in plain loops on the CPU: one loop
// iteration per device thread, run by the same iterations (gw_loop.hpp) as the device. The
// products are taken by their definition (O(n D^2)), so this is for small test problems.
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

#include "gpu.hpp"
#include "gw_kernels.cuh"
#include "gw_loop.hpp"

namespace genomap {
namespace gpu {

void check_grid_desc(const GridDesc& g, int64_t n) {
  if (n < 1) throw std::invalid_argument("need at least one gene");
  if (g.D < 1 || static_cast<int64_t>(g.capacity.size()) != g.D)
    throw std::invalid_argument("need one capacity per class");
  int64_t total = 0;
  for (int64_t c : g.capacity) {
    if (c < 1) throw std::invalid_argument("class capacities must be >= 1");
    total += c;
  }
  if (total != n) throw std::invalid_argument("class capacities must sum to the gene count");
  if (g.fft) {
    if (g.rows < 1 || g.cols < 1 || g.D > g.rows * g.cols)
      throw std::invalid_argument("a displacement grid needs rows x cols >= its classes");
    if (static_cast<int64_t>(g.log_cost.size()) != (2 * g.rows - 1) * (2 * g.cols - 1))
      throw std::invalid_argument("displacement table must be (2 cols - 1) x (2 rows - 1)");
  } else if (static_cast<int64_t>(g.log_cost.size()) != g.D * g.D) {
    throw std::invalid_argument("dense log-cost must be (D, D)");
  }
}

namespace {

class HostGWOps {
 public:
  HostGWOps(const double* C1, int64_t n, const GridDesc& g) : C1_(C1), n_(n), g_(g), D_(g.D) {
    view_.D = D_;
    view_.rows = g.rows;
    view_.cols = g.cols;
    (g.fft ? view_.table : view_.dense) = g.log_cost.data();
    start_.assign(D_ + 1, 0);
    for (int64_t d = 0; d < D_; ++d) start_[d + 1] = start_[d] + g.capacity[d];
    price_.assign(n_, 0.0);
    A_.assign(n_ * D_, 0.0);
  }

  std::vector<double> f1_rows() const {
    std::vector<double> out(n_);
    for (int64_t i = 0; i < n_; ++i) out[i] = f1_row(C1_, n_, i);
    return out;
  }
  std::vector<double> row_sums() const {
    std::vector<double> out(n_);
    for (int64_t i = 0; i < n_; ++i) out[i] = gene_row_sum(C1_, n_, i);
    return out;
  }
  std::vector<double> class_weights() const {
    std::vector<double> out(D_);
    for (int64_t d = 0; d < D_; ++d) out[d] = class_weight(view_, g_.capacity.data(), d);
    return out;
  }

  // A = (C1 S_g) L
  void linear_term(const std::vector<int64_t>& g) {
    std::vector<int64_t> members(n_), fill(start_.begin(), start_.end() - 1);
    for (int64_t k = 0; k < n_; ++k) members[fill[g[k]]++] = k;
    std::vector<double> CS(n_ * D_);
    for (int64_t i = 0; i < n_; ++i)
      for (int64_t d = 0; d < D_; ++d)
        CS[i * D_ + d] = class_sum(C1_, n_, i, members.data(), start_.data(), d);
    apply_log_cost(CS.data(), A_.data());
  }
  void set_linear_term(const double* A) { A_.assign(A, A + n_ * D_); }
  std::vector<double> assigned_values(const std::vector<int64_t>& g) const {
    std::vector<double> out(n_);
    for (int64_t i = 0; i < n_; ++i) out[i] = A_[i * D_ + g[i]];
    return out;
  }
  std::pair<double, double> linear_range() const {
    double lo = INFINITY, hi = -INFINITY;
    for (double a : A_) {
      lo = std::min(lo, a);
      hi = std::max(hi, a);
    }
    return {lo, hi};
  }

  // ---- auction ----
  void auction_unassign_all() {
    owner_.assign(n_, -1);
    slot_of_.assign(n_, -1);
    unassigned_.resize(n_);
    for (int64_t i = 0; i < n_; ++i) unassigned_[i] = i;
  }
  int64_t auction_round(double eps) {
    std::vector<double> lowest(D_), second(D_);
    std::vector<int64_t> cheapest(D_);
    for (int64_t d = 0; d < D_; ++d)  // one thread per class
      class_price_minima(price_.data(), start_.data(), d, &lowest[d], &second[d], &cheapest[d]);
    const int64_t u = static_cast<int64_t>(unassigned_.size());
    std::vector<double> bid(u);
    std::vector<int64_t> slot(u);
    std::vector<uint64_t> best(n_, 0);
    std::vector<int64_t> winner(n_, std::numeric_limits<int64_t>::max());
    for (int64_t t = 0; t < u; ++t) {  // one thread per bidder: bid, then atomicMax
      const int64_t i = unassigned_[t];
      slot[t] = cheapest[auction_bid(A_.data() + i * D_, D_, lowest.data(), second.data(), eps,
                                     &bid[t])];
      best[slot[t]] = std::max(best[slot[t]], ordered_bits(bid[t]));
    }
    for (int64_t t = 0; t < u; ++t)  // highest bid wins, lowest gene on ties (atomicMin)
      if (ordered_bits(bid[t]) == best[slot[t]])
        winner[slot[t]] = std::min(winner[slot[t]], unassigned_[t]);
    for (int64_t t = 0; t < u; ++t) {
      const int64_t i = unassigned_[t], s = slot[t];
      if (winner[s] != i) continue;
      if (owner_[s] >= 0) slot_of_[owner_[s]] = -1;
      owner_[s] = i;
      slot_of_[i] = s;
      price_[s] = bid[t];
    }
    unassigned_.clear();
    for (int64_t i = 0; i < n_; ++i)
      if (slot_of_[i] < 0) unassigned_.push_back(i);
    return static_cast<int64_t>(unassigned_.size());
  }
  void auction_classes(std::vector<int64_t>& classes) const {
    classes.assign(n_, -1);
    for (int64_t d = 0; d < D_; ++d)
      for (int64_t s = start_[d]; s < start_[d + 1]; ++s) classes[owner_[s]] = d;
  }

  // ---- entropic ----
  void coupling_init() {
    const double nn = static_cast<double>(n_) * static_cast<double>(n_);
    T_.resize(n_ * D_);
    for (int64_t i = 0; i < n_; ++i)
      for (int64_t d = 0; d < D_; ++d) T_[i * D_ + d] = static_cast<double>(g_.capacity[d]) / nn;
  }
  void save_previous() { prev_ = T_; }
  // M = -(C1 @ (T @ L)), minus its minimum
  void coupling_cost() {
    coupling_product(T_.data(), M_);
    double mn = INFINITY;
    for (double& x : M_) {
      x = -x;
      mn = std::min(mn, x);
    }
    for (double& x : M_) x -= mn;
  }
  int64_t sinkhorn(double eps, int64_t max_iter, double stop) {
    return host_sinkhorn_log(M_.data(), n_, D_, g_.capacity.data(), eps, max_iter, stop,
                             T_.data())
        .n_iter;
  }
  std::vector<double> change_rows() const {
    std::vector<double> out(n_);
    for (int64_t i = 0; i < n_; ++i)
      out[i] = coupling_change_row(T_.data(), prev_.data(), g_.capacity.data(), D_, i);
    return out;
  }
  std::vector<double> objective_rows() {
    std::vector<double> B, out(n_);
    coupling_product(T_.data(), B);
    for (int64_t i = 0; i < n_; ++i) out[i] = row_dot(B.data(), T_.data(), D_, i);
    return out;
  }
  std::vector<double> coupling() const { return T_; }

 private:
  // out = S @ L (n, D): dense by definition, displacement grids through the padded images and
  // the circular convolution that the device takes by FFT.
  void apply_log_cost(const double* S, double* out) const {
    if (!g_.fft) {
      for (int64_t i = 0; i < n_; ++i)
        for (int64_t e = 0; e < D_; ++e) out[i * D_ + e] = log_cost_product(S, D_, i, e, view_);
      return;
    }
    const int64_t rows = g_.rows, cols = g_.cols, P = 2 * rows - 1, Q = 2 * cols - 1;
    std::vector<double> K(P * Q), X(P * Q);
    for (int64_t c = 0; c < Q; ++c)
      for (int64_t r = 0; r < P; ++r)
        K[c * P + r] = padded_kernel_value(g_.log_cost.data(), rows, cols, P, Q, r, c);
    for (int64_t i = 0; i < n_; ++i) {
      std::fill(X.begin(), X.end(), 0.0);
      for (int64_t p = 0; p < D_; ++p) X[padded_offset(p, rows, P)] = S[i * D_ + p];
      for (int64_t q = 0; q < D_; ++q)
        out[i * D_ + q] =
            circular_convolution_point(X.data(), K.data(), P, Q, q % rows, q / rows);
    }
  }
  // out = C1 @ (S @ L)
  void coupling_product(const double* S, std::vector<double>& out) const {
    std::vector<double> SL(n_ * D_);
    apply_log_cost(S, SL.data());
    out.assign(n_ * D_, 0.0);
    for (int64_t i = 0; i < n_; ++i)
      for (int64_t k = 0; k < n_; ++k) {
        const double c = C1_[i * n_ + k];
        for (int64_t d = 0; d < D_; ++d) out[i * D_ + d] += c * SL[k * D_ + d];
      }
  }

  const double* C1_;
  int64_t n_;
  const GridDesc& g_;
  int64_t D_;
  LogCostView view_;
  std::vector<int64_t> start_, owner_, slot_of_, unassigned_;
  std::vector<double> price_, A_, T_, prev_, M_;
};

}  // namespace

GWExactOutcome host_gw_exact(const double* C1, int64_t n, const GridDesc& grid,
                             int64_t max_iter) {
  check_grid_desc(grid, n);
  HostGWOps ops(C1, n, grid);
  return gw_exact_loop(ops, grid, n, max_iter);
}

GWEntropicOutcome host_gw_entropic(const double* C1, int64_t n, const GridDesc& grid,
                                   double epsilon, int64_t max_iter, double tol) {
  check_grid_desc(grid, n);
  HostGWOps ops(C1, n, grid);
  return gw_entropic_loop(ops, grid, n, epsilon, max_iter, tol);
}

int64_t host_auction(const double* A, int64_t n, const GridDesc& grid,
                     std::vector<int64_t>& classes) {
  check_grid_desc(grid, n);
  HostGWOps ops(nullptr, n, grid);
  ops.set_linear_term(A);
  return auction_assign(ops, classes);
}

}  // namespace gpu
}  // namespace genomap
