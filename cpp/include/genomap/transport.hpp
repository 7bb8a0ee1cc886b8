// Exact transport between n unit-supply rows (genes) and D classes of pixels with integer
// capacities summing to n (the semi-assignment problem). With D == n and unit capacities it is
// the linear assignment problem.
//
// Successive shortest augmenting paths (Jonker-Volgenant style) on the collapsed graph: pixels of
// a class are interchangeable, so a Dijkstra runs over D class nodes instead of n pixel nodes.
// Class potentials `v` can be warm-started from a previous, similar cost matrix; rows whose best
// reduced class still has room are assigned greedily before any path search.
#pragma once
#include <cstdint>
#include <vector>

namespace genomap {

struct TransportStats {
  double cost = 0.0;         // sum_i cost[i, assign[i]]
  int64_t n_greedy = 0;      // rows assigned before path search
  int64_t n_augment = 0;     // augmenting paths
  int64_t n_kept = 0;        // rows kept from `previous`
  int64_t n_scans = 0;       // Dijkstra steps over all paths
};

// cost: (n, D) row-major. capacity: (D,), sum == n. assign: (n,) output class per row.
// v: (D,) class potentials, read when warm is true, always written.
// previous: optional feasible assignment (e.g. the last GW step's) to start from (used when
// D < n; with one row per class it is ignored, see the source): potentials
// are fitted to it by a few Bellman-Ford rounds, rows it already places optimally keep their
// class, and only the others are re-routed by augmenting paths.
TransportStats solve_class_transport(const double* cost, int64_t n, int64_t D,
                                     const int64_t* capacity, int64_t* assign,
                                     std::vector<double>& v, bool warm,
                                     const int64_t* previous = nullptr);

}  // namespace genomap
