#include "genomap/transport.hpp"

#include <algorithm>
#include <limits>
#include <numeric>
#include <stdexcept>

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

}  // namespace

TransportStats solve_class_transport(const double* cost, int64_t n, int64_t D,
                                     const int64_t* capacity, int64_t* assign,
                                     std::vector<double>& v, bool warm) {
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

  // W[d][e] = min over rows k of class d of (cost[k][e] - cost[k][d]): the cheapest way to move
  // one row out of d into e (raw costs; potentials are added at use). Cached per class and
  // rebuilt only for classes whose members change, so a Dijkstra scan costs O(D), not
  // O(|d| D). With unit capacities a class has one row and its cost row is used directly.
  const bool cached = D < n;
  std::vector<double> W(cached ? D * D : 0);
  auto rebuild = [&](int64_t d) {
    double* w = W.data() + d * D;
    std::fill(w, w + D, inf);
    for (int64_t k : members.rows[d]) {
      const double* ck = cost + k * D;
      const double base = ck[d];
      for (int64_t e = 0; e < D; ++e) w[e] = std::min(w[e], ck[e] - base);
    }
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

  std::vector<double> dist(D), wrow(D);
  std::vector<int64_t> pred(D);  // class the shortest path enters from (-1: the source row)
  std::vector<uint8_t> scanned(D);
  std::vector<int64_t> scanned_list, path;
  for (int64_t s : unassigned) {
    const double* cs = cost + s * D;
    std::fill(scanned.begin(), scanned.end(), 0);
    scanned_list.clear();
    // Closest class; on ties prefer one with room, then the lowest index. Tracked while
    // relaxing so each Dijkstra step is a single pass over the classes.
    int64_t best = -1;
    double bd = inf;
    bool best_free = false;
    auto consider = [&](int64_t e) {
      const bool is_free = load[e] < capacity[e];
      if (dist[e] < bd || (dist[e] == bd && is_free && !best_free) || best < 0) {
        bd = dist[e];
        best = e;
        best_free = is_free;
      }
    };
    for (int64_t e = 0; e < D; ++e) {
      dist[e] = cs[e] - v[e];
      pred[e] = -1;
      consider(e);
    }
    while (!best_free) {
      const int64_t b = best;
      const double db = bd;
      scanned[b] = 1;
      scanned_list.push_back(b);
      const double* w;
      if (cached) {
        w = W.data() + b * D;
      } else {  // one row in the class: its cost row minus its current cost
        const double* ck = cost + members.rows[b][0] * D;
        for (int64_t e = 0; e < D; ++e) wrow[e] = ck[e] - ck[b];
        w = wrow.data();
      }
      const double base = db + v[b];
      best = -1;
      bd = inf;
      best_free = false;
      for (int64_t e = 0; e < D; ++e) {
        if (scanned[e]) continue;
        const double alt = base + w[e] - v[e];
        if (alt < dist[e]) {
          dist[e] = alt;
          pred[e] = b;
        }
        consider(e);
      }
    }
    const int64_t target = best;
    const double dt = dist[target];
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
