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

}  // namespace

TransportStats solve_class_transport(const double* cost, int64_t n, int64_t D,
                                     const int64_t* capacity, int64_t* assign,
                                     std::vector<double>& v, bool warm,
                                     const int64_t* previous) {
  if (std::accumulate(capacity, capacity + D, int64_t{0}) != n)
    throw std::invalid_argument("class capacities must sum to the number of rows");
  const double inf = std::numeric_limits<double>::infinity();
  TransportStats stats;
  if (!warm || static_cast<int64_t>(v.size()) != D) {
    // Cold start: column reduction (every class gets a zero reduced cost somewhere).
    v.assign(D, inf);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t d = 0; d < D; ++d) v[d] = std::min(v[d], cost[i * D + d]);
  }
  std::vector<int64_t> load(D, 0);
  Members members(n, D);
  std::vector<int64_t> unassigned;
  // With one pixel per class (D == n) the fit below costs n^2 per round and almost never
  // converges, because most genes move between GW steps: it only cost time (48x48 euclidean:
  // 42.9 s against 26.3 s without it, the same placement). Classes of many pixels keep it.
  bool use_previous = previous != nullptr && D < n;
  if (use_previous) {
    std::vector<int64_t> count(D, 0);
    for (int64_t i = 0; i < n; ++i) {
      if (previous[i] < 0 || previous[i] >= D) {
        use_previous = false;
        break;
      }
      count[previous[i]]++;
    }
    use_previous = use_previous && count == std::vector<int64_t>(capacity, capacity + D);
  }
  if (use_previous) {
    // Fit potentials to the previous assignment: it is optimal iff v[e] <= v[c] + M[c][e] for
    // all classes (M[c][e] = min over rows k of c of cost[k][e] - cost[k][c]); Bellman-Ford
    // rounds from the warm potentials find such v when it exists.
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
    if (!converged) {  // the previous assignment is far from optimal: start greedily instead
      v = v_start;
      use_previous = false;
    }
  }
  if (use_previous) {
    // Keep each row whose class is still a best reduced class (a tight edge, up to rounding
    // in the potentials); free the rest.
    for (int64_t i = 0; i < n; ++i) {
      const double* c = cost + i * D;
      const int64_t g = previous[i];
      const double mine = c[g] - v[g];
      const double slack = 1e-12 * (std::fabs(c[g]) + std::fabs(v[g]));
      bool tight = true;
      for (int64_t e = 0; e < D && tight; ++e) tight = c[e] - v[e] >= mine - slack;
      if (tight) {
        assign[i] = g;
        load[g]++;
        members.add(i, g);
        stats.n_kept++;
      } else {
        assign[i] = -1;
        unassigned.push_back(i);
      }
    }
  } else {
    // Greedy phase: a row takes its best reduced class if that class has room (tight edge).
    for (int64_t i = 0; i < n; ++i) {
      const double* c = cost + i * D;
      int64_t best = 0;
      double bv = c[0] - v[0];
      for (int64_t d = 1; d < D; ++d) {
        const double r = c[d] - v[d];
        if (r < bv) {
          bv = r;
          best = d;
        }
      }
      if (load[best] < capacity[best]) {
        assign[i] = best;
        load[best]++;
        members.add(i, best);
        stats.n_greedy++;
      } else {
        assign[i] = -1;
        unassigned.push_back(i);
      }
    }
  }

  // W[d][e] = min over rows k of class d of (cost[k][e] - cost[k][d]): the cheapest way to move
  // one row out of d into e (raw costs; potentials are added at use). Cached per class and
  // rebuilt only for classes whose members change, so a Dijkstra scan costs O(D), not
  // O(|d| D). With unit capacities a class has one row and its cost row is used directly.
  const bool cached = D < n;
  std::vector<double> W(cached ? D * D : 0);
  auto rebuild = [&](int64_t d) {
    double* w = W.data() + d * D;
    std::fill(w, w + D, inf);
    for (int64_t k : members.rows[d]) min_row_update(D, cost + k * D, cost[k * D + d], w);
  };
  // The row of class c that realises W[c][e] (first in member order, as the scan saw it).
  auto mover = [&](int64_t c, int64_t e) {
    int64_t arg = -1;
    double bv = inf;
    for (int64_t k : members.rows[c]) {
      const double val = cost[k * D + e] - cost[k * D + c];
      if (val < bv) {
        bv = val;
        arg = k;
      }
    }
    return arg;
  };
  if (cached && !unassigned.empty())
    for (int64_t d = 0; d < D; ++d) rebuild(d);

  std::vector<double> dist(D), key(D), bmin((D + kBlock - 1) / kBlock);
  // Relaxation from scanned class b adds base(b) + w_b[e] - v[e]; with one row per class w_b is
  // that row's costs and the base is less its current cost.
  auto relax_source = [&](int64_t b, double db, double& base) -> const double* {
    if (cached) {
      base = db + v[b];
      return W.data() + b * D;
    }
    const double* ck = cost + members.rows[b][0] * D;
    base = db + v[b] - ck[b];
    return ck;
  };
  std::vector<int64_t> pred(D);  // class the shortest path enters from (-1: the source row)
  std::vector<uint8_t> is_free(D);
  std::vector<int64_t> scanned_list, path;
  for (int64_t s : unassigned) {
    const double* cs = cost + s * D;
    scanned_list.clear();
    // The source row is the first relaxation (base 0, its own costs) from keys at +inf.
    for (int64_t e = 0; e < D; ++e) is_free[e] = load[e] < capacity[e];
    std::fill(key.begin(), key.end(), inf);
    double mn = relax_classes(D, 0.0, cs, v.data(), key.data(), bmin.data());
    int64_t best;
    while (true) {
      // Closest unscanned class; on ties prefer one with room, then the lowest index.
      best = closest_class(D, mn, key.data(), bmin.data(), is_free.data());
      if (is_free[best]) break;
      const int64_t b = best;
      const double db = mn;
      dist[b] = db;
      key[b] = -inf;
      scanned_list.push_back(b);
      stats.n_scans++;
      double base;
      const double* w = relax_source(b, db, base);
      mn = relax_classes(D, base, w, v.data(), key.data(), bmin.data());
    }
    const int64_t target = best;
    const double dt = mn;
    // Predecessors of the path's classes, recovered instead of stored at every relaxation: a
    // key only ever fell strictly, so a class's predecessor is the source row if its first key
    // equals its final distance, else the first scanned class whose relaxation (recomputed in
    // the same floating-point operations) gives exactly that distance.
    auto find_pred = [&](int64_t e, double final_key) -> int64_t {
      if (0.0 + cs[e] - v[e] == final_key) return -1;
      for (int64_t b : scanned_list) {
        double base;
        const double* w = relax_source(b, dist[b], base);
        if (base + w[e] - v[e] == final_key) return b;
      }
      throw std::logic_error("transport: shortest-path predecessor not found");
    };
    for (int64_t d = target;;) {
      const int64_t from = find_pred(d, d == target ? dt : dist[d]);
      pred[d] = from;
      if (from < 0) break;
      d = from;
    }
    for (int64_t d : scanned_list) v[d] += dist[d] - dt;
    // The path back to s: classes target <- pred <- ... <- (source). Move one row per edge,
    // starting at the target, so each class's mover is chosen among its members before the
    // class receives its own incoming row.
    path.clear();
    for (int64_t d = target; d >= 0; d = pred[d]) path.push_back(d);
    load[target]++;
    for (size_t i = 0; i < path.size(); ++i) {
      const int64_t d = path[i];
      const int64_t from = pred[d];
      const int64_t k = from < 0 ? s : mover(from, d);
      if (from >= 0) members.remove(k, from);
      assign[k] = d;
      members.add(k, d);
    }
    if (cached)
      for (int64_t d : path) rebuild(d);
    stats.n_augment++;
  }
  for (int64_t i = 0; i < n; ++i) stats.cost += cost[i * D + assign[i]];
  return stats;
}

}  // namespace genomap
