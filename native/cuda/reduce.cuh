// Per-channel two-level reductions over NCHW tensors (see ChannelSplit in cuda_impl.cuh).
#pragma once

#include "cuda_impl.cuh"

namespace rn::cuda {

constexpr int kReduceThreads = 256;

// Pass 1 of a per-channel reduction. Block (ch, split) covers values j in
// [split*chunk, min(m, (split+1)*chunk)) of channel ch, j = img*hw + i. For each run of
// V values of one plane (V = 4 needs hw % 4 == 0 and 16-byte aligned tensors) it calls
//   op.add(state, img, i, &s1, &s2)
// with state = op.channel(ch), and writes the block's double sums to
// partial[ch * splits + split].
template <int V, class Op>
__global__ void __launch_bounds__(kReduceThreads)
    channel_partials(Op op, int32_t hw, FastDiv hw_div, int64_t m, int64_t chunk, double2* partial) {
  const int32_t ch = blockIdx.x, split = blockIdx.y;
  const int64_t j0 = int64_t(split) * chunk;
  const int64_t j1 = j0 + chunk < m ? j0 + chunk : m;
  const auto state = op.channel(ch);
  double s1 = 0.0, s2 = 0.0;
  for (int64_t j = j0 + int64_t(threadIdx.x) * V; j < j1; j += int64_t(kReduceThreads) * V) {
    const uint32_t img = hw_div.div(uint32_t(j));
    const int32_t i = int32_t(j - int64_t(img) * hw);
    op.add(state, int32_t(img), i, &s1, &s2);
  }
  block_sum2<kReduceThreads>(s1, s2);
  if (threadIdx.x == 0) partial[int64_t(ch) * gridDim.y + split] = make_double2(s1, s2);
}

// Sums channel ch's splits in order.
__device__ __forceinline__ double2 channel_total(const double2* partial, int32_t ch, int32_t splits) {
  double a = 0.0, b = 0.0;
  for (int32_t s = 0; s < splits; ++s) {
    const double2 v = partial[int64_t(ch) * splits + s];
    a += v.x;
    b += v.y;
  }
  return make_double2(a, b);
}

}  // namespace rn::cuda
