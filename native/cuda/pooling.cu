// Global average pooling and max pooling on CUDA (pooling.h). The max-pool backward
// is a gather (one thread per input pixel adds the gradients of the output windows
// that selected it, in row-major output order: the CPU's scatter order, so the sums
// match bit for bit) rather than a scatter with atomics: deterministic.
#include <cmath>

#include "cuda_impl.cuh"
#include "resnorm/pooling.h"

namespace rn::cuda {

namespace {

// Max-pooling geometry, validated as on the CPU (make_geom in cpu/pooling.cpp).
struct PoolGeom {
  int32_t h, w, kernel, stride, pad, p, q;
};

bool make_geom(int32_t n, int32_t c, int32_t h, int32_t w, int32_t kernel, int32_t stride, int32_t pad, PoolGeom* g) {
  if (n <= 0 || c <= 0 || h <= 0 || w <= 0 || kernel <= 0 || stride <= 0 || pad < 0) return false;
  if (pad > kernel / 2) return false;
  if (int64_t(h) + 2 * int64_t(pad) < kernel || int64_t(w) + 2 * int64_t(pad) < kernel) return false;
  if (int64_t(h) * w > INT32_MAX) return false;
  const int64_t p = (int64_t(h) + 2 * int64_t(pad) - kernel) / stride + 1;
  const int64_t q = (int64_t(w) + 2 * int64_t(pad) - kernel) / stride + 1;
  if (p > INT32_MAX || q > INT32_MAX) return false;
  *g = PoolGeom{h, w, kernel, stride, pad, int32_t(p), int32_t(q)};
  if (int64_t(g->p - 1) * stride - pad >= h || int64_t(g->q - 1) * stride - pad >= w) return false;
  return true;
}

// Window of output (i, j): rows [h0, h1) x cols [w0, w1), clipped to the plane.
struct Window {
  int32_t h0, h1, w0, w1;
};
__device__ __forceinline__ Window window(const PoolGeom& g, int32_t i, int32_t j) {
  const int64_t hs = int64_t(i) * g.stride - g.pad, ws = int64_t(j) * g.stride - g.pad;
  Window win;
  win.h0 = int32_t(hs > 0 ? hs : 0);
  win.h1 = int32_t(hs + g.kernel < g.h ? hs + g.kernel : g.h);
  win.w0 = int32_t(ws > 0 ? ws : 0);
  win.w1 = int32_t(ws + g.kernel < g.w ? ws + g.kernel : g.w);
  return win;
}

// The CPU's window_argmax: the first maximum in row-major order, or the first NaN.
__device__ __forceinline__ int32_t window_argmax(const float* plane, int32_t w, const Window& win) {
  int32_t best_i = win.h0 * w + win.w0;
  float best = plane[best_i];
  if (isnan(best)) return best_i;
  for (int32_t r = win.h0; r < win.h1; ++r)
    for (int32_t s = win.w0; s < win.w1; ++s) {
      const float v = plane[r * w + s];
      if (v > best) {
        best = v;
        best_i = r * w + s;
      } else if (isnan(v)) {
        return r * w + s;
      }
    }
  return best_i;
}

// Outputs whose window contains input row ih: [lo, hi] (empty when lo > hi).
__device__ __forceinline__ void covering(int32_t ih, int32_t pad, int32_t kernel, int32_t stride, int32_t p,
                                         int32_t* lo, int32_t* hi) {
  const int32_t t = ih + pad - kernel + 1;
  *lo = t <= 0 ? 0 : (t + stride - 1) / stride;
  const int32_t top = (ih + pad) / stride;
  *hi = top < p - 1 ? top : p - 1;
}

__global__ void avgpool_forward(int64_t planes, int32_t hw, const float* x, float* y) {
  const int64_t pl = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x & 31;
  if (pl >= planes) return;  // whole warps leave together
  const float* src = x + pl * hw;
  double sum = 0.0;
  for (int32_t i = lane; i < hw; i += 32) sum += src[i];
  sum = warp_sum(sum);
  if (lane == 0) y[pl] = float(sum / hw);
}

__global__ void avgpool_backward(int64_t total, int32_t hw, FastDiv div_hw, const float* dy, float* dx) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x)
    dx[i] = __fdiv_rn(dy[div_hw.div(uint32_t(i))], float(hw));
}

__global__ void maxpool_forward(int64_t total, PoolGeom g, FastDiv div_pq, FastDiv div_q, const float* x, float* y,
                                int32_t* argmax) {
  for (int64_t o = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; o < total; o += int64_t(gridDim.x) * blockDim.x) {
    const uint32_t pl = div_pq.div(uint32_t(o));
    const int32_t pq = int32_t(o - int64_t(pl) * g.p * g.q);
    const int32_t i = int32_t(div_q.div(uint32_t(pq))), j = pq - i * g.q;
    const float* plane = x + int64_t(pl) * g.h * g.w;
    const int32_t a = window_argmax(plane, g.w, window(g, i, j));
    y[o] = plane[a];
    if (argmax) argmax[o] = a;
  }
}

// Records argmax entries outside their window (so also those outside the plane).
__global__ void maxpool_check_argmax(int64_t total, PoolGeom g, FastDiv div_pq, FastDiv div_q, const int32_t* argmax,
                                     unsigned int* error_word) {
  for (int64_t o = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; o < total; o += int64_t(gridDim.x) * blockDim.x) {
    const uint32_t pl = div_pq.div(uint32_t(o));
    const int32_t pq = int32_t(o - int64_t(pl) * g.p * g.q);
    const int32_t i = int32_t(div_q.div(uint32_t(pq))), j = pq - i * g.q;
    const Window win = window(g, i, j);
    const int32_t a = argmax[o];
    const int32_t r = a >= 0 ? a / g.w : -1, s = a >= 0 ? a - r * g.w : -1;
    if (r < win.h0 || r >= win.h1 || s < win.w0 || s >= win.w1) atomicOr(error_word, kErrArgmax);
  }
}

// dx[pixel] = sum of dy over the windows that selected the pixel (argmax stored, or
// recomputed from x when argmax is null), in row-major output order.
__global__ void maxpool_backward(int64_t total, PoolGeom g, FastDiv div_hw, FastDiv div_w, const int32_t* argmax,
                                 const float* x, const float* dy, float* dx) {
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const uint32_t pl = div_hw.div(uint32_t(e));
    const int32_t hw = int32_t(e - int64_t(pl) * g.h * g.w);
    const int32_t ih = int32_t(div_w.div(uint32_t(hw))), iw = hw - ih * g.w;
    int32_t i0, i1, j0, j1;
    covering(ih, g.pad, g.kernel, g.stride, g.p, &i0, &i1);
    covering(iw, g.pad, g.kernel, g.stride, g.q, &j0, &j1);
    const int64_t out_plane = int64_t(pl) * g.p * g.q;
    const float* x_plane = x ? x + int64_t(pl) * g.h * g.w : nullptr;
    float sum = 0.0f;
    for (int32_t i = i0; i <= i1; ++i)
      for (int32_t j = j0; j <= j1; ++j) {
        const int64_t o = out_plane + int64_t(i) * g.q + j;
        const int32_t a = argmax ? argmax[o] : window_argmax(x_plane, g.w, window(g, i, j));
        if (a == hw) sum = __fadd_rn(sum, dy[o]);
      }
    dx[e] = sum;
  }
}

}  // namespace

}  // namespace rn::cuda

using namespace rn::cuda;

extern "C" {

RN_API int rn_cuda_global_avgpool_forward(rn_cuda_context* ctx, int32_t n, int32_t c, int32_t hw, const float* x,
                                          float* y) {
  if (n <= 0 || c <= 0 || hw <= 0 || !x || !y) return RN_STATUS_BAD_ARGUMENT;
  if (int64_t(n) * c * hw >= kMaxIndex) return RN_STATUS_UNSUPPORTED;
  return guarded(ctx, [&] {
    const int64_t planes = int64_t(n) * c;
    RN_LAUNCH(avgpool_forward, blocks_for(planes * 32, 256), 256, ctx->stream, planes, hw, x, y);
    RN_CUDA_CHECK_LAUNCH();
    return int(RN_STATUS_OK);
  });
}

RN_API int rn_cuda_global_avgpool_backward(rn_cuda_context* ctx, int32_t n, int32_t c, int32_t hw, const float* dy,
                                           float* dx) {
  if (n <= 0 || c <= 0 || hw <= 0 || !dy || !dx) return RN_STATUS_BAD_ARGUMENT;
  if (int64_t(n) * c * hw >= kMaxIndex) return RN_STATUS_UNSUPPORTED;
  return guarded(ctx, [&] {
    const int64_t total = int64_t(n) * c * hw;
    RN_LAUNCH(avgpool_backward, stride_blocks(ctx, total), 256, ctx->stream, total, hw, FastDiv(hw), dy, dx);
    RN_CUDA_CHECK_LAUNCH();
    return int(RN_STATUS_OK);
  });
}

RN_API int rn_cuda_maxpool2d_forward(rn_cuda_context* ctx, int32_t n, int32_t c, int32_t h, int32_t w,
                                     int32_t kernel, int32_t stride, int32_t pad, const float* x, float* y,
                                     int32_t* argmax) {
  PoolGeom g;
  if (!make_geom(n, c, h, w, kernel, stride, pad, &g) || !x || !y) return RN_STATUS_BAD_ARGUMENT;
  if (int64_t(n) * c * h * w >= kMaxIndex || int64_t(n) * c * g.p * g.q >= kMaxIndex) return RN_STATUS_UNSUPPORTED;
  return guarded(ctx, [&] {
    const int64_t total = int64_t(n) * c * g.p * g.q;
    RN_LAUNCH(maxpool_forward, stride_blocks(ctx, total), 256, ctx->stream, total, g, FastDiv(g.p * g.q), FastDiv(g.q),
              x, y, argmax);
    RN_CUDA_CHECK_LAUNCH();
    return int(RN_STATUS_OK);
  });
}

RN_API int rn_cuda_maxpool2d_backward(rn_cuda_context* ctx, int32_t n, int32_t c, int32_t h, int32_t w,
                                      int32_t kernel, int32_t stride, int32_t pad, const int32_t* argmax,
                                      const float* dy, float* dx) {
  PoolGeom g;
  if (!make_geom(n, c, h, w, kernel, stride, pad, &g) || !argmax || !dy || !dx) return RN_STATUS_BAD_ARGUMENT;
  if (int64_t(n) * c * h * w >= kMaxIndex || int64_t(n) * c * g.p * g.q >= kMaxIndex) return RN_STATUS_UNSUPPORTED;
  return guarded(ctx, [&] {
    const int64_t outs = int64_t(n) * c * g.p * g.q, ins = int64_t(n) * c * h * w;
    RN_LAUNCH(maxpool_check_argmax, stride_blocks(ctx, outs), 256, ctx->stream, outs, g, FastDiv(g.p * g.q),
              FastDiv(g.q), argmax, ctx->error_word);
    RN_CUDA_CHECK_LAUNCH();
    RN_LAUNCH(maxpool_backward, stride_blocks(ctx, ins), 256, ctx->stream, ins, g, FastDiv(h * w), FastDiv(w), argmax,
              nullptr, dy, dx);
    RN_CUDA_CHECK_LAUNCH();
    return int(RN_STATUS_OK);
  });
}

RN_API int rn_cuda_maxpool2d_backward_recompute(rn_cuda_context* ctx, int32_t n, int32_t c, int32_t h, int32_t w,
                                                int32_t kernel, int32_t stride, int32_t pad, const float* x,
                                                const float* dy, float* dx) {
  PoolGeom g;
  if (!make_geom(n, c, h, w, kernel, stride, pad, &g) || !x || !dy || !dx) return RN_STATUS_BAD_ARGUMENT;
  if (int64_t(n) * c * h * w >= kMaxIndex || int64_t(n) * c * g.p * g.q >= kMaxIndex) return RN_STATUS_UNSUPPORTED;
  return guarded(ctx, [&] {
    const int64_t ins = int64_t(n) * c * h * w;
    RN_LAUNCH(maxpool_backward, stride_blocks(ctx, ins), 256, ctx->stream, ins, g, FastDiv(h * w), FastDiv(w), nullptr,
              x, dy, dx);
    RN_CUDA_CHECK_LAUNCH();
    return int(RN_STATUS_OK);
  });
}

}  // extern "C"
