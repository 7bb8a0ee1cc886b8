// Helpers shared by the register_<area>.cpp files: array conversion and checks.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace py = pybind11;

template <class T>
using carray = py::array_t<T, py::array::c_style | py::array::forcecast>;

inline void require_ndim(const py::array& a, int ndim, const char* name) {
  if (a.ndim() != ndim)
    throw std::invalid_argument(std::string(name) + " must be " + std::to_string(ndim) +
                                "-dimensional, got " + std::to_string(a.ndim()));
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
void register_anneal(py::module_& m);
