#include "genomap/convolution.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "genomap/simd.hpp"

namespace genomap {

namespace {

// Smallest N >= x whose prime factors are 2, 3 and 5 (the radices below): 199 -> 200 instead
// of 256, 281 -> 288 instead of 512.
int64_t smooth_size(int64_t x) {
  for (int64_t n = std::max<int64_t>(x, 1);; ++n) {
    int64_t m = n;
    for (int64_t f : {2, 3, 5})
      while (m % f == 0) m /= f;
    if (m == 1) return n;
  }
}

// Radix-R DFT butterfly of one Stockham stage over `active` contiguous entries:
// y_k = (sum_j x_j w_R^(jk)) * t_k, x_j = in + j * in_stride, y_k = out + k * out_stride.
// Radices 2 and 4 need no multiplications inside the DFT; 3 and 5 use the table c/s.
template <int R>
GENOMAP_CLONES void butterfly(const double* __restrict xr, const double* __restrict xi,
                              int64_t in_stride, double* __restrict yr, double* __restrict yi,
                              int64_t out_stride, int64_t active, const double* tr,
                              const double* ti, const double* cr, const double* ci, double sign) {
  for (int64_t x = 0; x < active; ++x) {
    double ar[R], ai[R], br[R], bi[R];
    for (int j = 0; j < R; ++j) {
      ar[j] = xr[j * in_stride + x];
      ai[j] = xi[j * in_stride + x];
    }
    if constexpr (R == 2) {
      br[0] = ar[0] + ar[1];
      bi[0] = ai[0] + ai[1];
      br[1] = ar[0] - ar[1];
      bi[1] = ai[0] - ai[1];
    } else if constexpr (R == 4) {
      // forward w_4 = -i (sign = 1); inverse w_4 = +i
      const double t0r = ar[0] + ar[2], t0i = ai[0] + ai[2];
      const double t1r = ar[0] - ar[2], t1i = ai[0] - ai[2];
      const double t2r = ar[1] + ar[3], t2i = ai[1] + ai[3];
      const double t3r = sign * (ar[1] - ar[3]), t3i = sign * (ai[1] - ai[3]);
      br[0] = t0r + t2r;
      bi[0] = t0i + t2i;
      br[2] = t0r - t2r;
      bi[2] = t0i - t2i;
      br[1] = t1r + t3i;  // t1 - i t3
      bi[1] = t1i - t3r;
      br[3] = t1r - t3i;  // t1 + i t3
      bi[3] = t1i + t3r;
    } else {
      for (int k = 0; k < R; ++k) {
        double sr = ar[0], si = ai[0];
        for (int j = 1; j < R; ++j) {
          sr += ar[j] * cr[j * R + k] - ai[j] * ci[j * R + k];
          si += ar[j] * ci[j * R + k] + ai[j] * cr[j * R + k];
        }
        br[k] = sr;
        bi[k] = si;
      }
    }
    yr[x] = br[0];
    yi[x] = bi[0];
    for (int k = 1; k < R; ++k) {
      yr[k * out_stride + x] = br[k] * tr[k] - bi[k] * ti[k];
      yi[k * out_stride + x] = br[k] * ti[k] + bi[k] * tr[k];
    }
  }
}

}  // namespace

FFTPlan::FFTPlan(int64_t n) : n(n) {
  int64_t m = n;
  while (m % 4 == 0) {
    radices.push_back(4);
    m /= 4;
  }
  for (int64_t f : {2, 3, 5})
    while (m % f == 0) {
      radices.push_back(static_cast<int>(f));
      m /= f;
    }
  if (m != 1) throw std::invalid_argument("FFT length must have no prime factors above 5");
  tw_re.resize(n);
  tw_im.resize(n);
  const double pi = std::acos(-1.0);
  for (int64_t k = 0; k < n; ++k) {
    tw_re[k] = std::cos(2.0 * pi * static_cast<double>(k) / static_cast<double>(n));
    tw_im[k] = -std::sin(2.0 * pi * static_cast<double>(k) / static_cast<double>(n));
  }
}

// Self-sorting (Stockham) mixed-radix FFT along the outer axis of an (n, width) split-complex
// array: element j is re[j * width ...]; only the first `active` entries of each element are
// transformed. Out of place between (re, im) and the work arrays; the result ends in (re, im).
static void fft_outer(double* re, double* im, double* work_re, double* work_im, int64_t width,
               int64_t active, const FFTPlan& plan, bool inverse) {
  const int64_t n = plan.n;
  const double sign = inverse ? -1.0 : 1.0;
  double *xr = re, *xi = im, *yr = work_re, *yi = work_im;
  int64_t s = 1, m = n;
  double tr[5], ti[5], cr[25], ci[25];
  const double pi = std::acos(-1.0);
  for (int R : plan.radices) {
    for (int j = 0; j < R; ++j)  // the radix-R DFT matrix w_R^(jk)
      for (int k = 0; k < R; ++k) {
        const double angle = 2.0 * pi * static_cast<double>(j * k % R) / R;
        cr[j * R + k] = std::cos(angle);
        ci[j * R + k] = -sign * std::sin(angle);
      }
    m /= R;  // n == R * m * s: sub-transforms of length R * m, s of them interleaved
    for (int64_t p = 0; p < m; ++p) {
      for (int k = 0; k < R; ++k) {
        tr[k] = plan.tw_re[p * k * s];
        ti[k] = sign * plan.tw_im[p * k * s];
      }
      for (int64_t q = 0; q < s; ++q) {
        const int64_t in = (q + s * p) * width, out = (q + s * R * p) * width;
        const int64_t is = s * m * width, os = s * width;
        switch (R) {
          case 2: butterfly<2>(xr + in, xi + in, is, yr + out, yi + out, os, active, tr, ti, cr, ci, sign); break;
          case 3: butterfly<3>(xr + in, xi + in, is, yr + out, yi + out, os, active, tr, ti, cr, ci, sign); break;
          case 4: butterfly<4>(xr + in, xi + in, is, yr + out, yi + out, os, active, tr, ti, cr, ci, sign); break;
          default: butterfly<5>(xr + in, xi + in, is, yr + out, yi + out, os, active, tr, ti, cr, ci, sign);
        }
      }
    }
    std::swap(xr, yr);
    std::swap(xi, yi);
    s *= R;
  }
  if (xr != re)
    for (int64_t j = 0; j < n; ++j) {
      std::copy(xr + j * width, xr + j * width + active, re + j * width);
      std::copy(xi + j * width, xi + j * width + active, im + j * width);
    }
}

namespace {

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
    : rows_(rows),
      cols_(cols),
      plan_P_(smooth_size(2 * rows - 1)),
      plan_Q_(smooth_size(2 * cols - 1)) {
  if (rows < 1 || cols < 1) throw std::invalid_argument("grid rows and cols must be >= 1");
  const int64_t P = plan_P_.n, Q = plan_Q_.n;
  // Kernel padded circularly, layout [c][r] (Q, P); its 2-D FFT: along c (outer), then along
  // r (outer after a transpose).
  std::vector<double> kr(Q * P, 0.0), ki(Q * P, 0.0), wr(Q * P), wi(Q * P);
  for (int64_t dc = -(cols - 1); dc < cols; ++dc)
    for (int64_t dr = -(rows - 1); dr < rows; ++dr)
      kr[((dc + Q) % Q) * P + (dr + P) % P] = kernel(dr, dc);
  fft_outer(kr.data(), ki.data(), wr.data(), wi.data(), P, P, plan_Q_, false);
  std::vector<double> tr(Q * P), ti(Q * P);
  transpose(kr.data(), tr.data(), Q, P);
  transpose(ki.data(), ti.data(), Q, P);
  fft_outer(tr.data(), ti.data(), wr.data(), wi.data(), Q, Q, plan_P_, false);
  khat_re_.resize(Q * P);
  khat_im_.resize(Q * P);
  transpose(tr.data(), khat_re_.data(), P, Q);  // back to [c][r]
  transpose(ti.data(), khat_im_.data(), P, Q);
}

void GridConvolution::apply(const double* S, int64_t n, int64_t n_used, double* A,
                            int num_threads) const {
  if (n_used < 1 || n_used > rows_ * cols_)
    throw std::invalid_argument("number of used pixels must be in [1, rows*cols]");
  const int64_t P = plan_P_.n, Q = plan_Q_.n, rows = rows_;
  const int64_t used_cols = (n_used + rows - 1) / rows;  // columns holding used pixels
  const double scale = 1.0 / static_cast<double>(P * Q);
  const int64_t pairs = (n + 1) / 2;
  const int nt = num_threads > 0 ? num_threads : 1;
#pragma omp parallel num_threads(nt)
  {
    // [c][r] layout (Q, P), its transpose [r][c] (P, Q), and the FFT's work arrays
    std::vector<double> xr(Q * P), xi(Q * P), yr(P * Q), yi(P * Q), wr(P * Q), wi(P * Q);
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
      fft_outer(xr.data(), xi.data(), wr.data(), wi.data(), P, rows, plan_Q_, false);
      transpose(xr.data(), yr.data(), Q, P);
      transpose(xi.data(), yi.data(), Q, P);
      // along r (outer, P), inner c: all Q
      fft_outer(yr.data(), yi.data(), wr.data(), wi.data(), Q, Q, plan_P_, false);
      transpose(yr.data(), xr.data(), P, Q);
      transpose(yi.data(), xi.data(), P, Q);
      for (int64_t t = 0; t < Q * P; ++t) {
        const double re = xr[t] * khat_re_[t] - xi[t] * khat_im_[t];
        const double im = xr[t] * khat_im_[t] + xi[t] * khat_re_[t];
        xr[t] = re;
        xi[t] = im;
      }
      // inverse: along c (outer), all inner r; then along r with only the used columns
      fft_outer(xr.data(), xi.data(), wr.data(), wi.data(), P, P, plan_Q_, true);
      transpose(xr.data(), yr.data(), Q, P);
      transpose(xi.data(), yi.data(), Q, P);
      fft_outer(yr.data(), yi.data(), wr.data(), wi.data(), Q, used_cols, plan_P_, true);
      for (int64_t k = 0; k < n_used; ++k) {
        const int64_t at = (k % rows) * Q + k / rows;  // [r][c]
        A[a * n_used + k] = yr[at] * scale;
        if (b < n) A[b * n_used + k] = yi[at] * scale;
      }
    }
  }
}

}  // namespace genomap
