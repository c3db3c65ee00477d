// Internal definition of rn_cuda_context and the helpers every CUDA entry point uses:
// the call guard (lock, device, launch-error check), the workspace, scratch layout,
// fast integer division by run-time constants, block reductions.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>

#include "resnorm/cuda.h"

namespace rn::cuda {
struct ConvRoutes;
}

struct rn_cuda_context {
  int device = 0;
  int sm_count = 1;
  int cc_major = 0, cc_minor = 0;
  int math = RN_CUDA_MATH_FP32;
  char name[256] = {};
  cudaStream_t stream = nullptr;
  std::mutex lock;
  // Data-dependent argument errors recorded by kernels (bits of rn::cuda::ErrorBit).
  unsigned int* error_word = nullptr;  // device
  unsigned int* error_host = nullptr;  // pinned host copy, read by rn_cuda_synchronize
  // The graph's pool: one block, bump allocation.
  char* pool = nullptr;
  size_t pool_capacity = 0, pool_used = 0;
  // Op scratch: grows to the largest request.
  void* workspace = nullptr;
  size_t workspace_capacity = 0;
  // Counts the workspace's reallocations. A graph remembers the count it was recorded at:
  // the block's address cannot tell (cudaMalloc readily returns the address just freed).
  uint64_t workspace_generation = 0;
  // Between rn_cuda_graph_begin and rn_cuda_graph_end (graph.cu): the stream is being
  // recorded, so nothing may synchronize or reallocate the workspace.
  bool recording = false;
  // cuDNN (cudnn_conv.cu, loaded at run time): the handle, descriptors and chosen
  // algorithms, made by the first rn_cudnn_* call on the context and released by
  // rn_cuda_context_destroy through cudnn_release. A function pointer, so that device.cu
  // needs nothing from cudnn_conv.cu (the host emulation is built without it).
  void* cudnn = nullptr;
  void (*cudnn_release)(rn_cuda_context*) = nullptr;
  // Set by rn_cuda_context_set_conv_impl(CUDNN): the plain conv entry points of
  // conv2d.cu run these instead of the native kernels (null: native).
  const rn::cuda::ConvRoutes* conv_routes = nullptr;
};

namespace rn::cuda {

// Another implementation of the three plain conv directions (cuDNN's), with the
// semantics of the rn_cuda_conv2d_* entry points; called inside guarded().
struct ConvRoutes {
  int (*forward)(rn_cuda_context* ctx, const rn_conv2d_desc& d, const float* x, const float* w, const float* bias,
                 float* y);
  int (*backward_data)(rn_cuda_context* ctx, const rn_conv2d_desc& d, const float* dy, const float* w, float* dx);
  int (*backward_filter)(rn_cuda_context* ctx, const rn_conv2d_desc& d, const float* x, const float* dy, float* dw,
                         float* dbias);
};

enum ErrorBit : unsigned int {
  kErrZeroNorm = 1u,   // weight-normalized conv: a filter of zero (or non-finite) norm
  kErrArgmax = 2u,     // max-pool backward: an argmax entry outside its plane
  kErrLabel = 4u       // softmax cross-entropy: a label outside [0, classes)
};

inline int status_of(cudaError_t e) {
  if (e == cudaSuccess) return RN_STATUS_OK;
  if (e == cudaErrorMemoryAllocation) return RN_STATUS_OUT_OF_MEMORY;
  if (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver || e == cudaErrorInvalidDevice ||
      e == cudaErrorNotSupported)
    return RN_STATUS_UNSUPPORTED;
  return RN_STATUS_INTERNAL;
}

// kernel<<<grid, block, 0, stream>>>(args...), written as a macro so that the host-side
// emulation (tests/cuda_host_emulation.h) can run the same source on host threads. A
// kernel name with a comma (template arguments) goes in parentheses.
#ifdef RN_CUDA_HOST_EMULATION
#define RN_LAUNCH(kernel, grid, block, stream, ...) \
  ::rn_emulation::launch(dim3(grid), dim3(block), [&] { (void)(stream); (kernel)(__VA_ARGS__); })
#else
#define RN_LAUNCH(kernel, grid, block, stream, ...)      \
  do {                                                  \
    auto* rn_kernel_ = kernel;                          \
    rn_kernel_<<<grid, block, 0, stream>>>(__VA_ARGS__); \
  } while (0)
#endif

// Inside a guarded body: return the status of a failed CUDA call / launch.
#define RN_CUDA_TRY(expr)                                          \
  do {                                                             \
    cudaError_t rn_err_ = (expr);                                  \
    if (rn_err_ != cudaSuccess) return rn::cuda::status_of(rn_err_); \
  } while (0)
#define RN_CUDA_CHECK_LAUNCH() RN_CUDA_TRY(cudaGetLastError())

// Runs body() with the context locked and its device current; returns body's status,
// or the status of a launch error left behind, or OUT_OF_MEMORY / INTERNAL for a C++
// exception (nothing escapes into C).
template <class Body>
int guarded(rn_cuda_context* ctx, const Body& body) {
  if (ctx == nullptr) return RN_STATUS_BAD_ARGUMENT;
  try {
    std::lock_guard<std::mutex> hold(ctx->lock);
    int current = -1;
    if (cudaGetDevice(&current) != cudaSuccess) return RN_STATUS_INTERNAL;
    if (current != ctx->device) RN_CUDA_TRY(cudaSetDevice(ctx->device));
    (void)cudaGetLastError();  // a stale, non-sticky error of someone else's call
    int st = body();
    cudaError_t e = cudaGetLastError();
    if (st == RN_STATUS_OK && e != cudaSuccess) st = status_of(e);
    return st;
  } catch (const std::bad_alloc&) {
    return RN_STATUS_OUT_OF_MEMORY;
  } catch (...) {
    return RN_STATUS_INTERNAL;
  }
}

// At least `bytes` of scratch (inside guarded). Growing waits for the stream, since
// kernels still queued may use the old block.
int workspace(rn_cuda_context* ctx, size_t bytes, void** out);

// Plans one scratch block: add() gives each piece's 256-byte aligned offset.
class Layout {
 public:
  template <class T>
  size_t add(size_t count) {
    size_t at = total_;
    total_ += (count * sizeof(T) + 255) & ~size_t(255);
    return at;
  }
  size_t total() const { return total_ > 0 ? total_ : 256; }

 private:
  size_t total_ = 0;
};
template <class T>
inline T* at(void* base, size_t offset) {
  return reinterpret_cast<T*>(static_cast<char*>(base) + offset);
}

// Division by a run-time constant d >= 1 for 0 <= n < 2^31 (Granlund-Montgomery:
// one multiply-high, an add and a shift instead of a ~20-instruction division).
struct FastDiv {
  uint32_t d = 1, m = 1, s = 0;
  FastDiv() = default;
  explicit FastDiv(uint32_t divisor) : d(divisor) {
    s = 0;
    while ((uint64_t(1) << s) < d) ++s;
    m = uint32_t(((uint64_t(1) << 32) * ((uint64_t(1) << s) - d)) / d + 1);
  }
  __host__ __device__ __forceinline__ uint32_t div(uint32_t n) const {
#ifdef __CUDA_ARCH__
    const uint32_t t = __umulhi(n, m);
#else
    const uint32_t t = uint32_t((uint64_t(n) * m) >> 32);
#endif
    return (t + n) >> s;
  }
};

constexpr int64_t kMaxIndex = int64_t(1) << 31;  // index math of the kernels is 32-bit below this

// Blocks for `count` work items of `per_block` each.
inline unsigned int blocks_for(int64_t count, int64_t per_block) {
  return static_cast<unsigned int>((count + per_block - 1) / per_block);
}

// True when every pointer is 16-byte aligned (float4 access is allowed).
inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }
template <class... P>
inline bool aligned16(const void* p, P... rest) {
  return aligned16(p) && aligned16(rest...);
}

// V consecutive floats (V = 4: one 16-byte access; p must be 16-byte aligned).
template <int V>
__device__ __forceinline__ void load_v(const float* p, float (&v)[V]) {
  if constexpr (V == 4) {
    const float4 t = *reinterpret_cast<const float4*>(p);
    v[0] = t.x, v[1] = t.y, v[2] = t.z, v[3] = t.w;
  } else {
#pragma unroll
    for (int k = 0; k < V; ++k) v[k] = p[k];
  }
}
template <int V>
__device__ __forceinline__ void store_v(float* p, const float (&v)[V]) {
  if constexpr (V == 4) {
    *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
  } else {
#pragma unroll
    for (int k = 0; k < V; ++k) p[k] = v[k];
  }
}

// max(v, 0) with NaN passed through (the CPU kernels' vrelu / !(v <= 0) rule).
__device__ __forceinline__ float relu_nan(float v) { return !(v <= 0.0f) ? v : 0.0f; }

__device__ __forceinline__ double warp_sum(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  return v;
}

// Sums a and b over the block (kThreads a multiple of 32, <= 1024); the totals are
// valid in thread 0. Call once per kernel (it uses its own shared memory).
template <int kThreads>
__device__ __forceinline__ void block_sum2(double& a, double& b) {
  __shared__ double sa[kThreads / 32], sb[kThreads / 32];
  a = warp_sum(a);
  b = warp_sum(b);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) {
    sa[warp] = a;
    sb[warp] = b;
  }
  __syncthreads();
  if (warp == 0) {
    a = lane < kThreads / 32 ? sa[lane] : 0.0;
    b = lane < kThreads / 32 ? sb[lane] : 0.0;
    a = warp_sum(a);
    b = warp_sum(b);
  }
}

// Grid-stride loop over the elements of NCHW planes, V at a time (hw % V == 0, fewer
// than 2^31 elements): op(img, ch, i, flat) for each run of V values of plane
// (img, ch) starting at pixel i (flat = (img*c + ch)*hw + i).
template <int V, class Op>
__global__ void __launch_bounds__(256) plane_map(Op op, int64_t groups, int32_t hw, int32_t c, FastDiv div_hw,
                                                  FastDiv div_c) {
  for (int64_t g = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; g < groups; g += int64_t(gridDim.x) * blockDim.x) {
    const uint32_t flat = uint32_t(g * V);
    const uint32_t plane = div_hw.div(flat);
    const uint32_t img = div_c.div(plane);
    op(int32_t(img), int32_t(plane - img * uint32_t(c)), int32_t(flat - plane * uint32_t(hw)), flat);
  }
}

// Blocks of 256 for a grid-stride loop over `items`: enough to fill the device, no more.
inline unsigned int stride_blocks(const rn_cuda_context* ctx, int64_t items) {
  const int64_t cap = int64_t(ctx->sm_count) * 16;
  const int64_t need = (items + 255) / 256;
  return static_cast<unsigned int>(need < cap ? (need > 0 ? need : 1) : cap);
}

// Launches plane_map on the context's stream.
template <int V, class Op>
int launch_planes(rn_cuda_context* ctx, const Op& op, int32_t n, int32_t c, int32_t hw) {
  const int64_t groups = int64_t(n) * c * hw / V;
  RN_LAUNCH((plane_map<V, Op>), stride_blocks(ctx, groups), 256, ctx->stream, op, groups, hw, c, FastDiv(hw),
            FastDiv(c));
  RN_CUDA_CHECK_LAUNCH();
  return RN_STATUS_OK;
}

// Per-channel sums over NCHW planes, two levels (the statistics of batch norm, the bias
// gradients): pass 1 (channel_partials) gives every (channel, split) block a contiguous
// range of the channel's m = n*hw values and writes its double sums to
// partial[c * splits + split]; pass 2 (an op's finalize kernel) adds the splits of a
// channel in order. Deterministic: no atomics.
struct ChannelSplit {
  int32_t splits;
  int64_t chunk;  // values per split, a multiple of 4
};
ChannelSplit channel_split(const rn_cuda_context* ctx, int32_t c, int64_t m);

// dbias[k] = sum of dy over n, p, q (conv bias gradient, weight-norm dbeta), in double,
// from planes [n, k, pq]. Uses `scratch` (partial sums, channel_split(k, n*pq).splits * k
// double2). Enqueues two kernels.
size_t channel_sum_scratch_bytes(const rn_cuda_context* ctx, int32_t k, int64_t m);
int channel_sum(rn_cuda_context* ctx, int32_t n, int32_t k, int32_t pq, const float* dy, float* out,
                void* scratch);

// rn_cuda_crelu_backward's launch (activation.cu), inside guarded: dx [n, c, hw] from x [n, c,
// hw] and dy [n, 2c, hw]; the caller has checked 2 * n * c * hw < kMaxIndex.
int crelu_backward_planes(rn_cuda_context* ctx, int32_t n, int32_t c, int32_t hw, const float* x, const float* dy,
                          float* dx);

}  // namespace rn::cuda
