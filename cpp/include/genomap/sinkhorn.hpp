// Entropic transport between n genes (mass 1/n each) and D pixel classes (capacity c_d pixels,
// mass 1/n per pixel): one log-stabilised Sinkhorn, used by the entropic GW solver (POT's
// sinkhorn_knopp, update for update) and by the annealing's entropic start (warm-started).
//
// Scaling iterations run on the absorbed kernel exp((f + g - M) / reg) from the potentials f
// (genes) and g (classes); an exact log-domain update starts every solve (safe whatever M and
// reg did since the potentials were made) and redoes an iteration whose scalings
// under/overflow, so it stays finite where exp(-M/reg) underflows.
#pragma once
#include <cstdint>
#include <vector>

namespace genomap {

struct SinkhornStats {
  int64_t n_iter = 0;
  double marginal_error = 0.0;
  int64_t n_absorb = 0;
};

// How the column marginals are stated. Both solve the same transport; they differ in rounding.
enum class SinkhornMarginals {
  // POT's sinkhorn_knopp on the pixel-level problem, as the reference runs it: a scaling per
  // pixel, the stopping test on the L2 error of the pixel marginals, sums over genes in gene
  // order; scalings outside [1e-50, 1e50] absorbed in place.
  pixels,
  // A scaling per class, the stopping test on the L1 error of the class marginals, sums in
  // fixed 64-gene blocks (independent of the thread count); scalings outside [1e-50, 1e50]
  // replaced by the last good ones and the iteration redone in the log domain.
  classes,
};

class ClassSinkhorn {
 public:
  ClassSinkhorn(int64_t n, int64_t D, const int64_t* capacity, SinkhornMarginals marginals,
                int num_threads);
  // M: (n, D) cost, row-major. f (n), g (D): the potentials to start from, updated to the
  // final ones. At most max_updates scaling iterations after the first log-domain update;
  // the marginal error is tested every 10th. T: (n, D) class mass (the pixel-level coupling
  // summed over the pixels of each class). n_iter: the scaling iterations made.
  SinkhornStats solve(const double* M, double reg, std::vector<double>& f, std::vector<double>& g,
                      int64_t max_updates, double tol, double* T);

 private:
  template <class RowFn>
  void column_reduce(double* out, RowFn&& row_into);
  void log_update(const double* M, double reg, std::vector<double>& f, std::vector<double>& g);
  void build_kernel(const double* M, double reg, const std::vector<double>& f,
                    const std::vector<double>& g);
  void absorb(double reg, std::vector<double>& f, std::vector<double>& g);
  void scale(const double* M, double reg, std::vector<double>& f, std::vector<double>& g,
             SinkhornStats& st);
  double marginal_error() const;

  int64_t n_, D_, block_;
  bool pixels_;
  int nt_;
  // per class: column weight (pixels per scaling), column mass per scaling, its log
  std::vector<double> weight_, log_weight_, mass_, log_mass_;
  std::vector<double> K_, u_, v_, ktu_, partial_, colmax_, u_ok_, v_ok_;
};

// The entropic GW step's transport, cold-started: POT's sinkhorn_knopp (SinkhornMarginals::
// pixels), max_iter counting the first log-domain update as POT counts its first iteration.
SinkhornStats sinkhorn_classes(const double* M, int64_t n, int64_t D, const int64_t* capacity,
                               double reg, int64_t max_iter, double stop_thr, double* out,
                               int num_threads);

}  // namespace genomap
