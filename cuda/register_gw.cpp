// genomap_fast._cuda: the GW placement on the device (gw_exact / gw_entropic), its host twins
// (host_gw_exact / host_gw_entropic / host_auction) and the run-time loading of cuBLAS/cuFFT.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "gpu.hpp"
#include "math_libraries.hpp"

namespace py = pybind11;
using namespace genomap::gpu;

namespace {

template <class T>
using carray = py::array_t<T, py::array::c_style | py::array::forcecast>;

// The C++ core's checks of C1 (its bindings' check_c1): square, finite, non-negative. A NaN
// benefit would keep the auction bidding forever.
int64_t square(const carray<double>& C1) {
  if (C1.ndim() != 2 || C1.shape(0) != C1.shape(1))
    throw std::invalid_argument("C1 must be a square (n, n) matrix");
  const double* c = C1.data();
  for (py::ssize_t i = 0, nn = C1.size(); i < nn; ++i)
    if (!(c[i] >= 0.0) || !std::isfinite(c[i]))
      throw std::invalid_argument("interaction matrix must be finite and non-negative");
  return C1.shape(0);
}

void check_finite(const carray<double>& a, const char* what) {
  const double* x = a.data();
  for (py::ssize_t i = 0, nn = a.size(); i < nn; ++i)
    if (!std::isfinite(x[i])) throw std::invalid_argument(std::string(what) + " must be finite");
}

GridDesc grid_desc(const carray<int64_t>& capacity, const carray<double>& log_cost,
                   double mean_cost, bool fft, int64_t rows, int64_t cols) {
  GridDesc g;
  if (capacity.ndim() != 1) throw std::invalid_argument("capacity must be 1-D");
  check_finite(log_cost, "log_cost");
  g.D = capacity.shape(0);
  g.capacity.assign(capacity.data(), capacity.data() + g.D);
  g.log_cost.assign(log_cost.data(), log_cost.data() + log_cost.size());
  g.mean_cost = mean_cost;
  g.fft = fft;
  g.rows = rows;
  g.cols = cols;
  return g;
}

py::dict exact_dict(const GWExactOutcome& r) {
  py::dict d;
  d["assign"] = py::array_t<int64_t>(r.assign.size(), r.assign.data());
  d["objective"] = r.objective;
  d["n_iter"] = r.n_iter;
  d["converged"] = r.converged;
  d["trace"] = py::array_t<double>(r.trace.size(), r.trace.data());
  d["auction_rounds"] = r.auction_rounds;
  d["seconds"] = py::dict(py::arg("setup") = r.seconds_setup,
                          py::arg("products") = r.seconds_products,
                          py::arg("transport") = r.seconds_transport);
  return d;
}

py::dict entropic_dict(const GWEntropicOutcome& r, int64_t n, int64_t D) {
  py::dict d;
  py::array_t<double> T({n, D});
  std::copy(r.coupling.begin(), r.coupling.end(), T.mutable_data());
  d["coupling"] = T;
  d["objective"] = r.objective;
  d["n_iter"] = r.n_iter;
  d["last_change"] = r.last_change;
  d["sinkhorn_iters"] = r.sinkhorn_iters;
  d["seconds"] = py::dict(py::arg("setup") = r.seconds_setup,
                          py::arg("products") = r.seconds_products,
                          py::arg("transport") = r.seconds_transport);
  return d;
}

template <bool device>
py::dict exact(carray<double> C1, carray<int64_t> capacity, carray<double> log_cost,
               double mean_cost, bool fft, int64_t rows, int64_t cols, int64_t max_iter) {
  const int64_t n = square(C1);
  const GridDesc g = grid_desc(capacity, log_cost, mean_cost, fft, rows, cols);
  GWExactOutcome r;
  {
    py::gil_scoped_release release;
    r = device ? gw_exact_device(C1.data(), n, g, max_iter)
               : host_gw_exact(C1.data(), n, g, max_iter);
  }
  return exact_dict(r);
}

template <bool device>
py::dict entropic(carray<double> C1, carray<int64_t> capacity, carray<double> log_cost,
                  double mean_cost, bool fft, int64_t rows, int64_t cols, double epsilon,
                  int64_t max_iter, double tol) {
  const int64_t n = square(C1);
  const GridDesc g = grid_desc(capacity, log_cost, mean_cost, fft, rows, cols);
  GWEntropicOutcome r;
  {
    py::gil_scoped_release release;
    r = device ? gw_entropic_device(C1.data(), n, g, epsilon, max_iter, tol)
               : host_gw_entropic(C1.data(), n, g, epsilon, max_iter, tol);
  }
  return entropic_dict(r, n, g.D);
}

}  // namespace

void register_gw(py::module_& m) {
  m.def(
      "load_math_libraries",
      [](const std::vector<std::string>& dirs) {
        std::string reason;
        bool ok;
        {
          py::gil_scoped_release release;
          ok = mathlib::load(dirs, &reason);
        }
        return py::make_tuple(ok, reason);
      },
      py::arg("dirs"),
      "Loads cuBLAS and cuFFT (trying each directory, then the loader's search path): "
      "(loaded, reason when not).");
  m.def("math_library_paths", &mathlib::loaded_paths,
        "Where cuBLAS and cuFFT were loaded from (empty before a successful load).");

  const char* grid_doc =
      "Grid: capacity (D,) int64, log_cost (D, D) dense or the displacement table when fft, "
      "mean_cost, fft, rows, cols.";
  m.def("gw_exact", &exact<true>, py::arg("C1"), py::arg("capacity"), py::arg("log_cost"),
        py::arg("mean_cost"), py::arg("fft"), py::arg("rows"), py::arg("cols"),
        py::arg("max_iter"), grid_doc);
  m.def("host_gw_exact", &exact<false>, py::arg("C1"), py::arg("capacity"), py::arg("log_cost"),
        py::arg("mean_cost"), py::arg("fft"), py::arg("rows"), py::arg("cols"),
        py::arg("max_iter"), grid_doc);
  m.def("gw_entropic", &entropic<true>, py::arg("C1"), py::arg("capacity"), py::arg("log_cost"),
        py::arg("mean_cost"), py::arg("fft"), py::arg("rows"), py::arg("cols"),
        py::arg("epsilon"), py::arg("max_iter"), py::arg("tol"), grid_doc);
  m.def("host_gw_entropic", &entropic<false>, py::arg("C1"), py::arg("capacity"),
        py::arg("log_cost"), py::arg("mean_cost"), py::arg("fft"), py::arg("rows"),
        py::arg("cols"), py::arg("epsilon"), py::arg("max_iter"), py::arg("tol"), grid_doc);
  m.def(
      "host_auction",
      [](carray<double> A, carray<int64_t> capacity) {
        if (A.ndim() != 2 || capacity.ndim() != 1 || capacity.shape(0) != A.shape(1))
          throw std::invalid_argument("A must be (n, D) with one capacity per class");
        check_finite(A, "A");
        GridDesc g;
        g.D = A.shape(1);
        g.capacity.assign(capacity.data(), capacity.data() + g.D);
        g.log_cost.assign(g.D * g.D, 0.0);
        std::vector<int64_t> classes;
        int64_t rounds;
        {
          py::gil_scoped_release release;
          rounds = host_auction(A.data(), A.shape(0), g, classes);
        }
        return py::make_tuple(py::array_t<int64_t>(classes.size(), classes.data()), rounds);
      },
      py::arg("A"), py::arg("capacity"),
      "The device auction's bodies on the host: (class of each gene maximising sum A[i, "
      "class], rounds).");
}
