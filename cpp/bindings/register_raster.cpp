#include "common.hpp"
#include "genomap/raster.hpp"

namespace {

// out: (cells, image) C-contiguous, writeable; dest: one pixel in [-1, image) per gene (column),
// no pixel twice.
void check_out_and_dest(const py::array& out, const carray<int64_t>& dest, int64_t cells) {
  if (out.ndim() != 2) throw std::invalid_argument("output must be 2-dimensional (cells, pixels)");
  if (!(out.flags() & py::array::c_style)) throw std::invalid_argument("output must be C-contiguous");
  if (!out.writeable()) throw std::invalid_argument("output is read-only");
  if (out.shape(0) != cells) throw std::invalid_argument("output has the wrong cell count");
  if (dest.ndim() != 1) throw std::invalid_argument("dest must be 1-dimensional");
  const int64_t image = out.shape(1);
  std::vector<bool> taken(image, false);
  for (py::ssize_t g = 0; g < dest.shape(0); ++g) {
    const int64_t d = dest.data()[g];
    if (d < -1 || d >= image)
      throw std::invalid_argument("dest holds pixel " + std::to_string(d) +
                                  " outside the image of " + std::to_string(image) + " pixels");
    if (d >= 0 && taken[d])
      throw std::invalid_argument("dest gives pixel " + std::to_string(d) + " to two genes");
    if (d >= 0) taken[d] = true;
  }
}

template <class In, class Out>
int64_t dense_impl(py::array x_in, carray<int64_t> dest, double scale, py::array out_in, int nt) {
  auto x = x_in.cast<carray<In>>();
  auto out = py::cast<py::array_t<Out, py::array::c_style>>(out_in);
  const int64_t cells = x.shape(0), genes = x.shape(1);
  const int64_t image = out.shape(1);
  const In* xp = x.data();
  Out* op = out.mutable_data();
  py::gil_scoped_release release;
  return genomap::rasterize_dense<In, Out>(xp, cells, genes, genes, dest.data(), scale, op, image, nt);
}

template <class In, class Idx, class Out>
int64_t csr_impl(py::array indptr_in, py::array indices_in, py::array data_in, carray<int64_t> dest,
              double scale, py::array out_in, int nt) {
  auto indptr = indptr_in.cast<carray<Idx>>();
  auto indices = indices_in.cast<carray<Idx>>();
  auto data = data_in.cast<carray<In>>();
  auto out = py::cast<py::array_t<Out, py::array::c_style>>(out_in);
  if (indptr.ndim() != 1 || indices.ndim() != 1 || data.ndim() != 1)
    throw std::invalid_argument("indptr, indices and data must be 1-dimensional");
  const int64_t cells = indptr.shape(0) - 1;
  const int64_t image = out.shape(1);
  const Idx* ip = indptr.data();
  const Idx* ix = indices.data();
  check_csr(ip, cells, ix, indices.shape(0), data.shape(0), dest.shape(0), false, "CSR data");
  const In* dp = data.data();
  Out* op = out.mutable_data();
  py::gil_scoped_release release;
  return genomap::rasterize_csr<In, Idx, Out>(ip, ix, dp, cells, dest.data(), scale, op, image, nt);
}

}  // namespace

void register_raster(py::module_& m) {
  m.def(
      "rasterize_dense",
      [](py::array x, carray<int64_t> dest, double scale, py::array out, Threads num_threads) {
        require_ndim(x, 2, "data");
        if (dest.ndim() != 1 || dest.shape(0) != x.shape(1))
          throw std::invalid_argument("need one destination per gene");
        check_out_and_dest(out, dest, x.shape(0));
        const bool in32 = py::dtype::of<float>().equal(x.dtype());
        const bool out32 = py::dtype::of<float>().equal(out.dtype());
        if (!out32 && !py::dtype::of<double>().equal(out.dtype()))
          throw std::invalid_argument("output must be float32 or float64");
        if (in32 && out32) return dense_impl<float, float>(x, dest, scale, out, num_threads);
        else if (in32) return dense_impl<float, double>(x, dest, scale, out, num_threads);
        else if (out32) return dense_impl<double, float>(x, dest, scale, out, num_threads);
        else return dense_impl<double, double>(x, dest, scale, out, num_threads);
      },
      py::arg("x"), py::arg("dest"), py::arg("scale"), py::arg("out"), py::arg("num_threads") = 1,
      "out[c, dest[g]] = x[c, g] * scale for every placed gene; other pixels are zero. Returns the "
      "first cell with a NaN/inf value, or -1.");
  m.def(
      "rasterize_csr",
      [](py::array indptr, py::array indices, py::array data, carray<int64_t> dest, double scale,
         py::array out, Threads num_threads) {
        if (indptr.ndim() != 1 || indptr.shape(0) < 1)
          throw std::invalid_argument("indptr must be 1-dimensional with at least one entry");
        check_out_and_dest(out, dest, indptr.shape(0) - 1);
        const bool in32 = py::dtype::of<float>().equal(data.dtype());
        const bool out32 = py::dtype::of<float>().equal(out.dtype());
        const bool idx64 = py::dtype::of<int64_t>().equal(indices.dtype());
        if (idx64) {
          if (in32 && out32) return csr_impl<float, int64_t, float>(indptr, indices, data, dest, scale, out, num_threads);
          else if (in32) return csr_impl<float, int64_t, double>(indptr, indices, data, dest, scale, out, num_threads);
          else if (out32) return csr_impl<double, int64_t, float>(indptr, indices, data, dest, scale, out, num_threads);
          else return csr_impl<double, int64_t, double>(indptr, indices, data, dest, scale, out, num_threads);
        } else {
          if (in32 && out32) return csr_impl<float, int32_t, float>(indptr, indices, data, dest, scale, out, num_threads);
          else if (in32) return csr_impl<float, int32_t, double>(indptr, indices, data, dest, scale, out, num_threads);
          else if (out32) return csr_impl<double, int32_t, float>(indptr, indices, data, dest, scale, out, num_threads);
          else return csr_impl<double, int32_t, double>(indptr, indices, data, dest, scale, out, num_threads);
        }
      },
      py::arg("indptr"), py::arg("indices"), py::arg("data"), py::arg("dest"), py::arg("scale"),
      py::arg("out"), py::arg("num_threads") = 1,
      "CSR rows rasterised without densifying: out[c, dest[j]] = data * scale. Returns the first "
      "cell with a NaN/inf value, or -1.");
}
