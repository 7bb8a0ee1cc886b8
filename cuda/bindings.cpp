// genomap_fast._cuda: the CUDA backend. Importing it makes no CUDA call (the runtime is linked
// statically and loads the driver on first use), so it imports on machines without a GPU; the
// host_* functions run the kernels' bodies on the CPU and need no device at all.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "gpu.hpp"

namespace py = pybind11;
using namespace genomap::gpu;

template <class T>
using carray = py::array_t<T, py::array::c_style | py::array::forcecast>;
template <class T>
using outarray = py::array_t<T, py::array::c_style>;

namespace {

DType dtype_of(const std::string& name) {
  if (name == "float32") return DType::f32;
  if (name == "float64") return DType::f64;
  if (name == "float16") return DType::f16;
  if (name == "int32") return DType::i32;
  if (name == "int64") return DType::i64;
  throw std::invalid_argument("unsupported dtype " + name);
}

template <class T>
const T* ptr(std::uintptr_t p) {
  return reinterpret_cast<const T*>(p);
}

template <class In, class Out>
int64_t host_dense(py::array x_in, carray<int64_t> dest, double scale, py::array out_in) {
  auto x = x_in.cast<carray<In>>();
  auto out = py::cast<outarray<Out>>(out_in);
  if (x.ndim() != 2 || dest.ndim() != 1 || dest.shape(0) != x.shape(1))
    throw std::invalid_argument("x must be cells x genes with one destination per gene");
  const int64_t cells = x.shape(0);
  if (out.shape(0) != cells) throw std::invalid_argument("output has the wrong cell count");
  return host_raster_dense<In, Out>(x.data(), cells, x.shape(1), dest.data(), scale,
                                    out.mutable_data(), out.size() / std::max<int64_t>(cells, 1));
}

template <class In, class Idx, class Out>
int64_t host_csr(py::array ip_in, py::array ix_in, py::array data_in, carray<int64_t> dest,
                 double scale, py::array out_in) {
  auto ip = ip_in.cast<carray<Idx>>();
  auto ix = ix_in.cast<carray<Idx>>();
  auto data = data_in.cast<carray<In>>();
  auto out = py::cast<outarray<Out>>(out_in);
  const int64_t cells = ip.shape(0) - 1;
  if (out.shape(0) != cells) throw std::invalid_argument("output has the wrong cell count");
  return host_raster_csr<In, Idx, Out>(ip.data(), ix.data(), data.data(), cells, dest.data(),
                                       scale, out.mutable_data(),
                                       out.size() / std::max<int64_t>(cells, 1));
}

bool is_f32(const py::array& a) { return py::dtype::of<float>().equal(a.dtype()); }
bool is_i32(const py::array& a) { return py::dtype::of<int32_t>().equal(a.dtype()); }

// The Sinkhorn bindings (device kernels, or their bodies on the host): checks the arguments,
// runs solve(n, D, out) without the GIL into a new (n, D) array and returns
// (class mass, iterations, marginal error).
template <class Solve>
py::tuple sinkhorn_call(const carray<double>& M, const carray<int64_t>& capacity, Solve&& solve) {
  if (M.ndim() != 2) throw std::invalid_argument("M must be 2-D (genes, classes)");
  const int64_t n = M.shape(0), D = M.shape(1);
  if (capacity.ndim() != 1 || capacity.shape(0) != D)
    throw std::invalid_argument("need one capacity per class");
  py::array_t<double> out({n, D});
  double* o = out.mutable_data();
  SinkhornResult r;
  {
    py::gil_scoped_release release;
    r = solve(n, D, o);
  }
  return py::make_tuple(out, r.n_iter, r.marginal_error);
}

}  // namespace

void register_gw(py::module_& m);  // register_gw.cpp

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "genomap_fast CUDA backend (kernels in cuda/); host_* run the kernel bodies on the CPU";
#ifdef GENOMAP_CUDA_ARCHITECTURES
  m.attr("architectures") = GENOMAP_CUDA_ARCHITECTURES;
#endif
#ifdef GENOMAP_CUDA_COMPILER_VERSION
  m.attr("compiler_version") = GENOMAP_CUDA_COMPILER_VERSION;
#endif
  m.def(
      "device_count",
      []() {
        std::string reason;
        const int n = device_count(&reason);
        return py::make_tuple(n, reason);
      },
      "(number of CUDA devices, reason when 0). Loads the CUDA driver on first call.");
  m.def("device_name", &device_name, py::arg("device") = 0);
  m.def("runtime_version", &runtime_version, "CUDA runtime version the module was built with");
  m.def("driver_version", &driver_version, "installed driver's CUDA version (0 without a driver)");

  // ---- device-pointer entry points (pointers from __cuda_array_interface__ / DLPack) ----
  m.def(
      "raster_dense",
      [](std::uintptr_t x, const std::string& in, int64_t cells, int64_t genes, int64_t ld_x,
         std::uintptr_t dest, double scale, std::uintptr_t out, const std::string& out_dtype,
         int64_t image_size) {
        py::gil_scoped_release release;
        return raster_dense(ptr<void>(x), dtype_of(in), cells, genes, ld_x, ptr<int64_t>(dest),
                            scale, reinterpret_cast<void*>(out), dtype_of(out_dtype),
                            image_size);
      },
      py::arg("x"), py::arg("dtype"), py::arg("cells"), py::arg("genes"), py::arg("ld_x"),
      py::arg("dest"), py::arg("scale"), py::arg("out"), py::arg("out_dtype"),
      py::arg("image_size"),
      "Device gather: out[c, dest[g]] = x[c, g] * scale (out zeroed first). Returns the first "
      "cell with NaN/inf, or -1.");
  m.def(
      "raster_csr",
      [](std::uintptr_t indptr, std::uintptr_t indices, const std::string& idx,
         std::uintptr_t data, const std::string& in, int64_t cells, int64_t nnz,
         std::uintptr_t dest, double scale, std::uintptr_t out, const std::string& out_dtype,
         int64_t image_size) {
        py::gil_scoped_release release;
        return raster_csr(ptr<void>(indptr), ptr<void>(indices), dtype_of(idx), ptr<void>(data),
                          dtype_of(in), cells, nnz, ptr<int64_t>(dest), scale,
                          reinterpret_cast<void*>(out), dtype_of(out_dtype), image_size);
      },
      py::arg("indptr"), py::arg("indices"), py::arg("index_dtype"), py::arg("data"),
      py::arg("dtype"), py::arg("cells"), py::arg("nnz"), py::arg("dest"), py::arg("scale"),
      py::arg("out"), py::arg("out_dtype"), py::arg("image_size"));
  m.def(
      "raster_dense_streamed",
      [](py::array x, carray<int64_t> dest, double scale, py::array out, int64_t chunk_rows) {
        if (x.ndim() != 2 || !(x.flags() & py::array::c_style))
          throw std::invalid_argument("x must be a C-contiguous cells x genes array");
        if (!(out.flags() & py::array::c_style) || out.shape(0) != x.shape(0))
          throw std::invalid_argument("out must be C-contiguous with one image per cell");
        if (dest.ndim() != 1 || dest.shape(0) != x.shape(1))
          throw std::invalid_argument("need one destination per gene");
        const DType in = dtype_of(py::str(x.dtype()));
        const DType ot = dtype_of(py::str(out.dtype()));
        const int64_t cells = x.shape(0), genes = x.shape(1);
        const int64_t image = out.size() / std::max<int64_t>(cells, 1);
        const void* xp = x.data();
        void* op = out.mutable_data();
        py::gil_scoped_release release;
        return raster_dense_streamed(xp, in, cells, genes, dest.data(), scale, op, ot, image,
                                     chunk_rows);
      },
      py::arg("x"), py::arg("dest"), py::arg("scale"), py::arg("out"), py::arg("chunk_rows"),
      "Host arrays through the device in blocks of chunk_rows cells.");

  py::class_<DeviceAccumulator>(m, "DeviceAccumulator",
                                "The C++ core's CorrelationAccumulator block fold on the device.")
      .def(py::init<int64_t, int64_t>(), py::arg("n_genes"), py::arg("max_rows"))
      .def(
          "add_host_block",
          [](DeviceAccumulator& a, py::array block) {
            // float32 blocks stay float32 (half the bytes to copy); anything else is float64
            const bool f32 = block.dtype().is(py::dtype::of<float>());
            py::array x = f32 ? py::array(block.cast<carray<float>>())
                              : py::array(block.cast<carray<double>>());
            if (x.ndim() != 2 || x.shape(1) != a.n_genes())
              throw std::invalid_argument("block must be rows x n_genes");
            const void* p = x.data();
            const int64_t rows = x.shape(0);
            py::gil_scoped_release release;
            a.add_host_block(p, f32 ? DType::f32 : DType::f64, rows);
          },
          py::arg("block"),
          "One fold step with a host block (rows x n_genes; float32 stays float32, other "
          "dtypes are read as float64).")
      .def(
          "add_device_block",
          [](DeviceAccumulator& a, std::uintptr_t x, const std::string& dtype, int64_t rows) {
            py::gil_scoped_release release;
            a.add_device_block(ptr<void>(x), dtype_of(dtype), rows);
          },
          py::arg("block"), py::arg("dtype"), py::arg("rows"))
      .def_property_readonly("n_genes", &DeviceAccumulator::n_genes)
      .def_property_readonly("count", &DeviceAccumulator::count)
      .def_property_readonly("max_rows", &DeviceAccumulator::max_rows)
      .def("state", [](DeviceAccumulator& a) {
        std::vector<double> shift, sums, cross;
        {
          py::gil_scoped_release release;
          a.state(shift, sums, cross);
        }
        const int64_t n = a.n_genes();
        py::array_t<double> s(n), t(n), c({n, n});
        std::copy(shift.begin(), shift.end(), s.mutable_data());
        std::copy(sums.begin(), sums.end(), t.mutable_data());
        std::copy(cross.begin(), cross.end(), c.mutable_data());
        return py::make_tuple(a.count(), s, t, c);
      }, "(count, shift, sums, cross) after waiting for the device; cross upper triangle valid");

  m.def(
      "sinkhorn_log",
      [](carray<double> M, carray<int64_t> capacity, double reg, int64_t max_iter,
         double stop_thr) {
        return sinkhorn_call(M, capacity, [&](int64_t n, int64_t D, double* o) {
          return sinkhorn_log(M.data(), n, D, capacity.data(), reg, max_iter, stop_thr, o);
        });
      },
      py::arg("M"), py::arg("capacity"), py::arg("reg"), py::arg("max_iter"),
      py::arg("stop_thr"),
      "Log-domain Sinkhorn on the device: (class mass (n, D), iterations, marginal error).");

  // ---- the kernels' bodies on the host (no device needed) ----
  m.def(
      "host_raster_dense",
      [](py::array x, carray<int64_t> dest, double scale, py::array out) {
        const bool in32 = is_f32(x), out32 = is_f32(out);
        if (in32 && out32) return host_dense<float, float>(x, dest, scale, out);
        if (in32) return host_dense<float, double>(x, dest, scale, out);
        if (out32) return host_dense<double, float>(x, dest, scale, out);
        return host_dense<double, double>(x, dest, scale, out);
      },
      py::arg("x"), py::arg("dest"), py::arg("scale"), py::arg("out"));
  m.def(
      "host_raster_csr",
      [](py::array ip, py::array ix, py::array data, carray<int64_t> dest, double scale,
         py::array out) {
        const bool i32 = is_i32(ip), in32 = is_f32(data), out32 = is_f32(out);
        if (i32 && in32 && out32) return host_csr<float, int32_t, float>(ip, ix, data, dest, scale, out);
        if (i32 && in32) return host_csr<float, int32_t, double>(ip, ix, data, dest, scale, out);
        if (i32 && out32) return host_csr<double, int32_t, float>(ip, ix, data, dest, scale, out);
        if (i32) return host_csr<double, int32_t, double>(ip, ix, data, dest, scale, out);
        if (in32 && out32) return host_csr<float, int64_t, float>(ip, ix, data, dest, scale, out);
        if (in32) return host_csr<float, int64_t, double>(ip, ix, data, dest, scale, out);
        if (out32) return host_csr<double, int64_t, float>(ip, ix, data, dest, scale, out);
        return host_csr<double, int64_t, double>(ip, ix, data, dest, scale, out);
      },
      py::arg("indptr"), py::arg("indices"), py::arg("data"), py::arg("dest"), py::arg("scale"),
      py::arg("out"));
  m.def(
      "host_block_fold",
      [](carray<double> x, int64_t block_rows) {
        if (x.ndim() != 2 || block_rows < 1)
          throw std::invalid_argument("x must be 2-D and block_rows positive");
        const int64_t rows = x.shape(0), n = x.shape(1);
        py::array_t<double> shift(n), sums(n), cross({n, n});
        std::fill(cross.mutable_data(), cross.mutable_data() + n * n, 0.0);
        host_block_fold(x.data(), rows, n, block_rows, shift.mutable_data(),
                        sums.mutable_data(), cross.mutable_data());
        return py::make_tuple(rows, shift, sums, cross);
      },
      py::arg("x"), py::arg("block_rows"),
      "(count, shift, sums, cross) of the block fold run by the device kernels' bodies.");
  m.def(
      "host_sinkhorn_log",
      [](carray<double> M, carray<int64_t> capacity, double reg, int64_t max_iter,
         double stop_thr) {
        return sinkhorn_call(M, capacity, [&](int64_t n, int64_t D, double* o) {
          return host_sinkhorn_log(M.data(), n, D, capacity.data(), reg, max_iter, stop_thr, o);
        });
      },
      py::arg("M"), py::arg("capacity"), py::arg("reg"), py::arg("max_iter"),
      py::arg("stop_thr"));

  register_gw(m);
}
