#include <pybind11/stl.h>

#include <optional>

#include "common.hpp"
#include "genomap/grid.hpp"

using genomap::GridCost;

void register_grid(py::module_& m) {
  py::class_<GridCost>(m, "GridCost", "Pixel classes and class costs of a genomap grid.")
      .def_readonly("metric", &GridCost::metric)
      .def_readonly("rows", &GridCost::rows)
      .def_readonly("cols", &GridCost::cols)
      .def_readonly("n_used", &GridCost::n_used)
      .def_readonly("n_classes", &GridCost::n_classes)
      .def_readonly("mean_cost", &GridCost::mean_cost)
      .def_property_readonly(
          "products", [](const GridCost& g) { return std::string(g.products->kind()); },
          "How products with the log-cost are taken: 'blas' or 'fft'.")
      .def_property_readonly(
          "uses_fft", [](const GridCost& g) { return std::string(g.products->kind()) == "fft"; })
      .def_property_readonly("has_coarse_levels",
                             [](const GridCost& g) { return static_cast<bool>(g.coarsen); })
      .def_property_readonly("class_of_pixel", [](const GridCost& g) { return to_numpy(g.class_of_pixel); })
      .def_property_readonly("capacity", [](const GridCost& g) { return to_numpy(g.capacity); })
      .def_property_readonly("class_cost", [](const GridCost& g) {
        return to_numpy(g.dense_cost(), g.n_classes, g.n_classes);
      })
      .def_property_readonly("log_cost", [](const GridCost& g) {
        return to_numpy(g.dense_log_cost(), g.n_classes, g.n_classes);
      })
      .def_property_readonly(
          "log_cost_table",
          [](const GridCost& g) -> std::optional<py::array_t<double>> {
            std::vector<double> table;
            if (!g.products->displacement_log_table(table)) return std::nullopt;
            return to_numpy(table, 2 * g.cols - 1, 2 * g.rows - 1);
          },
          "FFT grids: the log-cost by displacement, (2 cols - 1, 2 rows - 1) float64, entry "
          "[dc + cols - 1, dr + rows - 1] for pixels dr rows and dc columns apart; None for "
          "grids without one.")
      .def_property_readonly("stores_dense_cost", [](const GridCost& g) {
        return g.products->stores_dense_cost();
      });
  m.def("radial_grid", &genomap::radial_grid, py::arg("rows"), py::arg("cols"), py::arg("n_used"));
  m.def("euclidean_grid", &genomap::euclidean_grid, py::arg("rows"), py::arg("cols"),
        py::arg("n_used"), py::arg("fft") = false,
        "fft: GW products by 2-D FFT convolution instead of BLAS matrix products.");
  // unit-test entry point: the tile grids of the multilevel solver (tests/test_multilevel.py)
  m.def("euclidean_tiles", &genomap::euclidean_tiles, py::arg("rows"), py::arg("cols"),
        py::arg("n_used"), py::arg("tile"), py::arg("fft") = false,
        "The euclidean grid in tile x tile pixel tiles (a coarse level of the multilevel solver).");
  m.def(
      "dense_grid",
      [](carray<double> cost, int64_t rows, int64_t cols) {
        require_ndim(cost, 2, "grid cost");
        if (cost.shape(0) != cost.shape(1)) throw std::invalid_argument("grid cost must be square");
        return genomap::dense_grid(cost.data(), cost.shape(0), rows, cols);
      },
      py::arg("cost"), py::arg("rows"), py::arg("cols"));
}
