// conv2d C entry points: validate the descriptor, pick the algorithm, dispatch.
#include <algorithm>

#include "conv2d_impl.h"

namespace {

bool positive(int32_t v) { return v > 0; }

int check_desc(const rn_conv2d_desc* d) {
  if (d == nullptr) return RN_STATUS_BAD_ARGUMENT;
  if (!positive(d->n) || !positive(d->c) || !positive(d->h) || !positive(d->w) || !positive(d->k) ||
      !positive(d->r) || !positive(d->s) || !positive(d->stride_h) || !positive(d->stride_w))
    return RN_STATUS_BAD_ARGUMENT;
  if (d->pad_h < 0 || d->pad_w < 0 || d->pad_h >= d->r || d->pad_w >= d->s) return RN_STATUS_BAD_ARGUMENT;
  int64_t hp = int64_t(d->h) + 2 * d->pad_h - d->r, wp = int64_t(d->w) + 2 * d->pad_w - d->s;
  if (hp < 0 || wp < 0) return RN_STATUS_BAD_ARGUMENT;
  if (d->p != hp / d->stride_h + 1 || d->q != wp / d->stride_w + 1) return RN_STATUS_BAD_ARGUMENT;
  // Offsets are computed in 64 bits, but GEMM dimensions are 32-bit (blasint).
  if (int64_t(d->c) * d->r * d->s > INT32_MAX || int64_t(d->p) * d->q > INT32_MAX ||
      int64_t(d->h) * d->w > INT32_MAX)
    return RN_STATUS_BAD_ARGUMENT;
  switch (d->algo) {
    case RN_CONV_ALGO_AUTO:
    case RN_CONV_ALGO_IM2COL:
    case RN_CONV_ALGO_DIRECT:
      return RN_STATUS_OK;
    case RN_CONV_ALGO_WINOGRAD:
      return rn::conv::winograd_applicable(*d) ? RN_STATUS_OK : RN_STATUS_UNSUPPORTED;
    default:
      return RN_STATUS_BAD_ARGUMENT;
  }
}

// AUTO's choice, from measurements on the shapes of CIFAR and ImageNet ResNets
// (docs/PERFORMANCE.md): Winograd for the 3x3 stride-1 convs of kWinogradMinChannels input
// channels or more; direct convolution for every other conv with a spatial kernel, the
// few-channel stems included; im2col + OpenBLAS for the pointwise (1x1) convs, which are plain
// GEMMs; backward-data runs direct where it puts the input pixels in the lanes (rows of whole
// vectors) or has 4 channels or more for them, else im2col.
//
// The stems: direct puts the output channels in the lanes forward and for the filter gradient
// (a 1- or 3-channel input wastes nothing there), where Winograd pads the input channels to a
// 16-lane block and im2col re-lays the input out. Measured on Zen 3 (AVX2, 2 threads, batch
// 128, `bench_conv`, median ms, Winograd / direct): 1->16 @32x32 forward 3.1 / 1.3, backward-
// data 3.6 / 1.4, backward-filter 3.8 / 1.2; 3->16 2.8 / 1.6, 3.0 / 1.7, 3.9 / 1.6; 6->16 4.3 /
// 2.5, 4.2 / 2.4, 4.3 / 2.4; at 8 channels about even (8->32 @32x32 5.5 / 5.5 forward, 8->64
// @16x16 3.1 / 3.6), at 16 Winograd 2-2.3x faster. The 7x7/2 ImageNet stem's gradients (batch
// 16), im2col / direct: backward-filter 73 / 55 ms, backward-data 79 / 55 (pixels in the lanes).
// With the channels in the lanes instead (rows not whole vectors), a few-channel backward-data
// wastes most lanes: @28x28, im2col / direct, 1->16 2.4 / 4.1 ms, 2->16 3.0 / 4.5, 3->16 4.2 /
// 3.9, 4->16 5.1 / 3.6, 6->16 7.3 / 4.2; 12->16 stride 2 4.7 / 2.2.
constexpr int32_t kWinogradMinChannels = 8;

int resolve(const rn_conv2d_desc& d, int direction) {
  if (d.algo != RN_CONV_ALGO_AUTO) return d.algo;
  if (rn::conv::winograd_applicable(d) && d.c >= kWinogradMinChannels) return RN_CONV_ALGO_WINOGRAD;
  const bool pointwise = d.r == 1 && d.s == 1;
  if (direction == 1) {  // backward-data: direct puts the input pixels or channels in the lanes
    if (pointwise) return d.c >= 16 && d.stride_h == 1 && d.stride_w == 1 ? RN_CONV_ALGO_DIRECT : RN_CONV_ALGO_IM2COL;
    return d.c >= 4 || rn::conv::direct_backward_data_in_pixel_lanes(d) ? RN_CONV_ALGO_DIRECT : RN_CONV_ALGO_IM2COL;
  }
  return pointwise ? RN_CONV_ALGO_IM2COL : RN_CONV_ALGO_DIRECT;  // forward, backward-filter
}

}  // namespace

namespace rn::conv {

int check(const rn_conv2d_desc* d) { return check_desc(d); }

int forward(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* w, const float* bias, float* y,
            const Epilogue* ep) {
  switch (resolve(d, 0)) {
    case RN_CONV_ALGO_WINOGRAD:
      return winograd_forward(ctx, d, x, w, bias, y, ep);
    case RN_CONV_ALGO_DIRECT:
      return direct_forward(ctx, d, x, w, bias, y, ep);
    default:
      return im2col_forward(ctx, d, x, w, bias, y, ep);
  }
}

int backward_data(rn_context* ctx, const rn_conv2d_desc& d, const float* dy, const float* w, float* dx) {
  switch (resolve(d, 1)) {
    case RN_CONV_ALGO_WINOGRAD:
      return winograd_backward_data(ctx, d, dy, w, dx);
    case RN_CONV_ALGO_DIRECT:
      return direct_backward_data(ctx, d, dy, w, dx);
    default:
      return im2col_backward_data(ctx, d, dy, w, dx);
  }
}

int backward_filter(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* dy, float* dw,
                    float* dbias) {
  switch (resolve(d, 2)) {
    case RN_CONV_ALGO_WINOGRAD:
      return winograd_backward_filter(ctx, d, x, dy, dw, dbias);
    case RN_CONV_ALGO_DIRECT:
      return direct_backward_filter(ctx, d, x, dy, dw, dbias);
    default:
      return im2col_backward_filter(ctx, d, x, dy, dw, dbias);
  }
}

int forward_epilogue(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* w,
                     const rn_conv2d_epilogue& e, float* y) {
  Epilogue ep;
  if (!prepare_epilogue(ctx, d, e, &ep)) return forward(ctx, d, x, w, e.bias, y, nullptr);
  return forward(ctx, d, x, w, nullptr, y, &ep);
}

bool prepare_epilogue(rn_context* ctx, const rn_conv2d_desc& d, const rn_conv2d_epilogue& e, Epilogue* out) {
  // Only a bias: the plain conv adds it already.
  if (!e.scale && e.act == RN_ACT_NONE && e.post_scale == 1.0f && e.post_shift == 0.0f) return false;
  // Lane-padded copies for the channel-blocked epilogue (k floats: a few KiB), zero in the
  // padding lanes, from the context's channel_params block (the conv takes `workspace`).
  const int32_t k16 = lane_blocks(d.k) * kLanes;
  ScratchPlan plan;
  const size_t scale_at = plan.add_array<float>(k16), bias_at = plan.add_array<float>(k16);
  void* base = ctx->channel_params.require(plan.total());
  float* scale16 = at_offset<float>(base, scale_at);
  float* bias16 = at_offset<float>(base, bias_at);
  std::fill(scale16, scale16 + k16, 0.0f);
  std::fill(bias16, bias16 + k16, 0.0f);
  if (e.scale) std::copy(e.scale, e.scale + d.k, scale16);
  if (e.bias) std::copy(e.bias, e.bias + d.k, bias16);
  Epilogue& ep = *out;
  ep.args.scale16 = e.scale ? scale16 : nullptr;
  ep.args.bias16 = e.bias ? bias16 : nullptr;
  ep.args.act = e.act;
  ep.args.post_scale = e.post_scale;
  ep.args.post_shift = e.post_shift;
  ep.scale = e.scale;
  ep.bias = e.bias;
  return true;
}

void epilogue_planes(const rn_conv2d_desc& d, const Epilogue& ep, float* y) {
  const int64_t pq = out_plane(d);
  const float a = ep.args.post_scale, b = ep.args.post_shift;
  const int32_t act = ep.args.act;
  for (int32_t k = 0; k < d.k; ++k) {
    const float scale = ep.scale ? ep.scale[k] : 1.0f, bias = ep.bias ? ep.bias[k] : 0.0f;
    float* pos = y + k * pq;
    float* neg = y + (d.k + k) * pq;  // CReLU only
    for (int64_t i = 0; i < pq; ++i) {
      const float u = pos[i] * scale + bias;
      // !(u <= 0): NaN passes through the ReLU, as in epilogue_c16
      pos[i] = a * (act == RN_ACT_NONE || !(u <= 0.0f) ? u : 0.0f) + b;
      if (act == RN_ACT_CRELU) neg[i] = a * (!(-u <= 0.0f) ? -u : 0.0f) + b;
    }
  }
}

double plane_sum(const float* v, int64_t count) {
  // 16 float partial sums the compiler keeps in vector registers (each adds count/16
  // values: float is accurate enough there), then one sum in double.
  float lanes[16] = {};
  int64_t i = 0;
  for (; i + 16 <= count; i += 16)
    for (int l = 0; l < 16; ++l) lanes[l] += v[i + l];
  double sum = 0.0;
  for (int l = 0; l < 16; ++l) sum += lanes[l];
  for (; i < count; ++i) sum += v[i];
  return sum;
}

void bias_gradient(rn_context* ctx, const rn_conv2d_desc& d, const float* dy, float* dbias) {
  const int64_t pq = int64_t(d.p) * d.q;
  ctx->pool.parallel_for(d.k, 1, [&](int64_t b, int64_t e, int) {
    for (int64_t k = b; k < e; ++k) {
      double sum = 0.0;
      for (int32_t n = 0; n < d.n; ++n) sum += plane_sum(dy + (int64_t(n) * d.k + k) * pq, pq);
      dbias[k] = float(sum);
    }
  });
}

}  // namespace rn::conv

extern "C" {

int rn_conv2d_check(const rn_conv2d_desc* d) { return check_desc(d); }

int rn_conv2d_resolve_algo(const rn_conv2d_desc* d, int direction) {
  if (check_desc(d) != RN_STATUS_OK || direction < 0 || direction > 2) return -1;
  return resolve(*d, direction);
}

int rn_conv2d_forward(rn_context* ctx, const rn_conv2d_desc* d, const float* x, const float* w,
                      const float* bias, float* y) {
  int st = check_desc(d);
  if (st != RN_STATUS_OK) return st;
  if (!x || !w || !y) return RN_STATUS_BAD_ARGUMENT;
  return rn_guarded(ctx, [&] { return rn::conv::forward(ctx, *d, x, w, bias, y, nullptr); });
}

int rn_conv2d_forward_epilogue(rn_context* ctx, const rn_conv2d_desc* d, const float* x, const float* w,
                               const rn_conv2d_epilogue* e, float* y) {
  int st = check_desc(d);
  if (st != RN_STATUS_OK) return st;
  if (!x || !w || !y || !e) return RN_STATUS_BAD_ARGUMENT;
  if (e->act < RN_ACT_NONE || e->act > RN_ACT_CRELU) return RN_STATUS_BAD_ARGUMENT;
  return rn_guarded(ctx, [&] { return rn::conv::forward_epilogue(ctx, *d, x, w, *e, y); });
}

int rn_conv2d_backward_data(rn_context* ctx, const rn_conv2d_desc* d, const float* dy, const float* w,
                            float* dx) {
  int st = check_desc(d);
  if (st != RN_STATUS_OK) return st;
  if (!dy || !w || !dx) return RN_STATUS_BAD_ARGUMENT;
  return rn_guarded(ctx, [&] { return rn::conv::backward_data(ctx, *d, dy, w, dx); });
}

int rn_conv2d_backward_filter(rn_context* ctx, const rn_conv2d_desc* d, const float* x, const float* dy,
                              float* dw, float* dbias) {
  int st = check_desc(d);
  if (st != RN_STATUS_OK) return st;
  if (!x || !dy || !dw) return RN_STATUS_BAD_ARGUMENT;
  return rn_guarded(ctx, [&] { return rn::conv::backward_filter(ctx, *d, x, dy, dw, dbias); });
}

}  // extern "C"
