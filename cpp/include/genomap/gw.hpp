// The Gromov-Wasserstein problem of gene placement (KL loss, uniform marginals) and its two
// solvers: exact (each step a class transport) and entropic (each step a log-domain Sinkhorn).
//
// Both solvers follow the reference iteration (genomap 1.3.6): linearise the KL-loss GW
// objective at the current coupling, tens = -C1 T log(C2 + 1e-15)^T, and solve the transport
// problem with that cost. Because pixels of one grid class are interchangeable, couplings are
// kept per class: (genes x classes), never genes x pixels.
#pragma once
#include <cstdint>
#include <vector>

#include "genomap/grid.hpp"

namespace genomap {

struct GWProblem {
  const double* C1 = nullptr;  // (n, n) row-major interaction matrix (correlation distance)
  int64_t n = 0;               // genes == grid.n_used
  const GridCost* grid = nullptr;
  double f1_term = 0.0;        // <f1(C1) p, p>, f1(a) = a log(a + 1e-15) - a
};

GWProblem make_problem(const double* C1, int64_t n, const GridCost& grid, int num_threads);

// A = (C1 @ S_assign) @ L : (n, D) where S_assign is the gene -> class indicator.
void linear_term_assignment(const GWProblem& p, const int64_t* assign, double* A, int num_threads);
// The two halves: CS = C1 @ S_assign (n, D), sums of C1 columns per class; A = CS @ L (n, D),
// by FFT convolution when the grid has one, else BLAS.
void class_sums(const GWProblem& p, const int64_t* assign, int64_t D, double* CS, int num_threads);
void apply_log_cost(const GWProblem& p, const double* CS, double* A, int num_threads);
// A += C1[:, M] (L[g(M), :] - L[had(M), :]) over the genes M whose class differs between `had`
// and `g`: turns the linear term of `had` into that of `g` in 2 n |M| D flops.
void update_linear_term(const GWProblem& p, const int64_t* had, const int64_t* g, double* A,
                        int num_threads);
// B = C1 @ (Tc @ L) : (n, D) for a class coupling Tc (n, D).
void linear_term_coupling(const GWProblem& p, const double* Tc, double* B, int num_threads);

// KL-loss GW objective of an assignment / of a class coupling.
double objective_assignment(const GWProblem& p, const int64_t* assign, int num_threads);
double objective_coupling(const GWProblem& p, const double* Tc, int num_threads);

struct ExactResult {
  std::vector<int64_t> assign;  // (n,) class of each gene, lowest objective seen
  double objective = 0.0;
  int64_t n_iter = 0;           // transport problems solved (the reference's GW iterations)
  bool converged = false;       // stopped because an assignment repeated (fixed point / cycle)
  std::vector<double> trace;    // objective after each iteration
  int64_t n_augment = 0;        // augmenting paths over all transport solves
  std::vector<int64_t> moved;   // genes that changed class at each step
  std::vector<int64_t> scans;   // Dijkstra steps of each step's transport solve
  std::vector<double> seconds;  // wall time of each step
  std::vector<double> potentials;  // (D,) class potentials of the last transport solve
};

// Where the iteration starts: by default the reference's first step from T = p q^T (rank-one
// cost, solved by sorting). Otherwise the first step's linear term is given (n, D), e.g. from a
// coarser level's coupling, with optional warm potentials for its transport.
struct ExactStart {
  const double* linear_term = nullptr;
  std::vector<double> potentials;
};

// Stopping rule: the iteration map is deterministic in the class assignment, so once an
// assignment repeats, the sequence is periodic and nothing new can be found; stop there (or at
// max_iter) and return the assignment with the lowest objective seen.
ExactResult solve_gw_exact(const GWProblem& p, int64_t max_iter, int num_threads,
                           const ExactStart* start = nullptr);

struct EntropicResult {
  std::vector<double> coupling;  // (n, D) class coupling
  double objective = 0.0;
  int64_t n_iter = 0;
  double last_change = 0.0;      // ||T - T_prev||_F at the last check
  int64_t sinkhorn_iters = 0;
};

// Exactly the reference's loop: T0 = p q^T, at most max_iter steps, stop when
// ||T - T_prev||_F < tol, checked every 10th step; each Sinkhorn run capped at max_iter.
EntropicResult solve_gw_entropic(const GWProblem& p, double epsilon, int64_t max_iter, double tol,
                                 int num_threads);

}  // namespace genomap
