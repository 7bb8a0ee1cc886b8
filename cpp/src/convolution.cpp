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

// sin 60, cos/sin 72 and 144 degrees: the radix-3 and radix-5 DFT constants
constexpr double kSin60 = 0.86602540378443864676;
constexpr double kCos72 = 0.30901699437494742410, kSin72 = 0.95105651629515357212;
constexpr double kCos144 = -0.80901699437494742410, kSin144 = 0.58778525229247312917;

// Radix-R DFT butterfly of one Stockham stage over `active` contiguous entries:
// y_k = (sum_j x_j w_R^(jk)) * t_k, x_j = in + j * in_stride, y_k = out + k * out_stride,
// w_R = exp(-sign 2 pi i / R).
template <int R>
GENOMAP_CLONES void butterfly(const double* __restrict xr, const double* __restrict xi,
                              int64_t in_stride, double* __restrict yr, double* __restrict yi,
                              int64_t out_stride, int64_t active, const double* tr_in,
                              const double* ti_in, double sign) {
  double tr[R], ti[R];  // local copies: they cannot alias the outputs
  for (int k = 0; k < R; ++k) {
    tr[k] = tr_in[k];
    ti[k] = ti_in[k];
  }
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
    } else if constexpr (R == 3) {
      // w_3 = -1/2 -+ i sqrt(3)/2: b1 = m - i n, b2 = m + i n
      const double tr3 = ar[1] + ar[2], ti3 = ai[1] + ai[2];
      const double mr = ar[0] - 0.5 * tr3, mi = ai[0] - 0.5 * ti3;
      const double nr = sign * kSin60 * (ar[1] - ar[2]), ni = sign * kSin60 * (ai[1] - ai[2]);
      br[0] = ar[0] + tr3;
      bi[0] = ai[0] + ti3;
      br[1] = mr + ni;
      bi[1] = mi - nr;
      br[2] = mr - ni;
      bi[2] = mi + nr;
    } else {  // R == 5, by the symmetric pairs (a1, a4) and (a2, a3)
      const double t1r = ar[1] + ar[4], t1i = ai[1] + ai[4], t3r = ar[1] - ar[4], t3i = ai[1] - ai[4];
      const double t2r = ar[2] + ar[3], t2i = ai[2] + ai[3], t4r = ar[2] - ar[3], t4i = ai[2] - ai[3];
      const double m1r = ar[0] + kCos72 * t1r + kCos144 * t2r, m1i = ai[0] + kCos72 * t1i + kCos144 * t2i;
      const double m2r = ar[0] + kCos144 * t1r + kCos72 * t2r, m2i = ai[0] + kCos144 * t1i + kCos72 * t2i;
      const double n1r = sign * (kSin72 * t3r + kSin144 * t4r), n1i = sign * (kSin72 * t3i + kSin144 * t4i);
      const double n2r = sign * (kSin144 * t3r - kSin72 * t4r), n2i = sign * (kSin144 * t3i - kSin72 * t4i);
      br[0] = ar[0] + t1r + t2r;
      bi[0] = ai[0] + t1i + t2i;
      br[1] = m1r + n1i;  // m1 - i n1
      bi[1] = m1i - n1r;
      br[4] = m1r - n1i;  // m1 + i n1
      bi[4] = m1i + n1r;
      br[2] = m2r + n2i;  // m2 - i n2
      bi[2] = m2i - n2r;
      br[3] = m2r - n2i;  // m2 + i n2
      bi[3] = m2i + n2r;
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
  double tr[5], ti[5];
  for (int R : plan.radices) {
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
          case 2: butterfly<2>(xr + in, xi + in, is, yr + out, yi + out, os, active, tr, ti, sign); break;
          case 3: butterfly<3>(xr + in, xi + in, is, yr + out, yi + out, os, active, tr, ti, sign); break;
          case 4: butterfly<4>(xr + in, xi + in, is, yr + out, yi + out, os, active, tr, ti, sign); break;
          default: butterfly<5>(xr + in, xi + in, is, yr + out, yi + out, os, active, tr, ti, sign);
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

// (A, B) row-major with row stride lda -> (B, A) with row stride ldb, in cache-sized tiles.
void transpose(const double* in, double* out, int64_t A, int64_t B, int64_t lda, int64_t ldb) {
  constexpr int64_t T = 32;
  for (int64_t a0 = 0; a0 < A; a0 += T)
    for (int64_t b0 = 0; b0 < B; b0 += T)
      for (int64_t a = a0; a < std::min(A, a0 + T); ++a)
        for (int64_t b = b0; b < std::min(B, b0 + T); ++b) out[b * ldb + a] = in[a * lda + b];
}

void transpose(const double* in, double* out, int64_t A, int64_t B) {
  transpose(in, out, A, B, B, A);
}

// Row stride for an FFT buffer of `width` columns: off powers of two, since the FFT reads and
// writes several rows a power-of-two distance apart, which would map to the same cache sets.
int64_t padded_stride(int64_t width) { return width + 8; }

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
    // [c][r] layout (Q rows of P, stride lx) and its transpose [r][c] (P rows of Q, stride ly);
    // each FFT uses the other pair as its work arrays (overwritten by the next transpose anyway)
    const int64_t lx = padded_stride(P), ly = padded_stride(Q);
    const size_t size = static_cast<size_t>(std::max(Q * lx, P * ly));
    std::vector<double> xr(size), xi(size), yr(size), yi(size);
#pragma omp for schedule(dynamic, 1)
    for (int64_t pair = 0; pair < pairs; ++pair) {
      const int64_t a = 2 * pair, b = a + 1;
      std::fill(xr.begin(), xr.end(), 0.0);
      std::fill(xi.begin(), xi.end(), 0.0);
      for (int64_t k = 0; k < n_used; ++k) {  // pixel k: row k % rows, column k / rows
        const int64_t at = (k / rows) * lx + k % rows;
        xr[at] = S[a * n_used + k];
        if (b < n) xi[at] = S[b * n_used + k];
      }
      // along c (outer, Q), inner r: the first `rows` entries are non-zero
      fft_outer(xr.data(), xi.data(), yr.data(), yi.data(), lx, rows, plan_Q_, false);
      transpose(xr.data(), yr.data(), Q, P, lx, ly);
      transpose(xi.data(), yi.data(), Q, P, lx, ly);
      // along r (outer, P), inner c: all Q
      fft_outer(yr.data(), yi.data(), xr.data(), xi.data(), ly, Q, plan_P_, false);
      transpose(yr.data(), xr.data(), P, Q, ly, lx);
      transpose(yi.data(), xi.data(), P, Q, ly, lx);
      for (int64_t c = 0; c < Q; ++c)
        for (int64_t r = 0; r < P; ++r) {
          const int64_t t = c * lx + r, u = c * P + r;
          const double re = xr[t] * khat_re_[u] - xi[t] * khat_im_[u];
          const double im = xr[t] * khat_im_[u] + xi[t] * khat_re_[u];
          xr[t] = re;
          xi[t] = im;
        }
      // inverse: along c (outer), all inner r; then along r with only the used columns
      fft_outer(xr.data(), xi.data(), yr.data(), yi.data(), lx, P, plan_Q_, true);
      transpose(xr.data(), yr.data(), Q, P, lx, ly);
      transpose(xi.data(), yi.data(), Q, P, lx, ly);
      fft_outer(yr.data(), yi.data(), xr.data(), xi.data(), ly, used_cols, plan_P_, true);
      for (int64_t k = 0; k < n_used; ++k) {
        const int64_t at = (k % rows) * ly + k / rows;  // [r][c]
        A[a * n_used + k] = yr[at] * scale;
        if (b < n) A[b * n_used + k] = yi[at] * scale;
      }
    }
  }
}

}  // namespace genomap
