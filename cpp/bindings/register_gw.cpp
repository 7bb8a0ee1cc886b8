#include <cmath>

#include "common.hpp"
#include "genomap/gw.hpp"
#include "genomap/multilevel.hpp"
#include "genomap/refine.hpp"
#include "genomap/sinkhorn.hpp"
#include "genomap/transport.hpp"
#include "results.hpp"

using namespace genomap;

namespace {

void check_max_iter(int64_t max_iter) {
  if (max_iter < 1)
    throw std::invalid_argument("max_iter must be >= 1, got " + std::to_string(max_iter));
}

void check_finite(const carray<double>& a, const char* name) {
  const double* p = a.data();
  for (py::ssize_t i = 0, n = a.size(); i < n; ++i)
    if (!std::isfinite(p[i])) throw std::invalid_argument(std::string(name) + " must be finite");
}

// Non-negative capacities summing to `rows` (each of the unit rows goes to one column).
void check_capacity(const carray<int64_t>& capacity, int64_t rows, int64_t min_capacity) {
  int64_t total = 0;
  for (py::ssize_t d = 0; d < capacity.shape(0); ++d) {
    const int64_t c = capacity.data()[d];
    if (c < min_capacity)
      throw std::invalid_argument("capacity " + std::to_string(c) + " of class " +
                                  std::to_string(d) + " is below " + std::to_string(min_capacity));
    total += c;
  }
  if (total != rows)
    throw std::invalid_argument("capacities sum to " + std::to_string(total) + ", not to the " +
                                std::to_string(rows) + " rows");
}

carray<int64_t> check_assign(py::array assign_in, int64_t n, int64_t D) {
  auto assign = assign_in.cast<carray<int64_t>>();
  if (assign.ndim() != 1 || assign.shape(0) != n)
    throw std::invalid_argument("assignment must have one class per gene");
  for (int64_t i = 0; i < n; ++i)
    if (assign.data()[i] < 0 || assign.data()[i] >= D)
      throw std::invalid_argument("assignment holds a class index out of range");
  return assign;
}

// An assignment that fills every class exactly (what the exact solvers return).
void check_assign_fills(const carray<int64_t>& assign, const GridCost& grid) {
  std::vector<int64_t> count(grid.n_classes, 0);
  for (py::ssize_t i = 0; i < assign.shape(0); ++i) count[assign.data()[i]]++;
  if (count != grid.capacity)
    throw std::invalid_argument("assignment does not fill every class to its capacity");
}

}  // namespace

void register_gw(py::module_& m) {
  m.def(
      "solve_gw_multilevel",
      [](carray<double> C1, const GridCost& grid, int64_t max_iter, Threads num_threads,
         int64_t min_tiles, int64_t max_levels) {
        check_c1(C1, grid);
        check_max_iter(max_iter);
        MultilevelResult r;
        {
          py::gil_scoped_release release;
          r = solve_gw_multilevel(C1.data(), C1.shape(0), grid, max_iter, num_threads, min_tiles,
                                  max_levels);
        }
        return r;
      },
      py::arg("C1"), py::arg("grid"), py::arg("max_iter"), py::arg("num_threads") = 1,
      py::arg("min_tiles") = 256, py::arg("max_levels") = 4,
      "Exact GW placement on a euclidean grid, coarse to fine: tiles of 2^L .. 1 pixels.");
  // unit-test entry point: the tile sizes solve_gw_multilevel walks (tests/test_multilevel.py)
  m.def(
      "multilevel_tiles",
      [](int64_t rows, int64_t cols, int64_t n_used, int64_t min_tiles, int64_t max_levels) {
        return to_numpy(multilevel_tiles(rows, cols, n_used, min_tiles, max_levels));
      },
      py::arg("rows"), py::arg("cols"),
        py::arg("n_used"), py::arg("min_tiles") = 256, py::arg("max_levels") = 4);
  m.def(
      "solve_gw_exact",
      [](carray<double> C1, const GridCost& grid, int64_t max_iter, Threads num_threads) {
        check_c1(C1, grid);
        check_max_iter(max_iter);
        ExactResult r;
        {
          py::gil_scoped_release release;
          GWProblem p = make_problem(C1.data(), C1.shape(0), grid, num_threads);
          r = solve_gw_exact(p, max_iter, num_threads);
        }
        return r;
      },
      py::arg("C1"), py::arg("grid"), py::arg("max_iter"), py::arg("num_threads") = 1,
      "Exact GW placement (epsilon = 0): class of each gene, objective, iterations.");
  m.def(
      "solve_gw_entropic",
      [](carray<double> C1, const GridCost& grid, double epsilon, int64_t max_iter, double tol,
         Threads num_threads) {
        check_c1(C1, grid);
        check_max_iter(max_iter);
        if (!(epsilon > 0) || !std::isfinite(epsilon))
          throw std::invalid_argument("epsilon must be a finite number > 0");
        EntropicOutput out;
        out.n_genes = C1.shape(0);
        out.n_classes = grid.n_classes;
        {
          py::gil_scoped_release release;
          GWProblem p = make_problem(C1.data(), C1.shape(0), grid, num_threads);
          out.result = solve_gw_entropic(p, epsilon, max_iter, tol, num_threads);
        }
        return out;
      },
      py::arg("C1"), py::arg("grid"), py::arg("epsilon"), py::arg("max_iter"),
      py::arg("tol") = 1e-9, py::arg("num_threads") = 1,
      "Entropic GW (the reference loop, log-domain Sinkhorn): class coupling (genes x classes).");
  m.def(
      "objective_assignment",
      [](carray<double> C1, const GridCost& grid, py::array assign_in, Threads num_threads) {
        check_c1(C1, grid);
        auto assign = check_assign(assign_in, C1.shape(0), grid.n_classes);
        py::gil_scoped_release release;
        GWProblem p = make_problem(C1.data(), C1.shape(0), grid, num_threads);
        return objective_assignment(p, assign.data(), num_threads);
      },
      py::arg("C1"), py::arg("grid"), py::arg("assign"), py::arg("num_threads") = 1);
  m.def(
      "linear_term_assignment",
      [](carray<double> C1, const GridCost& grid, py::array assign_in, Threads num_threads) {
        check_c1(C1, grid);
        auto assign = check_assign(assign_in, C1.shape(0), grid.n_classes);
        py::array_t<double> A({C1.shape(0), static_cast<py::ssize_t>(grid.n_classes)});
        double* a = A.mutable_data();
        {
          py::gil_scoped_release release;
          GWProblem p = make_problem(C1.data(), C1.shape(0), grid, num_threads);
          linear_term_assignment(p, assign.data(), a, num_threads);
        }
        return A;
      },
      py::arg("C1"), py::arg("grid"), py::arg("assign"), py::arg("num_threads") = 1,
      "(C1 @ S_assign) @ log(C2): the GW linear term of an assignment (genes x classes).");
  // unit-test entry point: the moved-genes update against the full product
  // (tests/test_multilevel.py)
  m.def(
      "update_linear_term",
      [](carray<double> C1, const GridCost& grid, py::array had_in, py::array assign_in,
         carray<double> A_in, Threads num_threads) {
        check_c1(C1, grid);
        const int64_t n = C1.shape(0), D = grid.n_classes;
        auto had = check_assign(had_in, n, D);
        auto assign = check_assign(assign_in, n, D);
        if (A_in.ndim() != 2 || A_in.shape(0) != n || A_in.shape(1) != D)
          throw std::invalid_argument("linear term must be (genes, classes)");
        py::array_t<double> A({n, D});
        std::copy(A_in.data(), A_in.data() + n * D, A.mutable_data());
        double* a = A.mutable_data();
        {
          py::gil_scoped_release release;
          GWProblem p = make_problem(C1.data(), n, grid, num_threads);
          update_linear_term(p, had.data(), assign.data(), a, num_threads);
        }
        return A;
      },
      py::arg("C1"), py::arg("grid"), py::arg("had"), py::arg("assign"), py::arg("A"),
      py::arg("num_threads") = 1,
      "The linear term of `assign` from A, the linear term of `had`, by the moved genes only.");
  m.def(
      "place_within_classes",
      [](carray<double> C1, const GridCost& grid, py::array assign_in, int64_t max_rounds,
         Threads num_threads) {
        check_c1(C1, grid);
        auto assign = check_assign(assign_in, C1.shape(0), grid.n_classes);
        check_assign_fills(assign, grid);
        WithinClassOutput out;
        out.pixel.resize(C1.shape(0));
        {
          py::gil_scoped_release release;
          out.stats = place_within_classes(C1.data(), C1.shape(0), grid, assign.data(), max_rounds,
                                           out.pixel.data(), num_threads);
        }
        return out;
      },
      py::arg("C1"), py::arg("grid"), py::arg("assign"), py::arg("max_rounds") = 10,
      py::arg("num_threads") = 1);
  m.def(
      "euclidean_linear_term",
      [](carray<double> C1, int64_t rows, int64_t cols, carray<int64_t> pixel, Threads num_threads) {
        require_ndim(C1, 2, "interaction matrix");
        if (C1.shape(0) != C1.shape(1)) throw std::invalid_argument("interaction matrix must be square");
        if (rows < 1 || cols < 1) throw std::invalid_argument("grid rows and cols must be >= 1");
        if (pixel.ndim() != 1 || pixel.shape(0) != C1.shape(0))
          throw std::invalid_argument("need one pixel per gene");
        for (int64_t i = 0; i < pixel.shape(0); ++i)
          if (pixel.data()[i] < 0 || pixel.data()[i] >= rows * cols)
            throw std::invalid_argument("pixel index out of range");
        py::gil_scoped_release release;
        return euclidean_linear_term(C1.data(), C1.shape(0), rows, cols, pixel.data(), num_threads);
      },
      py::arg("C1"), py::arg("rows"), py::arg("cols"), py::arg("pixel"), py::arg("num_threads") = 1);
  m.def(
      "sinkhorn_classes",
      [](carray<double> M, carray<int64_t> capacity, double reg, int64_t max_iter,
         double stop_thr, Threads num_threads) {
        require_ndim(M, 2, "cost");
        if (capacity.ndim() != 1 || capacity.shape(0) != M.shape(1))
          throw std::invalid_argument("need one capacity per class (column)");
        if (!(reg > 0) || !std::isfinite(reg)) throw std::invalid_argument("reg must be a finite number > 0");
        check_max_iter(max_iter);
        check_finite(M, "cost");
        check_capacity(capacity, M.shape(0), 1);
        py::array_t<double> out({M.shape(0), M.shape(1)});
        double* o = out.mutable_data();
        SinkhornStats st;
        {
          py::gil_scoped_release release;
          st = sinkhorn_classes(M.data(), M.shape(0), M.shape(1), capacity.data(), reg, max_iter,
                                stop_thr, o, num_threads);
        }
        return py::make_tuple(out, st.n_iter, st.marginal_error);
      },
      py::arg("M"), py::arg("capacity"), py::arg("reg"), py::arg("max_iter") = 1000,
      py::arg("stop_thr") = 1e-9, py::arg("num_threads") = 1,
      "POT's sinkhorn_knopp iteration on genes x classes (uniform 1/n per gene and per pixel), "
      "log-stabilised; returns (class coupling, iterations, marginal error).");
  // unit-test entry point of the class transport (tests/test_solvers.py, test_results.py,
  // test_fuzz_core.py)
  m.def(
      "solve_transport",
      [](carray<double> cost, carray<int64_t> capacity, py::object potentials,
         py::object previous_in) {
        require_ndim(cost, 2, "cost");
        if (capacity.ndim() != 1 || capacity.shape(0) != cost.shape(1))
          throw std::invalid_argument("need one capacity per class (column)");
        check_finite(cost, "cost");
        check_capacity(capacity, cost.shape(0), 0);
        TransportOutput out;
        out.assign.resize(cost.shape(0));
        std::vector<double>& v = out.potentials;
        const bool warm = !potentials.is_none();
        if (warm) {
          auto pv = potentials.cast<carray<double>>();
          if (pv.ndim() != 1 || pv.shape(0) != cost.shape(1))
            throw std::invalid_argument("need one potential per class (column)");
          check_finite(pv, "potentials");
          v.assign(pv.data(), pv.data() + pv.shape(0));
        }
        std::vector<int64_t> previous;
        if (!previous_in.is_none()) {
          auto pr = previous_in.cast<carray<int64_t>>();
          if (pr.ndim() != 1 || pr.shape(0) != cost.shape(0))
            throw std::invalid_argument("need one previous class per row");
          previous.assign(pr.data(), pr.data() + pr.shape(0));
        }
        {
          py::gil_scoped_release release;
          out.stats = solve_class_transport(cost.data(), cost.shape(0), cost.shape(1),
                                            capacity.data(), out.assign.data(), v, warm,
                                            previous.empty() ? nullptr : previous.data());
        }
        return out;
      },
      py::arg("cost"), py::arg("capacity"), py::arg("potentials") = py::none(),
      py::arg("previous") = py::none(),
      "Exact transport of unit rows to capacitated columns: the column of each row, the cost, "
      "the dual potentials and work counters.");
}
