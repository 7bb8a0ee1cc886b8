// Typed solver results for Python: read-only attributes, arrays as read-only numpy views.
#pragma once
#include <cstdint>
#include <vector>

#include "genomap/gw.hpp"
#include "genomap/refine.hpp"
#include "genomap/transport.hpp"

// solve_gw_entropic's result with the shape of its coupling.
struct EntropicOutput {
  genomap::EntropicResult result;
  int64_t n_genes = 0, n_classes = 0;
};

// place_within_classes's pixels and statistics.
struct WithinClassOutput {
  std::vector<int64_t> pixel;
  genomap::PlacementStats stats;
};

// solve_transport's assignment, dual potentials and statistics.
struct TransportOutput {
  std::vector<int64_t> assign;
  std::vector<double> potentials;
  genomap::TransportStats stats;
};
