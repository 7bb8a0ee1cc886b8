#include "genomap/anneal.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <memory>
#include <random>
#include <stdexcept>

#include "genomap/multilevel.hpp"
#include "genomap/simd.hpp"
#include "genomap/transport.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace genomap {

namespace {

constexpr int64_t kRowBlock = 64;   // fixed reduction blocks: never derived from the thread count
constexpr double kScaleLimit = 1e50;  // absorb the scalings into the potentials beyond this

// Column reductions over a row-major (n, D) matrix in a fixed block order, so that sums do not
// depend on the thread count. partial: (blocks, D) workspace.
template <class RowFn>
void column_reduce(int64_t n, int64_t D, std::vector<double>& partial, double* out, int nt,
                   RowFn&& row_into) {
  const int64_t blocks = (n + kRowBlock - 1) / kRowBlock;
  partial.assign(blocks * D, 0.0);
#pragma omp parallel for schedule(static) num_threads(nt) if (n * D > 100000)
  for (int64_t b = 0; b < blocks; ++b) {
    double* acc = partial.data() + b * D;
    const int64_t r1 = std::min(n, (b + 1) * kRowBlock);
    for (int64_t i = b * kRowBlock; i < r1; ++i) row_into(i, acc);
  }
  std::fill(out, out + D, 0.0);
  for (int64_t b = 0; b < blocks; ++b) {
    const double* acc = partial.data() + b * D;
    for (int64_t d = 0; d < D; ++d) out[d] += acc[d];
  }
}

// Entropic transport of n genes (mass 1/n each) to D classes (mass c_d = cap_d / n), cost M
// (n, D), regularisation eps, warm-started from the potentials f (n) and g (D), which are
// updated. Writes the class coupling T (n, D) and returns the scaling iterations made.
// One exact log-domain update first (safe whatever M and eps did since the last call), then
// scaling iterations on the absorbed kernel exp((f + g - M) / eps), re-absorbed when the
// scalings leave [1e-50, 1e50] and redone in the log domain when they under/overflow.
struct Sinkhorn {
  int64_t n, D;
  std::vector<double> c, log_c;  // (D,)
  std::vector<double> K, u, v, ktu, kv, partial, colmax, u_ok, v_ok;
  int nt;

  Sinkhorn(int64_t n_, int64_t D_, const std::vector<int64_t>& cap, int nt_)
      : n(n_), D(D_), c(D_), log_c(D_), K(n_ * D_), u(n_), v(D_), ktu(D_), kv(n_), colmax(D_),
        nt(nt_) {
    for (int64_t d = 0; d < D; ++d) {
      c[d] = static_cast<double>(cap[d]) / static_cast<double>(n);
      log_c[d] = std::log(c[d]);
    }
  }

  void log_update(const double* M, double eps, std::vector<double>& f, std::vector<double>& g) {
    const double log_r = -std::log(static_cast<double>(n));
    // g_d = eps (log c_d - LSE_i (f_i - M_id) / eps): column maxima, then sums of exp.
    const double ninf = -std::numeric_limits<double>::infinity();
    {
      const int64_t blocks = (n + kRowBlock - 1) / kRowBlock;
      partial.assign(blocks * D, ninf);
#pragma omp parallel for schedule(static) num_threads(nt) if (n * D > 100000)
      for (int64_t b = 0; b < blocks; ++b) {
        double* mx = partial.data() + b * D;
        const int64_t r1 = std::min(n, (b + 1) * kRowBlock);
        for (int64_t i = b * kRowBlock; i < r1; ++i) {
          const double* m = M + i * D;
          for (int64_t d = 0; d < D; ++d) mx[d] = std::max(mx[d], (f[i] - m[d]) / eps);
        }
      }
      std::fill(colmax.begin(), colmax.end(), ninf);
      for (int64_t b = 0; b < blocks; ++b)
        for (int64_t d = 0; d < D; ++d) colmax[d] = std::max(colmax[d], partial[b * D + d]);
    }
    column_reduce(n, D, partial, ktu.data(), nt, [&](int64_t i, double* acc) {
      const double* m = M + i * D;
      for (int64_t d = 0; d < D; ++d) acc[d] += std::exp((f[i] - m[d]) / eps - colmax[d]);
    });
    for (int64_t d = 0; d < D; ++d) g[d] = eps * (log_c[d] - colmax[d] - std::log(ktu[d]));
#pragma omp parallel for schedule(static) num_threads(nt) if (n * D > 100000)
    for (int64_t i = 0; i < n; ++i) {
      const double* m = M + i * D;
      double mx = ninf;
      for (int64_t d = 0; d < D; ++d) mx = std::max(mx, (g[d] - m[d]) / eps);
      double s = 0.0;
      for (int64_t d = 0; d < D; ++d) s += std::exp((g[d] - m[d]) / eps - mx);
      f[i] = eps * (log_r - mx - std::log(s));
    }
  }

  void build_kernel(const double* M, double eps, const std::vector<double>& f,
                    const std::vector<double>& g) {
#pragma omp parallel for schedule(static) num_threads(nt) if (n * D > 100000)
    for (int64_t i = 0; i < n; ++i) {
      const double* m = M + i * D;
      double* k = K.data() + i * D;
      for (int64_t d = 0; d < D; ++d) k[d] = std::exp((f[i] + g[d] - m[d]) / eps);
    }
    std::fill(u.begin(), u.end(), 1.0);
    std::fill(v.begin(), v.end(), 1.0);
  }

  void absorb(double eps, std::vector<double>& f, std::vector<double>& g) {
    for (int64_t i = 0; i < n; ++i) f[i] += eps * std::log(u[i]);
    for (int64_t d = 0; d < D; ++d) g[d] += eps * std::log(v[d]);
  }

  static bool in_range(const std::vector<double>& x) {
    for (double a : x)
      if (!(a > 1.0 / kScaleLimit && a < kScaleLimit)) return false;
    return true;
  }

  int64_t solve(const double* M, double eps, std::vector<double>& f, std::vector<double>& g,
                int64_t max_iter, double tol, double* T) {
    const double r = 1.0 / static_cast<double>(n);
    log_update(M, eps, f, g);
    build_kernel(M, eps, f, g);
    int64_t it = 0;
    for (; it < max_iter; ++it) {
      column_reduce(n, D, partial, ktu.data(), nt, [&](int64_t i, double* acc) {
        const double ui = u[i];
        const double* k = K.data() + i * D;
        for (int64_t d = 0; d < D; ++d) acc[d] += k[d] * ui;
      });
      if (it % 10 == 0) {  // column marginal error of the current coupling (rows are exact)
        double err = 0.0;
        for (int64_t d = 0; d < D; ++d) err += std::fabs(v[d] * ktu[d] - c[d]);
        if (err < tol) break;
      }
      u_ok = u;
      v_ok = v;
      for (int64_t d = 0; d < D; ++d) v[d] = c[d] / ktu[d];
#pragma omp parallel for schedule(static) num_threads(nt) if (n * D > 100000)
      for (int64_t i = 0; i < n; ++i) {
        const double* k = K.data() + i * D;
        double s = 0.0;
        for (int64_t d = 0; d < D; ++d) s += k[d] * v[d];
        u[i] = r / s;
      }
      if (!in_range(u) || !in_range(v)) {
        // Keep the last good scalings in the potentials, then restart from an exact
        // log-domain update on a fresh kernel.
        u.swap(u_ok);
        v.swap(v_ok);
        absorb(eps, f, g);
        log_update(M, eps, f, g);
        build_kernel(M, eps, f, g);
      }
    }
#pragma omp parallel for schedule(static) num_threads(nt) if (n * D > 100000)
    for (int64_t i = 0; i < n; ++i) {
      const double* k = K.data() + i * D;
      double* t = T + i * D;
      for (int64_t d = 0; d < D; ++d) t[d] = u[i] * k[d] * v[d];
    }
    absorb(eps, f, g);
    return it;
  }
};

// Mean over classes of the spread (max - min over genes) of a linear term (n, D).
double class_spread(const double* B, int64_t n, int64_t D) {
  std::vector<double> lo(D, std::numeric_limits<double>::infinity()),
      hi(D, -std::numeric_limits<double>::infinity());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t d = 0; d < D; ++d) {
      lo[d] = std::min(lo[d], B[i * D + d]);
      hi[d] = std::max(hi[d], B[i * D + d]);
    }
  double s = 0.0;
  for (int64_t d = 0; d < D; ++d) s += hi[d] - lo[d];
  return s / static_cast<double>(D);
}

}  // namespace

namespace {

// y += a x (n values); no FMA in either clone, so both give the same sums.
GENOMAP_CLONES void axpy(int64_t n, double a, const double* __restrict x, double* __restrict y) {
  for (int64_t e = 0; e < n; ++e) y[e] += a * x[e];
}

// The state of a pair-swap search: A = C1 S L (n, D) for the current assignment, kept up to
// date by rank-one updates, and Q = sum_k A[k, a_k] (the objective is constants - Q / n^2).
// A is held transposed (AT, D x n): scoring gene i against every j reads class a's row of AT
// contiguously (the row-major A was read down a column: a cache miss per j), and a swap's
// update is D contiguous axpys of length n.
struct SwapState {
  const GWProblem& p;
  int64_t n, D;
  int nt;
  std::vector<double> AT, rowmajor, Ai, diagA, dC, Ldiag, Ldense, rowA, rowB, delta, col;

  SwapState(const GWProblem& p_, int nt_)
      : p(p_), n(p_.n), D(p_.grid->n_classes), nt(nt_), AT(n * D), Ai(D), diagA(n), dC(n),
        Ldiag(D), rowA(D), rowB(D), delta(D), col(n) {
    if (D <= 4096) Ldense = p.grid->dense_log_cost();
    for (int64_t d = 0; d < D; ++d) {
      const double* r = log_row(d, rowA.data());
      Ldiag[d] = r[d];
    }
    for (int64_t i = 0; i < n; ++i) dC[i] = p.C1[i * n + i];
  }
  // Row d of the class log-cost: a view into the dense copy, or computed into buf.
  const double* log_row(int64_t d, double* buf) const {
    if (!Ldense.empty()) return Ldense.data() + d * D;
    p.grid->log_cost_row(d, buf);
    return buf;
  }
  void refresh(const int64_t* assign) {
    rowmajor.resize(n * D);
    linear_term_assignment(p, assign, rowmajor.data(), nt);
    for (int64_t k = 0; k < n; ++k)
      for (int64_t e = 0; e < D; ++e) AT[e * n + k] = rowmajor[k * D + e];
    for (int64_t k = 0; k < n; ++k) diagA[k] = AT[assign[k] * n + k];
  }
  // Gains of trading gene i (class a) with every gene j (class assign[j]) into g (n); -inf
  // where j is in class a. (C1 symmetric.)
  void gains(int64_t i, const int64_t* assign, double* g, double* buf) {
    const int64_t a = assign[i];
    const double* La_row = log_row(a, buf);
    for (int64_t e = 0; e < D; ++e) Ai[e] = AT[e * n + i];
    const double* ATa = AT.data() + a * n;
    const double* Ci = p.C1 + i * n;
    const double Aia = Ai[a], La = Ldiag[a], dCi = dC[i];
    const double ninf = -std::numeric_limits<double>::infinity();
#pragma omp parallel for schedule(static) num_threads(nt) if (n >= 16384)
    for (int64_t j = 0; j < n; ++j) {
      const int64_t b = assign[j];
      if (b == a) {
        g[j] = ninf;
        continue;
      }
      const double Lab = La_row[b], Lb = Ldiag[b];
      g[j] = 2.0 * ((Ai[b] - Aia) - (diagA[j] - ATa[j])) +
             2.0 * Ci[j] * (2.0 * Lab - La - Lb) - 2.0 * dCi * (Lab - La) +
             2.0 * dC[j] * (Lb - Lab) + (dCi - dC[j]) * (Lb - La);
    }
  }
  // Genes i and j trade classes: A += (C1[:, i] - C1[:, j]) (L[b, :] - L[a, :]).
  void apply(int64_t i, int64_t j, int64_t* assign) {
    const int64_t a = assign[i], b = assign[j];
    const double* La = log_row(a, rowA.data());
    const double* Lb = log_row(b, rowB.data());
    for (int64_t e = 0; e < D; ++e) delta[e] = Lb[e] - La[e];
    const double* ci = p.C1 + i * n;  // C1 symmetric: rows for columns
    const double* cj = p.C1 + j * n;
    for (int64_t k = 0; k < n; ++k) col[k] = ci[k] - cj[k];
#pragma omp parallel for schedule(static) num_threads(nt) if (n * D >= (int64_t{1} << 22))
    for (int64_t e = 0; e < D; ++e)
      if (delta[e] != 0.0) axpy(n, delta[e], col.data(), AT.data() + e * n);
    assign[i] = b;
    assign[j] = a;
    for (int64_t k = 0; k < n; ++k) diagA[k] = AT[assign[k] * n + k];
  }
  // Smallest gain worth taking: far above the rounding of the incremental updates.
  double tolerance() const {
    const int64_t m = std::min<int64_t>(n, 64);
    double scale = 0.0;
    for (int64_t i = 0; i < n * m; ++i) scale += std::fabs(p.C1[i]);
    return 1e-10 * (1.0 + scale / static_cast<double>(m));
  }
};

}  // namespace

namespace {

// One gene per class on a large grid (a euclidean grid of over 4,096 pixels): the swap annealing
// reads the class sums through the assignment instead of storing them, and objectives are
// computed by rows (objective_by_rows) instead of from the (n, D) linear term.
bool large_unit_grid(const GWProblem& p, int64_t min_genes = kGatherMinGenes) {
  if (p.n != p.grid->n_classes || p.n < min_genes) return false;
  for (int64_t c : p.grid->capacity)
    if (c != 1) return false;
  return true;
}

// The objective of an assignment from rows of the log-cost: sum_i A[i, a_i] with
// A[i, a_i] = sum_k C1[i, k] L[a_k, a_i], O(n^2 + n D) without the (n, D) linear term, for
// grids too large for it. Fixed row blocks: the sum does not depend on the thread count.
double objective_by_rows(const GWProblem& p, const int64_t* assign, int nt) {
  const int64_t n = p.n, D = p.grid->n_classes;
  const int64_t blocks = (n + kRowBlock - 1) / kRowBlock;
  std::vector<double> partial(blocks, 0.0);
#pragma omp parallel num_threads(nt)
  {
    std::vector<double> L(D);
#pragma omp for schedule(static)
    for (int64_t b = 0; b < blocks; ++b) {
      double acc = 0.0;
      for (int64_t i = b * kRowBlock; i < std::min(n, (b + 1) * kRowBlock); ++i) {
        p.grid->log_cost_row(assign[i], L.data());  // symmetric: L[a_k, a_i] = L[a_i, a_k]
        const double* c = p.C1 + i * n;
        double s = 0.0;
        for (int64_t k = 0; k < n; ++k) s += c[k] * L[assign[k]];
        acc += s;
      }
      partial[b] = acc;
    }
  }
  double q = 0.0;
  for (double x : partial) q += x;
  const double nn = static_cast<double>(n) * static_cast<double>(n);
  return p.f1_term + p.grid->mean_cost - q / nn;
}

// xoshiro256** seeded by splitmix64: a few cycles per draw, and bounded integers by a
// multiply-shift instead of std::uniform_int_distribution's divisions (together they were a
// large part of a proposal's cost).
struct FastRng {
  uint64_t s[4];
  explicit FastRng(uint64_t seed) {
    for (auto& x : s) {
      seed += 0x9E3779B97F4A7C15ULL;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
      x = z ^ (z >> 31);
    }
  }
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t next() {
    const uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
  }
  // Uniform in [0, m) (bias below m / 2^64).
  int64_t below(int64_t m) {
    return static_cast<int64_t>((static_cast<unsigned __int128>(next()) *
                                 static_cast<uint64_t>(m)) >> 64);
  }
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
};

// An accepted swap moves gene weights w (kLane per block) out of class column a into b of the
// blocked class sums: col_a -= w, col_b += w in every block.
template <int64_t kLane>
inline void move_columns(float* __restrict col_a, float* __restrict col_b,
                         const float* __restrict w, int64_t nb, int64_t stride) {
  for (int64_t kb = 0; kb < nb; ++kb) {
    float* ca = col_a + kb * stride;
    float* cb = col_b + kb * stride;
    const float* wk = w + kb * kLane;
    for (int64_t t = 0; t < kLane; ++t) {
      ca[t] -= wk[t];
      cb[t] += wk[t];
    }
  }
}

// The same with w = ri - rj read from two rows (padded to nb * kLane).
template <int64_t kLane>
inline void move_rows(float* __restrict col_a, float* __restrict col_b,
                      const float* __restrict ri, const float* __restrict rj, int64_t nb,
                      int64_t stride) {
  for (int64_t kb = 0; kb < nb; ++kb) {
    float* ca = col_a + kb * stride;
    float* cb = col_b + kb * stride;
    for (int64_t t = 0; t < kLane; ++t) {
      const float wk = ri[kb * kLane + t] - rj[kb * kLane + t];
      ca[t] -= wk;
      cb[t] += wk;
    }
  }
}

constexpr int64_t kDotLanes = 16;  // float accumulators of block_dot

// The dot products of a proposal over two blocks of interleaved class sums (kLane genes per
// block, m floats each, m a multiple of kDotLanes) with the duplicated log-cost difference
// Lb - La: sum_e CS[i, e] (Lb[e] - La[e]) - sum_e CS[j, e] (Lb[e] - La[e]), i the gene in lane
// li of block bi, j in lane lj of bj. Both lanes of each block are summed (vectorised over
// whole blocks) and the wanted lane picked at the end. Float accumulators: the gain only steers
// the Metropolis choice (the objective kept is recomputed in double). No FMA in either clone,
// so both give the same sums.
GENOMAP_CLONES double block_dot(const float* __restrict bi, const float* __restrict bj,
                                const float* __restrict La, const float* __restrict Lb,
                                int64_t m, int lanes, int li, int lj) {
  float ai[kDotLanes] = {}, aj[kDotLanes] = {};
  for (int64_t c = 0; c < m; c += kDotLanes)
    for (int64_t l = 0; l < kDotLanes; ++l) {
      const float d = Lb[c + l] - La[c + l];
      ai[l] += bi[c + l] * d;
      aj[l] += bj[c + l] * d;
    }
  double si = 0.0, sj = 0.0;
  for (int64_t l = li; l < kDotLanes; l += lanes) si += static_cast<double>(ai[l]);
  for (int64_t l = lj; l < kDotLanes; l += lanes) sj += static_cast<double>(aj[l]);
  return si - sj;
}

// sum_k (ri[k] - rj[k]) (Lb[idx[k]] - La[idx[k]]) over m values (m a multiple of 8): the dot
// of a proposal on a one-gene-per-class grid, idx[k] the log-cost column of gene k's class.
// Eight float lanes (k mod 8), summed in double at the end; the AVX2 version gathers, and both
// do the same float operations in the same order (no FMA), so they give the same sums.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define GENOMAP_GATHER_AVX2 1
__attribute__((target("avx2"))) double lookup_dot_avx2(const float* __restrict ri,
                                                       const float* __restrict rj,
                                                       const float* La, const float* Lb,
                                                       const int32_t* __restrict idx, int64_t m) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t k = 0; k < m; k += 8) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx + k));
    const __m256 dl = _mm256_sub_ps(_mm256_i32gather_ps(Lb, x, 4), _mm256_i32gather_ps(La, x, 4));
    const __m256 dr = _mm256_sub_ps(_mm256_loadu_ps(ri + k), _mm256_loadu_ps(rj + k));
    acc = _mm256_add_ps(acc, _mm256_mul_ps(dr, dl));
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc);
  double s = 0.0;
  for (float v : lanes) s += static_cast<double>(v);
  return s;
}
#endif

double lookup_dot_scalar(const float* ri, const float* rj, const float* La, const float* Lb,
                         const int32_t* idx, int64_t m) {
  float lanes[8] = {};
  for (int64_t k = 0; k < m; k += 8)
    for (int64_t l = 0; l < 8; ++l) {
      const float dl = Lb[idx[k + l]] - La[idx[k + l]];
      const float dr = ri[k + l] - rj[k + l];
      lanes[l] += dr * dl;
    }
  double s = 0.0;
  for (float v : lanes) s += static_cast<double>(v);
  return s;
}

using LookupDot = double (*)(const float*, const float*, const float*, const float*,
                             const int32_t*, int64_t);
LookupDot pick_lookup_dot() {
#ifdef GENOMAP_GATHER_AVX2
  if (__builtin_cpu_supports("avx2")) return lookup_dot_avx2;
#endif
  return lookup_dot_scalar;
}

// An accepted swap on class-major sums: class a loses w = ri - rj, class b gains it (m values).
GENOMAP_CLONES void move_class_rows(float* __restrict ca, float* __restrict cb,
                                    const float* __restrict ri, const float* __restrict rj,
                                    int64_t m) {
  for (int64_t k = 0; k < m; ++k) {
    const float w = ri[k] - rj[k];
    ca[k] -= w;
    cb[k] += w;
  }
}

}  // namespace

SwapStats swap_local_search(const GWProblem& p, int64_t* assign, int64_t max_passes,
                            int num_threads, double max_work) {
  const int64_t n = p.n, D = p.grid->n_classes;
  const int nt = num_threads > 0 ? num_threads : 1;
  SwapStats st;
  const std::vector<int64_t> start(assign, assign + n);
  const double start_obj = objective_assignment(p, assign, nt);
  st.objective = start_obj;
  if (D < 2 || n < 2) return st;
  SwapState S(p, nt);
  const double tol = S.tolerance();
  std::vector<double> gain(n), buf(D);
  // Work in multiply-adds: a refresh n D (D + n / D), a scan n, a swap n D.
  const double nd = static_cast<double>(n) * static_cast<double>(D);
  double work = 0.0;
  bool out_of_work = false;
  // A is recomputed (a product of n x n x D multiply-adds, most of a pass's cost on small
  // grids) at the first pass and then once kRefreshSwaps rank-one updates have accumulated:
  // their drift (about 1e-16 relative each) stays far below the tolerance.
  constexpr int64_t kRefreshSwaps = 4096;
  int64_t since_refresh = kRefreshSwaps;
  for (int64_t pass = 0; pass < max_passes && !out_of_work; ++pass) {
    st.passes++;
    if (since_refresh >= kRefreshSwaps) {
      S.refresh(assign);
      since_refresh = 0;
      work += nd * static_cast<double>(D) + static_cast<double>(n) * static_cast<double>(n);
    }
    int64_t swaps = 0;
    for (int64_t i = 0; i < n; ++i) {
      work += static_cast<double>(n);
      if (max_work > 0 && work > max_work) {
        out_of_work = true;
        break;
      }
      S.gains(i, assign, gain.data(), buf.data());
      int64_t best = -1;
      double best_gain = tol;
      for (int64_t j = 0; j < n; ++j)
        if (gain[j] > best_gain) {
          best_gain = gain[j];
          best = j;
        }
      if (best < 0) continue;
      S.apply(i, best, assign);
      work += nd;
      ++swaps;
      ++since_refresh;
    }
    st.swaps += swaps;
    if (swaps == 0) break;
  }
  st.objective = objective_assignment(p, assign, nt);
  if (!(st.objective <= start_obj)) {  // rounding could only ever make this a tie; keep start
    std::copy(start.begin(), start.end(), assign);
    st.objective = start_obj;
  }
  return st;
}

SwapAnnealStats swap_anneal(const GWProblem& p, int64_t* assign, int64_t proposals,
                            double t_start, double t_end, uint64_t seed, int num_threads,
                            int64_t neighbours, int64_t gather_min_genes,
                            int64_t lookup_min_genes, int64_t class_major_max_bytes) {
  if (!(t_start > 0) || !(t_end > 0) || t_end > t_start)
    throw std::invalid_argument("need 0 < t_end <= t_start");
  if (class_major_max_bytes < 0) throw std::invalid_argument("class_major_max_bytes must be >= 0");
  const int64_t n = p.n, D = p.grid->n_classes;
  const int nt = num_threads > 0 ? num_threads : 1;
  SwapAnnealStats st;
  const bool gather = large_unit_grid(p, gather_min_genes);
  // One gene per class from lookup_min_genes to 4,096 genes (euclidean and user-cost grids):
  // class sums are C1's columns permuted, so a proposal's dot reads C1's rows i and j (float)
  // and gathers the log-cost rows through each gene's class (from a displacement table on
  // translation-invariant grids: 64 KB at 64x64); an accepted swap costs O(1). At 64x64
  // euclidean 5 us per proposal against 10 us through stored class sums (their log-cost rows
  // are converted per proposal above 2,048 classes); below, the stored sums are as fast.
  const bool c1_float = !gather && n < kGatherMinGenes;  // C1 in float (see below)
  const bool unit = c1_float && large_unit_grid(p, lookup_min_genes);
  auto objective = [&]() {
    return gather ? objective_by_rows(p, assign, nt) : objective_assignment(p, assign, nt);
  };
  st.objective = objective();
  if (D < 2 || n < 2 || proposals <= 0) return st;
  const std::vector<int64_t> start(assign, assign + n);
  // Class sums CS = C1 S (n, D): a swap changes two of its columns (O(n)), and the change of
  // Q it makes needs one dot product of length D, so a proposal costs O(D) and an accepted
  // swap O(n), instead of O(n D) for keeping the full linear term. CS is held in blocks of kLane
  // genes, [gene / kLane][class][gene % kLane], so that a class column (written by every
  // accepted swap) is n / kLane runs of kLane values instead of n scattered values.
  // One gene per class on a large grid (euclidean, 4,096+ pixels): CS is C1 with its columns
  // permuted, CS[k, e] = C1[k, gene_of[e]]; it is read through gene_of instead of stored
  // (n x D doubles would be 800 MB at 100x100), and an accepted swap costs O(1).
  // CS is stored in float32: half the bytes (at pbmc68k_reduced's 765 genes x 106 rings it then
  // fits a 512 KB L2), and a proposal's gain, summed from it in float (block_dot), only steers
  // the Metropolis choice; the objective kept is recomputed exactly in double at the end.
  // Where the time went on pbmc68k_reduced (perf, before these changes): the proposal's C1[i, j]
  // (a cache miss: now prefetched with the proposal drawn ahead, from a float copy of C1), the
  // RNG's divisions, then the accepted swaps' column updates (float, vectorised).
  constexpr int64_t kLane = 2;  // 4 and 8: fewer cache lines per accepted swap, but slower
                                // proposals (pbmc68k_reduced 0.67 s and 0.99 s vs 0.57 s)
  const double* C1 = p.C1;
  // Classes padded to a multiple of 8, so that a block (kLane x Dp floats) is whole vectors of
  // block_dot; the padding stays 0.
  const int64_t Dp = (D + 7) / 8 * 8, stride = Dp * kLane;
  const int64_t nb = gather || unit ? 0 : (n + kLane - 1) / kLane;
  std::vector<float> CS(nb * stride, 0.0f);
  std::vector<double> Ldiag(D), dC(n), Lbuf(D), Lbuf2(D);
  std::vector<float> w(nb * kLane, 0.0f);
  // C1 in float up to 4,096 genes (64 MB): an accepted swap reads two of its rows, a proposal
  // one entry, mostly from memory; half the bytes. (Proposals only steer; see block_dot.)
  // Rows padded to nb * kLane with zeros, so that an accepted swap reads them block by block.
  const int64_t n2 = unit ? (n + 7) / 8 * 8 : nb * kLane;
  std::vector<float> C1f(c1_float ? n * n2 : 0, 0.0f);
  if (c1_float)
    for (int64_t r = 0; r < n; ++r)
      for (int64_t k = 0; k < n; ++k) C1f[r * n2 + k] = static_cast<float>(C1[r * n + k]);
  auto c1 = [&](int64_t i, int64_t j) {
    return c1_float ? static_cast<double>(C1f[i * n2 + j]) : C1[i * n + j];
  };
  std::vector<int64_t> gene_of(gather ? D : 0);
  // unit: L[d, e] = Lt[row_base[d] + column[e]], and col_of[k] = column[class of gene k]
  // (zeros past n, where C1f's padding is 0).
  std::vector<float> Lt;
  std::vector<int64_t> row_base, column;
  std::vector<int32_t> col_of(unit ? n2 : 0, 0);
  if (unit) {
    p.grid->log_cost_lookup(Lt, row_base, column);
    if (Lt.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
      throw std::logic_error("swap_anneal: log-cost lookup too large for 32-bit indices");
  }
  const LookupDot lookup_dot = pick_lookup_dot();
  const bool dup_table = !gather && !unit && D <= 2048;  // see Ldup below
  // While many proposals are accepted (early, hot), the class sums are held class-major,
  // CSt[e * n2 + k]: an accepted swap then updates two contiguous rows (O(n) vectorised, 0.1 us
  // at pbmc68k_reduced's 765 genes, against 1 us for two columns of the blocks: n / kLane cache
  // lines), and a proposal gathers its two genes' sums (2 D cache lines, 0.25 us there, against
  // 0.07 us from the blocks). So the class-major sums pay while the share of proposals accepted
  // is above about kClassMajorAccept x D / n; once a window's share falls below it, the blocks
  // take over for good. pbmc68k_reduced (765 genes, 106 rings: 0.1): 59% of the first tenth of
  // the schedule's proposals accepted, 2.6% of the sixth; annealing 0.40 -> 0.25 s, same
  // objectives over seeds (0.03 and 0.3 there were slower); 64x64 radial 19.5 -> 14.9 s. Not on
  // one-gene-per-pixel grids (D = n: 33x33 euclidean 3.6 -> 5.2 s), and only up to 16 MB of
  // sums, i.e. with C1 in float (up to 4,096 genes): gathers from memory would cost more.
  constexpr double kClassMajorAccept = 0.72;
  constexpr int64_t kClassMajorWindow = 4096;
  const double class_major_share =
      kClassMajorAccept * static_cast<double>(D) / static_cast<double>(n);
  bool class_major = dup_table && c1_float && class_major_share < 0.5 &&
                     Dp * n2 * static_cast<int64_t>(sizeof(float)) <= class_major_max_bytes;
  std::vector<float> CSt(class_major ? Dp * n2 : 0, 0.0f), Lflat(class_major ? D * Dp : 0, 0.0f);
  std::vector<int32_t> cm_index(class_major ? Dp : 0, 0);
  for (int64_t e = 0; e < (class_major ? D : 0); ++e) cm_index[e] = static_cast<int32_t>(e * n2);
  auto load_sums = [&]() {
    if (unit) {
      for (int64_t k = 0; k < n; ++k) col_of[k] = static_cast<int32_t>(column[assign[k]]);
      return;
    }
    if (gather) {
      for (int64_t k = 0; k < n; ++k) gene_of[assign[k]] = k;
      return;
    }
    std::vector<double> rowmajor(n * D);
    class_sums(p, assign, D, rowmajor.data(), nt);
    if (class_major) {
      for (int64_t k = 0; k < n; ++k)
        for (int64_t e = 0; e < D; ++e)
          CSt[e * n2 + k] = static_cast<float>(rowmajor[k * D + e]);
      return;
    }
    for (int64_t k = 0; k < n; ++k)
      for (int64_t e = 0; e < D; ++e)
        CS[(k / kLane) * stride + e * kLane + k % kLane] = static_cast<float>(rowmajor[k * D + e]);
  };
  const bool dense = !unit && D <= 4096;
  const std::vector<double> Ldense = dense ? p.grid->dense_log_cost() : std::vector<double>();
  auto log_row = [&](int64_t d, double* buf) -> const double* {
    if (dense) return Ldense.data() + d * D;
    p.grid->log_cost_row(d, buf);
    return buf;
  };
  // Log-cost rows in float, each value twice (both lanes of a block): a table up to 2,048
  // classes (32 MB), else filled per proposal.
  std::vector<float> Ldup(dup_table ? D * stride : 0, 0.0f), dupA(stride, 0.0f),
      dupB(stride, 0.0f);
  auto fill_dup = [&](const double* row, float* out) {
    for (int64_t e = 0; e < D; ++e)
      for (int64_t l = 0; l < kLane; ++l) out[e * kLane + l] = static_cast<float>(row[e]);
  };
  if (dup_table)
    for (int64_t d = 0; d < D; ++d) fill_dup(log_row(d, Lbuf.data()), Ldup.data() + d * stride);
  if (class_major)
    for (int64_t d = 0; d < D; ++d) {
      const double* row = log_row(d, Lbuf.data());
      for (int64_t e = 0; e < D; ++e) Lflat[d * Dp + e] = static_cast<float>(row[e]);
    }
  for (int64_t d = 0; d < D; ++d)
    Ldiag[d] = unit ? static_cast<double>(Lt[row_base[d] + column[d]])
                    : log_row(d, Lbuf.data())[d];
  for (int64_t i = 0; i < n; ++i) dC[i] = C1[i * n + i];
  load_sums();
  // sum_e (CS[i, e] - CS[j, e]) (Lb[e] - La[e]), plus La[b] (Lab).
  auto row_dot = [&](int64_t i, int64_t j, int64_t a, int64_t b, double& Lab) {
    if (unit) {
      Lab = static_cast<double>(Lt[row_base[a] + column[b]]);
      return lookup_dot(C1f.data() + i * n2, C1f.data() + j * n2, Lt.data() + row_base[a],
                        Lt.data() + row_base[b], col_of.data(), n2);
    }
    if (gather) {  // double, in four partial sums (one serial chain is add-latency bound)
      const double* La = log_row(a, Lbuf.data());
      const double* Lb = log_row(b, Lbuf2.data());
      Lab = La[b];
      double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
      int64_t e = 0;
      const double* ri = C1 + i * n;
      const double* rj = C1 + j * n;
      const int64_t* g = gene_of.data();
      for (; e + 4 <= D; e += 4) {
        s0 += (ri[g[e]] - rj[g[e]]) * (Lb[e] - La[e]);
        s1 += (ri[g[e + 1]] - rj[g[e + 1]]) * (Lb[e + 1] - La[e + 1]);
        s2 += (ri[g[e + 2]] - rj[g[e + 2]]) * (Lb[e + 2] - La[e + 2]);
        s3 += (ri[g[e + 3]] - rj[g[e + 3]]) * (Lb[e + 3] - La[e + 3]);
      }
      for (; e < D; ++e) s0 += (ri[g[e]] - rj[g[e]]) * (Lb[e] - La[e]);
      return (s0 + s1) + (s2 + s3);
    }
    if (class_major) {
      Lab = Ldense[a * D + b];  // class_major implies dup_table, so a dense log-cost
      // sum_e (CSt[e, i] - CSt[e, j]) (Lb[e] - La[e]): lookup_dot with the roles swapped
      // (contiguous log-cost rows, sums gathered through cm_index[e] = e * n2; 0 on the
      // padding, where Lb - La is 0)
      return lookup_dot(Lflat.data() + b * Dp, Lflat.data() + a * Dp, CSt.data() + j,
                        CSt.data() + i, cm_index.data(), Dp);
    }
    const float *fa, *fb;
    if (dup_table) {
      fa = Ldup.data() + a * stride;
      fb = Ldup.data() + b * stride;
      Lab = Ldense[a * D + b];  // dup_table implies a dense log-cost
    } else {
      const double* La = log_row(a, Lbuf.data());
      Lab = La[b];
      fill_dup(La, dupA.data());
      fill_dup(log_row(b, Lbuf2.data()), dupB.data());
      fa = dupA.data();
      fb = dupB.data();
    }
    return block_dot(CS.data() + (i / kLane) * stride, CS.data() + (j / kLane) * stride, fa, fb,
                     stride, kLane, static_cast<int>(i % kLane), static_cast<int>(j % kLane));
  };
  auto gain = [&](int64_t i, int64_t j, int64_t a, int64_t b) {
    double Lab = 0.0;
    const double dot = row_dot(i, j, a, b, Lab);
    const double La_ = Ldiag[a], Lb_ = Ldiag[b];
    return 2.0 * dot + 2.0 * c1(i, j) * (2.0 * Lab - La_ - Lb_) - 2.0 * dC[i] * (Lab - La_) +
           2.0 * dC[j] * (Lb_ - Lab) + (dC[i] - dC[j]) * (Lb_ - La_);
  };
  // Proposals: gene i uniformly, then (neighbours > 0) one of the `neighbours` classes
  // nearest to i's class in grid cost and a gene j of that class uniformly, else j uniformly.
  const bool local = neighbours > 0 && D > 2;
  const int64_t K = local ? std::min(neighbours, D - 1) : 0;
  // Compact int32 tables (a proposal's chain of dependent loads: its class, a near class, that
  // class's members, one of them; small enough to stay in L1/L2 beside the class sums). The
  // members of class c are member[span[c].first + 0 .. span[c].second), fixed counts (swaps
  // keep them); pos[i]: gene i's index in member.
  std::vector<int32_t> near(D * K), member(local ? n : 0), pos(local ? n : 0);
  std::vector<std::pair<int32_t, int32_t>> span(local ? D : 0, {0, 0});
  if (local) {
    std::vector<double> cost(D);
    std::vector<int64_t> order(D);
    for (int64_t d = 0; d < D; ++d) {
      p.grid->cost_row(d, cost.data());
      for (int64_t e = 0; e < D; ++e) order[e] = e;
      std::swap(order[d], order[D - 1]);  // never d itself
      std::partial_sort(order.begin(), order.begin() + K, order.end() - 1,
                        [&](int64_t x, int64_t y) {
                          return cost[x] < cost[y] || (cost[x] == cost[y] && x < y);
                        });
      for (int64_t k = 0; k < K; ++k) near[d * K + k] = static_cast<int32_t>(order[k]);
    }
    for (int64_t i = 0; i < n; ++i) ++span[assign[i]].second;
    for (int64_t d = 1; d < D; ++d) span[d].first = span[d - 1].first + span[d - 1].second;
    std::vector<int32_t> fill(D, 0);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t c = assign[i];
      pos[i] = span[c].first + fill[c]++;
      member[pos[i]] = static_cast<int32_t>(i);
    }
  }
  FastRng rng(seed ^ 0xA5A5A5A5DEADBEEFULL);
  auto propose = [&](int64_t& i, int64_t& j) {
    i = rng.below(n);
    if (!local) {
      j = rng.below(n);
      return;
    }
    const auto [first, count] = span[near[assign[i] * K + rng.below(K)]];
    j = member[first + rng.below(count)];
  };
  // Temperature scale: mean |gain| of proposed swaps from the start.
  double g0 = 0.0;
  int64_t m = 0;
  for (int64_t t = 0; t < 4 * n && m < 1000; ++t) {
    int64_t i, j;
    propose(i, j);
    if (assign[i] == assign[j]) continue;
    g0 += std::fabs(gain(i, j, assign[i], assign[j]));
    ++m;
  }
  if (m == 0 || !(g0 > 0)) return st;
  g0 /= static_cast<double>(m);
  double T = t_start * g0;
  const double cool = std::pow(t_end / t_start, 1.0 / static_cast<double>(proposals));
  double Q = 0.0, bestQ = 0.0;  // relative to the start
  // The best assignment visited: the swaps accepted since it was last brought up to date are
  // journalled and replayed on a new best (O(1) per accepted swap, not O(n) per new best).
  std::vector<int64_t> best(assign, assign + n);
  std::vector<std::pair<int64_t, int64_t>> journal;
  int64_t since_refresh = 0;
  // Proposals are drawn kAhead steps ahead, so that a pair's C1[i, j] (a cache miss on most
  // grids: C1 is n x n doubles) and class sums are fetched while earlier ones are scored; a
  // pair drawn before an accepted swap is still a pair of genes, scored in the state it meets.
  constexpr int64_t kAhead = 8;
  int64_t ahead_i[kAhead], ahead_j[kAhead];
  auto draw_ahead = [&](int64_t slot) {
    int64_t& i = ahead_i[slot];
    int64_t& j = ahead_j[slot];
    propose(i, j);
    if (c1_float)
      __builtin_prefetch(C1f.data() + i * n2 + j);
    else
      __builtin_prefetch(C1 + i * n + j);
    if (!gather && !unit && !class_major) {
      __builtin_prefetch(CS.data() + (i / kLane) * stride);
      __builtin_prefetch(CS.data() + (j / kLane) * stride);
    }
  };
  for (int64_t s = 0; s < kAhead; ++s) draw_ahead(s);
  int64_t window_accepted = 0;
  for (int64_t t = 0; t < proposals; ++t, T *= cool) {
    if (class_major && t % kClassMajorWindow == 0 && t > 0) {
      if (static_cast<double>(window_accepted) <
          class_major_share * static_cast<double>(kClassMajorWindow)) {
        class_major = false;  // the blocks from here on, recomputed from the assignment
        load_sums();
        since_refresh = 0;
      }
      window_accepted = 0;
    }
    const int64_t slot = t % kAhead;
    const int64_t i = ahead_i[slot], j = ahead_j[slot];
    draw_ahead(slot);
    const int64_t a = assign[i], b = assign[j];
    if (a == b) continue;
    st.proposals++;
    st.class_major_proposals += class_major;
    const double g = gain(i, j, a, b);
    // exp(x) below -40 is under every draw of unit() but 2^-53 of them; skips exp's underflow
    if (g < 0 && (g < -40.0 * T || rng.unit() >= std::exp(g / T))) continue;
    // Gene i leaves class a for b, gene j leaves b for a (C1 symmetric: rows for columns).
    if (unit) {
      col_of[i] = static_cast<int32_t>(column[b]);
      col_of[j] = static_cast<int32_t>(column[a]);
    } else if (gather) {
      gene_of[a] = j;
      gene_of[b] = i;
    } else if (class_major) {
      move_class_rows(CSt.data() + a * n2, CSt.data() + b * n2, C1f.data() + i * n2,
                      C1f.data() + j * n2, n2);
      ++window_accepted;
    } else {
      if (c1_float) {  // the weights straight from the two padded rows
        move_rows<kLane>(CS.data() + a * kLane, CS.data() + b * kLane, C1f.data() + i * n2,
                         C1f.data() + j * n2, nb, stride);
      } else {
        const double* ci = C1 + i * n;
        const double* cj = C1 + j * n;
        for (int64_t k = 0; k < n; ++k) w[k] = static_cast<float>(ci[k] - cj[k]);  // w[n:]: 0
        move_columns<kLane>(CS.data() + a * kLane, CS.data() + b * kLane, w.data(), nb, stride);
      }
    }
    assign[i] = b;
    assign[j] = a;
    if (local) {
      member[pos[i]] = static_cast<int32_t>(j);
      member[pos[j]] = static_cast<int32_t>(i);
      std::swap(pos[i], pos[j]);
    }
    st.accepted++;
    Q += g;
    journal.emplace_back(i, j);
    if (Q > bestQ) {
      bestQ = Q;
      for (const auto& [x, y] : journal) std::swap(best[x], best[y]);
      journal.clear();
    }
    if (!unit && ++since_refresh == 16384) {  // bound the drift of the incremental updates
      load_sums();
      since_refresh = 0;
    }
  }
  std::copy(best.begin(), best.end(), assign);
  const double obj = objective();
  if (obj <= st.objective)
    st.objective = obj;
  else  // only rounding can get here: keep the start
    std::copy(start.begin(), start.end(), assign);
  return st;
}

namespace {

// The multilevel start: the coarse-to-fine exact iteration down to tiles of `tile` pixels, then
// each tile's genes placed on its pixels by one small exact assignment on the linear term of the
// tile coupling spread evenly over the tile's pixels (the next level's first linear term in
// solve_gw_multilevel): A0[i, q] = sum_t CS[i, t] LT[q, t], CS the tile sums of C1 and LT[q, t]
// the mean log-cost from pixel q to the pixels of tile t. Tiles are independent: the result does
// not depend on the thread count.
std::vector<int64_t> multilevel_start(const GWProblem& p, int64_t tile, int64_t max_iter, int nt,
                                      int64_t& iters) {
  const GridCost& fine = *p.grid;
  const MultilevelResult ml = solve_gw_multilevel(p.C1, p.n, fine, max_iter, nt, 256, 4, tile);
  for (int64_t it : ml.level_iter) iters += it;
  const int64_t t = ml.tiles.back();
  if (t == 1) return ml.finest.assign;
  const GridCost coarse = fine.coarsen(t);
  const int64_t n = p.n, D = fine.n_classes, Dc = coarse.n_classes;
  const std::vector<int64_t>& tile_of = coarse.class_of_pixel;  // fine class == pixel
  const std::vector<int64_t>& gene_tile = ml.finest.assign;
  std::vector<double> LT(D * Dc, 0.0), CS(n * Dc);
#pragma omp parallel num_threads(nt)
  {
    std::vector<double> row(D);
#pragma omp for schedule(static)
    for (int64_t q = 0; q < D; ++q) {
      fine.log_cost_row(q, row.data());
      double* lt = LT.data() + q * Dc;
      for (int64_t e = 0; e < D; ++e) lt[tile_of[e]] += row[e];
      for (int64_t c = 0; c < Dc; ++c) lt[c] /= static_cast<double>(coarse.capacity[c]);
    }
  }
  class_sums(p, gene_tile.data(), Dc, CS.data(), nt);
  std::vector<std::vector<int64_t>> genes(Dc), pixels(Dc);
  for (int64_t i = 0; i < n; ++i) genes[gene_tile[i]].push_back(i);
  for (int64_t q = 0; q < D; ++q) pixels[tile_of[q]].push_back(q);
  std::vector<int64_t> assign(n, -1);
#pragma omp parallel for schedule(dynamic, 64) num_threads(nt)
  for (int64_t c = 0; c < Dc; ++c) {
    const int64_t k = static_cast<int64_t>(genes[c].size());
    if (k == 0) continue;
    std::vector<double> cost(k * k);
    for (int64_t a = 0; a < k; ++a) {
      const double* cs = CS.data() + genes[c][a] * Dc;
      for (int64_t b = 0; b < k; ++b) {
        const double* lt = LT.data() + pixels[c][b] * Dc;
        double s = 0.0;
        for (int64_t e = 0; e < Dc; ++e) s += cs[e] * lt[e];
        cost[a * k + b] = -s;
      }
    }
    std::vector<int64_t> ones(k, 1), local(k);
    std::vector<double> v;
    solve_class_transport(cost.data(), k, k, ones.data(), local.data(), v, false);
    for (int64_t a = 0; a < k; ++a) assign[genes[c][a]] = pixels[c][local[a]];
  }
  return assign;
}

}  // namespace

AnnealResult solve_gw_anneal(const GWProblem& p, const AnnealOptions& opt, int num_threads) {
  if (!(opt.eps_start > 0) || !(opt.eps_end > 0) || opt.eps_end > opt.eps_start)
    throw std::invalid_argument("need 0 < eps_end <= eps_start");
  if (!(opt.decay > 0 && opt.decay < 1)) throw std::invalid_argument("decay must be in (0, 1)");
  if (opt.steps_per_eps < 1 || opt.sinkhorn_iter < 1 || opt.polish_iter < 1 || opt.restarts < 1)
    throw std::invalid_argument("steps_per_eps, sinkhorn_iter, polish_iter, restarts must be >= 1");
  if (opt.swap_rounds < 0 || opt.swap_passes < 0)
    throw std::invalid_argument("swap_rounds and swap_passes must be >= 0");
  if (!(opt.noise >= 0)) throw std::invalid_argument("noise must be >= 0");
  if (opt.sa_neighbours < 0) throw std::invalid_argument("sa_neighbours must be >= 0");
  if (!(opt.sa_sweeps >= 0) || !(opt.sa_max_work >= 0))
    throw std::invalid_argument("sa_sweeps and sa_max_work must be >= 0");
  if (!(opt.sa_t_start > 0) || !(opt.sa_t_end > 0) || opt.sa_t_end > opt.sa_t_start)
    throw std::invalid_argument("need 0 < sa_t_end <= sa_t_start");
  if (opt.multilevel_start && opt.entropic_start)
    throw std::invalid_argument("choose one start: entropic or multilevel");
  if (opt.multilevel_tile < 1) throw std::invalid_argument("multilevel_tile must be >= 1");
  const int64_t n = p.n, D = p.grid->n_classes;
  // Small problems run on one thread: their parallel loops are too short to pay for the
  // threads, and idle OpenMP threads spinning between them halved the speed of the serial
  // annealing on 2 cores (pbmc68k_reduced: 1.30 s with 2 threads, 0.75 s with 1). Results
  // do not depend on the thread count either way.
  const int nt = num_threads > 0 && n * D >= (int64_t{1} << 20) ? num_threads : 1;
  const auto& cap = p.grid->capacity;
  const bool by_rows = large_unit_grid(p);
  auto start_objective = [&](const int64_t* a) {
    return by_rows ? objective_by_rows(p, a, nt) : objective_assignment(p, a, nt);
  };
  const double nn = static_cast<double>(n) * static_cast<double>(n);
  AnnealResult res;
  res.objective = std::numeric_limits<double>::infinity();

  // The entropic start's buffers (n x D each) exist only when it is asked for.
  // B: the (n, D) linear term, for the entropic start and the descents only (n x n doubles on
  // a euclidean grid: 800 MB at 100x100, where the multilevel start needs neither).
  const bool need_B = opt.entropic_start || opt.swap_rounds > 0;
  std::vector<double> B(need_B ? n * D : 0), product, Tc, M;
  double spread = 1.0;
  std::unique_ptr<Sinkhorn> sk;
  if (opt.entropic_start) {
    product.resize(n * D);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t d = 0; d < D; ++d) product[i * D + d] = static_cast<double>(cap[d]) / nn;
    linear_term_coupling(p, product.data(), B.data(), nt);
    spread = class_spread(B.data(), n, D);
    if (!(spread > 1e-12)) spread = 1e-12;
    M.resize(n * D);
    sk = std::make_unique<Sinkhorn>(n, D, cap, nt);
  }

  // Counters of one restart (merged into res in restart order).
  struct Tally {
    int64_t exact_iters = 0, swaps = 0, sa_proposals = 0, sa_accepted = 0;
  };
  auto merge = [&](const Tally& t) {
    res.exact_iters += t.exact_iters;
    res.swaps += t.swaps;
    res.sa_proposals += t.sa_proposals;
    res.sa_accepted += t.sa_accepted;
  };
  // Swap descent and exact iteration alternate while either improves. Bw: (n, D) workspace.
  auto descend = [&](std::vector<int64_t>& assign, double& obj, std::vector<double>& Bw,
                     Tally& t) {
    for (int64_t round = 0; round < opt.swap_rounds; ++round) {
      const SwapStats sw =
          swap_local_search(p, assign.data(), opt.swap_passes, nt, opt.swap_max_work);
      t.swaps += sw.swaps;
      obj = std::min(obj, sw.objective);
      if (sw.swaps == 0) break;
      linear_term_assignment(p, assign.data(), Bw.data(), nt);
      ExactStart again;
      again.linear_term = Bw.data();
      ExactResult e2 = solve_gw_exact(p, opt.polish_iter, nt, &again);
      t.exact_iters += e2.n_iter;
      if (!(e2.objective < obj)) break;
      assign = e2.assign;
      obj = e2.objective;
    }
  };
  // Restart r's annealing (seeded by r) from assign, then a descent if it gained.
  auto sa_proposals = [&]() {
    const double work_cap = opt.sa_max_work / static_cast<double>(D);
    return static_cast<int64_t>(std::min(opt.sa_sweeps * static_cast<double>(n), work_cap));
  };
  auto anneal = [&](int64_t r, std::vector<int64_t>& assign, double& obj, std::vector<double>& Bw,
                    Tally& t) {
    const int64_t proposals = sa_proposals();
    if (proposals <= 0) return;
    const SwapAnnealStats sa =
        swap_anneal(p, assign.data(), proposals, opt.sa_t_start, opt.sa_t_end,
                    opt.seed * 1000003ULL + static_cast<uint64_t>(r), nt, opt.sa_neighbours);
    t.sa_proposals += sa.proposals;
    t.sa_accepted += sa.accepted;
    if (sa.objective < obj) {
      obj = sa.objective;
      descend(assign, obj, Bw, t);
    }
  };
  auto keep = [&](int64_t r, const std::vector<int64_t>& assign, double obj, double coupling_obj,
                  double rounded) {
    res.restart_objectives.push_back(obj);
    if (obj < res.objective) {
      res.objective = obj;
      res.assign = assign;
      res.best_restart = r;
      res.coupling_objective = coupling_obj;
      res.rounded_objective = rounded;
    }
  };

  if (!opt.entropic_start) {
    // The exact (or multilevel) start is deterministic: computed and descended once, shared by
    // all restarts, which differ only in the annealing's seed. On a small problem each restart
    // runs on one thread, so restarts run side by side on the threads given; each computes
    // exactly what it would alone, and they are merged in restart order: the result does not
    // depend on the thread count.
    Tally t0;
    ExactResult er;
    if (opt.multilevel_start) {
      er.assign = multilevel_start(p, opt.multilevel_tile, opt.polish_iter, nt, t0.exact_iters);
      er.objective = start_objective(er.assign.data());
    } else {
      er = solve_gw_exact(p, opt.polish_iter, nt);
      t0.exact_iters += er.n_iter;
    }
    const double rounded = er.objective;
    double start_obj = er.objective;
    std::vector<int64_t> start_assign = std::move(er.assign);
    descend(start_assign, start_obj, B, t0);
    merge(t0);
    const int64_t R = opt.restarts;
    std::vector<std::vector<int64_t>> assigns(R, start_assign);
    std::vector<double> objs(R, start_obj);
    std::vector<Tally> tallies(R);
    const int side_by_side =
        nt == 1 ? static_cast<int>(std::min<int64_t>(std::max(num_threads, 1), R)) : 1;
    std::vector<std::exception_ptr> errors(R);
#pragma omp parallel for schedule(dynamic, 1) num_threads(side_by_side) if (side_by_side > 1)
    for (int64_t r = 0; r < R; ++r) {
      try {
        std::vector<double> Bw(r == 0 || side_by_side == 1 || !need_B ? 0 : n * D);
        anneal(r, assigns[r], objs[r], Bw.empty() ? B : Bw, tallies[r]);
      } catch (...) {
        errors[r] = std::current_exception();
      }
    }
    for (const auto& e : errors)
      if (e) std::rethrow_exception(e);
    for (int64_t r = 0; r < R; ++r) {
      merge(tallies[r]);
      keep(r, assigns[r], objs[r], std::numeric_limits<double>::quiet_NaN(), rounded);
    }
    return res;
  }

  for (int64_t r = 0; r < opt.restarts; ++r) {
    Tc = product;
    if (r > 0 && opt.noise > 0) {
      std::mt19937_64 rng(opt.seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(r));
      std::normal_distribution<double> z(0.0, 1.0);
      double total = 0.0;
      for (int64_t k = 0; k < n * D; ++k) {
        Tc[k] *= std::exp(opt.noise * z(rng));
        total += Tc[k];
      }
      for (int64_t k = 0; k < n * D; ++k) Tc[k] /= total;
    }
    std::vector<double> f(n, 0.0), g(D, 0.0);
    double eps = opt.eps_start * spread;
    const double eps_min = opt.eps_end * spread;
    while (true) {
      for (int64_t s = 0; s < opt.steps_per_eps; ++s) {
        linear_term_coupling(p, Tc.data(), B.data(), nt);
        for (int64_t k = 0; k < n * D; ++k) M[k] = -B[k];
        res.sinkhorn_iters +=
            sk->solve(M.data(), eps, f, g, opt.sinkhorn_iter, opt.sinkhorn_tol, Tc.data());
        res.gw_steps++;
      }
      if (eps <= eps_min * (1.0 + 1e-12)) break;
      eps = std::max(eps * opt.decay, eps_min);
    }
    linear_term_coupling(p, Tc.data(), B.data(), nt);
    double tb = 0.0;
    for (int64_t k = 0; k < n * D; ++k) tb += B[k] * Tc[k];
    const double coupling_obj = p.f1_term + p.grid->mean_cost - tb;

    ExactStart start;
    start.linear_term = B.data();
    ExactResult er = solve_gw_exact(p, opt.polish_iter, nt, &start);
    Tally t;
    t.exact_iters += er.n_iter;
    std::vector<int64_t> assign = std::move(er.assign);
    double obj = er.objective;
    const double rounded = obj;
    descend(assign, obj, B, t);
    anneal(r, assign, obj, B, t);
    merge(t);
    keep(r, assign, obj, coupling_obj, rounded);
  }
  return res;
}

}  // namespace genomap
