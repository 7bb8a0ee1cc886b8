#include "common.hpp"
#include "genomap/interaction.hpp"

using genomap::CorrelationAccumulator;

void register_interaction(py::module_& m) {
  py::class_<CorrelationAccumulator>(m, "CorrelationAccumulator",
                                     "Streaming float64 moments for the correlation distance.")
      .def(py::init<int64_t>(), py::arg("n_genes"))
      .def(
          "add_dense",
          [](CorrelationAccumulator& acc, carray<double> chunk, int num_threads) {
            require_ndim(chunk, 2, "chunk");
            if (chunk.shape(1) != acc.n_genes())
              throw std::invalid_argument("chunk has " + std::to_string(chunk.shape(1)) +
                                          " genes, expected " + std::to_string(acc.n_genes()));
            py::gil_scoped_release release;
            acc.add_dense(chunk.data(), chunk.shape(0), num_threads);
          },
          py::arg("chunk"), py::arg("num_threads") = 1)
      .def("merge", &CorrelationAccumulator::merge, py::arg("other"))
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
          [](const CorrelationAccumulator& acc, int num_threads) {
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
          [](CorrelationAccumulator& acc, int num_threads) {
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
            CorrelationAccumulator a(t[0].cast<int64_t>());
            auto shift = t[3].cast<carray<double>>();
            auto sums = t[4].cast<carray<double>>();
            auto cross = t[5].cast<carray<double>>();
            a.set_state(t[1].cast<int64_t>(), shift.data(), sums.data(), cross.data(),
                        t[2].cast<bool>());
            return a;
          }));
}
