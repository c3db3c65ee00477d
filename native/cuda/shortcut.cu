// Option A residual shortcut on CUDA (shortcut.h): strided identity plus appended zero
// channels; one thread per output element (forward) or per dx element (backward).
#include "cuda_impl.cuh"
#include "resnorm/shortcut.h"

namespace rn::cuda {

namespace {

struct Shape {
  int32_t c_in, h, w, c_out, stride, p, q;
};

__global__ void shortcut_forward(int64_t total, Shape s, FastDiv div_pq, FastDiv div_q, FastDiv div_c, const float* x,
                                 float* y) {
  for (int64_t o = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; o < total; o += int64_t(gridDim.x) * blockDim.x) {
    const uint32_t plane = div_pq.div(uint32_t(o));
    const int32_t pq = int32_t(o - int64_t(plane) * s.p * s.q);
    const uint32_t img = div_c.div(plane);
    const int32_t k = int32_t(plane - img * uint32_t(s.c_out));
    if (k >= s.c_in) {
      y[o] = 0.0f;
      continue;
    }
    const int32_t i = int32_t(div_q.div(uint32_t(pq))), j = pq - i * s.q;
    y[o] = x[(int64_t(img) * s.c_in + k) * s.h * s.w + int64_t(i) * s.stride * s.w + int64_t(j) * s.stride];
  }
}

__global__ void shortcut_backward(int64_t total, Shape s, FastDiv div_hw, FastDiv div_w, FastDiv div_c,
                                  FastDiv div_stride, const float* dy, float* dx) {
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const uint32_t plane = div_hw.div(uint32_t(e));
    const int32_t hw = int32_t(e - int64_t(plane) * s.h * s.w);
    const uint32_t img = div_c.div(plane);
    const int32_t k = int32_t(plane - img * uint32_t(s.c_in));
    const int32_t ih = int32_t(div_w.div(uint32_t(hw))), iw = hw - ih * s.w;
    const int32_t i = int32_t(div_stride.div(uint32_t(ih))), j = int32_t(div_stride.div(uint32_t(iw)));
    float g = 0.0f;
    if (i * s.stride == ih && j * s.stride == iw)
      g = dy[(int64_t(img) * s.c_out + k) * s.p * s.q + int64_t(i) * s.q + j];
    dx[e] = g;
  }
}

bool bad_args(int32_t n, int32_t c_in, int32_t h, int32_t w, int32_t c_out, int32_t stride, const void* in,
              const void* out) {
  return n <= 0 || c_in <= 0 || h <= 0 || w <= 0 || stride <= 0 || c_out < c_in || !in || !out;
}

Shape make_shape(int32_t c_in, int32_t h, int32_t w, int32_t c_out, int32_t stride) {
  return Shape{c_in, h, w, c_out, stride, int32_t((int64_t(h) + stride - 1) / stride),
               int32_t((int64_t(w) + stride - 1) / stride)};
}

bool too_large(int32_t n, int32_t c_in, int32_t h, int32_t w, int32_t c_out) {
  return int64_t(n) * c_in * h * w >= kMaxIndex || int64_t(n) * c_out * h * w >= kMaxIndex;
}

}  // namespace

}  // namespace rn::cuda

using namespace rn::cuda;

extern "C" {

RN_API int rn_cuda_shortcut_a_forward(rn_cuda_context* ctx, int32_t n, int32_t c_in, int32_t h, int32_t w,
                                      int32_t c_out, int32_t stride, const float* x, float* y) {
  if (bad_args(n, c_in, h, w, c_out, stride, x, y)) return RN_STATUS_BAD_ARGUMENT;
  if (too_large(n, c_in, h, w, c_out)) return RN_STATUS_UNSUPPORTED;
  return guarded(ctx, [&] {
    const Shape s = make_shape(c_in, h, w, c_out, stride);
    const int64_t total = int64_t(n) * c_out * s.p * s.q;
    RN_LAUNCH(shortcut_forward, stride_blocks(ctx, total), 256, ctx->stream, total, s, FastDiv(s.p * s.q), FastDiv(s.q),
              FastDiv(c_out), x, y);
    RN_CUDA_CHECK_LAUNCH();
    return int(RN_STATUS_OK);
  });
}

RN_API int rn_cuda_shortcut_a_backward(rn_cuda_context* ctx, int32_t n, int32_t c_in, int32_t h, int32_t w,
                                       int32_t c_out, int32_t stride, const float* dy, float* dx) {
  if (bad_args(n, c_in, h, w, c_out, stride, dy, dx)) return RN_STATUS_BAD_ARGUMENT;
  if (too_large(n, c_in, h, w, c_out)) return RN_STATUS_UNSUPPORTED;
  return guarded(ctx, [&] {
    const Shape s = make_shape(c_in, h, w, c_out, stride);
    const int64_t total = int64_t(n) * c_in * h * w;
    RN_LAUNCH(shortcut_backward, stride_blocks(ctx, total), 256, ctx->stream, total, s, FastDiv(h * w), FastDiv(w),
              FastDiv(c_in), FastDiv(stride), dy, dx);
    RN_CUDA_CHECK_LAUNCH();
    return int(RN_STATUS_OK);
  });
}

}  // extern "C"
