#include "common.hpp"
#include "genomap/blas.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "genomap_fast C++ core: grid costs, interaction matrix, GW solvers, rasterisation";
#ifdef GENOMAP_VERSION
  m.attr("__version__") = GENOMAP_VERSION;
#endif
  m.def(
      "set_dgemm",
      [](std::uintptr_t address) {
        genomap::set_dgemm(reinterpret_cast<genomap::dgemm_fn>(address));
      },
      py::arg("address"),
      "Use the Fortran-ABI dgemm at this address (SciPy's BLAS) for dense products; 0 disables.");
  register_results(m);
  register_grid(m);
  register_interaction(m);
  register_gw(m);
  register_raster(m);
  register_anneal(m);
}
