#include "genomap/convolution.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "genomap/simd.hpp"

namespace genomap {

namespace {

int64_t next_pow2(int64_t x) {
  int64_t p = 1;
  while (p < x) p <<= 1;
  return p;
}

std::vector<int64_t> bit_reversal(int64_t n) {
  std::vector<int64_t> rev(n, 0);
  int64_t bits = 0;
  while ((int64_t{1} << bits) < n) ++bits;
  for (int64_t i = 0; i < n; ++i) {
    int64_t r = 0;
    for (int64_t b = 0; b < bits; ++b)
      if (i & (int64_t{1} << b)) r |= int64_t{1} << (bits - 1 - b);
    rev[i] = r;
  }
  return rev;
}

void twiddles(int64_t n, std::vector<double>& re, std::vector<double>& im) {
  re.resize(std::max<int64_t>(n / 2, 1));
  im.resize(re.size());
  const double pi = std::acos(-1.0);
  for (int64_t k = 0; k < n / 2; ++k) {
    re[k] = std::cos(2.0 * pi * static_cast<double>(k) / static_cast<double>(n));
    im[k] = -std::sin(2.0 * pi * static_cast<double>(k) / static_cast<double>(n));
  }
}

// b <- a - w b, a <- a + w b over `count` contiguous entries (split complex).
GENOMAP_CLONES void butterflies(double* __restrict ar, double* __restrict ai, double* __restrict br,
                                double* __restrict bi, int64_t count, double wr, double wi) {
  for (int64_t x = 0; x < count; ++x) {
    const double tr = wr * br[x] - wi * bi[x];
    const double ti = wr * bi[x] + wi * br[x];
    br[x] = ar[x] - tr;
    bi[x] = ai[x] - ti;
    ar[x] += tr;
    ai[x] += ti;
  }
}

// In-place radix-2 FFT along the outer axis of an (N, width) split-complex array: row j is
// re[j * width ...]; only the first `active` entries of each row are transformed (the rest are
// zero and stay zero). The inner loop runs over contiguous entries, so it vectorises.
void fft_outer(double* re, double* im, int64_t N, int64_t width, int64_t active,
               const std::vector<double>& twr, const std::vector<double>& twi,
               const std::vector<int64_t>& rev, bool inverse) {
  for (int64_t j = 0; j < N; ++j) {
    const int64_t r = rev[j];
    if (r > j) {
      std::swap_ranges(re + j * width, re + j * width + active, re + r * width);
      std::swap_ranges(im + j * width, im + j * width + active, im + r * width);
    }
  }
  const double sign = inverse ? -1.0 : 1.0;
  for (int64_t len = 2; len <= N; len <<= 1) {
    const int64_t half = len / 2, step = N / len;
    for (int64_t start = 0; start < N; start += len) {
      for (int64_t k = 0; k < half; ++k) {
        const double wr = twr[k * step], wi = sign * twi[k * step];
        double* __restrict ar = re + (start + k) * width;
        double* __restrict ai = im + (start + k) * width;
        double* __restrict br = re + (start + k + half) * width;
        double* __restrict bi = im + (start + k + half) * width;
        if (k == 0) {
          for (int64_t x = 0; x < active; ++x) {
            const double tr = br[x], ti = bi[x];
            br[x] = ar[x] - tr;
            bi[x] = ai[x] - ti;
            ar[x] += tr;
            ai[x] += ti;
          }
          continue;
        }
        butterflies(ar, ai, br, bi, active, wr, wi);
      }
    }
  }
}

// (A, B) row-major -> (B, A): out[b * A + a] = in[a * B + b], in cache-sized tiles.
void transpose(const double* in, double* out, int64_t A, int64_t B) {
  constexpr int64_t T = 32;
  for (int64_t a0 = 0; a0 < A; a0 += T)
    for (int64_t b0 = 0; b0 < B; b0 += T)
      for (int64_t a = a0; a < std::min(A, a0 + T); ++a)
        for (int64_t b = b0; b < std::min(B, b0 + T); ++b) out[b * A + a] = in[a * B + b];
}

}  // namespace

GridConvolution::GridConvolution(int64_t rows, int64_t cols,
                                 const std::function<double(int64_t, int64_t)>& kernel)
    : rows_(rows), cols_(cols), P_(next_pow2(2 * rows - 1)), Q_(next_pow2(2 * cols - 1)) {
  if (rows < 1 || cols < 1) throw std::invalid_argument("grid rows and cols must be >= 1");
  twiddles(P_, tw_re_P_, tw_im_P_);
  twiddles(Q_, tw_re_Q_, tw_im_Q_);
  rev_P_ = bit_reversal(P_);
  rev_Q_ = bit_reversal(Q_);
  // Kernel padded circularly, layout [c][r] (Q, P); its 2-D FFT: along c (outer), then along
  // r (outer after a transpose).
  std::vector<double> kr(Q_ * P_, 0.0), ki(Q_ * P_, 0.0);
  for (int64_t dc = -(cols - 1); dc < cols; ++dc)
    for (int64_t dr = -(rows - 1); dr < rows; ++dr)
      kr[((dc + Q_) % Q_) * P_ + (dr + P_) % P_] = kernel(dr, dc);
  fft_outer(kr.data(), ki.data(), Q_, P_, P_, tw_re_Q_, tw_im_Q_, rev_Q_, false);
  std::vector<double> tr(Q_ * P_), ti(Q_ * P_);
  transpose(kr.data(), tr.data(), Q_, P_);
  transpose(ki.data(), ti.data(), Q_, P_);
  fft_outer(tr.data(), ti.data(), P_, Q_, Q_, tw_re_P_, tw_im_P_, rev_P_, false);
  khat_re_.resize(Q_ * P_);
  khat_im_.resize(Q_ * P_);
  transpose(tr.data(), khat_re_.data(), P_, Q_);  // back to [c][r]
  transpose(ti.data(), khat_im_.data(), P_, Q_);
}

void GridConvolution::apply(const double* S, int64_t n, int64_t n_used, double* A,
                            int num_threads) const {
  if (n_used < 1 || n_used > rows_ * cols_)
    throw std::invalid_argument("number of used pixels must be in [1, rows*cols]");
  const int64_t P = P_, Q = Q_, rows = rows_;
  const int64_t used_cols = (n_used + rows - 1) / rows;  // columns holding used pixels
  const double scale = 1.0 / static_cast<double>(P * Q);
  const int64_t pairs = (n + 1) / 2;
  const int nt = num_threads > 0 ? num_threads : 1;
#pragma omp parallel num_threads(nt)
  {
    // [c][r] layout (Q, P) and its transpose [r][c] (P, Q)
    std::vector<double> xr(Q * P), xi(Q * P), yr(P * Q), yi(P * Q);
#pragma omp for schedule(dynamic, 1)
    for (int64_t pair = 0; pair < pairs; ++pair) {
      const int64_t a = 2 * pair, b = a + 1;
      std::fill(xr.begin(), xr.end(), 0.0);
      std::fill(xi.begin(), xi.end(), 0.0);
      for (int64_t k = 0; k < n_used; ++k) {  // pixel k: row k % rows, column k / rows
        const int64_t at = (k / rows) * P + k % rows;
        xr[at] = S[a * n_used + k];
        if (b < n) xi[at] = S[b * n_used + k];
      }
      // along c (outer, Q), inner r: the first `rows` entries are non-zero
      fft_outer(xr.data(), xi.data(), Q, P, rows, tw_re_Q_, tw_im_Q_, rev_Q_, false);
      transpose(xr.data(), yr.data(), Q, P);
      transpose(xi.data(), yi.data(), Q, P);
      // along r (outer, P), inner c: all Q
      fft_outer(yr.data(), yi.data(), P, Q, Q, tw_re_P_, tw_im_P_, rev_P_, false);
      transpose(yr.data(), xr.data(), P, Q);
      transpose(yi.data(), xi.data(), P, Q);
      for (int64_t t = 0; t < Q * P; ++t) {
        const double re = xr[t] * khat_re_[t] - xi[t] * khat_im_[t];
        const double im = xr[t] * khat_im_[t] + xi[t] * khat_re_[t];
        xr[t] = re;
        xi[t] = im;
      }
      // inverse: along c (outer), all inner r; then along r with only the used columns
      fft_outer(xr.data(), xi.data(), Q, P, P, tw_re_Q_, tw_im_Q_, rev_Q_, true);
      transpose(xr.data(), yr.data(), Q, P);
      transpose(xi.data(), yi.data(), Q, P);
      fft_outer(yr.data(), yi.data(), P, Q, used_cols, tw_re_P_, tw_im_P_, rev_P_, true);
      for (int64_t k = 0; k < n_used; ++k) {
        const int64_t at = (k % rows) * Q + k / rows;  // [r][c]
        A[a * n_used + k] = yr[at] * scale;
        if (b < n) A[b * n_used + k] = yi[at] * scale;
      }
    }
  }
}

}  // namespace genomap
