// The class sums of the swap annealing, one implementation per storage layout.
//
// A proposal swaps genes i (class a) and j (class b); its gain needs
// sum_e (CS[i, e] - CS[j, e]) (L[b, e] - L[a, e]) with CS = C1 S (n, D) the class sums of the
// current assignment, and an accepted swap moves i's and j's weights between the class columns
// a and b. Every layout offers the same interface, and swap_anneal picks one before its loop:
//
//   double c1(i, j)            C1[i, j] as the layout holds it
//   void prefetch(i, j)        what scoring the pair (i, j) will read
//   double dot(i, j, a, b, Lab)  the sum above, and Lab = L[a, b]
//   void accept(i, j, a, b)    the swap made
//   void load(assign)          the sums recomputed from an assignment
//   double log_diag(d)         L[d, d]
//   kRefresh                   whether load() runs every kRefreshAccepted accepted swaps
//                              (bounds the drift of incremental float updates)
//   kWindowed                  whether the layout only pays while many swaps are accepted
//                              (the walk hands over to the gene blocks when a window's share
//                              of accepted proposals falls below `share`)
//
// Float sums: a proposal's gain only steers the Metropolis choice; the objective kept is
// recomputed in double at the end.
#pragma once
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

#include "common.hpp"
#include "genomap/simd.hpp"

namespace genomap {
namespace anneal {

constexpr int64_t kLane = 2;  // genes per block of the blocked sums (4 and 8 were slower)

inline int64_t padded_classes(int64_t D) { return (D + 7) / 8 * 8; }  // whole vectors
inline int64_t gene_blocks(int64_t n) { return (n + kLane - 1) / kLane; }

// Stored class sums in float, [gene / kLane][class][gene % kLane] (a class column, written by
// every accepted swap, is n / kLane runs of kLane values). kFloatC1: C1 in float rows padded
// to whole blocks (up to 4,096 genes, 64 MB), else in double. kDupTable: the log-cost rows in
// float, each value twice (both lanes of a block), as a table (up to 2,048 classes, 32 MB),
// else converted per proposal.
template <bool kFloatC1, bool kDupTable>
class BlockSums {
 public:
  static constexpr bool kRefresh = true, kWindowed = false;
  BlockSums(const GWProblem& p, int nt, const std::vector<float>& C1f, const LogCostRows& L)
      : p_(p), nt_(nt), n_(p.n), D_(p.grid->n_classes), nb_(gene_blocks(n_)),
        stride_(padded_classes(D_) * kLane), n2_(nb_ * kLane), C1f_(C1f), L_(L),
        CS_(nb_ * stride_, 0.0f), w_(kFloatC1 ? 0 : n2_, 0.0f), Lbuf_(D_), Lbuf2_(D_),
        Ldup_(kDupTable ? D_ * stride_ : 0, 0.0f), dupA_(stride_, 0.0f), dupB_(stride_, 0.0f) {
    if (kDupTable)
      for (int64_t d = 0; d < D_; ++d)
        fill_dup(L_.row(d, Lbuf_.data()), Ldup_.data() + d * stride_);
  }
  double c1(int64_t i, int64_t j) const {
    if constexpr (kFloatC1) return static_cast<double>(C1f_[i * n2_ + j]);
    return p_.C1[i * n_ + j];
  }
  void prefetch(int64_t i, int64_t j) const {
    if constexpr (kFloatC1)
      __builtin_prefetch(C1f_.data() + i * n2_ + j);
    else
      __builtin_prefetch(p_.C1 + i * n_ + j);
    __builtin_prefetch(CS_.data() + (i / kLane) * stride_);
    __builtin_prefetch(CS_.data() + (j / kLane) * stride_);
  }
  double dot(int64_t i, int64_t j, int64_t a, int64_t b, double& Lab) {
    const float *fa, *fb;
    if constexpr (kDupTable) {
      fa = Ldup_.data() + a * stride_;
      fb = Ldup_.data() + b * stride_;
      Lab = L_.at(a, b);  // the table implies a dense log-cost
    } else {
      const double* La = L_.row(a, Lbuf_.data());
      Lab = La[b];
      fill_dup(La, dupA_.data());
      fill_dup(L_.row(b, Lbuf2_.data()), dupB_.data());
      fa = dupA_.data();
      fb = dupB_.data();
    }
    return simd::block_dot(CS_.data() + (i / kLane) * stride_, CS_.data() + (j / kLane) * stride_,
                           fa, fb, stride_, kLane, static_cast<int>(i % kLane),
                           static_cast<int>(j % kLane));
  }
  void accept(int64_t i, int64_t j, int64_t a, int64_t b) {
    if constexpr (kFloatC1) {  // the weights straight from the two padded rows
      simd::move_rows<kLane>(CS_.data() + a * kLane, CS_.data() + b * kLane,
                             C1f_.data() + i * n2_, C1f_.data() + j * n2_, nb_, stride_);
    } else {
      const double* ci = p_.C1 + i * n_;
      const double* cj = p_.C1 + j * n_;
      for (int64_t k = 0; k < n_; ++k) w_[k] = static_cast<float>(ci[k] - cj[k]);  // w[n:]: 0
      simd::move_columns<kLane>(CS_.data() + a * kLane, CS_.data() + b * kLane, w_.data(), nb_,
                                stride_);
    }
  }
  void load(const int64_t* assign) {
    std::vector<double> rowmajor(n_ * D_);
    class_sums(p_, assign, D_, rowmajor.data(), nt_);
    for (int64_t k = 0; k < n_; ++k)
      for (int64_t e = 0; e < D_; ++e)
        CS_[(k / kLane) * stride_ + e * kLane + k % kLane] =
            static_cast<float>(rowmajor[k * D_ + e]);
  }
  double log_diag(int64_t d) { return L_.row(d, Lbuf_.data())[d]; }

 private:
  void fill_dup(const double* row, float* out) const {
    for (int64_t e = 0; e < D_; ++e)
      for (int64_t l = 0; l < kLane; ++l) out[e * kLane + l] = static_cast<float>(row[e]);
  }
  const GWProblem& p_;
  int nt_;
  int64_t n_, D_, nb_, stride_, n2_;
  const std::vector<float>& C1f_;
  const LogCostRows& L_;
  std::vector<float> CS_, w_;
  std::vector<double> Lbuf_, Lbuf2_;
  std::vector<float> Ldup_, dupA_, dupB_;
};

// Stored class sums in float, class-major, CSt[e * n2 + k]: an accepted swap updates two
// contiguous rows (O(n), vectorised) instead of two columns of the blocks (n / kLane cache
// lines), but a proposal gathers its two genes' sums (2 D cache lines). So it pays while many
// proposals are accepted (the hot start of the schedule): swap_anneal uses it only with C1 in
// float, a log-cost table and at most class_major_max_bytes of sums, and hands over to the
// blocks once the share accepted falls below about 0.72 x classes / genes.
class ClassMajorSums {
 public:
  static constexpr bool kRefresh = true, kWindowed = true;
  ClassMajorSums(const GWProblem& p, int nt, const std::vector<float>& C1f, const LogCostRows& L)
      : p_(p), nt_(nt), n_(p.n), D_(p.grid->n_classes), Dp_(padded_classes(D_)),
        n2_(gene_blocks(n_) * kLane), C1f_(C1f), L_(L), CSt_(Dp_ * n2_, 0.0f),
        Lflat_(D_ * Dp_, 0.0f), cm_index_(Dp_, 0), Lbuf_(D_), lookup_dot_(simd::pick_lookup_dot()) {
    for (int64_t e = 0; e < D_; ++e) cm_index_[e] = static_cast<int32_t>(e * n2_);
    for (int64_t d = 0; d < D_; ++d) {
      const double* row = L_.row(d, Lbuf_.data());
      for (int64_t e = 0; e < D_; ++e) Lflat_[d * Dp_ + e] = static_cast<float>(row[e]);
    }
  }
  static int64_t bytes(int64_t n, int64_t D) {
    return padded_classes(D) * gene_blocks(n) * kLane * static_cast<int64_t>(sizeof(float));
  }
  double c1(int64_t i, int64_t j) const { return static_cast<double>(C1f_[i * n2_ + j]); }
  void prefetch(int64_t i, int64_t j) const { __builtin_prefetch(C1f_.data() + i * n2_ + j); }
  double dot(int64_t i, int64_t j, int64_t a, int64_t b, double& Lab) {
    Lab = L_.at(a, b);
    // lookup_dot with the roles swapped: contiguous log-cost rows, sums gathered through
    // cm_index[e] = e * n2 (0 on the padding, where Lb - La is 0)
    return lookup_dot_(Lflat_.data() + b * Dp_, Lflat_.data() + a * Dp_, CSt_.data() + j,
                       CSt_.data() + i, cm_index_.data(), Dp_);
  }
  void accept(int64_t i, int64_t j, int64_t a, int64_t b) {
    simd::move_class_rows(CSt_.data() + a * n2_, CSt_.data() + b * n2_, C1f_.data() + i * n2_,
                          C1f_.data() + j * n2_, n2_);
    ++window_accepted;
  }
  void load(const int64_t* assign) {
    std::vector<double> rowmajor(n_ * D_);
    class_sums(p_, assign, D_, rowmajor.data(), nt_);
    for (int64_t k = 0; k < n_; ++k)
      for (int64_t e = 0; e < D_; ++e) CSt_[e * n2_ + k] = static_cast<float>(rowmajor[k * D_ + e]);
  }
  double log_diag(int64_t d) { return L_.row(d, Lbuf_.data())[d]; }
  int64_t window_accepted = 0;

 private:
  const GWProblem& p_;
  int nt_;
  int64_t n_, D_, Dp_, n2_;
  const std::vector<float>& C1f_;
  const LogCostRows& L_;
  std::vector<float> CSt_, Lflat_;
  std::vector<int32_t> cm_index_;
  std::vector<double> Lbuf_;
  simd::LookupDot lookup_dot_;
};

// One gene per class (euclidean and user-cost grids, lookup_min_genes to 4,096 genes): the
// class sums are C1's columns permuted, so a proposal's dot reads C1's rows i and j (float,
// padded to whole vectors) and gathers the log-cost rows through each gene's class from the
// grid's lookup (GridProducts::log_cost_lookup: a small displacement table on
// translation-invariant grids); an accepted swap costs O(1). col_of[k] = column[class of k].
class LookupSums {
 public:
  static constexpr bool kRefresh = false, kWindowed = false;
  LookupSums(const GWProblem& p, const std::vector<float>& C1f)
      : n_(p.n), n2_(width(p.n)), C1f_(C1f), col_of_(n2_, 0), lookup_dot_(simd::pick_lookup_dot()) {
    p.grid->log_cost_lookup(Lt_, row_base_, column_);
    if (Lt_.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
      throw std::logic_error("swap_anneal: log-cost lookup too large for 32-bit indices");
  }
  static int64_t width(int64_t n) { return (n + 7) / 8 * 8; }
  double c1(int64_t i, int64_t j) const { return static_cast<double>(C1f_[i * n2_ + j]); }
  void prefetch(int64_t i, int64_t j) const { __builtin_prefetch(C1f_.data() + i * n2_ + j); }
  double dot(int64_t i, int64_t j, int64_t a, int64_t b, double& Lab) {
    Lab = static_cast<double>(Lt_[row_base_[a] + column_[b]]);
    return lookup_dot_(C1f_.data() + i * n2_, C1f_.data() + j * n2_, Lt_.data() + row_base_[a],
                       Lt_.data() + row_base_[b], col_of_.data(), n2_);
  }
  void accept(int64_t i, int64_t j, int64_t a, int64_t b) {
    col_of_[i] = static_cast<int32_t>(column_[b]);
    col_of_[j] = static_cast<int32_t>(column_[a]);
  }
  void load(const int64_t* assign) {
    for (int64_t k = 0; k < n_; ++k) col_of_[k] = static_cast<int32_t>(column_[assign[k]]);
  }
  double log_diag(int64_t d) { return static_cast<double>(Lt_[row_base_[d] + column_[d]]); }

 private:
  int64_t n_, n2_;
  const std::vector<float>& C1f_;
  std::vector<float> Lt_;
  std::vector<int64_t> row_base_, column_;
  std::vector<int32_t> col_of_;
  simd::LookupDot lookup_dot_;
};

// One gene per class on a large grid (gather_min_genes genes on: n x n sums would be 800 MB at
// 100x100): CS[k, e] = C1[k, gene_of[e]] is read through the assignment in double; an
// accepted swap costs O(1).
class GatherSums {
 public:
  static constexpr bool kRefresh = true, kWindowed = false;
  GatherSums(const GWProblem& p, const LogCostRows& L)
      : C1_(p.C1), n_(p.n), D_(p.grid->n_classes), L_(L), gene_of_(D_), Lbuf_(D_), Lbuf2_(D_) {}
  double c1(int64_t i, int64_t j) const { return C1_[i * n_ + j]; }
  void prefetch(int64_t i, int64_t j) const { __builtin_prefetch(C1_ + i * n_ + j); }
  double dot(int64_t i, int64_t j, int64_t a, int64_t b, double& Lab) {
    const double* La = L_.row(a, Lbuf_.data());
    const double* Lb = L_.row(b, Lbuf2_.data());
    Lab = La[b];
    // four partial sums: one serial chain is add-latency bound
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    int64_t e = 0;
    const double* ri = C1_ + i * n_;
    const double* rj = C1_ + j * n_;
    const int64_t* g = gene_of_.data();
    for (; e + 4 <= D_; e += 4) {
      s0 += (ri[g[e]] - rj[g[e]]) * (Lb[e] - La[e]);
      s1 += (ri[g[e + 1]] - rj[g[e + 1]]) * (Lb[e + 1] - La[e + 1]);
      s2 += (ri[g[e + 2]] - rj[g[e + 2]]) * (Lb[e + 2] - La[e + 2]);
      s3 += (ri[g[e + 3]] - rj[g[e + 3]]) * (Lb[e + 3] - La[e + 3]);
    }
    for (; e < D_; ++e) s0 += (ri[g[e]] - rj[g[e]]) * (Lb[e] - La[e]);
    return (s0 + s1) + (s2 + s3);
  }
  void accept(int64_t i, int64_t j, int64_t a, int64_t b) {
    gene_of_[a] = j;
    gene_of_[b] = i;
  }
  void load(const int64_t* assign) {
    for (int64_t k = 0; k < n_; ++k) gene_of_[assign[k]] = k;
  }
  double log_diag(int64_t d) { return L_.row(d, Lbuf_.data())[d]; }

 private:
  const double* C1_;
  int64_t n_, D_;
  const LogCostRows& L_;
  std::vector<int64_t> gene_of_;
  std::vector<double> Lbuf_, Lbuf2_;
};

}  // namespace anneal
}  // namespace genomap
