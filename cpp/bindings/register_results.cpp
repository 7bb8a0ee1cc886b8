#include <sstream>

#include "common.hpp"
#include "genomap/multilevel.hpp"
#include "results.hpp"

using namespace genomap;

namespace {

std::string exact_repr(const ExactResult& r, int64_t n_iter, const char* name) {
  std::ostringstream s;
  s.precision(17);
  s << name << "(n_genes=" << r.assign.size() << ", objective=" << r.objective
    << ", n_iter=" << n_iter << ", converged=" << (r.converged ? "True" : "False") << ")";
  return s.str();
}

}  // namespace

void register_results(py::module_& m) {
  py::class_<ExactResult>(m, "ExactResult",
                          "Exact GW placement (solve_gw_exact): read-only; arrays are read-only.")
      .def_property_readonly(
          "assign", [](py::object s) { return readonly_view(self_as<ExactResult>(s).assign, s); },
          "(n,) int64: class of each gene, the lowest objective seen")
      .def_property_readonly(
          "objective", [](const ExactResult& r) { return r.objective; },
          "KL-loss GW objective of `assign`")
      .def_property_readonly(
          "n_iter", [](const ExactResult& r) { return r.n_iter; },
          "transport problems solved (the reference's GW iterations)")
      .def_property_readonly(
          "converged", [](const ExactResult& r) { return r.converged; },
          "stopped because an assignment repeated (fixed point or cycle), not at max_iter")
      .def_property_readonly(
          "trace", [](py::object s) { return readonly_view(self_as<ExactResult>(s).trace, s); },
          "(n_iter - converged,) float64: objective of each assignment evaluated (a converged run's "
          "last solve repeated an earlier one)")
      .def_property_readonly(
          "n_augment", [](const ExactResult& r) { return r.n_augment; },
          "augmenting paths over all transport solves")
      .def_property_readonly(
          "moved", [](py::object s) { return readonly_view(self_as<ExactResult>(s).moved, s); },
          "(n_iter - 1,) int64: genes that changed class at each step")
      .def_property_readonly(
          "scans", [](py::object s) { return readonly_view(self_as<ExactResult>(s).scans, s); },
          "(n_iter - 1,) int64: Dijkstra steps of each step's transport solve")
      .def_property_readonly(
          "seconds",
          [](py::object s) { return readonly_view(self_as<ExactResult>(s).seconds, s); },
          "(n_iter - 1,) float64: wall time of each step")
      .def_property_readonly(
          "potentials",
          [](py::object s) { return readonly_view(self_as<ExactResult>(s).potentials, s); },
          "(n_classes,) float64: class potentials of the last transport solve")
      .def("__repr__",
           [](const ExactResult& r) { return exact_repr(r, r.n_iter, "ExactResult"); });

  py::class_<MultilevelResult>(
      m, "MultilevelResult",
      "Coarse-to-fine exact GW placement (solve_gw_multilevel): the finest level's result with "
      "the levels' counts. Read-only; arrays are read-only.")
      .def_property_readonly(
          "finest", [](const MultilevelResult& r) -> const ExactResult& { return r.finest; },
          py::return_value_policy::reference_internal, "the iteration on the pixel grid")
      .def_property_readonly(
          "assign",
          [](py::object s) { return readonly_view(self_as<MultilevelResult>(s).finest.assign, s); },
          "(n,) int64: pixel (class) of each gene")
      .def_property_readonly(
          "objective", [](const MultilevelResult& r) { return r.finest.objective; },
          "KL-loss GW objective of `assign`")
      .def_property_readonly(
          "n_iter",
          [](const MultilevelResult& r) {
            int64_t total = 0;
            for (int64_t it : r.level_iter) total += it;
            return total;
          },
          "transport problems solved over all levels")
      .def_property_readonly(
          "finest_iter", [](const MultilevelResult& r) { return r.finest.n_iter; },
          "transport problems solved at the pixel level")
      .def_property_readonly(
          "converged", [](const MultilevelResult& r) { return r.finest.converged; },
          "the pixel level stopped because an assignment repeated")
      .def_property_readonly(
          "trace",
          [](py::object s) { return readonly_view(self_as<MultilevelResult>(s).finest.trace, s); },
          "(finest_iter - converged,) float64: objective of each pixel-level assignment")
      .def_property_readonly(
          "n_augment", [](const MultilevelResult& r) { return r.finest.n_augment; },
          "augmenting paths of the pixel level")
      .def_property_readonly(
          "tiles", [](py::object s) { return readonly_view(self_as<MultilevelResult>(s).tiles, s); },
          "(levels,) int64: tile size of each level, coarsest first, ending with 1")
      .def_property_readonly(
          "level_iter",
          [](py::object s) { return readonly_view(self_as<MultilevelResult>(s).level_iter, s); },
          "(levels,) int64: transport problems solved at each level")
      .def_property_readonly(
          "level_seconds",
          [](py::object s) { return readonly_view(self_as<MultilevelResult>(s).level_seconds, s); },
          "(levels,) float64: wall time of each level")
      .def("__repr__", [](const MultilevelResult& r) {
        int64_t total = 0;
        for (int64_t it : r.level_iter) total += it;
        return exact_repr(r.finest, total, "MultilevelResult");
      });

  py::class_<EntropicOutput>(m, "EntropicResult",
                             "Entropic GW (solve_gw_entropic): read-only; arrays are read-only.")
      .def_property_readonly(
          "coupling",
          [](py::object s) {
            const auto& o = self_as<EntropicOutput>(s);
            return readonly_view(o.result.coupling, s, {o.n_genes, o.n_classes});
          },
          "(n, n_classes) float64: the coupling summed over the pixels of each class")
      .def_property_readonly(
          "objective", [](const EntropicOutput& o) { return o.result.objective; },
          "KL-loss GW objective of the coupling")
      .def_property_readonly(
          "n_iter", [](const EntropicOutput& o) { return o.result.n_iter; }, "GW steps taken")
      .def_property_readonly(
          "last_change", [](const EntropicOutput& o) { return o.result.last_change; },
          "||T - T_prev||_F (pixel level) at the last check")
      .def_property_readonly(
          "sinkhorn_iters", [](const EntropicOutput& o) { return o.result.sinkhorn_iters; },
          "Sinkhorn iterations over all steps")
      .def("__repr__", [](const EntropicOutput& o) {
        std::ostringstream s;
        s.precision(17);
        s << "EntropicResult(n_genes=" << o.n_genes << ", n_classes=" << o.n_classes
          << ", objective=" << o.result.objective << ", n_iter=" << o.result.n_iter << ")";
        return s.str();
      });

  py::class_<WithinClassOutput>(
      m, "WithinClassResult",
      "Pixels within classes (place_within_classes): read-only; arrays are read-only.")
      .def_property_readonly(
          "pixel",
          [](py::object s) { return readonly_view(self_as<WithinClassOutput>(s).pixel, s); },
          "(n,) int64: flat pixel index (reference order) of each gene")
      .def_property_readonly(
          "rounds", [](const WithinClassOutput& o) { return o.stats.rounds; },
          "refinement rounds that moved genes")
      .def_property_readonly(
          "euclidean_before", [](const WithinClassOutput& o) { return o.stats.euclidean_before; },
          "2-D (euclidean) GW linear term before refinement (larger is better)")
      .def_property_readonly(
          "euclidean_after", [](const WithinClassOutput& o) { return o.stats.euclidean_after; },
          "2-D (euclidean) GW linear term after refinement")
      .def("__repr__", [](const WithinClassOutput& o) {
        std::ostringstream s;
        s.precision(17);
        s << "WithinClassResult(n_genes=" << o.pixel.size() << ", rounds=" << o.stats.rounds
          << ", euclidean_after=" << o.stats.euclidean_after << ")";
        return s.str();
      });

  py::class_<TransportOutput>(
      m, "TransportResult",
      "Exact class transport (solve_transport): read-only; arrays are read-only.")
      .def_property_readonly(
          "assign",
          [](py::object s) { return readonly_view(self_as<TransportOutput>(s).assign, s); },
          "(n,) int64: class (column) of each row")
      .def_property_readonly(
          "cost", [](const TransportOutput& o) { return o.stats.cost; },
          "sum_i cost[i, assign[i]]")
      .def_property_readonly(
          "potentials",
          [](py::object s) { return readonly_view(self_as<TransportOutput>(s).potentials, s); },
          "(D,) float64: class dual potentials (a warm start for a similar cost)")
      .def_property_readonly(
          "n_augment", [](const TransportOutput& o) { return o.stats.n_augment; },
          "augmenting paths")
      .def_property_readonly(
          "n_scans", [](const TransportOutput& o) { return o.stats.n_scans; },
          "Dijkstra steps over all paths")
      .def_property_readonly(
          "n_greedy", [](const TransportOutput& o) { return o.stats.n_greedy; },
          "rows assigned before any path search")
      .def_property_readonly(
          "n_kept", [](const TransportOutput& o) { return o.stats.n_kept; },
          "rows kept from `previous`")
      .def("__repr__", [](const TransportOutput& o) {
        std::ostringstream s;
        s.precision(17);
        s << "TransportResult(n_rows=" << o.assign.size() << ", cost=" << o.stats.cost
          << ", n_augment=" << o.stats.n_augment << ")";
        return s.str();
      });
}
