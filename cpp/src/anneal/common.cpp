#include "common.hpp"

#include <algorithm>

namespace genomap {
namespace anneal {

namespace {
constexpr int64_t kRowBlock = 64;  // fixed reduction blocks: never derived from the thread count
}  // namespace

bool large_unit_grid(const GWProblem& p, int64_t min_genes) {
  if (p.n != p.grid->n_classes || p.n < min_genes) return false;
  for (int64_t c : p.grid->capacity)
    if (c != 1) return false;
  return true;
}

// sum_i A[i, a_i] with A[i, a_i] = sum_k C1[i, k] L[a_k, a_i].
double objective_by_rows(const GWProblem& p, const int64_t* assign, int nt) {
  const int64_t n = p.n, D = p.grid->n_classes;
  const int64_t blocks = (n + kRowBlock - 1) / kRowBlock;
  std::vector<double> partial(blocks, 0.0);
#pragma omp parallel num_threads(nt)
  {
    std::vector<double> L(D);
#pragma omp for schedule(static)
    for (int64_t b = 0; b < blocks; ++b) {
      double acc = 0.0;
      for (int64_t i = b * kRowBlock; i < std::min(n, (b + 1) * kRowBlock); ++i) {
        p.grid->log_cost_row(assign[i], L.data());  // symmetric: L[a_k, a_i] = L[a_i, a_k]
        const double* c = p.C1 + i * n;
        double s = 0.0;
        for (int64_t k = 0; k < n; ++k) s += c[k] * L[assign[k]];
        acc += s;
      }
      partial[b] = acc;
    }
  }
  double q = 0.0;
  for (double x : partial) q += x;
  const double nn = static_cast<double>(n) * static_cast<double>(n);
  return p.f1_term + p.grid->mean_cost - q / nn;
}

std::vector<float> float_rows(const double* C1, int64_t n, int64_t width) {
  std::vector<float> out(n * width, 0.0f);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t k = 0; k < n; ++k) out[r * width + k] = static_cast<float>(C1[r * n + k]);
  return out;
}

}  // namespace anneal
}  // namespace genomap
