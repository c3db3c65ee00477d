// Option A residual shortcut: strided identity plus appended zero channels
// (fb.resnet.torch's CIFAR default). A strided copy, so plain code: output planes
// (forward) or input planes (backward) are split across the pool's threads.
#include <algorithm>
#include <limits>

#include "context_impl.h"
#include "resnorm/shortcut.h"

namespace {

// Output side: ceil(size / stride).
int64_t subsampled(int32_t size, int32_t stride) { return (int64_t(size) + stride - 1) / stride; }

bool bad_args(int32_t n, int32_t c_in, int32_t h, int32_t w, int32_t c_out, int32_t stride, const void* in,
              const void* out) {
  return n <= 0 || c_in <= 0 || h <= 0 || w <= 0 || stride <= 0 || c_out < c_in || !in || !out;
}

int64_t min_planes(int64_t plane_cost) { return std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, plane_cost)); }

}  // namespace

extern "C" {

int rn_shortcut_a_forward(rn_context* ctx, int32_t n, int32_t c_in, int32_t h, int32_t w, int32_t c_out,
                          int32_t stride, const float* x, float* y) {
  if (bad_args(n, c_in, h, w, c_out, stride, x, y)) return RN_STATUS_BAD_ARGUMENT;
  return rn_guarded(ctx, [&] {
    const int64_t p = subsampled(h, stride), q = subsampled(w, stride);
    const int64_t in_plane = int64_t(h) * w, out_plane = p * q;
    ctx->pool.parallel_for(int64_t(n) * c_out, min_planes(out_plane), [&](int64_t b, int64_t e, int) {
      for (int64_t pl = b; pl < e; ++pl) {
        const int64_t img = pl / c_out, k = pl % c_out;
        float* dst = y + pl * out_plane;
        if (k >= c_in) {
          std::fill(dst, dst + out_plane, 0.0f);
          continue;
        }
        const float* src = x + (img * c_in + k) * in_plane;
        for (int64_t i = 0; i < p; ++i) {
          const float* row = src + i * stride * w;
          float* out = dst + i * q;
          if (stride == 1) {
            std::copy(row, row + q, out);
          } else {
            for (int64_t j = 0; j < q; ++j) out[j] = row[j * stride];
          }
        }
      }
    });
    return RN_STATUS_OK;
  });
}

int rn_shortcut_a_backward(rn_context* ctx, int32_t n, int32_t c_in, int32_t h, int32_t w, int32_t c_out,
                           int32_t stride, const float* dy, float* dx) {
  if (bad_args(n, c_in, h, w, c_out, stride, dy, dx)) return RN_STATUS_BAD_ARGUMENT;
  return rn_guarded(ctx, [&] {
    const int64_t p = subsampled(h, stride), q = subsampled(w, stride);
    const int64_t in_plane = int64_t(h) * w, out_plane = p * q;
    ctx->pool.parallel_for(int64_t(n) * c_in, min_planes(in_plane), [&](int64_t b, int64_t e, int) {
      for (int64_t pl = b; pl < e; ++pl) {
        const int64_t img = pl / c_in, k = pl % c_in;
        const float* src = dy + (img * c_out + k) * out_plane;
        float* dst = dx + pl * in_plane;
        if (stride == 1) {
          std::copy(src, src + in_plane, dst);
          continue;
        }
        std::fill(dst, dst + in_plane, 0.0f);
        for (int64_t i = 0; i < p; ++i) {
          float* row = dst + i * stride * w;
          const float* g = src + i * q;
          for (int64_t j = 0; j < q; ++j) row[j * stride] = g[j];
        }
      }
    });
    return RN_STATUS_OK;
  });
}

}  // extern "C"
