// Per-channel sums shared by the conv bias gradient and the weight-normalized conv's dbeta.
#include "reduce.cuh"

namespace rn::cuda {

namespace {

// Plain sums of the values of planes [n, k, pq].
template <int V>
struct PlaneSum {
  const float* v;
  int32_t k, pq;
  struct State {
    const float* base;
  };
  __device__ State channel(int32_t ch) const { return State{v + int64_t(ch) * pq}; }
  __device__ void add(const State& s, int32_t img, int32_t i, double* s1, double*) const {
    const float* p = s.base + int64_t(img) * k * pq + i;
    if (V == 4) {
      const float4 t = *reinterpret_cast<const float4*>(p);
      *s1 += double((t.x + t.y) + (t.z + t.w));
    } else {
      *s1 += double(*p);
    }
  }
};

__global__ void finish_sums(const double2* partial, int32_t k, int32_t splits, float* out) {
  const int32_t ch = blockIdx.x * blockDim.x + threadIdx.x;
  if (ch < k) out[ch] = float(channel_total(partial, ch, splits).x);
}

}  // namespace

ChannelSplit channel_split(const rn_cuda_context* ctx, int32_t c, int64_t m) {
  const int64_t target = int64_t(8) * ctx->sm_count;  // blocks in flight for the whole call
  int64_t splits = (target + c - 1) / c;
  const int64_t by_size = (m + 1023) / 1024;  // at least ~4 values per thread
  if (splits > by_size) splits = by_size;
  if (splits > 4096) splits = 4096;
  if (splits < 1) splits = 1;
  int64_t chunk = (m + splits - 1) / splits;
  chunk = (chunk + 3) & ~int64_t(3);
  splits = (m + chunk - 1) / chunk;
  return ChannelSplit{int32_t(splits), chunk};
}

size_t channel_sum_scratch_bytes(const rn_cuda_context* ctx, int32_t k, int64_t m) {
  return size_t(channel_split(ctx, k, m).splits) * k * sizeof(double2);
}

int channel_sum(rn_cuda_context* ctx, int32_t n, int32_t k, int32_t pq, const float* dy, float* out, void* scratch) {
  const int64_t m = int64_t(n) * pq;
  const ChannelSplit sp = channel_split(ctx, k, m);
  double2* partial = static_cast<double2*>(scratch);
  const dim3 grid(k, sp.splits);
  if (pq % 4 == 0 && aligned16(dy)) {
    RN_LAUNCH((channel_partials<4, PlaneSum<4>>), grid, kReduceThreads, ctx->stream, PlaneSum<4>{dy, k, pq}, pq,
              FastDiv(pq), m, sp.chunk, partial);
  } else {
    RN_LAUNCH((channel_partials<1, PlaneSum<1>>), grid, kReduceThreads, ctx->stream, PlaneSum<1>{dy, k, pq}, pq,
              FastDiv(pq), m, sp.chunk, partial);
  }
  RN_CUDA_CHECK_LAUNCH();
  RN_LAUNCH(finish_sums, blocks_for(k, 128), 128, ctx->stream, partial, k, sp.splits, out);
  RN_CUDA_CHECK_LAUNCH();
  return RN_STATUS_OK;
}

}  // namespace rn::cuda
