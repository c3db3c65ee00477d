// Helpers shared by the batch-norm and activation entry points (not compiled per ISA).
#pragma once

#include <cstdint>

#include "context_impl.h"
#include "norm_kernels.h"

namespace rn::norm {

// Elements per thread below which fewer threads are used (pool wake-up vs work).
constexpr int64_t kMinPerThread = 1 << 14;

inline int threads_for(const rn_context* ctx, int64_t elements) {
  int64_t by_size = (elements + kMinPerThread - 1) / kMinPerThread;
  int n = ctx->pool.size();
  return by_size < n ? static_cast<int>(by_size < 1 ? 1 : by_size) : n;
}

// Splits `planes` contiguous planes of `hw` floats (NCHW: plane p is image p / C,
// channel p % C) into one contiguous range of elements per thread, boundaries on
// multiples of 64 floats, and calls seg(tid, plane, offset_in_plane, len) for each
// piece of a plane in that range, in memory order. Works for any mix of many small
// planes and few large ones (N = 1 with a 224x224 plane still uses every thread).
template <class Seg>
void for_each_segment(rn_context* ctx, int64_t planes, int64_t hw, int threads, const Seg& seg) {
  const int64_t total = planes * hw;
  ctx->pool.run_each(threads, [&](int tid, int nt) {
    auto bound = [&](int t) -> int64_t {
      if (t >= nt) return total;
      int64_t b = total / nt * t + total % nt * t / nt;
      return b - b % 64;
    };
    int64_t b = bound(tid);
    const int64_t e = bound(tid + 1);
    while (b < e) {
      const int64_t p = b / hw, off = b - p * hw;
      const int64_t len = hw - off < e - b ? hw - off : e - b;
      seg(tid, p, off, len);
      b += len;
    }
  });
}

}  // namespace rn::norm
