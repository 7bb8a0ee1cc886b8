// Helpers shared by the register_<area>.cpp files: array conversion and checks.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "genomap/grid.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace py = pybind11;

// A `num_threads` argument, checked and sized once at the binding boundary: a Python integer
// >= 1 of any size (bool, float and str are refused with TypeError, values < 1 with ValueError
// naming num_threads), used as min(value, processors available). More OpenMP threads
// than processors never speeds up these kernels, and a team of millions of threads fails to start
// (the process died in thread creation); results do not depend on the thread count.
struct Threads {
  int value = 1;
  operator int() const { return value; }  // NOLINT: passes straight on to the core's `int nt`
};

inline int available_processors() {
#ifdef _OPENMP
  return std::max(1, omp_get_num_procs());
#else
  return 1;
#endif
}

namespace pybind11 {
namespace detail {
template <>
struct type_caster<Threads> {
  PYBIND11_TYPE_CASTER(Threads, const_name("int"));
  bool load(handle src, bool) {
    if (!src || PyBool_Check(src.ptr()) || PyFloat_Check(src.ptr()) || !PyIndex_Check(src.ptr()))
      throw type_error("num_threads must be an integer, got " +
                       std::string(py::str(py::type::handle_of(src).attr("__name__"))));
    object index = reinterpret_steal<object>(PyNumber_Index(src.ptr()));
    if (!index) throw error_already_set();
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(index.ptr(), &overflow);
    if (overflow < 0 || (overflow == 0 && v < 1))
      throw value_error("num_threads must be a positive integer, got " +
                        std::string(py::str(index)));
    value.value = overflow > 0 ? available_processors()
                               : static_cast<int>(std::min<long long>(v, available_processors()));
    return true;
  }
  static handle cast(Threads t, return_value_policy, handle) { return PyLong_FromLong(t.value); }
};
}  // namespace detail
}  // namespace pybind11

template <class T>
using carray = py::array_t<T, py::array::c_style | py::array::forcecast>;

inline void require_ndim(const py::array& a, int ndim, const char* name) {
  if (a.ndim() != ndim)
    throw std::invalid_argument(std::string(name) + " must be " + std::to_string(ndim) +
                                "-dimensional, got " + std::to_string(a.ndim()));
}

// A CSR matrix handed in as three raw arrays: checked in full before any kernel reads it, since
// a wrong indptr or index would make the kernels read or write out of bounds.
// indptr: rows + 1 non-decreasing offsets from >= 0 up to at most the lengths of indices and
// data; indices in [0, n_cols) (and strictly increasing within a row when `sorted`).
template <class Idx>
void check_csr(const Idx* ip, int64_t rows, const Idx* ix, int64_t n_indices, int64_t n_data,
               int64_t n_cols, bool sorted, const char* what) {
  const std::string w(what);
  if (ip[0] < 0) throw std::invalid_argument(w + ": indptr[0] is negative");
  if (n_indices != n_data)
    throw std::invalid_argument(w + ": indices and data have different lengths (" +
                                std::to_string(n_indices) + " and " + std::to_string(n_data) + ")");
  if (static_cast<int64_t>(ip[rows]) > n_indices)
    throw std::invalid_argument(w + ": indptr[-1] = " + std::to_string(ip[rows]) +
                                " exceeds the " + std::to_string(n_indices) + " stored values");
  // all of indptr first: a row's end may only be trusted once every offset is known in range
  for (int64_t r = 0; r < rows; ++r)
    if (ip[r + 1] < ip[r]) throw std::invalid_argument(w + ": indptr must be non-decreasing");
  for (int64_t r = 0; r < rows; ++r) {
    for (Idx p = ip[r]; p < ip[r + 1]; ++p) {
      if (ix[p] < 0 || static_cast<int64_t>(ix[p]) >= n_cols)
        throw std::invalid_argument(w + ": column index " + std::to_string(ix[p]) +
                                    " out of range [0, " + std::to_string(n_cols) + ")");
      if (sorted && p > ip[r] && ix[p] <= ix[p - 1])
        throw std::invalid_argument(w + " needs sorted, unique column indices per row");
    }
  }
}

inline void require_vector(const py::array& a, py::ssize_t n, const char* name) {
  if (a.ndim() != 1 || a.shape(0) != n)
    throw std::invalid_argument(std::string(name) + " must be 1-dimensional of length " +
                                std::to_string(n));
}

template <class T>
py::array_t<T> to_numpy(const std::vector<T>& v) {
  py::array_t<T> out(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

template <class T>
py::array_t<T> to_numpy(const std::vector<T>& v, py::ssize_t rows, py::ssize_t cols) {
  py::array_t<T> out({rows, cols});
  std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

void register_grid(py::module_& m);
void register_interaction(py::module_& m);
void register_gw(py::module_& m);
void register_raster(py::module_& m);

// A read-only numpy view of v (no copy) that keeps `owner` (the Python object holding v) alive.
template <class T>
py::array_t<T> readonly_view(const std::vector<T>& v, py::handle owner,
                             std::vector<py::ssize_t> shape = {}) {
  if (shape.empty()) shape = {static_cast<py::ssize_t>(v.size())};
  py::array_t<T> out = v.empty() ? py::array_t<T>(shape) : py::array_t<T>(shape, v.data(), owner);
  out.attr("setflags")(py::arg("write") = false);
  return out;
}

// The typed result object behind a Python `self` (register_results, register_anneal).
template <class R>
const R& self_as(const py::object& self) {
  return self.cast<const R&>();
}

// The interaction matrix of a GW problem on `grid`: square, one row per used pixel, finite and
// non-negative.
inline void check_c1(const carray<double>& C1, const genomap::GridCost& grid) {
  require_ndim(C1, 2, "interaction matrix");
  if (C1.shape(0) != C1.shape(1)) throw std::invalid_argument("interaction matrix must be square");
  if (C1.shape(0) != grid.n_used)
    throw std::invalid_argument("interaction matrix has " + std::to_string(C1.shape(0)) +
                                " genes but the grid uses " + std::to_string(grid.n_used) +
                                " pixels");
  // a NaN or negative distance would give a NaN objective (a silent NaN placement)
  const double* c = C1.data();
  for (py::ssize_t i = 0, nn = C1.size(); i < nn; ++i)
    if (!(c[i] >= 0.0) || !std::isfinite(c[i]))
      throw std::invalid_argument("interaction matrix must be finite and non-negative");
}

void register_results(py::module_& m);

void register_anneal(py::module_& m);
