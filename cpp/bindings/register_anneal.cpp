#include <pybind11/stl.h>

#include <optional>
#include <string>

#include "common.hpp"
#include "genomap/anneal.hpp"
#include "genomap/gw.hpp"

using namespace genomap;

namespace {

// The assignment a swap search returns, with its statistics.
struct SwapOutput {
  std::vector<int64_t> assign;
  SwapStats stats;
};
struct SwapAnnealOutput {
  std::vector<int64_t> assign;
  SwapAnnealStats stats;
};

// An option the caller gave replaces the schedule's.
template <class T>
void set_given(T& field, const std::optional<T>& given) {
  if (given) field = *given;
}

AnnealStart anneal_start(const std::string& name) {
  if (name == "exact") return AnnealStart::exact;
  if (name == "entropic") return AnnealStart::entropic;
  if (name == "multilevel") return AnnealStart::multilevel;
  throw std::invalid_argument("start must be exact, entropic or multilevel, got " + name);
}

// A class assignment that fills every class exactly to its capacity, copied.
std::vector<int64_t> feasible_copy(py::array assign_in, int64_t n, const GridCost& grid) {
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
  return std::vector<int64_t>(in.data(), in.data() + n);
}

}  // namespace

void register_anneal(py::module_& m) {
  py::class_<AnnealResult>(m, "AnnealResult",
                           "Annealed GW placement (solve_gw_anneal): read-only; arrays read-only.")
      .def_property_readonly(
          "assign", [](py::object s) { return readonly_view(self_as<AnnealResult>(s).assign, s); },
          "(n,) int64: class of each gene, the best restart's")
      .def_property_readonly(
          "objective", [](const AnnealResult& r) { return r.objective; },
          "KL-loss GW objective of `assign`")
      .def_property_readonly(
          "best_restart", [](const AnnealResult& r) { return r.best_restart; },
          "index of the restart that gave `assign`")
      .def_property_readonly(
          "restart_objectives",
          [](py::object s) { return readonly_view(self_as<AnnealResult>(s).restart_objectives, s); },
          "(restarts,) float64: final objective of each restart")
      .def_property_readonly(
          "coupling_objective", [](const AnnealResult& r) { return r.coupling_objective; },
          "best restart: objective of the last entropic coupling (entropic start)")
      .def_property_readonly(
          "rounded_objective", [](const AnnealResult& r) { return r.rounded_objective; },
          "best restart: objective after the start (rounding + exact polish)")
      .def_property_readonly(
          "gw_steps", [](const AnnealResult& r) { return r.gw_steps; },
          "entropic GW steps, all restarts")
      .def_property_readonly(
          "sinkhorn_iters", [](const AnnealResult& r) { return r.sinkhorn_iters; },
          "Sinkhorn scaling iterations, all restarts")
      .def_property_readonly(
          "exact_iters", [](const AnnealResult& r) { return r.exact_iters; },
          "exact transport steps, all restarts")
      .def_property_readonly(
          "swaps", [](const AnnealResult& r) { return r.swaps; },
          "pair swaps made by the swap descents, all restarts")
      .def_property_readonly(
          "sa_proposals", [](const AnnealResult& r) { return r.sa_proposals; },
          "simulated-annealing proposals, all restarts")
      .def_property_readonly(
          "sa_accepted", [](const AnnealResult& r) { return r.sa_accepted; },
          "simulated-annealing proposals accepted, all restarts");
  py::class_<SwapOutput>(m, "SwapResult", "Pair-swap descent (swap_local_search): read-only.")
      .def_property_readonly(
          "assign", [](py::object s) { return readonly_view(self_as<SwapOutput>(s).assign, s); },
          "(n,) int64: class of each gene after the descent")
      .def_property_readonly(
          "swaps", [](const SwapOutput& r) { return r.stats.swaps; }, "swaps made")
      .def_property_readonly(
          "passes", [](const SwapOutput& r) { return r.stats.passes; }, "passes over the genes")
      .def_property_readonly(
          "objective", [](const SwapOutput& r) { return r.stats.objective; },
          "KL-loss GW objective of `assign`");
  py::class_<SwapAnnealOutput>(m, "SwapAnnealResult",
                               "Simulated annealing over pair swaps (swap_anneal): read-only.")
      .def_property_readonly(
          "assign",
          [](py::object s) { return readonly_view(self_as<SwapAnnealOutput>(s).assign, s); },
          "(n,) int64: class of each gene, the best assignment visited")
      .def_property_readonly(
          "proposals", [](const SwapAnnealOutput& r) { return r.stats.proposals; },
          "swaps proposed")
      .def_property_readonly(
          "accepted", [](const SwapAnnealOutput& r) { return r.stats.accepted; },
          "swaps accepted")
      .def_property_readonly(
          "class_major_proposals",
          [](const SwapAnnealOutput& r) { return r.stats.class_major_proposals; },
          "proposals scored on class-major class sums (the hot phase; see class_major_max_bytes)")
      .def_property_readonly(
          "objective", [](const SwapAnnealOutput& r) { return r.stats.objective; },
          "KL-loss GW objective of `assign`");
  m.def(
      "anneal_schedule",
      [](const GridCost& grid, const std::string& start) {
        const AnnealOptions o = anneal_schedule(anneal_start(start), grid);
        py::dict d;
        d["swap_rounds"] = o.swap_rounds;
        d["sa_sweeps"] = o.sa_sweeps;
        d["sa_max_work"] = o.sa_max_work;
        d["sa_t_start"] = o.sa_t_start;
        d["sa_t_end"] = o.sa_t_end;
        d["sa_neighbours"] = o.sa_neighbours;
        return d;
      },
      py::arg("grid"), py::arg("start"),
      "The start- and grid-dependent part of the annealing schedule that runs (exact, "
      "entropic or multilevel start): the keywords solve_gw_anneal takes when not given.");
  m.def(
      "solve_gw_anneal",
      [](carray<double> C1, const GridCost& grid, bool entropic_start, bool multilevel_start,
         std::optional<int64_t> multilevel_tile, std::optional<double> eps_start,
         std::optional<double> eps_end, std::optional<double> decay,
         std::optional<int64_t> steps_per_eps, std::optional<int64_t> sinkhorn_iter,
         std::optional<double> sinkhorn_tol, std::optional<int64_t> polish_iter,
         std::optional<int64_t> swap_rounds, std::optional<int64_t> swap_passes,
         std::optional<double> swap_max_work, std::optional<double> sa_sweeps,
         std::optional<double> sa_max_work, std::optional<double> sa_t_start,
         std::optional<double> sa_t_end, std::optional<int64_t> sa_neighbours,
         std::optional<int64_t> restarts, std::optional<uint64_t> seed,
         std::optional<double> noise, Threads num_threads) {
        check_c1(C1, grid);
        if (entropic_start && multilevel_start)
          throw std::invalid_argument("choose one start: entropic or multilevel");
        // The schedule that runs for this start and grid, then what the caller gave.
        AnnealOptions o = anneal_schedule(
            entropic_start ? AnnealStart::entropic
                           : (multilevel_start ? AnnealStart::multilevel : AnnealStart::exact),
            grid);
        set_given(o.multilevel_tile, multilevel_tile);
        set_given(o.eps_start, eps_start);
        set_given(o.eps_end, eps_end);
        set_given(o.decay, decay);
        set_given(o.steps_per_eps, steps_per_eps);
        set_given(o.sinkhorn_iter, sinkhorn_iter);
        set_given(o.sinkhorn_tol, sinkhorn_tol);
        set_given(o.polish_iter, polish_iter);
        set_given(o.swap_rounds, swap_rounds);
        set_given(o.swap_passes, swap_passes);
        set_given(o.swap_max_work, swap_max_work);
        set_given(o.sa_sweeps, sa_sweeps);
        set_given(o.sa_max_work, sa_max_work);
        set_given(o.sa_t_start, sa_t_start);
        set_given(o.sa_t_end, sa_t_end);
        set_given(o.sa_neighbours, sa_neighbours);
        set_given(o.restarts, restarts);
        set_given(o.seed, seed);
        set_given(o.noise, noise);
        AnnealResult r;
        {
          py::gil_scoped_release release;
          GWProblem p = make_problem(C1.data(), C1.shape(0), grid, num_threads);
          r = solve_gw_anneal(p, o, num_threads);
        }
        return r;
      },
      py::arg("C1"), py::arg("grid"), py::arg("entropic_start") = false,
      py::arg("multilevel_start") = false, py::kw_only(),
      py::arg("multilevel_tile") = py::none(), py::arg("eps_start") = py::none(),
      py::arg("eps_end") = py::none(), py::arg("decay") = py::none(),
      py::arg("steps_per_eps") = py::none(), py::arg("sinkhorn_iter") = py::none(),
      py::arg("sinkhorn_tol") = py::none(), py::arg("polish_iter") = py::none(),
      py::arg("swap_rounds") = py::none(), py::arg("swap_passes") = py::none(),
      py::arg("swap_max_work") = py::none(), py::arg("sa_sweeps") = py::none(),
      py::arg("sa_max_work") = py::none(), py::arg("sa_t_start") = py::none(),
      py::arg("sa_t_end") = py::none(), py::arg("sa_neighbours") = py::none(),
      py::arg("restarts") = py::none(), py::arg("seed") = py::none(),
      py::arg("noise") = py::none(), py::arg("num_threads") = 1,
      "Annealed GW placement: a start, pair swaps, simulated annealing, restarts. Options not "
      "given take the schedule that runs (anneal_schedule, AnnealOptions in anneal.hpp).");
  // unit-test entry points of the annealing's parts (tests/test_anneal.py)
  m.def(
      "swap_local_search",
      [](carray<double> C1, const GridCost& grid, py::array assign_in, int64_t max_passes,
         Threads num_threads) {
        check_c1(C1, grid);
        const int64_t n = C1.shape(0);
        SwapOutput out;
        out.assign = feasible_copy(assign_in, n, grid);
        {
          py::gil_scoped_release release;
          GWProblem p = make_problem(C1.data(), n, grid, num_threads);
          out.stats = swap_local_search(p, out.assign.data(), max_passes, num_threads);
        }
        return out;
      },
      py::arg("C1"), py::arg("grid"), py::arg("assign"), py::arg("max_passes") = 50,
      py::arg("num_threads") = 1,
      "Pair-swap descent of the GW objective from a feasible assignment: SwapResult.");
  m.def(
      "swap_anneal",
      [](carray<double> C1, const GridCost& grid, py::array assign_in, int64_t proposals,
         double t_start, double t_end, uint64_t seed, Threads num_threads, int64_t neighbours,
         int64_t gather_min_genes, int64_t lookup_min_genes, int64_t class_major_max_bytes) {
        check_c1(C1, grid);
        const int64_t n = C1.shape(0);
        SwapAnnealOutput out;
        out.assign = feasible_copy(assign_in, n, grid);
        {
          py::gil_scoped_release release;
          GWProblem p = make_problem(C1.data(), n, grid, num_threads);
          out.stats = swap_anneal(p, out.assign.data(), proposals, t_start, t_end, seed,
                                  num_threads, neighbours, gather_min_genes, lookup_min_genes,
                                  class_major_max_bytes);
        }
        return out;
      },
      py::arg("C1"), py::arg("grid"), py::arg("assign"), py::arg("proposals"),
      py::arg("t_start") = 0.1, py::arg("t_end") = 0.001, py::arg("seed") = 0,
      py::arg("num_threads") = 1, py::arg("neighbours") = 0,
      py::arg("gather_min_genes") = kGatherMinGenes,
      py::arg("lookup_min_genes") = kLookupMinGenes,
      py::arg("class_major_max_bytes") = kClassMajorMaxBytes,
      "Simulated annealing over pair swaps from a feasible assignment: SwapAnnealResult.");
}
