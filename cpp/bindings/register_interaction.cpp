#include "common.hpp"
#include "genomap/interaction.hpp"

using genomap::CorrelationAccumulator;

namespace {

template <class Idx, class Val>
void add_csr_impl(CorrelationAccumulator& acc, py::array indptr_in, py::array indices_in,
                  py::array data_in, Threads num_threads, bool as_block) {
  auto indptr = indptr_in.cast<carray<Idx>>();
  auto indices = indices_in.cast<carray<Idx>>();
  auto data = data_in.cast<carray<Val>>();
  if (indptr.ndim() != 1 || indptr.shape(0) < 1)
    throw std::invalid_argument("indptr must be 1-dimensional with at least one entry");
  if (indices.ndim() != 1 || data.ndim() != 1)
    throw std::invalid_argument("indices and data must be 1-dimensional");
  const int64_t rows = indptr.shape(0) - 1;
  const Idx* ip = indptr.data();
  const Idx* ix = indices.data();
  check_csr(ip, rows, ix, indices.shape(0), data.shape(0), acc.n_genes(), true, "CSR chunk");
  const Val* dp = data.data();
  py::gil_scoped_release release;
  if (as_block)
    acc.add_csr_block<Idx, Val>(ip, ix, dp, rows, num_threads);
  else
    acc.add_csr<Idx, Val>(ip, ix, dp, rows, num_threads);
}

// n x n doubles must be addressable: larger counts are refused before allocating.
void check_gene_count(int64_t n) {
  if (n < 1) throw std::invalid_argument("n_genes must be >= 1, got " + std::to_string(n));
  if (n > (int64_t{1} << 31))
    throw std::invalid_argument("n_genes = " + std::to_string(n) + " is too large for a genes x genes matrix");
}

void check_chunk(const CorrelationAccumulator& acc, const carray<double>& chunk) {
  require_ndim(chunk, 2, "chunk");
  if (chunk.shape(1) != acc.n_genes())
    throw std::invalid_argument("chunk has " + std::to_string(chunk.shape(1)) +
                                " genes, expected " + std::to_string(acc.n_genes()));
}

void add_csr_any(CorrelationAccumulator& acc, py::array indptr, py::array indices, py::array data,
                 Threads num_threads, bool as_block) {
  const bool idx64 = py::dtype::of<int64_t>().equal(indices.dtype());
  const bool val32 = py::dtype::of<float>().equal(data.dtype());
  if (idx64 && val32) add_csr_impl<int64_t, float>(acc, indptr, indices, data, num_threads, as_block);
  else if (idx64) add_csr_impl<int64_t, double>(acc, indptr, indices, data, num_threads, as_block);
  else if (val32) add_csr_impl<int32_t, float>(acc, indptr, indices, data, num_threads, as_block);
  else add_csr_impl<int32_t, double>(acc, indptr, indices, data, num_threads, as_block);
}

}  // namespace

void register_interaction(py::module_& m) {
  py::class_<CorrelationAccumulator>(m, "CorrelationAccumulator",
                                     "Streaming float64 moments for the correlation distance.")
      .def(py::init([](int64_t n_genes) {
             check_gene_count(n_genes);
             return CorrelationAccumulator(n_genes);
           }),
           py::arg("n_genes"))
      .def(
          "add_dense",
          [](CorrelationAccumulator& acc, carray<double> chunk, Threads num_threads) {
            check_chunk(acc, chunk);
            py::gil_scoped_release release;
            acc.add_dense(chunk.data(), chunk.shape(0), num_threads);
          },
          py::arg("chunk"), py::arg("num_threads") = 1)
      .def(
          "add_dense_block",
          [](CorrelationAccumulator& acc, carray<double> chunk, Threads num_threads) {
            check_chunk(acc, chunk);
            py::gil_scoped_release release;
            acc.add_dense_block(chunk.data(), chunk.shape(0), num_threads);
          },
          py::arg("chunk"), py::arg("num_threads") = 1,
          "One step of the block fold: as merge(accumulator of this block alone).")
      .def(
          "add_csr",
          [](CorrelationAccumulator& acc, py::array indptr, py::array indices, py::array data,
             Threads num_threads) { add_csr_any(acc, indptr, indices, data, num_threads, false); },
          py::arg("indptr"), py::arg("indices"), py::arg("data"), py::arg("num_threads") = 1,
          "Adds a CSR chunk (sorted unique column indices per row) without densifying it.")
      .def(
          "add_csr_block",
          [](CorrelationAccumulator& acc, py::array indptr, py::array indices, py::array data,
             Threads num_threads) { add_csr_any(acc, indptr, indices, data, num_threads, true); },
          py::arg("indptr"), py::arg("indices"), py::arg("data"), py::arg("num_threads") = 1,
          "add_dense_block for a CSR chunk (sorted unique column indices per row).")
      .def("merge", &CorrelationAccumulator::merge, py::arg("other"))
      .def("copy", [](const CorrelationAccumulator& a) { return CorrelationAccumulator(a); })
      .def_property_readonly("n_genes", &CorrelationAccumulator::n_genes)
      .def_property_readonly("count", &CorrelationAccumulator::count)
      .def("moments",
           [](const CorrelationAccumulator& acc, int ddof) {
             std::vector<double> mean(acc.n_genes()), var(acc.n_genes());
             acc.moments(mean.data(), var.data(), ddof);
             return py::make_tuple(to_numpy(mean), to_numpy(var));
           },
           py::arg("ddof") = 0)
      .def("constant_genes",
           [](const CorrelationAccumulator& acc) {
             auto c = acc.constant_genes();
             py::array_t<bool> out(static_cast<py::ssize_t>(c.size()));
             for (size_t i = 0; i < c.size(); ++i) out.mutable_data()[i] = c[i] != 0;
             return out;
           })
      .def(
          "correlation_distance",
          [](const CorrelationAccumulator& acc, Threads num_threads) {
            py::array_t<double> out({acc.n_genes(), acc.n_genes()});
            double* o = out.mutable_data();
            {
              py::gil_scoped_release release;
              acc.correlation_distance(o, num_threads);
            }
            return out;
          },
          py::arg("num_threads") = 1)
      .def(
          "take_correlation_distance",
          [](CorrelationAccumulator& acc, Threads num_threads) {
            const int64_t n = acc.n_genes();
            std::vector<double>* buf;
            {
              py::gil_scoped_release release;
              buf = new std::vector<double>(acc.take_correlation_distance(num_threads));
            }
            py::capsule owner(buf, [](void* p) { delete static_cast<std::vector<double>*>(p); });
            return py::array_t<double>({n, n}, buf->data(), owner);
          },
          py::arg("num_threads") = 1,
          "Correlation distance computed in place; the accumulator is emptied (saves memory).")
      .def(py::pickle(
          [](const CorrelationAccumulator& a) {
            const int64_t n = a.n_genes();
            return py::make_tuple(n, a.count(), a.has_shift(), to_numpy(a.shift()),
                                  to_numpy(a.sums()), to_numpy(a.cross(), n, n));
          },
          [](py::tuple t) {
            if (t.size() != 6) throw std::invalid_argument("not a CorrelationAccumulator state");
            const int64_t n = t[0].cast<int64_t>();
            check_gene_count(n);
            if (t[1].cast<int64_t>() < 0) throw std::invalid_argument("state has a negative count");
            auto shift = t[3].cast<carray<double>>();
            auto sums = t[4].cast<carray<double>>();
            auto cross = t[5].cast<carray<double>>();
            require_vector(shift, n, "state shift");
            require_vector(sums, n, "state sums");
            if (cross.ndim() != 2 || cross.shape(0) != n || cross.shape(1) != n)
              throw std::invalid_argument("state cross-products must be (genes, genes)");
            CorrelationAccumulator a(n);
            a.set_state(t[1].cast<int64_t>(), shift.data(), sums.data(), cross.data(),
                        t[2].cast<bool>());
            return a;
          }));
}
