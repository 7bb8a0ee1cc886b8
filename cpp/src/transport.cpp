#include "genomap/transport.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "genomap/simd.hpp"

namespace genomap {

namespace {

struct Members {
  // Rows currently assigned to each class, with O(1) insert/remove.
  std::vector<std::vector<int64_t>> rows;
  std::vector<int64_t> pos;
  explicit Members(int64_t n, int64_t D) : rows(D), pos(n, -1) {}
  void add(int64_t r, int64_t d) {
    pos[r] = static_cast<int64_t>(rows[d].size());
    rows[d].push_back(r);
  }
  void remove(int64_t r, int64_t d) {
    auto& v = rows[d];
    const int64_t p = pos[r];
    v[p] = v.back();
    pos[v[p]] = p;
    v.pop_back();
    pos[r] = -1;
  }
};

// Dijkstra keys are kept with the minimum of each block of kBlock classes, so finding the
// closest class reads D / kBlock block minima and one block instead of all D keys.
constexpr int64_t kBlock = 64;

// One Dijkstra relaxation from a scanned class: key[e] = min(key[e], base + w[e] - v[e])
// (branch-free, vectorisable). key[e] is the tentative distance of an unscanned class and -inf
// for a scanned one (never updated). Writes each block's smallest unscanned key to bmin and
// returns the smallest overall. Predecessors are not tracked here (see the path search).
GENOMAP_CLONES double relax_classes(int64_t D, double base, const double* w, const double* v,
                                    double* key, double* bmin) {
  const double inf = std::numeric_limits<double>::infinity();
  double mn = inf;
  for (int64_t s = 0, blk = 0; s < D; s += kBlock, ++blk) {
    const int64_t t = std::min(D, s + kBlock);
    double m = inf;
    int64_t e = s;
#if defined(__GNUC__) && !defined(__clang__)
    // Four lanes by GCC vector extensions: compilers do not vectorise a floating-point min
    // reduction on their own without -ffast-math. Lane arithmetic is the scalar arithmetic.
    typedef double v4d __attribute__((vector_size(32)));
    const v4d vbase = {base, base, base, base}, vinf = {inf, inf, inf, inf};
    const v4d vninf = -vinf;
    v4d m4 = vinf;
    for (; e + 4 <= t; e += 4) {
      v4d we, ve, ke;
      std::memcpy(&we, w + e, sizeof we);
      std::memcpy(&ve, v + e, sizeof ve);
      std::memcpy(&ke, key + e, sizeof ke);
      const v4d alt = vbase + we - ve;
      const v4d nk = alt < ke ? alt : ke;
      std::memcpy(key + e, &nk, sizeof nk);
      const v4d cand = nk == vninf ? vinf : nk;
      m4 = cand < m4 ? cand : m4;
    }
    for (int lane = 0; lane < 4; ++lane) m = m4[lane] < m ? m4[lane] : m;
#endif
    for (; e < t; ++e) {
      const double alt = base + w[e] - v[e];
      const double k = key[e];
      const double nk = alt < k ? alt : k;
      key[e] = nk;
      const double cand = nk == -inf ? inf : nk;
      m = cand < m ? cand : m;
    }
    bmin[blk] = m;
    mn = m < mn ? m : mn;
  }
  return mn;
}

// The closest unscanned class (key == mn): the first one with room, else the first one.
int64_t closest_class(int64_t D, double mn, const double* key, const double* bmin,
                      const uint8_t* is_free) {
  int64_t best = -1;
  for (int64_t s = 0, blk = 0; s < D; s += kBlock, ++blk) {
    if (bmin[blk] != mn) continue;
    const int64_t t = std::min(D, s + kBlock);
    for (int64_t e = s; e < t; ++e) {
      if (key[e] == mn) {
        if (is_free[e]) return e;
        if (best < 0) best = e;
      }
    }
  }
  return best;
}

// Rebuilds one row of the class move-cost cache: w[e] = min over rows of (cost[k][e] - cost[k][d]).
GENOMAP_CLONES void min_row_update(int64_t D, const double* ck, double base, double* w) {
  for (int64_t e = 0; e < D; ++e) {
    const double val = ck[e] - base;
    w[e] = val < w[e] ? val : w[e];
  }
}

// The state of one solve: the rows placed so far, the class loads and potentials.
struct Placement {
  const double* cost;
  int64_t n, D;
  const int64_t* capacity;
  int64_t* assign;
  std::vector<double>& v;
  std::vector<int64_t> load;
  Members members;
  std::vector<int64_t> unassigned;
  TransportStats stats;
  Placement(const double* cost_, int64_t n_, int64_t D_, const int64_t* capacity_,
            int64_t* assign_, std::vector<double>& v_)
      : cost(cost_), n(n_), D(D_), capacity(capacity_), assign(assign_), v(v_), load(D_, 0),
        members(n_, D_) {}
  void place(int64_t i, int64_t d) {
    assign[i] = d;
    load[d]++;
    members.add(i, d);
  }
  void leave_open(int64_t i) {
    assign[i] = -1;
    unassigned.push_back(i);
  }
};

// Cold start: column reduction (every class gets a zero reduced cost somewhere).
void column_reduction(const double* cost, int64_t n, int64_t D, std::vector<double>& v) {
  v.assign(D, std::numeric_limits<double>::infinity());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t d = 0; d < D; ++d) v[d] = std::min(v[d], cost[i * D + d]);
}

// Whether `previous` is a feasible assignment worth starting from. With one pixel per class
// (D == n) fitting it costs n^2 per round and almost never converges (most genes move between
// GW steps), so only classes of many pixels use it.
bool usable_previous(const int64_t* previous, int64_t n, int64_t D, const int64_t* capacity) {
  if (previous == nullptr || D >= n) return false;
  std::vector<int64_t> count(D, 0);
  for (int64_t i = 0; i < n; ++i) {
    if (previous[i] < 0 || previous[i] >= D) return false;
    count[previous[i]]++;
  }
  return count == std::vector<int64_t>(capacity, capacity + D);
}

// Fits the potentials to the previous assignment: it is optimal iff v[e] <= v[c] + M[c][e] for
// all classes (M[c][e] = min over rows k of c of cost[k][e] - cost[k][c]); Bellman-Ford rounds
// from the warm potentials find such v when it exists. Leaves v unchanged and returns false
// when they do not converge (the previous assignment is far from optimal).
bool fit_potentials(const double* cost, int64_t n, int64_t D, const int64_t* previous,
                    std::vector<double>& v) {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<std::vector<int64_t>> rows(D);
  for (int64_t i = 0; i < n; ++i) rows[previous[i]].push_back(i);
  const bool store = D < n;  // with one row per class, M's rows are read off the costs
  std::vector<double> M(store ? D * D : 0, inf), mbuf(store ? 0 : D);
  for (int64_t c = 0; c < D && store; ++c) {
    double* m = M.data() + c * D;
    for (int64_t k : rows[c]) {
      const double* ck = cost + k * D;
      for (int64_t e = 0; e < D; ++e) m[e] = std::min(m[e], ck[e] - ck[c]);
    }
  }
  auto mrow = [&](int64_t c) -> const double* {
    if (store) return M.data() + c * D;
    const double* ck = cost + rows[c][0] * D;
    for (int64_t e = 0; e < D; ++e) mbuf[e] = ck[e] - ck[c];
    return mbuf.data();
  };
  const std::vector<double> v_start = v;
  bool converged = false;
  for (int round = 0; round < 30 && !converged; ++round) {
    bool changed = false;
    for (int64_t c = 0; c < D; ++c) {
      const double* m = mrow(c);
      const double vc = v[c];
      for (int64_t e = 0; e < D; ++e) {
        const double cand = vc + m[e];
        if (cand < v[e]) {
          v[e] = cand;
          changed = true;
        }
      }
    }
    converged = !changed;
  }
  if (!converged) v = v_start;
  return converged;
}

// Keeps each row whose previous class is still a best reduced class (a tight edge, up to
// rounding in the potentials); leaves the rest open.
void keep_tight_rows(Placement& P, const int64_t* previous) {
  const int64_t D = P.D;
  for (int64_t i = 0; i < P.n; ++i) {
    const double* c = P.cost + i * D;
    const int64_t g = previous[i];
    const double mine = c[g] - P.v[g];
    const double slack = 1e-12 * (std::fabs(c[g]) + std::fabs(P.v[g]));
    bool tight = true;
    for (int64_t e = 0; e < D && tight; ++e) tight = c[e] - P.v[e] >= mine - slack;
    if (tight) {
      P.place(i, g);
      P.stats.n_kept++;
    } else {
      P.leave_open(i);
    }
  }
}

// Greedy phase: a row takes its best reduced class if that class has room (tight edge).
void place_greedily(Placement& P) {
  const int64_t D = P.D;
  for (int64_t i = 0; i < P.n; ++i) {
    const double* c = P.cost + i * D;
    int64_t best = 0;
    double bv = c[0] - P.v[0];
    for (int64_t d = 1; d < D; ++d) {
      const double r = c[d] - P.v[d];
      if (r < bv) {
        bv = r;
        best = d;
      }
    }
    if (P.load[best] < P.capacity[best]) {
      P.place(i, best);
      P.stats.n_greedy++;
    } else {
      P.leave_open(i);
    }
  }
}

// Shortest augmenting paths over the class nodes, one per open row.
class PathSearch {
 public:
  explicit PathSearch(Placement& P)
      : P_(P), D_(P.D), cached_(P.D < P.n), W_(cached_ ? D_ * D_ : 0), dist_(D_), key_(D_),
        bmin_((D_ + kBlock - 1) / kBlock), pred_(D_), is_free_(D_) {
    if (cached_ && !P.unassigned.empty())
      for (int64_t d = 0; d < D_; ++d) rebuild(d);
  }
  void route(int64_t s);

 private:
  // W[d][e] = min over rows k of class d of (cost[k][e] - cost[k][d]): the cheapest way to
  // move one row out of d into e (raw costs; potentials are added at use). Cached per class
  // and rebuilt only for classes whose members change, so a Dijkstra scan costs O(D), not
  // O(|d| D). With unit capacities a class has one row and its cost row is used directly.
  void rebuild(int64_t d) {
    double* w = W_.data() + d * D_;
    std::fill(w, w + D_, std::numeric_limits<double>::infinity());
    for (int64_t k : P_.members.rows[d]) min_row_update(D_, P_.cost + k * D_, P_.cost[k * D_ + d], w);
  }
  // The row of class c that realises W[c][e] (first in member order, as the scan saw it).
  int64_t mover(int64_t c, int64_t e) const {
    int64_t arg = -1;
    double bv = std::numeric_limits<double>::infinity();
    for (int64_t k : P_.members.rows[c]) {
      const double val = P_.cost[k * D_ + e] - P_.cost[k * D_ + c];
      if (val < bv) {
        bv = val;
        arg = k;
      }
    }
    return arg;
  }
  // Relaxation from scanned class b adds base(b) + w_b[e] - v[e]; with one row per class w_b
  // is that row's costs and the base is less its current cost.
  const double* relax_source(int64_t b, double db, double& base) const {
    if (cached_) {
      base = db + P_.v[b];
      return W_.data() + b * D_;
    }
    const double* ck = P_.cost + P_.members.rows[b][0] * D_;
    base = db + P_.v[b] - ck[b];
    return ck;
  }
  int64_t dijkstra(const double* cs, double& dt);
  int64_t find_pred(const double* cs, int64_t e, double final_key) const;
  void augment(int64_t s, int64_t target);

  Placement& P_;
  int64_t D_;
  bool cached_;
  std::vector<double> W_, dist_, key_, bmin_;
  std::vector<int64_t> pred_;  // class the shortest path enters from (-1: the source row)
  std::vector<uint8_t> is_free_;
  std::vector<int64_t> scanned_list_, path_;
};

// Dijkstra from the source row (costs cs) to the closest class with room: its distance dt.
int64_t PathSearch::dijkstra(const double* cs, double& dt) {
  const double inf = std::numeric_limits<double>::infinity();
  scanned_list_.clear();
  // The source row is the first relaxation (base 0, its own costs) from keys at +inf.
  for (int64_t e = 0; e < D_; ++e) is_free_[e] = P_.load[e] < P_.capacity[e];
  std::fill(key_.begin(), key_.end(), inf);
  double mn = relax_classes(D_, 0.0, cs, P_.v.data(), key_.data(), bmin_.data());
  int64_t best;
  while (true) {
    // Closest unscanned class; on ties prefer one with room, then the lowest index.
    best = closest_class(D_, mn, key_.data(), bmin_.data(), is_free_.data());
    if (is_free_[best]) break;
    const int64_t b = best;
    const double db = mn;
    dist_[b] = db;
    key_[b] = -inf;
    scanned_list_.push_back(b);
    P_.stats.n_scans++;
    double base;
    const double* w = relax_source(b, db, base);
    mn = relax_classes(D_, base, w, P_.v.data(), key_.data(), bmin_.data());
  }
  dt = mn;
  return best;
}

// Predecessors of the path's classes, recovered instead of stored at every relaxation: a key
// only ever fell strictly, so a class's predecessor is the source row if its first key equals
// its final distance, else the first scanned class whose relaxation (recomputed in the same
// floating-point operations) gives exactly that distance.
int64_t PathSearch::find_pred(const double* cs, int64_t e, double final_key) const {
  if (0.0 + cs[e] - P_.v[e] == final_key) return -1;
  for (int64_t b : scanned_list_) {
    double base;
    const double* w = relax_source(b, dist_[b], base);
    if (base + w[e] - P_.v[e] == final_key) return b;
  }
  throw std::logic_error("transport: shortest-path predecessor not found");
}

// The path back to s: classes target <- pred <- ... <- (source). One row moves per edge,
// starting at the target, so each class's mover is chosen among its members before the class
// receives its own incoming row.
void PathSearch::augment(int64_t s, int64_t target) {
  path_.clear();
  for (int64_t d = target; d >= 0; d = pred_[d]) path_.push_back(d);
  P_.load[target]++;
  for (size_t i = 0; i < path_.size(); ++i) {
    const int64_t d = path_[i];
    const int64_t from = pred_[d];
    const int64_t k = from < 0 ? s : mover(from, d);
    if (from >= 0) P_.members.remove(k, from);
    P_.assign[k] = d;
    P_.members.add(k, d);
  }
  if (cached_)
    for (int64_t d : path_) rebuild(d);
}

void PathSearch::route(int64_t s) {
  const double* cs = P_.cost + s * D_;
  double dt;
  const int64_t target = dijkstra(cs, dt);
  for (int64_t d = target;;) {
    const int64_t from = find_pred(cs, d, d == target ? dt : dist_[d]);
    pred_[d] = from;
    if (from < 0) break;
    d = from;
  }
  for (int64_t d : scanned_list_) P_.v[d] += dist_[d] - dt;
  augment(s, target);
  P_.stats.n_augment++;
}

}  // namespace

TransportStats solve_class_transport(const double* cost, int64_t n, int64_t D,
                                     const int64_t* capacity, int64_t* assign,
                                     std::vector<double>& v, bool warm,
                                     const int64_t* previous) {
  if (std::accumulate(capacity, capacity + D, int64_t{0}) != n)
    throw std::invalid_argument("class capacities must sum to the number of rows");
  if (!warm || static_cast<int64_t>(v.size()) != D) column_reduction(cost, n, D, v);
  Placement P(cost, n, D, capacity, assign, v);
  if (usable_previous(previous, n, D, capacity) && fit_potentials(cost, n, D, previous, v))
    keep_tight_rows(P, previous);
  else
    place_greedily(P);
  PathSearch paths(P);
  for (int64_t s : P.unassigned) paths.route(s);
  for (int64_t i = 0; i < n; ++i) P.stats.cost += cost[i * D + assign[i]];
  return P.stats;
}

}  // namespace genomap
