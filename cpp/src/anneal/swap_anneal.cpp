// Simulated annealing over pair swaps (swap_anneal): the walk (proposals, Metropolis choice,
// best assignment visited) is written once over a class-sums layout (class_sums.hpp), and the
// layout is chosen once, before the loop.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

#include "class_sums.hpp"
#include "common.hpp"
#include "rng.hpp"

namespace genomap {

namespace anneal {
namespace {

constexpr int64_t kRefreshAccepted = 16384;  // accepted swaps between reloads of the sums
constexpr double kClassMajorAccept = 0.72;   // class-major pays above this x D / n accepted
constexpr int64_t kClassMajorWindow = 4096;  // proposals per acceptance window
// Proposals are drawn kAhead steps ahead, so that a pair's C1[i, j] and class sums are fetched
// while earlier ones are scored; a pair drawn before an accepted swap is still a pair of
// genes, scored in the state it meets.
constexpr int64_t kAhead = 8;

// The state of the walk, whatever holds the class sums.
class Walk {
 public:
  Walk(const GWProblem& p, int64_t* assign, int64_t proposals, int64_t neighbours, uint64_t seed,
       SwapAnnealStats& st)
      : p_(p), assign_(assign), n_(p.n), D_(p.grid->n_classes), proposals_(proposals),
        local_(neighbours > 0 && D_ > 2), K_(local_ ? std::min(neighbours, D_ - 1) : 0),
        Ldiag_(D_), dC_(n_), best_(assign, assign + n_), st_(st) {
    for (int64_t i = 0; i < n_; ++i) dC_[i] = p.C1[i * n_ + i];
    if (local_) build_neighbours();
    rng_ = FastRng(seed ^ 0xA5A5A5A5DEADBEEFULL);
  }

  // Sets the temperature from the mean |gain| of proposed swaps from the start; false when
  // no proposal can gain or lose anything.
  template <class Sums>
  bool start(Sums& sums, double t_start, double t_end) {
    for (int64_t d = 0; d < D_; ++d) Ldiag_[d] = sums.log_diag(d);
    sums.load(assign_);
    double g0 = 0.0;
    int64_t m = 0;
    for (int64_t t = 0; t < 4 * n_ && m < 1000; ++t) {
      int64_t i, j;
      propose(i, j);
      if (assign_[i] == assign_[j]) continue;
      g0 += std::fabs(gain(sums, i, j, assign_[i], assign_[j]));
      ++m;
    }
    if (m == 0 || !(g0 > 0)) return false;
    g0 /= static_cast<double>(m);
    T_ = t_start * g0;
    cool_ = std::pow(t_end / t_start, 1.0 / static_cast<double>(proposals_));
    for (int64_t s = 0; s < kAhead; ++s) draw_ahead(s, sums);
    started_ = true;
    return true;
  }

  // Proposals from t on with these sums, until the last or (windowed layouts) until a window
  // accepts fewer than share x kClassMajorWindow; returns where it stopped.
  template <class Sums>
  int64_t run(Sums& sums, int64_t t, double share) {
    for (; t < proposals_; ++t, T_ *= cool_) {
      if constexpr (Sums::kWindowed) {
        if (t % kClassMajorWindow == 0 && t > 0) {
          if (static_cast<double>(sums.window_accepted) <
              share * static_cast<double>(kClassMajorWindow))
            return t;
          sums.window_accepted = 0;
        }
      }
      const int64_t slot = t % kAhead;
      const int64_t i = ahead_i_[slot], j = ahead_j_[slot];
      draw_ahead(slot, sums);
      const int64_t a = assign_[i], b = assign_[j];
      if (a == b) continue;
      st_.proposals++;
      st_.class_major_proposals += Sums::kWindowed;
      const double g = gain(sums, i, j, a, b);
      // exp(x) below -40 is under every draw of unit() but 2^-53 of them; skips exp's underflow
      if (g < 0 && (g < -40.0 * T_ || rng_.unit() >= std::exp(g / T_))) continue;
      sums.accept(i, j, a, b);  // gene i leaves class a for b, gene j leaves b for a
      take(i, j, a, b, g);
      if constexpr (Sums::kRefresh) {
        if (++since_refresh_ == kRefreshAccepted) reload(sums);
      }
    }
    return t;
  }

  template <class Sums>
  void reload(Sums& sums) {
    sums.load(assign_);
    since_refresh_ = 0;
  }
  int64_t proposals() const { return proposals_; }
  bool started() const { return started_; }
  const std::vector<int64_t>& best() const { return best_; }

 private:
  template <class Sums>
  double gain(Sums& sums, int64_t i, int64_t j, int64_t a, int64_t b) {
    double Lab = 0.0;
    const double dot = sums.dot(i, j, a, b, Lab);
    const double La_ = Ldiag_[a], Lb_ = Ldiag_[b];
    return 2.0 * dot + 2.0 * sums.c1(i, j) * (2.0 * Lab - La_ - Lb_) - 2.0 * dC_[i] * (Lab - La_) +
           2.0 * dC_[j] * (Lb_ - Lab) + (dC_[i] - dC_[j]) * (Lb_ - La_);
  }
  template <class Sums>
  void draw_ahead(int64_t slot, const Sums& sums) {
    propose(ahead_i_[slot], ahead_j_[slot]);
    sums.prefetch(ahead_i_[slot], ahead_j_[slot]);
  }
  // Gene i uniformly, then (neighbours > 0) one of the K classes nearest to i's class in grid
  // cost and a gene j of that class uniformly, else j uniformly.
  void propose(int64_t& i, int64_t& j) {
    i = rng_.below(n_);
    if (!local_) {
      j = rng_.below(n_);
      return;
    }
    const auto [first, count] = span_[near_[assign_[i] * K_ + rng_.below(K_)]];
    j = member_[first + rng_.below(count)];
  }
  // An accepted swap: the assignment, the member tables, Q and the best assignment visited
  // (swaps since the best are journalled and replayed on a new best: O(1) per swap).
  void take(int64_t i, int64_t j, int64_t a, int64_t b, double g) {
    assign_[i] = b;
    assign_[j] = a;
    if (local_) {
      member_[pos_[i]] = static_cast<int32_t>(j);
      member_[pos_[j]] = static_cast<int32_t>(i);
      std::swap(pos_[i], pos_[j]);
    }
    st_.accepted++;
    Q_ += g;
    journal_.emplace_back(i, j);
    if (Q_ > bestQ_) {
      bestQ_ = Q_;
      for (const auto& [x, y] : journal_) std::swap(best_[x], best_[y]);
      journal_.clear();
    }
  }
  // Compact int32 tables (a proposal's chain of dependent loads stays in L1/L2): near[d * K +
  // k] the k-th nearest class to d; the members of class c are member[span[c].first + 0 ..
  // span[c].second) (swaps keep the counts); pos[i]: gene i's index in member.
  void build_neighbours() {
    near_.assign(D_ * K_, 0);
    member_.assign(n_, 0);
    pos_.assign(n_, 0);
    span_.assign(D_, {0, 0});
    std::vector<double> cost(D_);
    std::vector<int64_t> order(D_);
    for (int64_t d = 0; d < D_; ++d) {
      p_.grid->cost_row(d, cost.data());
      for (int64_t e = 0; e < D_; ++e) order[e] = e;
      std::swap(order[d], order[D_ - 1]);  // never d itself
      std::partial_sort(order.begin(), order.begin() + K_, order.end() - 1,
                        [&](int64_t x, int64_t y) {
                          return cost[x] < cost[y] || (cost[x] == cost[y] && x < y);
                        });
      for (int64_t k = 0; k < K_; ++k) near_[d * K_ + k] = static_cast<int32_t>(order[k]);
    }
    for (int64_t i = 0; i < n_; ++i) ++span_[assign_[i]].second;
    for (int64_t d = 1; d < D_; ++d) span_[d].first = span_[d - 1].first + span_[d - 1].second;
    std::vector<int32_t> fill(D_, 0);
    for (int64_t i = 0; i < n_; ++i) {
      const int64_t c = assign_[i];
      pos_[i] = span_[c].first + fill[c]++;
      member_[pos_[i]] = static_cast<int32_t>(i);
    }
  }

  const GWProblem& p_;
  int64_t* assign_;
  int64_t n_, D_, proposals_;
  bool local_;
  int64_t K_;
  std::vector<int32_t> near_, member_, pos_;
  std::vector<std::pair<int32_t, int32_t>> span_;
  std::vector<double> Ldiag_, dC_;
  FastRng rng_{0};
  double T_ = 0.0, cool_ = 1.0, Q_ = 0.0, bestQ_ = 0.0;  // Q relative to the start
  std::vector<int64_t> best_;
  std::vector<std::pair<int64_t, int64_t>> journal_;
  int64_t since_refresh_ = 0;
  bool started_ = false;
  int64_t ahead_i_[kAhead] = {}, ahead_j_[kAhead] = {};
  SwapAnnealStats& st_;
};

// The walk on one layout from start to end.
template <class Sums>
void anneal_on(Walk& w, Sums& sums, double t_start, double t_end) {
  if (w.start(sums, t_start, t_end)) w.run(sums, 0, 0.0);
}

// The walk on the gene blocks, C1 in float or double, log-cost table or not.
template <bool kFloatC1, bool kDupTable>
void anneal_on_blocks(Walk& w, const GWProblem& p, int nt, const std::vector<float>& C1f,
                      const LogCostRows& L, double t_start, double t_end) {
  BlockSums<kFloatC1, kDupTable> sums(p, nt, C1f, L);
  anneal_on(w, sums, t_start, t_end);
}

// The walk on class-major sums while they pay, then on the gene blocks.
void anneal_class_major_first(Walk& w, const GWProblem& p, int nt, const std::vector<float>& C1f,
                              const LogCostRows& L, double t_start, double t_end) {
  const double share = kClassMajorAccept * static_cast<double>(p.grid->n_classes) /
                       static_cast<double>(p.n);
  int64_t t = 0;
  {
    ClassMajorSums hot(p, nt, C1f, L);
    if (!w.start(hot, t_start, t_end)) return;
    t = w.run(hot, 0, share);
  }
  if (t >= w.proposals()) return;
  BlockSums<true, true> cold(p, nt, C1f, L);
  w.reload(cold);
  w.run(cold, t, 0.0);
}

}  // namespace
}  // namespace anneal

SwapAnnealStats swap_anneal(const GWProblem& p, int64_t* assign, int64_t proposals,
                            double t_start, double t_end, uint64_t seed, int num_threads,
                            int64_t neighbours, int64_t gather_min_genes,
                            int64_t lookup_min_genes, int64_t class_major_max_bytes) {
  using namespace anneal;
  if (!(t_start > 0) || !(t_end > 0) || t_end > t_start)
    throw std::invalid_argument("need 0 < t_end <= t_start");
  if (class_major_max_bytes < 0) throw std::invalid_argument("class_major_max_bytes must be >= 0");
  const int64_t n = p.n, D = p.grid->n_classes;
  const int nt = num_threads > 0 ? num_threads : 1;
  SwapAnnealStats st;
  // The layout of the class sums (class_sums.hpp), by problem size.
  const bool gather = large_unit_grid(p, gather_min_genes);
  const bool c1_float = !gather && n < kGatherMinGenes;
  const bool unit = c1_float && large_unit_grid(p, lookup_min_genes);
  const bool dup_table = !gather && !unit && D <= 2048;
  const bool class_major =
      dup_table && c1_float &&
      kClassMajorAccept * static_cast<double>(D) / static_cast<double>(n) < 0.5 &&
      ClassMajorSums::bytes(n, D) <= class_major_max_bytes;
  st.objective = objective_of(p, assign, nt, gather);
  if (D < 2 || n < 2 || proposals <= 0) return st;
  const std::vector<int64_t> start(assign, assign + n);
  const std::vector<float> C1f =
      c1_float ? float_rows(p.C1, n, unit ? LookupSums::width(n) : gene_blocks(n) * kLane)
               : std::vector<float>();
  const LogCostRows L(*p.grid, !unit && D <= kDenseLogCostMax);
  Walk w(p, assign, proposals, neighbours, seed, st);
  if (gather) {
    GatherSums sums(p, L);
    anneal_on(w, sums, t_start, t_end);
  } else if (unit) {
    LookupSums sums(p, C1f);
    anneal_on(w, sums, t_start, t_end);
  } else if (class_major) {
    anneal_class_major_first(w, p, nt, C1f, L, t_start, t_end);
  } else if (c1_float) {
    if (dup_table)
      anneal_on_blocks<true, true>(w, p, nt, C1f, L, t_start, t_end);
    else
      anneal_on_blocks<true, false>(w, p, nt, C1f, L, t_start, t_end);
  } else if (dup_table) {
    anneal_on_blocks<false, true>(w, p, nt, C1f, L, t_start, t_end);
  } else {
    anneal_on_blocks<false, false>(w, p, nt, C1f, L, t_start, t_end);
  }
  if (!w.started()) return st;  // no proposal could gain or lose anything
  std::copy(w.best().begin(), w.best().end(), assign);
  const double obj = objective_of(p, assign, nt, gather);
  if (obj <= st.objective)
    st.objective = obj;
  else  // only rounding can get here: keep the start
    std::copy(start.begin(), start.end(), assign);
  return st;
}

}  // namespace genomap
