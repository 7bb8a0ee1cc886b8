// Products with a translation-invariant grid cost by 2-D FFT convolution.
//
// For a grid cost L[p, q] = K(row_q - row_p, col_q - col_p) (the Euclidean metric's log
// distance), the GW linear term A = S @ L (S: genes x pixels) is one 2-D convolution per row of
// S: O(n^2 log n) for n genes on n pixels instead of the O(n^3) matrix product. Rows are
// processed two at a time as the real and imaginary parts of one complex image (K is real), on
// zero-padded power-of-two grids, in double precision; each pair is independent, so results do
// not depend on the thread count.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

namespace genomap {

class GridConvolution {
 public:
  // kernel(dr, dc) for |dr| < rows, |dc| < cols: the cost between pixels dr rows and dc
  // columns apart. Pixels are in the reference's flat order: pixel k at row k % rows, column
  // k / rows.
  GridConvolution(int64_t rows, int64_t cols, const std::function<double(int64_t, int64_t)>& kernel);

  // A[i, q] = sum_p S[i, p] L[p, q] for the first n_used pixels; S and A are (n, n_used)
  // row-major.
  void apply(const double* S, int64_t n, int64_t n_used, double* A, int num_threads) const;

  int64_t padded_rows() const { return P_; }
  int64_t padded_cols() const { return Q_; }

 private:
  int64_t rows_, cols_, P_, Q_;
  std::vector<double> khat_re_, khat_im_;  // FFT of the padded kernel, (Q, P) layout [c][r]
  std::vector<double> tw_re_P_, tw_im_P_, tw_re_Q_, tw_im_Q_;  // forward twiddles
  std::vector<int64_t> rev_P_, rev_Q_;                         // bit reversals
};

}  // namespace genomap
