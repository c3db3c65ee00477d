// The only door to OpenBLAS. OpenBLAS is pinned to one thread (process-wide:
// OpenBLAS has no per-thread setting in its pthreads build) and is called from
// inside our pool's jobs, each thread on its own slice; see thread_pool.h.
#pragma once

#include <cstdint>

namespace rn::blas {

// Called by rn_context_create: pins OpenBLAS to a single thread (once).
void pin_single_threaded();

// Row-major C[m x n] = alpha * op(A) * op(B) + beta * C, single-threaded.
void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
           const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
           int64_t ldc);

}  // namespace rn::blas
