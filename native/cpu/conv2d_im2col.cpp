// conv2d by im2col + GEMM (OpenBLAS, single-threaded per pool thread).
//
// The reference-grade path: handles every shape (any kernel size, stride,
// padding). Images are split across the pool's threads; each thread owns a
// column buffer in the context workspace. 1x1 stride-1 unpadded convs use the
// input plane directly as the column matrix.
//
// Layout of the column matrix of one image: col[(c*R + r)*S + s][p*Q + q]
//   = x[c][p*stride_h - pad_h + r][q*stride_w - pad_w + s] (0 outside the image).
#include <algorithm>
#include <cstring>
#include <vector>

#include "blas.h"
#include "conv2d_impl.h"

namespace rn::conv {
namespace {

bool is_pointwise(const rn_conv2d_desc& d) {
  return d.r == 1 && d.s == 1 && d.stride_h == 1 && d.stride_w == 1 && d.pad_h == 0 && d.pad_w == 0;
}

// Valid output range [q0, q1) for filter column s: 0 <= q*stride - pad + s < W.
void valid_range(int32_t out, int32_t in, int32_t stride, int32_t pad, int32_t tap, int32_t* lo,
                 int32_t* hi) {
  // smallest q with q*stride >= pad - tap
  int32_t need = pad - tap;
  int32_t q0 = need <= 0 ? 0 : (need + stride - 1) / stride;
  // largest q with q*stride - pad + tap <= in - 1
  int32_t lim = in - 1 + pad - tap;
  int32_t q1 = lim < 0 ? 0 : lim / stride + 1;
  *lo = std::min(q0, out);
  *hi = std::max(*lo, std::min(q1, out));
}

void im2col(const rn_conv2d_desc& d, const float* x, float* col) {
  const int64_t pq = out_plane(d);
  for (int32_t c = 0; c < d.c; ++c) {
    const float* xc = x + c * in_plane(d);
    for (int32_t r = 0; r < d.r; ++r) {
      for (int32_t s = 0; s < d.s; ++s) {
        float* row = col + ((int64_t(c) * d.r + r) * d.s + s) * pq;
        int32_t q0, q1;
        valid_range(d.q, d.w, d.stride_w, d.pad_w, s, &q0, &q1);
        for (int32_t p = 0; p < d.p; ++p) {
          float* out = row + int64_t(p) * d.q;
          int32_t ih = p * d.stride_h - d.pad_h + r;
          if (ih < 0 || ih >= d.h) {
            std::memset(out, 0, sizeof(float) * d.q);
            continue;
          }
          const float* xrow = xc + int64_t(ih) * d.w - d.pad_w + s;
          for (int32_t q = 0; q < q0; ++q) out[q] = 0.0f;
          if (d.stride_w == 1) {
            std::memcpy(out + q0, xrow + q0, sizeof(float) * (q1 - q0));
          } else {
            for (int32_t q = q0; q < q1; ++q) out[q] = xrow[int64_t(q) * d.stride_w];
          }
          for (int32_t q = q1; q < d.q; ++q) out[q] = 0.0f;
        }
      }
    }
  }
}

// dx (one image, already zeroed) += col2im(col)
void col2im_add(const rn_conv2d_desc& d, const float* col, float* dx) {
  const int64_t pq = out_plane(d);
  for (int32_t c = 0; c < d.c; ++c) {
    float* dxc = dx + c * in_plane(d);
    for (int32_t r = 0; r < d.r; ++r) {
      for (int32_t s = 0; s < d.s; ++s) {
        const float* row = col + ((int64_t(c) * d.r + r) * d.s + s) * pq;
        int32_t q0, q1;
        valid_range(d.q, d.w, d.stride_w, d.pad_w, s, &q0, &q1);
        for (int32_t p = 0; p < d.p; ++p) {
          int32_t ih = p * d.stride_h - d.pad_h + r;
          if (ih < 0 || ih >= d.h) continue;
          const float* in = row + int64_t(p) * d.q;
          float* xrow = dxc + int64_t(ih) * d.w - d.pad_w + s;
          for (int32_t q = q0; q < q1; ++q) xrow[int64_t(q) * d.stride_w] += in[q];
        }
      }
    }
  }
}

}  // namespace

int im2col_forward(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* w,
                   const float* bias, float* y, const Epilogue* ep) {
  const bool direct = is_pointwise(d);
  const int64_t crs = filter_size(d), pq = out_plane(d);
  const int threads = std::min<int>(ctx->pool.size(), d.n);
  // a column buffer per thread
  ScratchPlan plan;
  const Regions cols = plan.add_regions(sizeof(float) * crs * pq, threads);
  char* base = direct ? nullptr : static_cast<char*>(ctx->workspace.require(plan.total()));
  ctx->pool.run_each(threads, [&](int tid, int nt) {
    float* col = direct ? nullptr : at_offset<float>(base, cols.of(tid));
    for (int32_t n = tid; n < d.n; n += nt) {
      const float* xn = x + int64_t(n) * d.c * in_plane(d);
      float* yn = y + n * (ep ? ep->image(d) : d.k * pq);
      if (!direct) im2col(d, xn, col);
      float beta = 0.0f;
      if (bias != nullptr) {
        for (int32_t k = 0; k < d.k; ++k) std::fill(yn + k * pq, yn + (k + 1) * pq, bias[k]);
        beta = 1.0f;
      }
      blas::sgemm(false, false, d.k, pq, crs, 1.0f, w, crs, direct ? xn : col, pq, beta, yn, pq);
      if (ep) epilogue_planes(d, *ep, yn);  // while the image's output is in cache
    }
  });
  return RN_STATUS_OK;
}

int im2col_backward_data(rn_context* ctx, const rn_conv2d_desc& d, const float* dy, const float* w,
                         float* dx) {
  const bool direct = is_pointwise(d);
  const int64_t crs = filter_size(d), pq = out_plane(d);
  const int threads = std::min<int>(ctx->pool.size(), d.n);
  // a column buffer per thread
  ScratchPlan plan;
  const Regions cols = plan.add_regions(sizeof(float) * crs * pq, threads);
  char* base = direct ? nullptr : static_cast<char*>(ctx->workspace.require(plan.total()));
  ctx->pool.run_each(threads, [&](int tid, int nt) {
    float* col = direct ? nullptr : at_offset<float>(base, cols.of(tid));
    for (int32_t n = tid; n < d.n; n += nt) {
      const float* dyn = dy + int64_t(n) * d.k * pq;
      float* dxn = dx + int64_t(n) * d.c * in_plane(d);
      if (direct) {
        blas::sgemm(true, false, crs, pq, d.k, 1.0f, w, crs, dyn, pq, 0.0f, dxn, pq);
      } else {
        blas::sgemm(true, false, crs, pq, d.k, 1.0f, w, crs, dyn, pq, 0.0f, col, pq);
        std::memset(dxn, 0, sizeof(float) * d.c * in_plane(d));
        col2im_add(d, col, dxn);
      }
    }
  });
  return RN_STATUS_OK;
}

int im2col_backward_filter(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* dy,
                           float* dw, float* dbias) {
  const bool direct = is_pointwise(d);
  const int64_t crs = filter_size(d), pq = out_plane(d), kcrs = int64_t(d.k) * crs;
  const int threads = std::min<int>(ctx->pool.size(), d.n);
  // Per thread: a column buffer and a private dw accumulator (thread 0 accumulates
  // straight into dw); summed at the end in a fixed order so the result does not
  // depend on timing.
  const size_t col_floats = direct ? 0 : size_t(crs * pq);
  ScratchPlan plan;
  const Regions per_thread = plan.add_regions(
      ScratchCarver::round_up(sizeof(float) * col_floats) + ScratchCarver::round_up(sizeof(float) * kcrs), threads);
  char* base = static_cast<char*>(ctx->workspace.require(plan.total()));
  auto buffers = [&](int t) {
    ScratchCarver carve(base + per_thread.of(t));
    float* col = carve.take<float>(col_floats);
    return std::make_pair(col, t == 0 ? dw : carve.take<float>(kcrs));
  };
  ctx->pool.run_each(threads, [&](int tid, int nt) {
    auto [col, acc] = buffers(tid);
    float beta = 0.0f;
    for (int32_t n = tid; n < d.n; n += nt) {
      const float* xn = x + int64_t(n) * d.c * in_plane(d);
      const float* dyn = dy + int64_t(n) * d.k * pq;
      if (!direct) im2col(d, xn, col);
      blas::sgemm(false, true, d.k, crs, pq, 1.0f, dyn, pq, direct ? xn : col, pq, beta, acc, crs);
      beta = 1.0f;
    }
  });
  if (threads > 1) {
    ctx->pool.parallel_for(kcrs, 4096, [&](int64_t b, int64_t e, int) {
      for (int t = 1; t < threads; ++t) {
        const float* acc = buffers(t).second;
        for (int64_t i = b; i < e; ++i) dw[i] += acc[i];
      }
    });
  }
  if (dbias != nullptr) bias_gradient(ctx, d, dy, dbias);
  return RN_STATUS_OK;
}

}  // namespace rn::conv
