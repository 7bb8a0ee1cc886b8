// Products with a translation-invariant grid cost by 2-D FFT convolution.
//
// For a grid cost L[p, q] = K(row_q - row_p, col_q - col_p) (the Euclidean metric's log
// distance), the GW linear term A = S @ L (S: genes x pixels) is one 2-D convolution per row of
// S: O(n^2 log n) for n genes on n pixels instead of the O(n^3) matrix product. Rows are
// processed two at a time as the real and imaginary parts of one complex image (K is real), on
// zero-padded grids whose sides have no prime factor above 5 (mixed-radix FFT), in double precision; each pair is independent, so results do
// not depend on the thread count.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

namespace genomap {

// Twiddles and radices (4, 2, 3, 5) of a complex FFT of length n (n's prime factors <= 5).
struct FFTPlan {
  explicit FFTPlan(int64_t n);
  int64_t n;
  std::vector<int> radices;
  std::vector<double> tw_re, tw_im;  // exp(-2 pi i k / n), k < n
};

class GridConvolution {
 public:
  // kernel(dr, dc) for |dr| < rows, |dc| < cols: the cost between pixels dr rows and dc
  // columns apart. Pixels are in the reference's flat order: pixel k at row k % rows, column
  // k / rows.
  GridConvolution(int64_t rows, int64_t cols, const std::function<double(int64_t, int64_t)>& kernel);

  // A[i, q] = sum_p S[i, p] L[p, q] for the first n_used pixels; S and A are (n, n_used)
  // row-major.
  void apply(const double* S, int64_t n, int64_t n_used, double* A, int num_threads) const;

  int64_t padded_rows() const { return plan_P_.n; }
  int64_t padded_cols() const { return plan_Q_.n; }

 private:
  int64_t rows_, cols_;
  FFTPlan plan_P_, plan_Q_;                // padded sides P >= 2 rows - 1, Q >= 2 cols - 1
  std::vector<double> khat_re_, khat_im_;  // FFT of the padded kernel, (Q, P) layout [c][r]
};

}  // namespace genomap
