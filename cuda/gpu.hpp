// Host-side interface of the CUDA backend (no CUDA headers: the pybind11 bindings are compiled by
// the host compiler). Pointers named d_* are device pointers; h_* host pointers.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace genomap {
namespace gpu {

enum class DType : int { f32 = 0, f64 = 1, f16 = 2, i32 = 3, i64 = 4 };

// Number of CUDA devices; 0 with the reason (driver missing/too old, no device) in `reason`.
// The first call loads the driver; importing the module does not.
int device_count(std::string* reason);
std::string device_name(int device);
int runtime_version();
int driver_version();  // 0 when no driver is installed

// ---- rasterisation (device pointers; returns the first cell holding NaN/inf, or -1) ----------
int64_t raster_dense(const void* d_x, DType in, int64_t cells, int64_t genes, int64_t ld_x,
                     const int64_t* d_dest, double scale, void* d_out, DType out,
                     int64_t image_size);
int64_t raster_csr(const void* d_indptr, const void* d_indices, DType idx, const void* d_data,
                   DType in, int64_t cells, int64_t nnz, const int64_t* d_dest, double scale,
                   void* d_out, DType out, int64_t image_size);

// Device buffers owned by the caller's allocator are not needed for host arrays: these stream
// host blocks of `chunk_rows` cells through device memory (dense row-major input).
int64_t raster_dense_streamed(const void* h_x, DType in, int64_t cells, int64_t genes,
                              const int64_t* h_dest, double scale, void* h_out, DType out,
                              int64_t image_size, int64_t chunk_rows);

// ---- interaction matrix: the C++ core's block fold on the device -----------------------------
class DeviceAccumulator {
 public:
  // max_rows: the most rows one block may hold (device memory ~ (3 * max_rows + 2 * n) * n * 8).
  DeviceAccumulator(int64_t n_genes, int64_t max_rows);
  ~DeviceAccumulator();
  DeviceAccumulator(const DeviceAccumulator&) = delete;
  DeviceAccumulator& operator=(const DeviceAccumulator&) = delete;
  // One fold step with a host block (rows x n, row-major float32/float64): copied to pinned
  // memory and then to the device on a copy stream while the previous block is still being
  // reduced (float32 blocks travel as float32: half the bytes; widened on the device).
  void add_host_block(const void* h_x, DType in, int64_t rows);
  // One fold step with a device block (rows x n, row-major float32/float64, ld = n).
  void add_device_block(const void* d_x, DType in, int64_t rows);
  // Waits for the device and copies the statistics out (cross: upper triangle valid).
  void state(std::vector<double>& shift, std::vector<double>& sums,
             std::vector<double>& cross);
  int64_t n_genes() const { return n_; }
  int64_t count() const { return count_; }
  int64_t max_rows() const { return max_rows_; }

 private:
  void reduce_block(const void* d_x, DType in, int64_t rows);
  int64_t n_, max_rows_, count_ = 0;
  double *d_shift_ = nullptr, *d_sums_ = nullptr, *d_cross_ = nullptr, *d_partial_ = nullptr;
  double *d_centred_ = nullptr, *d_block_shift_ = nullptr, *d_bs_ = nullptr;
  double* d_in_[2] = {nullptr, nullptr};
  double* h_pinned_[2] = {nullptr, nullptr};
  void* copy_stream_ = nullptr;
  void* compute_stream_ = nullptr;
  void* copied_[2] = {nullptr, nullptr};   // events: block in slot s is on the device
  void* consumed_[2] = {nullptr, nullptr}; // events: block in slot s has been reduced
  int slot_ = 0;
};

// ---- log-domain Sinkhorn on genes x classes (host arrays in and out) -------------------------
struct SinkhornResult {
  int64_t n_iter = 0;
  double marginal_error = 0.0;
};
// The same on device arrays: d_M (n, D) and d_out (n, D) device pointers.
SinkhornResult sinkhorn_log_device(const double* d_M, int64_t n, int64_t D,
                                   const int64_t* h_capacity, double reg, int64_t max_iter,
                                   double stop_thr, double* d_out);
SinkhornResult sinkhorn_log(const double* h_M, int64_t n, int64_t D, const int64_t* h_capacity,
                            double reg, int64_t max_iter, double stop_thr, double* h_out);

// ---- the same kernel bodies compiled for the host (cuda/host_kernels.cpp) ---------------------
// No device, no driver: used by the CPU test suite against the C++ core.
template <class In, class Out>
int64_t host_raster_dense(const In* x, int64_t cells, int64_t genes, const int64_t* dest,
                          double scale, Out* out, int64_t image_size);
template <class In, class Idx, class Out>
int64_t host_raster_csr(const Idx* indptr, const Idx* indices, const In* data, int64_t cells,
                        const int64_t* dest, double scale, Out* out, int64_t image_size);
// The block fold over blocks of block_rows rows; shift/sums (n) and cross (n x n, upper).
void host_block_fold(const double* x, int64_t rows, int64_t n, int64_t block_rows,
                     double* shift, double* sums, double* cross);
SinkhornResult host_sinkhorn_log(const double* M, int64_t n, int64_t D, const int64_t* capacity,
                                 double reg, int64_t max_iter, double stop_thr, double* out);

}  // namespace gpu
}  // namespace genomap

namespace genomap {
namespace gpu {

// ---- GW placement (cuda/gw_loop.hpp: the iterations; gw_device.cu / host_gw.cpp: backends) ----

// A grid's classes and class log-cost, as the C++ core's GridCost describes them: a dense
// (D, D) row-major log-cost ("blas" grids) or a displacement table of (2 cols - 1) x
// (2 rows - 1) entries whose classes are the first D pixels ("fft" grids).
struct GridDesc {
  int64_t D = 0, rows = 0, cols = 0;
  std::vector<int64_t> capacity;  // (D,) pixels per class
  double mean_cost = 0.0;         // <C2 q, q>
  bool fft = false;
  std::vector<double> log_cost;   // dense (D * D) or the displacement table
};
void check_grid_desc(const GridDesc& grid, int64_t n);

struct GWExactOutcome {
  std::vector<int64_t> assign;  // (n,) class of each gene, lowest objective seen
  double objective = 0.0;
  int64_t n_iter = 0;           // transport problems solved
  bool converged = false;       // an assignment repeated
  std::vector<double> trace;    // objective of each step's assignment
  int64_t auction_rounds = 0;
  double seconds_setup = 0.0, seconds_products = 0.0, seconds_transport = 0.0;
};

struct GWEntropicOutcome {
  std::vector<double> coupling;  // (n, D) class coupling
  double objective = 0.0;
  int64_t n_iter = 0;
  double last_change = 0.0;
  int64_t sinkhorn_iters = 0;
  double seconds_setup = 0.0, seconds_products = 0.0, seconds_transport = 0.0;
};

// On the device (cuBLAS/cuFFT must be loaded: math_libraries.hpp). C1: host (n, n) row-major.
GWExactOutcome gw_exact_device(const double* h_C1, int64_t n, const GridDesc& grid,
                               int64_t max_iter);
GWEntropicOutcome gw_entropic_device(const double* h_C1, int64_t n, const GridDesc& grid,
                                     double epsilon, int64_t max_iter, double tol);
// The same iterations with the kernels' bodies on the host (small problems: products by their
// definition, O(n D^2) per step).
GWExactOutcome host_gw_exact(const double* C1, int64_t n, const GridDesc& grid,
                             int64_t max_iter);
GWEntropicOutcome host_gw_entropic(const double* C1, int64_t n, const GridDesc& grid,
                                   double epsilon, int64_t max_iter, double tol);
// One auction on benefits A (n, D) with class capacities (host bodies): the class of each gene
// and the rounds it took.
int64_t host_auction(const double* A, int64_t n, const GridDesc& grid,
                     std::vector<int64_t>& classes);

}  // namespace gpu
}  // namespace genomap
