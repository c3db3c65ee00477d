// Standalone activations on CUDA (activation.h): the unfused path and the residual
// block's add + ReLU. Elementwise grid-stride kernels, 4 floats per access where the
// pointers are 16-byte aligned; an output may be the same pointer as an input (each
// element is read before it is written, by the same thread).
#include "cuda_impl.cuh"
#include "resnorm/activation.h"

namespace rn::cuda {

namespace {

enum Kind { kRelu, kReluBackward, kAddRelu, kAddReluBackward, kAdd, kReluBackwardSum };

// One elementwise op over count floats: in0, in1, in2 inputs (in2 only for kReluBackwardSum);
// out0, out1 outputs (out1 may be null).
template <int K>
__device__ __forceinline__ void elem(float a, float b, float c, float* o0, float* o1) {
  if constexpr (K == kRelu) *o0 = relu_nan(a);
  if constexpr (K == kReluBackward) *o0 = a > 0.0f ? b : 0.0f;  // a = y, b = dy
  if constexpr (K == kAddRelu) *o0 = relu_nan(__fadd_rn(a, b));
  if constexpr (K == kAddReluBackward) *o0 = *o1 = a > 0.0f ? b : 0.0f;
  if constexpr (K == kAdd) *o0 = __fadd_rn(a, b);
  if constexpr (K == kReluBackwardSum) *o0 = a > 0.0f ? __fadd_rn(b, c) : 0.0f;  // a = y; b, c the two gradients
}

template <int K, int V>
__global__ void __launch_bounds__(256)
    elementwise(int64_t groups, const float* in0, const float* in1, const float* in2, float* out0, float* out1) {
  for (int64_t g = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; g < groups; g += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = g * V;
    float a[V], b[V], c[V], o0[V], o1[V];
    load_v<V>(in0 + i, a);
    if constexpr (K != kRelu) load_v<V>(in1 + i, b);
    if constexpr (K == kReluBackwardSum) load_v<V>(in2 + i, c);
#pragma unroll
    for (int k = 0; k < V; ++k)
      elem<K>(a[k], K == kRelu ? 0.0f : b[k], K == kReluBackwardSum ? c[k] : 0.0f, &o0[k], &o1[k]);
    store_v<V>(out0 + i, o0);
    if (K == kAddReluBackward && out1 != nullptr) store_v<V>(out1 + i, o1);
  }
}

template <int K>
int run(rn_cuda_context* ctx, int64_t count, const float* in0, const float* in1, float* out0, float* out1,
        const float* in2 = nullptr) {
  return guarded(ctx, [&] {
    if (count == 0) return int(RN_STATUS_OK);
    // The vector part (a multiple of 4) and a scalar tail of at most 3.
    const bool vec = aligned16(in0) && (!in1 || aligned16(in1)) && (!in2 || aligned16(in2)) && aligned16(out0) &&
                     (!out1 || aligned16(out1));
    const int64_t body = vec ? count / 4 * 4 : 0;
    if (body > 0) {
      RN_LAUNCH((elementwise<K, 4>), stride_blocks(ctx, body / 4), 256, ctx->stream, body / 4, in0, in1, in2, out0,
                out1);
      RN_CUDA_CHECK_LAUNCH();
    }
    if (body < count) {
      const int64_t rest = count - body;
      RN_LAUNCH((elementwise<K, 1>), stride_blocks(ctx, rest), 256, ctx->stream, rest, in0 + body,
                in1 ? in1 + body : nullptr, in2 ? in2 + body : nullptr, out0 + body, out1 ? out1 + body : nullptr);
      RN_CUDA_CHECK_LAUNCH();
    }
    return int(RN_STATUS_OK);
  });
}

bool bad_count(int64_t count, const void* a, const void* b) { return count < 0 || (count > 0 && (!a || !b)); }

bool bad_planes(int32_t n, int32_t c, int32_t hw, const void* a, const void* b, const void* d) {
  return n <= 0 || c <= 0 || hw <= 0 || c > INT32_MAX / 2 || !a || !b || !d;
}

template <int V>
struct CreluForward {
  const float* x;
  float* y;
  int32_t c, hw;
  __device__ void operator()(int32_t img, int32_t ch, int32_t i, uint32_t flat) const {
    float v[V], pos[V], neg[V];
    load_v<V>(x + flat, v);
#pragma unroll
    for (int k = 0; k < V; ++k) {
      pos[k] = relu_nan(v[k]);
      neg[k] = relu_nan(__fsub_rn(0.0f, v[k]));
    }
    float* yp = y + (int64_t(img) * 2 * c + ch) * hw + i;
    store_v<V>(yp, pos);
    store_v<V>(yp + int64_t(c) * hw, neg);
  }
};

template <int V>
struct CreluBackward {
  const float* x;
  const float* dy;
  float* dx;
  int32_t c, hw;
  __device__ void operator()(int32_t img, int32_t ch, int32_t i, uint32_t flat) const {
    float v[V], dp[V], dn[V], out[V];
    load_v<V>(x + flat, v);
    const float* d = dy + (int64_t(img) * 2 * c + ch) * hw + i;
    load_v<V>(d, dp);
    load_v<V>(d + int64_t(c) * hw, dn);
#pragma unroll
    for (int k = 0; k < V; ++k) out[k] = __fsub_rn(v[k] > 0.0f ? dp[k] : 0.0f, v[k] < 0.0f ? dn[k] : 0.0f);
    store_v<V>(dx + flat, out);
  }
};

}  // namespace

int crelu_backward_planes(rn_cuda_context* ctx, int32_t n, int32_t c, int32_t hw, const float* x, const float* dy,
                          float* dx) {
  if (hw % 4 == 0 && aligned16(x, dy, dx)) return launch_planes<4>(ctx, CreluBackward<4>{x, dy, dx, c, hw}, n, c, hw);
  return launch_planes<1>(ctx, CreluBackward<1>{x, dy, dx, c, hw}, n, c, hw);
}

}  // namespace rn::cuda

using namespace rn::cuda;

extern "C" {

RN_API int rn_cuda_relu_forward(rn_cuda_context* ctx, int64_t count, const float* x, float* y) {
  if (bad_count(count, x, y)) return RN_STATUS_BAD_ARGUMENT;
  return run<kRelu>(ctx, count, x, nullptr, y, nullptr);
}

RN_API int rn_cuda_relu_backward(rn_cuda_context* ctx, int64_t count, const float* y, const float* dy, float* dx) {
  if (bad_count(count, y, dy) || (count > 0 && !dx)) return RN_STATUS_BAD_ARGUMENT;
  return run<kReluBackward>(ctx, count, y, dy, dx, nullptr);
}

RN_API int rn_cuda_crelu_forward(rn_cuda_context* ctx, int32_t n, int32_t c, int32_t hw, const float* x, float* y) {
  if (bad_planes(n, c, hw, x, y, y)) return RN_STATUS_BAD_ARGUMENT;
  if (2 * int64_t(n) * c * hw >= kMaxIndex) return RN_STATUS_UNSUPPORTED;
  return guarded(ctx, [&] {
    if (hw % 4 == 0 && aligned16(x, y)) return launch_planes<4>(ctx, CreluForward<4>{x, y, c, hw}, n, c, hw);
    return launch_planes<1>(ctx, CreluForward<1>{x, y, c, hw}, n, c, hw);
  });
}

RN_API int rn_cuda_crelu_backward(rn_cuda_context* ctx, int32_t n, int32_t c, int32_t hw, const float* x,
                                  const float* dy, float* dx) {
  if (bad_planes(n, c, hw, x, dy, dx)) return RN_STATUS_BAD_ARGUMENT;
  if (2 * int64_t(n) * c * hw >= kMaxIndex) return RN_STATUS_UNSUPPORTED;
  return guarded(ctx, [&] { return crelu_backward_planes(ctx, n, c, hw, x, dy, dx); });
}

RN_API int rn_cuda_add_relu_forward(rn_cuda_context* ctx, int64_t count, const float* a, const float* b, float* y) {
  if (bad_count(count, a, b) || (count > 0 && !y)) return RN_STATUS_BAD_ARGUMENT;
  return run<kAddRelu>(ctx, count, a, b, y, nullptr);
}

RN_API int rn_cuda_add_relu_backward(rn_cuda_context* ctx, int64_t count, const float* y, const float* dy, float* da,
                                     float* db) {
  if (bad_count(count, y, dy) || (count > 0 && !da)) return RN_STATUS_BAD_ARGUMENT;
  return run<kAddReluBackward>(ctx, count, y, dy, da, db);
}

RN_API int rn_cuda_relu_backward_sum(rn_cuda_context* ctx, int64_t count, const float* y, const float* da,
                                     const float* db, float* dx) {
  if (bad_count(count, y, da) || (count > 0 && (!db || !dx))) return RN_STATUS_BAD_ARGUMENT;
  return run<kReluBackwardSum>(ctx, count, y, da, dx, nullptr, db);
}

RN_API int rn_cuda_add(rn_cuda_context* ctx, int64_t count, const float* a, const float* b, float* y) {
  if (bad_count(count, a, b) || (count > 0 && !y)) return RN_STATUS_BAD_ARGUMENT;
  return run<kAdd>(ctx, count, a, b, y, nullptr);
}

}  // extern "C"
