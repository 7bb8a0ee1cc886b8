#include "common.hpp"
#include "genomap/anneal.hpp"
#include "genomap/gw.hpp"

using namespace genomap;

namespace {

void check_problem(const carray<double>& C1, const GridCost& grid) {
  require_ndim(C1, 2, "interaction matrix");
  if (C1.shape(0) != C1.shape(1)) throw std::invalid_argument("interaction matrix must be square");
  if (C1.shape(0) != grid.n_used)
    throw std::invalid_argument("interaction matrix has " + std::to_string(C1.shape(0)) +
                                " genes but the grid uses " + std::to_string(grid.n_used) +
                                " pixels");
}

// A copy of a class assignment that fills every class exactly to its capacity.
py::array_t<int64_t> feasible_copy(py::array assign_in, int64_t n, const GridCost& grid) {
  auto in = assign_in.cast<carray<int64_t>>();
  if (in.ndim() != 1 || in.shape(0) != n)
    throw std::invalid_argument("assignment must have one class per gene");
  std::vector<int64_t> count(grid.n_classes, 0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = in.data()[i];
    if (c < 0 || c >= grid.n_classes)
      throw std::invalid_argument("assignment holds a class index out of range");
    count[c]++;
  }
  for (int64_t d = 0; d < grid.n_classes; ++d)
    if (count[d] != grid.capacity[d])
      throw std::invalid_argument("assignment must fill every class to its capacity");
  py::array_t<int64_t> out(n);
  std::copy(in.data(), in.data() + n, out.mutable_data());
  return out;
}

}  // namespace

void register_anneal(py::module_& m) {
  m.def(
      "solve_gw_anneal",
      [](carray<double> C1, const GridCost& grid, bool entropic_start, double eps_start,
         double eps_end, double decay, int64_t steps_per_eps, int64_t sinkhorn_iter,
         double sinkhorn_tol, int64_t polish_iter, int64_t swap_rounds, int64_t swap_passes,
         double swap_max_work, double sa_sweeps, double sa_max_work, double sa_t_start,
         double sa_t_end, int64_t sa_neighbours, int64_t restarts, uint64_t seed, double noise,
         int num_threads) {
        check_problem(C1, grid);
        AnnealOptions o;
        o.entropic_start = entropic_start;
        o.eps_start = eps_start;
        o.eps_end = eps_end;
        o.decay = decay;
        o.steps_per_eps = steps_per_eps;
        o.sinkhorn_iter = sinkhorn_iter;
        o.sinkhorn_tol = sinkhorn_tol;
        o.polish_iter = polish_iter;
        o.swap_rounds = swap_rounds;
        o.swap_passes = swap_passes;
        o.swap_max_work = swap_max_work;
        o.sa_sweeps = sa_sweeps;
        o.sa_max_work = sa_max_work;
        o.sa_t_start = sa_t_start;
        o.sa_t_end = sa_t_end;
        o.sa_neighbours = sa_neighbours;
        o.restarts = restarts;
        o.seed = seed;
        o.noise = noise;
        AnnealResult r;
        {
          py::gil_scoped_release release;
          GWProblem p = make_problem(C1.data(), C1.shape(0), grid, num_threads);
          r = solve_gw_anneal(p, o, num_threads);
        }
        py::dict d;
        d["assign"] = to_numpy(r.assign);
        d["objective"] = r.objective;
        d["best_restart"] = r.best_restart;
        d["restart_objectives"] = to_numpy(r.restart_objectives);
        d["coupling_objective"] = r.coupling_objective;
        d["rounded_objective"] = r.rounded_objective;
        d["gw_steps"] = r.gw_steps;
        d["sinkhorn_iters"] = r.sinkhorn_iters;
        d["exact_iters"] = r.exact_iters;
        d["swaps"] = r.swaps;
        d["sa_proposals"] = r.sa_proposals;
        d["sa_accepted"] = r.sa_accepted;
        return d;
      },
      py::arg("C1"), py::arg("grid"), py::arg("entropic_start") = false,
      py::arg("eps_start") = AnnealOptions{}.eps_start,
      py::arg("eps_end") = AnnealOptions{}.eps_end, py::arg("decay") = AnnealOptions{}.decay,
      py::arg("steps_per_eps") = AnnealOptions{}.steps_per_eps,
      py::arg("sinkhorn_iter") = AnnealOptions{}.sinkhorn_iter,
      py::arg("sinkhorn_tol") = AnnealOptions{}.sinkhorn_tol,
      py::arg("polish_iter") = AnnealOptions{}.polish_iter,
      py::arg("swap_rounds") = AnnealOptions{}.swap_rounds,
      py::arg("swap_passes") = AnnealOptions{}.swap_passes,
      py::arg("swap_max_work") = AnnealOptions{}.swap_max_work,
      py::arg("sa_sweeps") = AnnealOptions{}.sa_sweeps,
      py::arg("sa_max_work") = AnnealOptions{}.sa_max_work,
      py::arg("sa_t_start") = AnnealOptions{}.sa_t_start,
      py::arg("sa_t_end") = AnnealOptions{}.sa_t_end,
      py::arg("sa_neighbours") = AnnealOptions{}.sa_neighbours,
      py::arg("restarts") = AnnealOptions{}.restarts, py::arg("seed") = AnnealOptions{}.seed,
      py::arg("noise") = AnnealOptions{}.noise, py::arg("num_threads") = 1,
      "Annealed GW placement: epsilon scaling, rounding + exact polish, pair swaps, restarts.");
  m.def(
      "swap_local_search",
      [](carray<double> C1, const GridCost& grid, py::array assign_in, int64_t max_passes,
         int num_threads) {
        check_problem(C1, grid);
        const int64_t n = C1.shape(0);
        py::array_t<int64_t> out = feasible_copy(assign_in, n, grid);
        int64_t* a = out.mutable_data();
        SwapStats st;
        {
          py::gil_scoped_release release;
          GWProblem p = make_problem(C1.data(), n, grid, num_threads);
          st = swap_local_search(p, a, max_passes, num_threads);
        }
        py::dict d;
        d["swaps"] = st.swaps;
        d["passes"] = st.passes;
        d["objective"] = st.objective;
        return py::make_tuple(out, d);
      },
      py::arg("C1"), py::arg("grid"), py::arg("assign"), py::arg("max_passes") = 50,
      py::arg("num_threads") = 1,
      "Pair-swap descent of the GW objective from a feasible assignment: (assignment, info).");
  m.def(
      "swap_anneal",
      [](carray<double> C1, const GridCost& grid, py::array assign_in, int64_t proposals,
         double t_start, double t_end, uint64_t seed, int num_threads, int64_t neighbours) {
        check_problem(C1, grid);
        const int64_t n = C1.shape(0);
        py::array_t<int64_t> out = feasible_copy(assign_in, n, grid);
        int64_t* a = out.mutable_data();
        SwapAnnealStats st;
        {
          py::gil_scoped_release release;
          GWProblem p = make_problem(C1.data(), n, grid, num_threads);
          st = swap_anneal(p, a, proposals, t_start, t_end, seed, num_threads, neighbours);
        }
        py::dict d;
        d["proposals"] = st.proposals;
        d["accepted"] = st.accepted;
        d["objective"] = st.objective;
        return py::make_tuple(out, d);
      },
      py::arg("C1"), py::arg("grid"), py::arg("assign"), py::arg("proposals"),
      py::arg("t_start") = 0.1, py::arg("t_end") = 0.001, py::arg("seed") = 0,
      py::arg("num_threads") = 1, py::arg("neighbours") = 0,
      "Simulated annealing over pair swaps from a feasible assignment: (best assignment, info).");
}
