// The GW placement on the device: DeviceGWOps does the heavy steps of the iterations in
// gw_loop.hpp with cuBLAS (dense products), cuFFT (displacement grids) and the kernels below,
// whose arithmetic is in gw_kernels.cuh (run on the CPU by host_gw.cpp for the test suite).
// Every reduction is in a fixed order or order-free (max/min), so runs are deterministic.
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "gpu.hpp"
#include "gw_kernels.cuh"
#include "gw_loop.hpp"
#include "launch.cuh"
#include "math_libraries.hpp"

namespace genomap {
namespace gpu {

namespace {

void check_lib(int status, const char* what) {
  if (status != 0)
    throw std::runtime_error(std::string(what) + " failed with status " + std::to_string(status));
}
#define GRID_STRIDE(e, total)                                                   \
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < (total); \
       e += int64_t(gridDim.x) * blockDim.x)

template <class T>
struct Buffer {
  T* p = nullptr;
  size_t n = 0;
  Buffer() = default;
  explicit Buffer(size_t count) { resize(count); }
  void resize(size_t count) {
    if (count == n && p) return;
    if (p) cudaFree(p);
    p = nullptr;
    n = count;
    GENOMAP_CUDA(cudaMalloc(&p, std::max<size_t>(count, 1) * sizeof(T)));
  }
  ~Buffer() {
    if (p) cudaFree(p);
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  void upload(const T* h, size_t count) {
    GENOMAP_CUDA(cudaMemcpy(p, h, count * sizeof(T), cudaMemcpyHostToDevice));
  }
  std::vector<T> download(size_t count) const {
    std::vector<T> h(count);
    GENOMAP_CUDA(cudaMemcpy(h.data(), p, count * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
  }
};

// Smallest m' >= m whose prime factors are 2, 3, 5 and 7 (cuFFT's fast radices).
int64_t fft_size(int64_t m) {
  for (int64_t x = std::max<int64_t>(m, 1);; ++x) {
    int64_t y = x;
    for (int64_t f : {2, 3, 5, 7})
      while (y % f == 0) y /= f;
    if (y == 1) return x;
  }
}

// ---- kernels (one thread per row, class, element or bidder) -----------------------------------

__global__ void f1_rows_kernel(const double* C1, int64_t n, double* out) {
  GRID_STRIDE(i, n) out[i] = f1_row(C1, n, i);
}
__global__ void row_sums_kernel(const double* C1, int64_t n, double* out) {
  GRID_STRIDE(i, n) out[i] = gene_row_sum(C1, n, i);
}
__global__ void class_weights_kernel(LogCostView v, const int64_t* cap, double* out) {
  GRID_STRIDE(d, v.D) out[d] = class_weight(v, cap, d);
}
__global__ void class_sums_kernel(const double* C1, int64_t n, int64_t D, const int64_t* members,
                                  const int64_t* start, double* CS) {
  GRID_STRIDE(e, n * D) {
    const int64_t i = e / D, d = e - i * D;
    CS[e] = class_sum(C1, n, i, members, start, d);
  }
}
__global__ void gather_kernel(const double* A, int64_t n, int64_t D, const int64_t* g,
                              double* out) {
  GRID_STRIDE(i, n) out[i] = A[i * D + g[i]];
}
__global__ void range_kernel(const double* A, int64_t total, unsigned long long* lo_hi) {
  GRID_STRIDE(e, total) {
    const uint64_t b = ordered_bits(A[e]);
    atomicMin(lo_hi, static_cast<unsigned long long>(b));
    atomicMax(lo_hi + 1, static_cast<unsigned long long>(b));
  }
}
__global__ void negate_shift_kernel(double* M, int64_t total, double shift) {
  GRID_STRIDE(e, total) M[e] = -M[e] - shift;
}
__global__ void negative_range_kernel(const double* B, int64_t total, unsigned long long* hi) {
  GRID_STRIDE(e, total) atomicMax(hi, static_cast<unsigned long long>(ordered_bits(B[e])));
}
__global__ void init_coupling_kernel(double* T, int64_t n, int64_t D, const int64_t* cap,
                                     double nn) {
  GRID_STRIDE(e, n * D) T[e] = static_cast<double>(cap[e % D]) / nn;
}
__global__ void change_rows_kernel(const double* T, const double* prev, const int64_t* cap,
                                   int64_t n, int64_t D, double* out) {
  GRID_STRIDE(i, n) out[i] = coupling_change_row(T, prev, cap, D, i);
}
__global__ void row_dot_kernel(const double* B, const double* T, int64_t n, int64_t D,
                               double* out) {
  GRID_STRIDE(i, n) out[i] = row_dot(B, T, D, i);
}

// displacement products
__global__ void pad_kernel(const double* S, int64_t D, int64_t rows, int64_t P, int64_t PQ,
                           int64_t batch, double* X) {
  GRID_STRIDE(e, batch * D) {
    const int64_t b = e / D, p = e - b * D;
    X[b * PQ + padded_offset(p, rows, P)] = S[e];
  }
}
__global__ void kernel_image_kernel(const double* table, int64_t rows, int64_t cols, int64_t P,
                                    int64_t Q, double* K) {
  GRID_STRIDE(e, P * Q) {
    const int64_t c = e / P, r = e - c * P;
    K[e] = padded_kernel_value(table, rows, cols, P, Q, r, c);
  }
}
__global__ void spectrum_kernel(double2* X, const double2* K, int64_t per_image, int64_t batch,
                                double scale) {
  GRID_STRIDE(e, per_image * batch) {
    const double2 x = X[e], k = K[e % per_image];
    double2 y;
    spectrum_product(x.x, x.y, k.x, k.y, scale, &y.x, &y.y);
    X[e] = y;
  }
}
__global__ void extract_kernel(const double* X, int64_t D, int64_t rows, int64_t P, int64_t PQ,
                               int64_t batch, double* out) {
  GRID_STRIDE(e, batch * D) {
    const int64_t b = e / D, q = e - b * D;
    out[e] = X[b * PQ + padded_offset(q, rows, P)];
  }
}

// auction
__global__ void minima_kernel(const double* price, const int64_t* start, int64_t D,
                              double* lowest, double* second, int64_t* cheapest) {
  GRID_STRIDE(d, D) class_price_minima(price, start, d, lowest + d, second + d, cheapest + d);
}
__global__ void bid_kernel(const double* A, int64_t D, const int64_t* bidders, int64_t u,
                           const double* lowest, const double* second, const int64_t* cheapest,
                           double eps, double* bid, int64_t* slot, unsigned long long* best) {
  GRID_STRIDE(t, u) {
    const int64_t i = bidders[t];
    double b;
    const int64_t s = cheapest[auction_bid(A + i * D, D, lowest, second, eps, &b)];
    bid[t] = b;
    slot[t] = s;
    atomicMax(best + s, static_cast<unsigned long long>(ordered_bits(b)));
  }
}
__global__ void winner_kernel(const int64_t* bidders, int64_t u, const double* bid,
                              const int64_t* slot, const unsigned long long* best,
                              unsigned long long* winner) {
  GRID_STRIDE(t, u) {
    if (ordered_bits(bid[t]) == best[slot[t]])
      atomicMin(winner + slot[t], static_cast<unsigned long long>(bidders[t]));
  }
}
__global__ void award_kernel(const int64_t* bidders, int64_t u, const double* bid,
                             const int64_t* slot, const unsigned long long* winner,
                             int64_t* owner, int64_t* slot_of, double* price) {
  GRID_STRIDE(t, u) {
    const int64_t i = bidders[t], s = slot[t];
    if (winner[s] != static_cast<unsigned long long>(i)) continue;
    if (owner[s] >= 0) slot_of[owner[s]] = -1;
    owner[s] = i;
    slot_of[i] = s;
    price[s] = bid[t];
  }
}
__global__ void clear_bids_kernel(const int64_t* slot, int64_t u, unsigned long long* best,
                                  unsigned long long* winner) {
  GRID_STRIDE(t, u) {
    best[slot[t]] = 0ULL;
    winner[slot[t]] = ULLONG_MAX;
  }
}
// The unassigned genes in ascending order: a flag per gene and an ordered compaction by one
// block (n is at most a few 10^4), so the bidder list is the host twin's.
__global__ void compact_kernel(const int64_t* slot_of, int64_t n, int64_t* bidders,
                               int64_t* count) {
  __shared__ int64_t base;
  __shared__ int64_t warp_sums[kThreads / 32];
  if (threadIdx.x == 0) base = 0;
  __syncthreads();
  for (int64_t c0 = 0; c0 < n; c0 += kThreads) {
    const int64_t i = c0 + threadIdx.x;
    const int flag = (i < n && slot_of[i] < 0) ? 1 : 0;
    const unsigned lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const unsigned ballot = __ballot_sync(0xffffffffu, flag);
    const int before = __popc(ballot & ((1u << lane) - 1u));
    if (lane == 0) warp_sums[warp] = __popc(ballot);
    __syncthreads();
    int64_t offset = base;
    for (unsigned w = 0; w < warp; ++w) offset += warp_sums[w];
    if (flag) bidders[offset + before] = i;
    __syncthreads();
    if (threadIdx.x == 0) {
      int64_t total = 0;
      for (int w = 0; w < kThreads / 32; ++w) total += warp_sums[w];
      base += total;
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) *count = base;
}
__global__ void classes_kernel(const int64_t* owner, const int64_t* start, int64_t D,
                               int64_t* classes) {
  GRID_STRIDE(d, D) {
    for (int64_t s = start[d]; s < start[d + 1]; ++s) classes[owner[s]] = d;
  }
}

double from_ordered(unsigned long long b) {
  const uint64_t u = (b >> 63) ? (b & 0x7fffffffffffffffULL) : ~b;
  double x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

// ---- the backend ------------------------------------------------------------------------------

class DeviceGWOps {
 public:
  DeviceGWOps(const double* h_C1, int64_t n, const GridDesc& g)
      : api_(mathlib::api()), n_(n), D_(g.D), g_(g), C1_(n * n), cap_(g.D), start_(g.D + 1),
        members_(n), L_(g.log_cost.size()), A_(n * g.D), work_(n * g.D), rows_(n) {
    C1_.upload(h_C1, n * n);
    cap_.upload(g.capacity.data(), D_);
    std::vector<int64_t> start(D_ + 1, 0);
    for (int64_t d = 0; d < D_; ++d) start[d + 1] = start[d] + g.capacity[d];
    start_host_ = start;
    start_.upload(start.data(), D_ + 1);
    L_.upload(g.log_cost.data(), g.log_cost.size());
    view_.D = D_;
    view_.rows = g.rows;
    view_.cols = g.cols;
    (g.fft ? view_.table : view_.dense) = L_.p;
    check_lib(api_.cublasCreate(&blas_), "cublasCreate");
    if (g.fft) make_fft_plans();
  }
  ~DeviceGWOps() {
    if (blas_) api_.cublasDestroy(blas_);
    if (fft_forward_) api_.cufftDestroy(fft_forward_);
    if (fft_inverse_) api_.cufftDestroy(fft_inverse_);
  }
  DeviceGWOps(const DeviceGWOps&) = delete;
  DeviceGWOps& operator=(const DeviceGWOps&) = delete;

  std::vector<double> f1_rows() {
    f1_rows_kernel<<<blocks_for(n_), kThreads>>>(C1_.p, n_, rows_.p);
    return rows_.download(n_);
  }
  std::vector<double> row_sums() {
    row_sums_kernel<<<blocks_for(n_), kThreads>>>(C1_.p, n_, rows_.p);
    return rows_.download(n_);
  }
  std::vector<double> class_weights() {
    Buffer<double> b(D_);
    class_weights_kernel<<<blocks_for(D_), kThreads>>>(view_, cap_.p, b.p);
    return b.download(D_);
  }

  void linear_term(const std::vector<int64_t>& g) {
    std::vector<int64_t> members(n_), fill(start_host_.begin(), start_host_.end() - 1);
    for (int64_t k = 0; k < n_; ++k) members[fill[g[k]]++] = k;
    members_.upload(members.data(), n_);
    class_sums_kernel<<<blocks_for(n_ * D_), kThreads>>>(C1_.p, n_, D_, members_.p, start_.p,
                                                     work_.p);
    apply_log_cost(work_.p, A_.p);
    g_dev_.resize(n_);
    g_dev_.upload(g.data(), n_);
  }
  std::vector<double> assigned_values(const std::vector<int64_t>&) {
    gather_kernel<<<blocks_for(n_), kThreads>>>(A_.p, n_, D_, g_dev_.p, rows_.p);
    return rows_.download(n_);
  }
  std::pair<double, double> linear_range() {
    const unsigned long long init[2] = {ULLONG_MAX, 0ULL};
    bits_.upload(init, 2);
    range_kernel<<<blocks_for(n_ * D_), kThreads>>>(A_.p, n_ * D_, bits_.p);
    const auto h = bits_.download(2);
    return {from_ordered(h[0]), from_ordered(h[1])};
  }

  void auction_unassign_all() {
    if (!price_.p) {
      price_.resize(n_);
      GENOMAP_CUDA(cudaMemset(price_.p, 0, n_ * sizeof(double)));
      owner_.resize(n_);
      slot_of_.resize(n_);
      bidders_.resize(n_);
      count_.resize(1);
      bid_.resize(n_);
      slot_.resize(n_);
      best_.resize(n_);
      winner_.resize(n_);
      lowest_.resize(D_);
      second_.resize(D_);
      cheapest_.resize(D_);
      GENOMAP_CUDA(cudaMemset(best_.p, 0, n_ * sizeof(unsigned long long)));
      GENOMAP_CUDA(cudaMemset(winner_.p, 0xff, n_ * sizeof(unsigned long long)));
    }
    GENOMAP_CUDA(cudaMemset(owner_.p, 0xff, n_ * sizeof(int64_t)));   // -1
    GENOMAP_CUDA(cudaMemset(slot_of_.p, 0xff, n_ * sizeof(int64_t)));
    compact_kernel<<<1, kThreads>>>(slot_of_.p, n_, bidders_.p, count_.p);
    u_ = n_;
  }
  int64_t auction_round(double eps) {
    minima_kernel<<<blocks_for(D_), kThreads>>>(price_.p, start_.p, D_, lowest_.p, second_.p,
                                            cheapest_.p);
    bid_kernel<<<blocks_for(u_), kThreads>>>(A_.p, D_, bidders_.p, u_, lowest_.p, second_.p,
                                         cheapest_.p, eps, bid_.p, slot_.p, best_.p);
    winner_kernel<<<blocks_for(u_), kThreads>>>(bidders_.p, u_, bid_.p, slot_.p, best_.p,
                                            winner_.p);
    award_kernel<<<blocks_for(u_), kThreads>>>(bidders_.p, u_, bid_.p, slot_.p, winner_.p,
                                           owner_.p, slot_of_.p, price_.p);
    clear_bids_kernel<<<blocks_for(u_), kThreads>>>(slot_.p, u_, best_.p, winner_.p);
    compact_kernel<<<1, kThreads>>>(slot_of_.p, n_, bidders_.p, count_.p);
    GENOMAP_CUDA(cudaMemcpy(&u_, count_.p, sizeof u_, cudaMemcpyDeviceToHost));
    return u_;
  }
  void auction_classes(std::vector<int64_t>& classes) {
    classes_kernel<<<blocks_for(D_), kThreads>>>(owner_.p, start_.p, D_, members_.p);
    classes = members_.download(n_);  // members_ is rebuilt by the next linear_term
  }

  void coupling_init() {
    T_.resize(n_ * D_);
    prev_.resize(n_ * D_);
    init_coupling_kernel<<<blocks_for(n_ * D_), kThreads>>>(T_.p, n_, D_, cap_.p,
                                                         double(n_) * double(n_));
  }
  void save_previous() {
    GENOMAP_CUDA(cudaMemcpy(prev_.p, T_.p, n_ * D_ * sizeof(double), cudaMemcpyDeviceToDevice));
  }
  // M (in A_) = -(C1 @ (T @ L)) minus its minimum
  void coupling_cost() {
    coupling_product(T_.p, A_.p);
    GENOMAP_CUDA(cudaMemset(bits_.p, 0, sizeof(unsigned long long)));
    negative_range_kernel<<<blocks_for(n_ * D_), kThreads>>>(A_.p, n_ * D_, bits_.p);
    const double max_b = from_ordered(bits_.download(1)[0]);  // min(-B) = -max(B)
    negate_shift_kernel<<<blocks_for(n_ * D_), kThreads>>>(A_.p, n_ * D_, -max_b);
  }
  // T = the Sinkhorn coupling of the cost in A_ (device.cu's kernels, on device arrays)
  int64_t sinkhorn(double reg, int64_t max_iter, double stop_thr) {
    return sinkhorn_log_device(A_.p, n_, D_, g_.capacity.data(), reg, max_iter, stop_thr, T_.p)
        .n_iter;
  }
  std::vector<double> change_rows() {
    change_rows_kernel<<<blocks_for(n_), kThreads>>>(T_.p, prev_.p, cap_.p, n_, D_, rows_.p);
    return rows_.download(n_);
  }
  std::vector<double> objective_rows() {
    coupling_product(T_.p, work_.p);
    row_dot_kernel<<<blocks_for(n_), kThreads>>>(work_.p, T_.p, n_, D_, rows_.p);
    return rows_.download(n_);
  }
  std::vector<double> coupling() { return T_.download(n_ * D_); }

 private:
  // out = S @ L for S (n, D) on the device.
  void apply_log_cost(const double* S, double* out) {
    if (!g_.fft) {
      gemm(S, L_.p, out, n_, D_, D_);
      return;
    }
    const int64_t PQ = P_ * Q_, spec = Q_ * (P_ / 2 + 1);
    for (int64_t i0 = 0; i0 < n_; i0 += batch_) {
      const int64_t b = std::min(batch_, n_ - i0);
      GENOMAP_CUDA(cudaMemset(image_.p, 0, b * PQ * sizeof(double)));
      pad_kernel<<<blocks_for(b * D_), kThreads>>>(S + i0 * D_, D_, g_.rows, P_, PQ, b, image_.p);
      // A partial last batch runs through the full plan on zero images (their output unused).
      check_lib(api_.cufftExecD2Z(fft_forward_, image_.p, spectrum_.p), "cufftExecD2Z");
      spectrum_kernel<<<blocks_for(spec * batch_), kThreads>>>(
          reinterpret_cast<double2*>(spectrum_.p), reinterpret_cast<const double2*>(khat_.p),
          spec, batch_, 1.0 / static_cast<double>(PQ));
      check_lib(api_.cufftExecZ2D(fft_inverse_, spectrum_.p, image_.p), "cufftExecZ2D");
      extract_kernel<<<blocks_for(b * D_), kThreads>>>(image_.p, D_, g_.rows, P_, PQ, b,
                                                   out + i0 * D_);
    }
    GENOMAP_CUDA(cudaGetLastError());
  }
  // C = A B for row-major A (m, k), B (k, cols): column-major C^T = B^T A^T.
  void gemm(const double* A, const double* B, double* C, int64_t m, int64_t k, int64_t cols) {
    const double one = 1.0, zero = 0.0;
    check_lib(api_.cublasDgemm(blas_, mathlib::kCublasOpN, mathlib::kCublasOpN,
                               static_cast<int>(cols), static_cast<int>(m), static_cast<int>(k),
                               &one, B, static_cast<int>(cols), A, static_cast<int>(k), &zero,
                               C, static_cast<int>(cols)),
              "cublasDgemm");
  }
  // out = C1 @ (S @ L)
  void coupling_product(const double* S, double* out) {
    if (!SL_.p) SL_.resize(n_ * D_);
    apply_log_cost(S, SL_.p);
    gemm(C1_.p, SL_.p, out, n_, n_, D_);
  }
  void make_fft_plans() {
    P_ = fft_size(2 * g_.rows - 1);
    Q_ = fft_size(2 * g_.cols - 1);
    const int64_t PQ = P_ * Q_, spec = Q_ * (P_ / 2 + 1);
    // batches of genes within ~2 GB of images and spectra
    batch_ = std::max<int64_t>(1, std::min<int64_t>(n_, (int64_t(1) << 31) / (16 * PQ + 1)));
    int dims[2] = {static_cast<int>(Q_), static_cast<int>(P_)};
    check_lib(api_.cufftPlanMany(&fft_forward_, 2, dims, nullptr, 1, static_cast<int>(PQ),
                                 nullptr, 1, static_cast<int>(spec), mathlib::kCufftD2Z,
                                 static_cast<int>(batch_)),
              "cufftPlanMany");
    check_lib(api_.cufftPlanMany(&fft_inverse_, 2, dims, nullptr, 1, static_cast<int>(spec),
                                 nullptr, 1, static_cast<int>(PQ), mathlib::kCufftZ2D,
                                 static_cast<int>(batch_)),
              "cufftPlanMany");
    image_.resize(batch_ * PQ);
    spectrum_.resize(2 * batch_ * spec);
    khat_.resize(2 * spec);
    // the kernel's spectrum: first image of a batch run (the rest zero)
    GENOMAP_CUDA(cudaMemset(image_.p, 0, batch_ * PQ * sizeof(double)));
    kernel_image_kernel<<<blocks_for(PQ), kThreads>>>(L_.p, g_.rows, g_.cols, P_, Q_, image_.p);
    check_lib(api_.cufftExecD2Z(fft_forward_, image_.p, spectrum_.p), "cufftExecD2Z");
    GENOMAP_CUDA(cudaMemcpy(khat_.p, spectrum_.p, 2 * spec * sizeof(double),
                       cudaMemcpyDeviceToDevice));
  }

  const mathlib::Api& api_;
  int64_t n_, D_;
  const GridDesc& g_;
  LogCostView view_;
  Buffer<double> C1_;
  Buffer<int64_t> cap_, start_, members_;
  std::vector<int64_t> start_host_;
  Buffer<double> L_, A_, work_, rows_, T_, prev_, SL_;
  Buffer<int64_t> g_dev_;
  Buffer<unsigned long long> bits_{2};  // order-free min/max reductions
  mathlib::cublasHandle_t blas_ = nullptr;
  mathlib::cufftHandle fft_forward_ = 0, fft_inverse_ = 0;
  int64_t P_ = 0, Q_ = 0, batch_ = 0;
  Buffer<double> image_, spectrum_, khat_;
  // auction state
  Buffer<double> price_, bid_, lowest_, second_;
  Buffer<int64_t> owner_, slot_of_, bidders_, count_, slot_, cheapest_;
  Buffer<unsigned long long> best_, winner_;
  int64_t u_ = 0;
};

}  // namespace

GWExactOutcome gw_exact_device(const double* h_C1, int64_t n, const GridDesc& grid,
                               int64_t max_iter) {
  check_grid_desc(grid, n);
  DeviceGWOps ops(h_C1, n, grid);
  GWExactOutcome r = gw_exact_loop(ops, grid, n, max_iter);
  GENOMAP_CUDA(cudaDeviceSynchronize());
  return r;
}

GWEntropicOutcome gw_entropic_device(const double* h_C1, int64_t n, const GridDesc& grid,
                                     double epsilon, int64_t max_iter, double tol) {
  check_grid_desc(grid, n);
  DeviceGWOps ops(h_C1, n, grid);
  GWEntropicOutcome r = gw_entropic_loop(ops, grid, n, epsilon, max_iter, tol);
  GENOMAP_CUDA(cudaDeviceSynchronize());
  return r;
}

}  // namespace gpu
}  // namespace genomap
