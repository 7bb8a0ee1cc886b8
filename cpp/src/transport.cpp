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

  std::vector<double> dist(D);
  std::vector<int64_t> pred(D);  // row whose edge enters the class on the shortest path
  std::vector<uint8_t> scanned(D);
  std::vector<int64_t> scanned_list;
  for (int64_t s : unassigned) {
    const double* cs = cost + s * D;
    for (int64_t d = 0; d < D; ++d) {
      dist[d] = cs[d] - v[d];
      pred[d] = s;
    }
    std::fill(scanned.begin(), scanned.end(), 0);
    scanned_list.clear();
    int64_t target = -1;
    while (true) {
      // Closest unscanned class; on ties prefer one with room, then the lowest index.
      int64_t best = -1;
      double bd = inf;
      bool best_free = false;
      for (int64_t d = 0; d < D; ++d) {
        if (scanned[d]) continue;
        const bool is_free = load[d] < capacity[d];
        if (dist[d] < bd || (dist[d] == bd && is_free && !best_free) || best < 0) {
          bd = dist[d];
          best = d;
          best_free = is_free;
        }
      }
      if (best_free) {
        target = best;
        break;
      }
      scanned[best] = 1;
      scanned_list.push_back(best);
      // Relax through every row of the class: leave `best`, enter d.
      for (int64_t k : members.rows[best]) {
        const double* ck = cost + k * D;
        const double base = bd - (ck[best] - v[best]);
        for (int64_t d = 0; d < D; ++d) {
          if (scanned[d]) continue;
          const double alt = base + ck[d] - v[d];
          if (alt < dist[d]) {
            dist[d] = alt;
            pred[d] = k;
          }
        }
      }
    }
    const double dt = dist[target];
    for (int64_t d : scanned_list) v[d] += dist[d] - dt;
    // Augment along the path back to s.
    int64_t d = target;
    load[target]++;
    while (true) {
      const int64_t k = pred[d];
      const int64_t prev = assign[k];
      if (prev >= 0) members.remove(k, prev);
      assign[k] = d;
      members.add(k, d);
      if (k == s) break;
      d = prev;
    }
    stats.n_augment++;
  }
  for (int64_t i = 0; i < n; ++i) stats.cost += cost[i * D + assign[i]];
  return stats;
}

}  // namespace genomap
