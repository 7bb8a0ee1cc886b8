// The CUDA kernels and their launchers. Each kernel's arithmetic lives in kernels.cuh
// (__host__ __device__), which cuda/host_kernels.cpp runs on the CPU for the test suite.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "gpu.hpp"
#include "kernels.cuh"
#include "launch.cuh"

namespace genomap {
namespace gpu {

namespace {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::f16: return 2;
    case DType::f32: case DType::i32: return 4;
    default: return 8;
  }
}

// ---- rasterisation -----------------------------------------------------------------------------

template <class In, class Out>
__global__ void raster_dense_kernel(const In* x, int64_t cells, int64_t genes, int64_t ld_x,
                                    const int64_t* dest, double scale, Out* out,
                                    int64_t image_size, unsigned long long* first_bad) {
  const int64_t total = cells * genes;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = e / genes;
    if (!raster_dense_element(x, ld_x, c, e - c * genes, dest, scale, out, image_size))
      atomicMin(first_bad, static_cast<unsigned long long>(c));
  }
}

template <class In, class Idx, class Out>
__global__ void raster_csr_kernel(const Idx* indptr, const Idx* indices, const In* data,
                                  int64_t cells, int64_t nnz, const int64_t* dest, double scale,
                                  Out* out, int64_t image_size, unsigned long long* first_bad) {
  for (int64_t p = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; p < nnz;
       p += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = csr_row_of(indptr, cells, p);
    if (!raster_csr_entry(indices, data, p, c, dest, scale, out, image_size))
      atomicMin(first_bad, static_cast<unsigned long long>(c));
  }
}

struct BadCell {  // a device word for the first bad cell
  unsigned long long* d = nullptr;
  BadCell() {
    GENOMAP_CUDA(cudaMalloc(&d, sizeof *d));
    GENOMAP_CUDA(cudaMemset(d, 0xff, sizeof *d));
  }
  ~BadCell() { cudaFree(d); }
  int64_t get() const {
    unsigned long long h = 0;
    GENOMAP_CUDA(cudaMemcpy(&h, d, sizeof h, cudaMemcpyDeviceToHost));
    return h == ULLONG_MAX ? -1 : static_cast<int64_t>(h);
  }
};

template <class In, class Out>
void launch_dense(const void* x, int64_t cells, int64_t genes, int64_t ld, const int64_t* dest,
                  double scale, void* out, int64_t image, unsigned long long* bad) {
  raster_dense_kernel<In, Out><<<blocks_for(cells * genes), kThreads>>>(
      static_cast<const In*>(x), cells, genes, ld, dest, scale, static_cast<Out*>(out), image,
      bad);
}

template <class In>
void dispatch_dense(DType out_t, const void* x, int64_t cells, int64_t genes, int64_t ld,
                    const int64_t* dest, double scale, void* out, int64_t image,
                    unsigned long long* bad) {
  switch (out_t) {
    case DType::f32: return launch_dense<In, float>(x, cells, genes, ld, dest, scale, out, image, bad);
    case DType::f64: return launch_dense<In, double>(x, cells, genes, ld, dest, scale, out, image, bad);
    case DType::f16: return launch_dense<In, __half>(x, cells, genes, ld, dest, scale, out, image, bad);
    default: throw std::invalid_argument("output dtype must be float16, float32 or float64");
  }
}

template <class In, class Idx>
void dispatch_csr(DType out_t, const void* ip, const void* ix, const void* data, int64_t cells,
                  int64_t nnz, const int64_t* dest, double scale, void* out, int64_t image,
                  unsigned long long* bad) {
  const auto* i = static_cast<const Idx*>(ip);
  const auto* j = static_cast<const Idx*>(ix);
  const auto* v = static_cast<const In*>(data);
  const int b = blocks_for(nnz);
  switch (out_t) {
    case DType::f32:
      raster_csr_kernel<<<b, kThreads>>>(i, j, v, cells, nnz, dest, scale,
                                         static_cast<float*>(out), image, bad);
      return;
    case DType::f64:
      raster_csr_kernel<<<b, kThreads>>>(i, j, v, cells, nnz, dest, scale,
                                         static_cast<double*>(out), image, bad);
      return;
    case DType::f16:
      raster_csr_kernel<<<b, kThreads>>>(i, j, v, cells, nnz, dest, scale,
                                         static_cast<__half*>(out), image, bad);
      return;
    default: throw std::invalid_argument("output dtype must be float16, float32 or float64");
  }
}

// ---- interaction matrix ------------------------------------------------------------------------

template <class In>
__global__ void centre_kernel(const In* x, int64_t rows, int64_t n, double* centred,
                              double* block_shift) {
  const int64_t total = rows * n;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = e / n, j = e - r * n;
    centred[e] = centred_value(x, n, r, j);
    if (r == 0) block_shift[j] = static_cast<double>(x[j]);
  }
}

__global__ void column_sum_kernel(const double* centred, int64_t rows, int64_t n, double* bs) {
  const int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (j < n) bs[j] = centred_column_sum(centred, rows, n, j);
}

// partial[i][j] = sum_r a[r][i] a[r][j] for the upper tiles (64 x 64, 16 x 16 threads with 4 x 4
// outputs each); every element is summed in row order r = 0, 1, ... (cross_accumulate's order).
constexpr int kTile = 64, kSlab = 16;
__global__ void cross_kernel(const double* a, int64_t rows, int64_t n, double* partial) {
  const int bi = blockIdx.y, bj = blockIdx.x;
  if (bj < bi) return;
  __shared__ double As[kSlab][kTile], Bs[kSlab][kTile];
  const int tx = threadIdx.x, ty = threadIdx.y, tid = ty * 16 + tx;
  double acc[4][4] = {};
  for (int64_t r0 = 0; r0 < rows; r0 += kSlab) {
    for (int l = tid; l < kSlab * kTile; l += 256) {
      const int k = l / kTile, c = l % kTile;
      const int64_t r = r0 + k, ci = int64_t(bi) * kTile + c, cj = int64_t(bj) * kTile + c;
      As[k][c] = (r < rows && ci < n) ? a[r * n + ci] : 0.0;
      Bs[k][c] = (r < rows && cj < n) ? a[r * n + cj] : 0.0;
    }
    __syncthreads();
    const int kmax = static_cast<int>(rows - r0 < kSlab ? rows - r0 : kSlab);
    for (int k = 0; k < kmax; ++k)
#pragma unroll
      for (int p = 0; p < 4; ++p)
#pragma unroll
        for (int q = 0; q < 4; ++q) acc[p][q] += As[k][ty + 16 * p] * Bs[k][tx + 16 * q];
    __syncthreads();
  }
#pragma unroll
  for (int p = 0; p < 4; ++p)
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      const int64_t i = int64_t(bi) * kTile + ty + 16 * p, j = int64_t(bj) * kTile + tx + 16 * q;
      if (i < n && j < n && j >= i) partial[i * n + j] = acc[p][q];
    }
}

// First block: its statistics; later blocks: the core's merge (merge_term), upper triangle.
__global__ void merge_kernel(const double* partial, const double* bs, const double* block_shift,
                             int64_t n, double m, bool first, double* shift, double* sums,
                             double* cross) {
  const int64_t total = n * n;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = e / n, j = e - i * n;
    if (j < i) continue;
    if (first) {
      cross[e] = partial[e];
    } else {
      const double di = block_shift[i] - shift[i], dj = block_shift[j] - shift[j];
      cross[e] += merge_term(partial[e], di, dj, bs[i], bs[j], m);
    }
  }
}

// sums/shift after the cross-products (which read the old shift)
__global__ void merge_sums_kernel(const double* bs, const double* block_shift, int64_t n,
                                  double m, bool first, double* shift, double* sums) {
  const int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (j >= n) return;
  if (first) {
    shift[j] = block_shift[j];
    sums[j] = bs[j];
  } else {
    sums[j] += bs[j] + m * (block_shift[j] - shift[j]);
  }
}

// ---- Sinkhorn ------------------------------------------------------------------------------------

__global__ void columns_kernel(const double* M, int64_t n, int64_t D, double reg,
                               double log_target, const double* alpha, double* beta) {
  const int64_t d = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (d < D) beta[d] = log_column_potential(M, n, D, d, reg, log_target, alpha);
}

__global__ void rows_kernel(const double* M, int64_t n, int64_t D, double reg, double log_target,
                            const double* log_cap, const double* beta, double* alpha) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i < n) alpha[i] = log_row_potential(M, D, i, reg, log_target, log_cap, beta);
}

__global__ void marginal_kernel(const double* M, int64_t n, int64_t D, double reg,
                                const double* alpha, const double* beta, double* pix) {
  const int64_t d = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (d < D) pix[d] = pixel_marginal(M, n, D, d, reg, alpha, beta[d]);
}

__global__ void mass_kernel(const double* M, int64_t n, int64_t D, double reg,
                            const double* alpha, const double* beta, const double* cap,
                            double* out) {
  const int64_t total = n * D;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = e / D, d = e - i * D;
    out[e] = class_mass(M[e], alpha[i], beta[d], reg, cap[d]);
  }
}

template <class T>
struct DeviceBuffer {
  T* p = nullptr;
  explicit DeviceBuffer(size_t n) { GENOMAP_CUDA(cudaMalloc(&p, std::max<size_t>(n, 1) * sizeof(T))); }
  ~DeviceBuffer() { cudaFree(p); }
};

}  // namespace

// ---- device queries ---------------------------------------------------------------------------

int device_count(std::string* reason) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    if (reason) *reason = std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
    cudaGetLastError();  // clear the sticky-free error
    return 0;
  }
  if (n == 0 && reason) *reason = "no CUDA device";
  return n;
}

std::string device_name(int device) {
  cudaDeviceProp prop{};
  GENOMAP_CUDA(cudaGetDeviceProperties(&prop, device));
  return prop.name;
}

int runtime_version() {
  int v = 0;
  cudaRuntimeGetVersion(&v);
  return v;
}

int driver_version() {
  int v = 0;
  if (cudaDriverGetVersion(&v) != cudaSuccess) return 0;
  return v;
}

// ---- rasterisation -------------------------------------------------------------------------------

int64_t raster_dense(const void* d_x, DType in, int64_t cells, int64_t genes, int64_t ld_x,
                     const int64_t* d_dest, double scale, void* d_out, DType out,
                     int64_t image_size) {
  GENOMAP_CUDA(cudaMemset(d_out, 0, size_t(cells) * image_size * dtype_size(out)));
  if (cells == 0) return -1;
  BadCell bad;
  if (in == DType::f32)
    dispatch_dense<float>(out, d_x, cells, genes, ld_x, d_dest, scale, d_out, image_size, bad.d);
  else if (in == DType::f64)
    dispatch_dense<double>(out, d_x, cells, genes, ld_x, d_dest, scale, d_out, image_size, bad.d);
  else
    throw std::invalid_argument("input dtype must be float32 or float64");
  GENOMAP_CUDA(cudaGetLastError());
  return bad.get();
}

int64_t raster_csr(const void* d_indptr, const void* d_indices, DType idx, const void* d_data,
                   DType in, int64_t cells, int64_t nnz, const int64_t* d_dest, double scale,
                   void* d_out, DType out, int64_t image_size) {
  GENOMAP_CUDA(cudaMemset(d_out, 0, size_t(cells) * image_size * dtype_size(out)));
  if (cells == 0 || nnz == 0) return -1;
  BadCell bad;
  const bool i64 = idx == DType::i64;
  if (idx != DType::i32 && !i64) throw std::invalid_argument("indices must be int32 or int64");
  if (in == DType::f32 && !i64)
    dispatch_csr<float, int32_t>(out, d_indptr, d_indices, d_data, cells, nnz, d_dest, scale, d_out, image_size, bad.d);
  else if (in == DType::f32)
    dispatch_csr<float, int64_t>(out, d_indptr, d_indices, d_data, cells, nnz, d_dest, scale, d_out, image_size, bad.d);
  else if (in == DType::f64 && !i64)
    dispatch_csr<double, int32_t>(out, d_indptr, d_indices, d_data, cells, nnz, d_dest, scale, d_out, image_size, bad.d);
  else if (in == DType::f64)
    dispatch_csr<double, int64_t>(out, d_indptr, d_indices, d_data, cells, nnz, d_dest, scale, d_out, image_size, bad.d);
  else
    throw std::invalid_argument("data dtype must be float32 or float64");
  GENOMAP_CUDA(cudaGetLastError());
  return bad.get();
}

int64_t raster_dense_streamed(const void* h_x, DType in, int64_t cells, int64_t genes,
                              const int64_t* h_dest, double scale, void* h_out, DType out,
                              int64_t image_size, int64_t chunk_rows) {
  chunk_rows = std::max<int64_t>(1, std::min(chunk_rows, std::max<int64_t>(cells, 1)));
  const size_t in_row = genes * dtype_size(in), out_row = image_size * dtype_size(out);
  DeviceBuffer<int64_t> dest(genes);
  DeviceBuffer<char> x(chunk_rows * in_row), img(chunk_rows * out_row);
  GENOMAP_CUDA(cudaMemcpy(dest.p, h_dest, genes * sizeof(int64_t), cudaMemcpyHostToDevice));
  for (int64_t c0 = 0; c0 < cells; c0 += chunk_rows) {
    const int64_t m = std::min(chunk_rows, cells - c0);
    GENOMAP_CUDA(cudaMemcpy(x.p, static_cast<const char*>(h_x) + c0 * in_row, m * in_row,
                            cudaMemcpyHostToDevice));
    const int64_t bad = raster_dense(x.p, in, m, genes, genes, dest.p, scale, img.p, out,
                                     image_size);
    GENOMAP_CUDA(cudaMemcpy(static_cast<char*>(h_out) + c0 * out_row, img.p, m * out_row,
                            cudaMemcpyDeviceToHost));
    if (bad >= 0) return c0 + bad;
  }
  return -1;
}

// ---- interaction matrix --------------------------------------------------------------------------

DeviceAccumulator::DeviceAccumulator(int64_t n_genes, int64_t max_rows)
    : n_(n_genes), max_rows_(std::max<int64_t>(1, max_rows)) {
  if (n_genes < 1) throw std::invalid_argument("need at least one gene");
  const size_t nn = size_t(n_) * n_, block = size_t(max_rows_) * n_;
  GENOMAP_CUDA(cudaMalloc(&d_shift_, n_ * sizeof(double)));
  GENOMAP_CUDA(cudaMalloc(&d_sums_, n_ * sizeof(double)));
  GENOMAP_CUDA(cudaMalloc(&d_block_shift_, n_ * sizeof(double)));
  GENOMAP_CUDA(cudaMalloc(&d_bs_, n_ * sizeof(double)));
  GENOMAP_CUDA(cudaMalloc(&d_cross_, nn * sizeof(double)));
  GENOMAP_CUDA(cudaMalloc(&d_partial_, nn * sizeof(double)));
  GENOMAP_CUDA(cudaMalloc(&d_centred_, block * sizeof(double)));
  GENOMAP_CUDA(cudaMemset(d_cross_, 0, nn * sizeof(double)));
  GENOMAP_CUDA(cudaMemset(d_shift_, 0, n_ * sizeof(double)));
  GENOMAP_CUDA(cudaMemset(d_sums_, 0, n_ * sizeof(double)));
  cudaStream_t s;
  GENOMAP_CUDA(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  copy_stream_ = s;
  GENOMAP_CUDA(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  compute_stream_ = s;
  for (int k = 0; k < 2; ++k) {
    GENOMAP_CUDA(cudaMalloc(&d_in_[k], block * sizeof(double)));
    GENOMAP_CUDA(cudaHostAlloc(reinterpret_cast<void**>(&h_pinned_[k]), block * sizeof(double),
                               cudaHostAllocDefault));
    cudaEvent_t e;
    GENOMAP_CUDA(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    copied_[k] = e;
    GENOMAP_CUDA(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    consumed_[k] = e;
    GENOMAP_CUDA(cudaEventRecord(e, static_cast<cudaStream_t>(compute_stream_)));
  }
  // the memsets above ran on the legacy stream, which the non-blocking streams do not wait for
  GENOMAP_CUDA(cudaDeviceSynchronize());
}

DeviceAccumulator::~DeviceAccumulator() {
  if (compute_stream_) cudaStreamSynchronize(static_cast<cudaStream_t>(compute_stream_));
  if (copy_stream_) cudaStreamSynchronize(static_cast<cudaStream_t>(copy_stream_));
  for (double* p : {d_shift_, d_sums_, d_block_shift_, d_bs_, d_cross_, d_partial_, d_centred_,
                    d_in_[0], d_in_[1]})
    cudaFree(p);
  for (double* p : h_pinned_) cudaFreeHost(p);
  for (void* e : copied_) if (e) cudaEventDestroy(static_cast<cudaEvent_t>(e));
  for (void* e : consumed_) if (e) cudaEventDestroy(static_cast<cudaEvent_t>(e));
  if (copy_stream_) cudaStreamDestroy(static_cast<cudaStream_t>(copy_stream_));
  if (compute_stream_) cudaStreamDestroy(static_cast<cudaStream_t>(compute_stream_));
}

void DeviceAccumulator::reduce_block(const void* d_x, DType in, int64_t rows) {
  auto s = static_cast<cudaStream_t>(compute_stream_);
  const bool first = count_ == 0;
  const double m = static_cast<double>(rows);
  if (in == DType::f64)
    centre_kernel<<<blocks_for(rows * n_), kThreads, 0, s>>>(static_cast<const double*>(d_x),
                                                            rows, n_, d_centred_, d_block_shift_);
  else if (in == DType::f32)
    centre_kernel<<<blocks_for(rows * n_), kThreads, 0, s>>>(static_cast<const float*>(d_x),
                                                            rows, n_, d_centred_, d_block_shift_);
  else
    throw std::invalid_argument("blocks must be float32 or float64");
  column_sum_kernel<<<blocks_for(n_), kThreads, 0, s>>>(d_centred_, rows, n_, d_bs_);
  const int tiles = static_cast<int>((n_ + kTile - 1) / kTile);
  cross_kernel<<<dim3(tiles, tiles), dim3(16, 16), 0, s>>>(d_centred_, rows, n_, d_partial_);
  merge_kernel<<<blocks_for(n_ * n_), kThreads, 0, s>>>(d_partial_, d_bs_, d_block_shift_, n_, m,
                                                        first, d_shift_, d_sums_, d_cross_);
  merge_sums_kernel<<<blocks_for(n_), kThreads, 0, s>>>(d_bs_, d_block_shift_, n_, m, first,
                                                        d_shift_, d_sums_);
  GENOMAP_CUDA(cudaGetLastError());
  count_ += rows;
}

void DeviceAccumulator::add_host_block(const void* h_x, DType in, int64_t rows) {
  if (rows <= 0) return;
  if (rows > max_rows_) throw std::invalid_argument("block has more rows than max_rows");
  if (in != DType::f32 && in != DType::f64)
    throw std::invalid_argument("blocks must be float32 or float64");
  const size_t bytes = size_t(rows) * n_ * dtype_size(in);
  const int k = slot_;
  slot_ ^= 1;
  auto cs = static_cast<cudaStream_t>(copy_stream_);
  auto ks = static_cast<cudaStream_t>(compute_stream_);
  // slot k's pinned and device buffers are free once its previous block has been reduced
  GENOMAP_CUDA(cudaEventSynchronize(static_cast<cudaEvent_t>(consumed_[k])));
  std::memcpy(h_pinned_[k], h_x, bytes);
  GENOMAP_CUDA(cudaMemcpyAsync(d_in_[k], h_pinned_[k], bytes, cudaMemcpyHostToDevice, cs));
  GENOMAP_CUDA(cudaEventRecord(static_cast<cudaEvent_t>(copied_[k]), cs));
  GENOMAP_CUDA(cudaStreamWaitEvent(ks, static_cast<cudaEvent_t>(copied_[k]), 0));
  reduce_block(d_in_[k], in, rows);
  GENOMAP_CUDA(cudaEventRecord(static_cast<cudaEvent_t>(consumed_[k]), ks));
}

void DeviceAccumulator::add_device_block(const void* d_x, DType in, int64_t rows) {
  if (rows <= 0) return;
  if (rows > max_rows_) throw std::invalid_argument("block has more rows than max_rows");
  // the caller's array is written on the legacy default stream: order after it
  GENOMAP_CUDA(cudaStreamSynchronize(nullptr));
  reduce_block(d_x, in, rows);
  GENOMAP_CUDA(cudaStreamSynchronize(static_cast<cudaStream_t>(compute_stream_)));
}

void DeviceAccumulator::state(std::vector<double>& shift, std::vector<double>& sums,
                              std::vector<double>& cross) {
  GENOMAP_CUDA(cudaStreamSynchronize(static_cast<cudaStream_t>(compute_stream_)));
  shift.resize(n_);
  sums.resize(n_);
  cross.resize(size_t(n_) * n_);
  GENOMAP_CUDA(cudaMemcpy(shift.data(), d_shift_, n_ * sizeof(double), cudaMemcpyDeviceToHost));
  GENOMAP_CUDA(cudaMemcpy(sums.data(), d_sums_, n_ * sizeof(double), cudaMemcpyDeviceToHost));
  GENOMAP_CUDA(cudaMemcpy(cross.data(), d_cross_, cross.size() * sizeof(double),
                          cudaMemcpyDeviceToHost));
}

// ---- Sinkhorn ------------------------------------------------------------------------------------

SinkhornResult sinkhorn_log_device(const double* d_M, int64_t n, int64_t D,
                                   const int64_t* h_capacity, double reg, int64_t max_iter,
                                   double stop_thr, double* d_out) {
  const double target = 1.0 / static_cast<double>(n), log_target = std::log(target);
  std::vector<double> cap(D), log_cap(D), pix(D);
  for (int64_t d = 0; d < D; ++d) {
    cap[d] = static_cast<double>(h_capacity[d]);
    log_cap[d] = std::log(cap[d]);
  }
  DeviceBuffer<double> alpha(n), beta(D), lcap(D), dcap(D), dpix(D);
  GENOMAP_CUDA(cudaMemcpy(lcap.p, log_cap.data(), D * sizeof(double), cudaMemcpyHostToDevice));
  GENOMAP_CUDA(cudaMemcpy(dcap.p, cap.data(), D * sizeof(double), cudaMemcpyHostToDevice));
  GENOMAP_CUDA(cudaMemset(alpha.p, 0, n * sizeof(double)));
  SinkhornResult res;
  double err = 1.0;
  int64_t ii = 0;
  for (; ii < max_iter; ++ii) {
    columns_kernel<<<blocks_for(D), kThreads>>>(d_M, n, D, reg, log_target, alpha.p, beta.p);
    rows_kernel<<<blocks_for(n), kThreads>>>(d_M, n, D, reg, log_target, lcap.p, beta.p, alpha.p);
    if (ii % 10 == 0) {
      marginal_kernel<<<blocks_for(D), kThreads>>>(d_M, n, D, reg, alpha.p, beta.p, dpix.p);
      GENOMAP_CUDA(cudaMemcpy(pix.data(), dpix.p, D * sizeof(double), cudaMemcpyDeviceToHost));
      double e2 = 0.0;
      for (int64_t d = 0; d < D; ++d) e2 += cap[d] * (pix[d] - target) * (pix[d] - target);
      err = std::sqrt(e2);
      if (err < stop_thr) break;
    }
  }
  res.n_iter = std::min(ii + 1, max_iter);
  res.marginal_error = err;
  mass_kernel<<<blocks_for(n * D), kThreads>>>(d_M, n, D, reg, alpha.p, beta.p, dcap.p, d_out);
  GENOMAP_CUDA(cudaGetLastError());
  return res;
}

SinkhornResult sinkhorn_log(const double* h_M, int64_t n, int64_t D, const int64_t* h_capacity,
                            double reg, int64_t max_iter, double stop_thr, double* h_out) {
  DeviceBuffer<double> M(n * D), out(n * D);
  GENOMAP_CUDA(cudaMemcpy(M.p, h_M, n * D * sizeof(double), cudaMemcpyHostToDevice));
  const SinkhornResult res =
      sinkhorn_log_device(M.p, n, D, h_capacity, reg, max_iter, stop_thr, out.p);
  GENOMAP_CUDA(cudaMemcpy(h_out, out.p, n * D * sizeof(double), cudaMemcpyDeviceToHost));
  return res;
}

}  // namespace gpu
}  // namespace genomap
