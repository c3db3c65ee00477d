// Global average pooling and max pooling (forward, backward), NCHW float32.
// Memory-bound and small next to the convolutions, so plain scalar code: the
// (n, c) planes are split across the pool's threads; within a plane each output
// window is scanned in row-major order (the order fixes which of tied pixels wins).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>

#include "context_impl.h"
#include "resnorm/pooling.h"

namespace {

// Planes per thread such that each thread gets enough work to be worth waking.
int64_t min_planes(int64_t plane_cost) { return std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, plane_cost)); }

bool bad_sizes(int32_t n, int32_t c, int64_t hw) {
  return n <= 0 || c <= 0 || hw <= 0 || hw > std::numeric_limits<int32_t>::max();
}

// Max-pooling geometry, validated: every window holds at least one real pixel.
struct PoolGeom {
  int32_t h, w, kernel, stride, pad, p, q;

  int64_t in_plane() const { return int64_t(h) * w; }
  int64_t out_plane() const { return int64_t(p) * q; }
};

bool make_geom(int32_t n, int32_t c, int32_t h, int32_t w, int32_t kernel, int32_t stride, int32_t pad,
               PoolGeom* g) {
  if (n <= 0 || c <= 0 || h <= 0 || w <= 0 || kernel <= 0 || stride <= 0 || pad < 0) return false;
  if (pad > kernel / 2) return false;  // PyTorch's rule; also keeps every window non-empty
  if (int64_t(h) + 2 * int64_t(pad) < kernel || int64_t(w) + 2 * int64_t(pad) < kernel) return false;
  if (int64_t(h) * w > std::numeric_limits<int32_t>::max()) return false;  // argmax is int32
  g->h = h;
  g->w = w;
  g->kernel = kernel;
  g->stride = stride;
  g->pad = pad;
  const int64_t p = (int64_t(h) + 2 * int64_t(pad) - kernel) / stride + 1;
  const int64_t q = (int64_t(w) + 2 * int64_t(pad) - kernel) / stride + 1;
  if (p > std::numeric_limits<int32_t>::max() || q > std::numeric_limits<int32_t>::max()) return false;
  g->p = int32_t(p);
  g->q = int32_t(q);
  // With pad <= kernel/2 the first window starts at or before pixel 0 and ends after it,
  // and the last one starts before the end of the plane: re-check rather than trust it.
  if (int64_t(g->p - 1) * stride - pad >= h || int64_t(g->q - 1) * stride - pad >= w) return false;
  return true;
}

// Index (row * w + col) of the pixel selected in rows [h0, h1) x cols [w0, w1) of a
// plane (a non-empty range): the first maximum in row-major order, or the first NaN.
inline int32_t window_argmax(const float* plane, int32_t w, int32_t h0, int32_t h1, int32_t w0, int32_t w1) {
  int32_t best_i = h0 * w + w0;
  float best = plane[best_i];
  if (std::isnan(best)) return best_i;
  for (int32_t r = h0; r < h1; ++r) {
    const float* row = plane + int64_t(r) * w;
    for (int32_t s = w0; s < w1; ++s) {
      const float v = row[s];
      if (v > best) {
        best = v;
        best_i = r * w + s;
      } else if (std::isnan(v)) {
        return r * w + s;
      }
    }
  }
  return best_i;
}

// Calls f(i, j, argmax) for every output position of one plane, in row-major order.
template <class F>
inline void for_each_window(const PoolGeom& g, const float* plane, const F& f) {
  for (int32_t i = 0; i < g.p; ++i) {
    const int64_t hs = int64_t(i) * g.stride - g.pad;  // int64: no overflow near INT32_MAX
    const int32_t h0 = int32_t(std::max<int64_t>(hs, 0)), h1 = int32_t(std::min<int64_t>(hs + g.kernel, g.h));
    for (int32_t j = 0; j < g.q; ++j) {
      const int64_t ws = int64_t(j) * g.stride - g.pad;
      const int32_t w0 = int32_t(std::max<int64_t>(ws, 0)), w1 = int32_t(std::min<int64_t>(ws + g.kernel, g.w));
      f(i, j, window_argmax(plane, g.w, h0, h1, w0, w1));
    }
  }
}

}  // namespace

extern "C" {

int rn_global_avgpool_forward(rn_context* ctx, int32_t n, int32_t c, int32_t hw, const float* x, float* y) {
  if (bad_sizes(n, c, hw) || !x || !y) return RN_STATUS_BAD_ARGUMENT;
  return rn_guarded(ctx, [&] {
    ctx->pool.parallel_for(int64_t(n) * c, min_planes(hw), [&](int64_t b, int64_t e, int) {
      for (int64_t pl = b; pl < e; ++pl) {
        const float* src = x + pl * hw;
        double sum = 0.0;
        for (int32_t i = 0; i < hw; ++i) sum += src[i];
        y[pl] = static_cast<float>(sum / hw);
      }
    });
    return RN_STATUS_OK;
  });
}

int rn_global_avgpool_backward(rn_context* ctx, int32_t n, int32_t c, int32_t hw, const float* dy, float* dx) {
  if (bad_sizes(n, c, hw) || !dy || !dx) return RN_STATUS_BAD_ARGUMENT;
  return rn_guarded(ctx, [&] {
    ctx->pool.parallel_for(int64_t(n) * c, min_planes(hw), [&](int64_t b, int64_t e, int) {
      for (int64_t pl = b; pl < e; ++pl) {
        const float g = dy[pl] / static_cast<float>(hw);
        std::fill(dx + pl * hw, dx + (pl + 1) * hw, g);
      }
    });
    return RN_STATUS_OK;
  });
}

int rn_maxpool2d_forward(rn_context* ctx, int32_t n, int32_t c, int32_t h, int32_t w, int32_t kernel,
                         int32_t stride, int32_t pad, const float* x, float* y, int32_t* argmax) {
  PoolGeom g;
  if (!make_geom(n, c, h, w, kernel, stride, pad, &g) || !x || !y) return RN_STATUS_BAD_ARGUMENT;
  return rn_guarded(ctx, [&] {
    const int64_t cost = g.out_plane() * kernel * kernel;
    ctx->pool.parallel_for(int64_t(n) * c, min_planes(cost), [&](int64_t b, int64_t e, int) {
      for (int64_t pl = b; pl < e; ++pl) {
        const float* src = x + pl * g.in_plane();
        float* dst = y + pl * g.out_plane();
        int32_t* idx = argmax ? argmax + pl * g.out_plane() : nullptr;
        for_each_window(g, src, [&](int32_t i, int32_t j, int32_t a) {
          const int64_t o = int64_t(i) * g.q + j;
          dst[o] = src[a];
          if (idx) idx[o] = a;
        });
      }
    });
    return RN_STATUS_OK;
  });
}

int rn_maxpool2d_backward(rn_context* ctx, int32_t n, int32_t c, int32_t h, int32_t w, int32_t kernel,
                          int32_t stride, int32_t pad, const int32_t* argmax, const float* dy, float* dx) {
  PoolGeom g;
  if (!make_geom(n, c, h, w, kernel, stride, pad, &g) || !argmax || !dy || !dx) return RN_STATUS_BAD_ARGUMENT;
  return rn_guarded(ctx, [&] {
    std::atomic<bool> out_of_range{false};
    const uint32_t limit = static_cast<uint32_t>(g.in_plane());
    ctx->pool.parallel_for(int64_t(n) * c, min_planes(g.in_plane() + g.out_plane()), [&](int64_t b, int64_t e, int) {
      bool bad = false;
      for (int64_t pl = b; pl < e; ++pl) {
        float* dst = dx + pl * g.in_plane();
        const float* grad = dy + pl * g.out_plane();
        const int32_t* idx = argmax + pl * g.out_plane();
        std::fill(dst, dst + g.in_plane(), 0.0f);
        for (int64_t o = 0; o < g.out_plane(); ++o) {
          // An index from anywhere but our forward must not write outside the plane.
          if (static_cast<uint32_t>(idx[o]) < limit) {
            dst[idx[o]] += grad[o];
          } else {
            bad = true;
          }
        }
      }
      if (bad) out_of_range.store(true, std::memory_order_relaxed);
    });
    return out_of_range.load() ? RN_STATUS_BAD_ARGUMENT : RN_STATUS_OK;
  });
}

int rn_maxpool2d_backward_recompute(rn_context* ctx, int32_t n, int32_t c, int32_t h, int32_t w, int32_t kernel,
                                    int32_t stride, int32_t pad, const float* x, const float* dy, float* dx) {
  PoolGeom g;
  if (!make_geom(n, c, h, w, kernel, stride, pad, &g) || !x || !dy || !dx) return RN_STATUS_BAD_ARGUMENT;
  return rn_guarded(ctx, [&] {
    const int64_t cost = g.in_plane() + g.out_plane() * kernel * kernel;
    ctx->pool.parallel_for(int64_t(n) * c, min_planes(cost), [&](int64_t b, int64_t e, int) {
      for (int64_t pl = b; pl < e; ++pl) {
        float* dst = dx + pl * g.in_plane();
        const float* grad = dy + pl * g.out_plane();
        std::fill(dst, dst + g.in_plane(), 0.0f);
        for_each_window(g, x + pl * g.in_plane(), [&](int32_t i, int32_t j, int32_t a) {
          dst[a] += grad[int64_t(i) * g.q + j];
        });
      }
    });
    return RN_STATUS_OK;
  });
}

}  // extern "C"
