// conv2d reading CReLU(x) from x: the consumer side of "CReLU never needs a 2C
// tensor in memory". Where the conv runs as Winograd on whole 16-channel blocks of
// each half (the 3x3 convs after a CReLU in the ResNets: x has 16, 32, 64 ...
// channels), the Winograd pack forms [relu(x), relu(-x)] tile row by tile row.
// Elsewhere images go through in chunks: each chunk's crelu(x) (2C channels) is
// written to the context's staging scratch, sized to stay in cache, and the
// ordinary conv (any algorithm) runs on it; backward-filter sums the chunks'
// filter gradients.
#include <algorithm>
#include <cstring>

#include "conv2d_impl.h"
#include "norm_kernels.h"

namespace {

using rn::conv::in_plane;
using rn::conv::filter_size;

// Images per chunk: crelu(x) of a chunk within about 1 MiB, and at least one
// image per thread so the conv's image-parallel paths keep every thread busy.
int32_t chunk_images(const rn_context* ctx, const rn_conv2d_desc& d) {
  const int64_t image_bytes = int64_t(d.c) * in_plane(d) * sizeof(float);
  const int64_t fit = std::max<int64_t>(1, (int64_t(1) << 20) / image_bytes);
  return int32_t(std::min<int64_t>(d.n, std::max<int64_t>(fit, ctx->pool.size())));
}

// crelu of images [n0, n0 + count) of x (c/2 channels) into out (c channels per image).
void expand(rn_context* ctx, const rn_conv2d_desc& d, const float* x, int32_t n0, int32_t count, float* out) {
  const int64_t half = int64_t(d.c / 2) * in_plane(d);
  ctx->pool.parallel_for(count, 1, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) {
      const float* src = x + (n0 + i) * half;
      float* pos = out + i * 2 * half;
      float* neg = pos + half;
      for (int64_t j = 0; j < half; ++j) {
        // !(v <= 0): NaN passes into both halves, as the fused epilogues do
        pos[j] = !(src[j] <= 0.0f) ? src[j] : 0.0f;
        neg[j] = !(-src[j] <= 0.0f) ? -src[j] : 0.0f;
      }
    }
  });
}

// The conv's algorithm in this direction (0 forward, 1 backward-data, 2 backward-filter) is
// Winograd and can form the CReLU (or its gradient) in cache.
bool in_pack(const rn_conv2d_desc& d, int direction) {
  return rn_conv2d_resolve_algo(&d, direction) == RN_CONV_ALGO_WINOGRAD &&
         rn::conv::winograd_crelu_input_applicable(d);
}

int check(const rn_conv2d_desc* d) {
  if (int st = rn::conv::check(d); st != RN_STATUS_OK) return st;
  return d->c % 2 == 0 ? RN_STATUS_OK : RN_STATUS_BAD_ARGUMENT;
}

// The forward, inside rn_guarded: in the pack, or chunk by chunk (ep: null or prepared).
int crelu_forward(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* w, const float* bias,
                  float* y, const rn::conv::Epilogue* ep) {
  if (in_pack(d, 0)) return rn::conv::winograd_forward(ctx, d, x, w, bias, y, ep, true);
  const int32_t chunk = chunk_images(ctx, d);
  float* staged = static_cast<float*>(ctx->staging.require(sizeof(float) * chunk * d.c * in_plane(d)));
  const int64_t y_image = ep ? ep->image(d) : int64_t(d.k) * d.p * d.q;
  for (int32_t n0 = 0; n0 < d.n; n0 += chunk) {
    rn_conv2d_desc part = d;
    part.n = std::min(chunk, d.n - n0);
    expand(ctx, d, x, n0, part.n, staged);
    if (int st = rn::conv::forward(ctx, part, staged, w, bias, y + n0 * y_image, ep); st != RN_STATUS_OK) return st;
  }
  return RN_STATUS_OK;
}

}  // namespace

extern "C" {

int rn_conv2d_forward_crelu_input(rn_context* ctx, const rn_conv2d_desc* d, const float* x, const float* w,
                                  const float* bias, float* y) {
  if (int st = check(d); st != RN_STATUS_OK) return st;
  if (!x || !w || !y) return RN_STATUS_BAD_ARGUMENT;
  return rn_guarded(ctx, [&] { return crelu_forward(ctx, *d, x, w, bias, y, nullptr); });
}

int rn_conv2d_forward_crelu_input_epilogue(rn_context* ctx, const rn_conv2d_desc* d, const float* x, const float* w,
                                           const rn_conv2d_epilogue* e, float* y) {
  if (int st = check(d); st != RN_STATUS_OK) return st;
  if (!x || !w || !y || !e) return RN_STATUS_BAD_ARGUMENT;
  if (e->act < RN_ACT_NONE || e->act > RN_ACT_CRELU) return RN_STATUS_BAD_ARGUMENT;
  return rn_guarded(ctx, [&] {
    rn::conv::Epilogue ep;
    if (!rn::conv::prepare_epilogue(ctx, *d, *e, &ep)) return crelu_forward(ctx, *d, x, w, e->bias, y, nullptr);
    return crelu_forward(ctx, *d, x, w, nullptr, y, &ep);
  });
}

int rn_conv2d_crelu_input_in_pack(const rn_conv2d_desc* d) {
  if (check(d) != RN_STATUS_OK) return -1;
  return in_pack(*d, 0) && in_pack(*d, 2) ? 1 : 0;
}

int rn_conv2d_backward_data_crelu_input(rn_context* ctx, const rn_conv2d_desc* d, const float* dy, const float* w,
                                        const float* x, float* dx) {
  if (int st = check(d); st != RN_STATUS_OK) return st;
  if (!dy || !w || !x || !dx) return RN_STATUS_BAD_ARGUMENT;
  return rn_guarded(ctx, [&] {
    if (in_pack(*d, 1)) return rn::conv::winograd_backward_data(ctx, *d, dy, w, dx, x);
    // dX of a few images at a time in scratch, then folded onto x (rn_crelu_backward's kernel)
    const int32_t chunk = chunk_images(ctx, *d);
    const int64_t plane = in_plane(*d), half = int64_t(d->c / 2) * plane;
    float* staged = static_cast<float*>(ctx->staging.require(sizeof(float) * chunk * d->c * plane));
    const rn::NormKernels& norm = rn::norm_kernels(ctx->isa);
    const int64_t dy_image = int64_t(d->k) * d->p * d->q;
    for (int32_t n0 = 0; n0 < d->n; n0 += chunk) {
      rn_conv2d_desc part = *d;
      part.n = std::min(chunk, d->n - n0);
      if (int st = rn::conv::backward_data(ctx, part, dy + n0 * dy_image, w, staged); st != RN_STATUS_OK) return st;
      ctx->pool.parallel_for(part.n, 1, [&](int64_t b, int64_t e, int) {
        for (int64_t i = b; i < e; ++i)
          norm.crelu_backward(half, x + (n0 + i) * half, staged + i * 2 * half, staged + i * 2 * half + half,
                              dx + (n0 + i) * half);
      });
    }
    return int(RN_STATUS_OK);
  });
}

int rn_conv2d_backward_filter_crelu_input(rn_context* ctx, const rn_conv2d_desc* d, const float* x, const float* dy,
                                          float* dw, float* dbias) {
  if (int st = check(d); st != RN_STATUS_OK) return st;
  if (!x || !dy || !dw) return RN_STATUS_BAD_ARGUMENT;
  return rn_guarded(ctx, [&] {
    if (in_pack(*d, 2)) return rn::conv::winograd_backward_filter(ctx, *d, x, dy, dw, dbias, true);
    const int32_t chunk = chunk_images(ctx, *d);
    const int64_t staged_floats = int64_t(chunk) * d->c * in_plane(*d), wsize = filter_size(*d) * d->k;
    float* staged = static_cast<float*>(ctx->staging.require(sizeof(float) * (staged_floats + wsize)));
    float* part_dw = staged + staged_floats;
    const int64_t y_image = int64_t(d->k) * d->p * d->q;
    for (int32_t n0 = 0; n0 < d->n; n0 += chunk) {
      rn_conv2d_desc part = *d;
      part.n = std::min(chunk, d->n - n0);
      expand(ctx, *d, x, n0, part.n, staged);
      float* target = n0 == 0 ? dw : part_dw;  // the first chunk writes dw, later ones add to it
      if (int st = rn::conv::backward_filter(ctx, part, staged, dy + n0 * y_image, target, nullptr);
          st != RN_STATUS_OK)
        return st;
      if (n0 > 0)
        for (int64_t i = 0; i < wsize; ++i) dw[i] += part_dw[i];
    }
    if (dbias) rn::conv::bias_gradient(ctx, *d, dy, dbias);
    return int(RN_STATUS_OK);
  });
}

}  // extern "C"
