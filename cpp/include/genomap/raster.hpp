// Batch rasterisation: cells x genes -> cells x pixels images.
// A permutation placement is a gather/scatter (no matrix product): out[c, dest[g]] = x[c, g] * scale.
// `dest` holds each gene's offset inside one output image, or -1 for a gene that is not placed.
// Every input value is checked while it is read (free: the kernels are memory-bound); the
// kernels return the first cell holding a NaN/inf, or whose image does (a finite value that
// overflows the output type once scaled), or -1.
#pragma once
#include <cstdint>

namespace genomap {

template <class In, class Out>
int64_t rasterize_dense(const In* x, int64_t cells, int64_t genes, int64_t ld_x, const int64_t* dest,
                     double scale, Out* out, int64_t image_size, int num_threads);

template <class In, class Idx, class Out>
int64_t rasterize_csr(const Idx* indptr, const Idx* indices, const In* data, int64_t cells,
                   const int64_t* dest, double scale, Out* out, int64_t image_size,
                   int num_threads);

}  // namespace genomap
