// Weight-normalized convolution on CUDA (weightnorm_conv.h). Forward: the filter norms
// (one block per filter, double), then the conv with its epilogue (scale gamma_k/||v_k||,
// bias beta, activation, post map). Backward: du from dy and y (the activation's sign
// read off y against post_shift), dbeta = per-channel sums of du, dx through the
// effective filters gamma_k vhat_k, G = the filter gradient, then the projection
// dv_k = gamma_k/||v_k|| (G_k - (G_k . vhat_k) vhat_k) and dgamma_k = G_k . vhat_k.
// A zero-norm (or non-finite) filter is recorded in the device error word and its
// outputs are NaN (the CPU returns RN_STATUS_BAD_ARGUMENT at the call).
#include <cmath>

#include "conv2d.cuh"
#include "reduce.cuh"
#include "resnorm/weightnorm_conv.h"

namespace rn::cuda {

namespace {

constexpr int kThreads = 256;

// norms[k] = ||v_k|| (double); scale[k] = gamma_k / ||v_k|| (float, optional).
__global__ void __launch_bounds__(kThreads)
    filter_norms(int64_t crs, const float* v, const float* gamma, double* norms, float* scale,
                 unsigned int* error_word) {
  const int32_t k = blockIdx.x;
  const float* f = v + int64_t(k) * crs;
  double s = 0.0, unused = 0.0;
  for (int64_t i = threadIdx.x; i < crs; i += kThreads) s += double(f[i]) * f[i];
  block_sum2<kThreads>(s, unused);
  if (threadIdx.x != 0) return;
  const bool bad = !(s > 0.0) || !isfinite(s);
  if (bad) atomicOr(error_word, kErrZeroNorm);
  const double norm = bad ? double(NAN) : sqrt(s);
  norms[k] = norm;
  if (scale) scale[k] = float(double(gamma[k]) / norm);
}

// du = post_scale * gate(dy) from the epilogue's output y (weightnorm_conv.h).
__global__ void epilogue_grad(int64_t total, int32_t k, int32_t pq, int32_t act, float post_scale, float post_shift,
                              FastDiv div_pq, FastDiv div_k, const float* y, const float* dy, float* du) {
  const int32_t halves = act == RN_ACT_CRELU ? 2 : 1;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const uint32_t plane = div_pq.div(uint32_t(e));
    const int32_t i = int32_t(e - int64_t(plane) * pq);
    const uint32_t img = div_k.div(plane);
    const int32_t ch = int32_t(plane - img * uint32_t(k));
    const int64_t pos = (int64_t(img) * halves * k + ch) * pq + i, neg = pos + int64_t(k) * pq;
    float g = act == RN_ACT_NONE || y[pos] > post_shift ? dy[pos] : 0.0f;
    if (act == RN_ACT_CRELU) g = __fsub_rn(g, y[neg] > post_shift ? dy[neg] : 0.0f);
    du[e] = __fmul_rn(post_scale, g);
  }
}

// vhat = v / ||v_k||, w_eff = gamma_k * vhat (rounded once each, from double).
__global__ void effective_filters(int64_t total, int64_t crs, const float* v, const float* gamma, const double* norms,
                                  float* vhat, float* w_eff) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t k = i / crs;
    const double vh = double(v[i]) / norms[k];
    vhat[i] = float(vh);
    if (w_eff) w_eff[i] = float(double(gamma[k]) * vh);
  }
}

// dgamma_k = G_k . vhat_k; dv_k = gamma_k / ||v_k|| * (G_k - dgamma_k vhat_k), G in dv.
__global__ void __launch_bounds__(kThreads)
    project(int64_t crs, const float* vhat, const float* gamma, const double* norms, float* dv, float* dgamma) {
  __shared__ double dot_shared;
  const int32_t k = blockIdx.x;
  float* g = dv + int64_t(k) * crs;
  const float* vh = vhat + int64_t(k) * crs;
  double s = 0.0, unused = 0.0;
  for (int64_t i = threadIdx.x; i < crs; i += kThreads) s += double(g[i]) * vh[i];
  block_sum2<kThreads>(s, unused);
  if (threadIdx.x == 0) {
    dot_shared = s;
    if (dgamma) dgamma[k] = float(s);
  }
  __syncthreads();
  const double dot = dot_shared, factor = double(gamma[k]) / norms[k];
  for (int64_t i = threadIdx.x; i < crs; i += kThreads) g[i] = float(factor * (double(g[i]) - dot * vh[i]));
}

bool valid_act(int32_t act) { return act >= RN_ACT_NONE && act <= RN_ACT_CRELU; }

}  // namespace

}  // namespace rn::cuda

using namespace rn::cuda;

extern "C" {

RN_API int rn_cuda_wnconv_forward(rn_cuda_context* ctx, const rn_conv2d_desc* d, int32_t act, float post_scale,
                                  float post_shift, const float* x, const float* v, const float* gamma,
                                  const float* beta, float* y) {
  if (int st = conv::check(d); st != RN_STATUS_OK) return st;
  if (!x || !v || !gamma || !y || !valid_act(act) || !(post_scale > 0.0f)) return RN_STATUS_BAD_ARGUMENT;
  return guarded(ctx, [&] {
    const int64_t crs = int64_t(d->c) * d->r * d->s;
    Layout l;
    const size_t norms_at = l.add<double>(d->k), scale_at = l.add<float>(d->k);
    void* base = nullptr;
    if (int st = workspace(ctx, l.total(), &base); st != RN_STATUS_OK) return st;
    float* scale = at<float>(base, scale_at);
    RN_LAUNCH(filter_norms, d->k, kThreads, ctx->stream, crs, v, gamma, at<double>(base, norms_at), scale,
              ctx->error_word);
    RN_CUDA_CHECK_LAUNCH();
    const rn_conv2d_epilogue ep{scale, beta, act, post_scale, post_shift};
    return conv::forward(ctx, *d, x, v, nullptr, &ep, false, y);
  });
}

RN_API int rn_cuda_wnconv_backward(rn_cuda_context* ctx, const rn_conv2d_desc* d, int32_t act, float post_scale,
                                   float post_shift, const float* x, const float* v, const float* gamma,
                                   const float* y, const float* dy, float* du, float* dx, float* dv,
                                   float* dgamma, float* dbeta) {
  if (int st = conv::check(d); st != RN_STATUS_OK) return st;
  if (!x || !v || !gamma || !y || !dy || !du || !dv || !valid_act(act) || !(post_scale > 0.0f))
    return RN_STATUS_BAD_ARGUMENT;
  if (act == RN_ACT_CRELU && du == dy) return RN_STATUS_BAD_ARGUMENT;  // dy has 2k planes per image
  return guarded(ctx, [&] {
    const rn_conv2d_desc& desc = *d;
    const int64_t crs = int64_t(desc.c) * desc.r * desc.s, filters = int64_t(desc.k) * crs;
    const int32_t pq = desc.p * desc.q;
    Layout l;
    const size_t norms_at = l.add<double>(desc.k);
    const size_t vhat_at = l.add<float>(filters), weff_at = l.add<float>(filters);
    const size_t sums_at = l.add<char>(channel_sum_scratch_bytes(ctx, desc.k, int64_t(desc.n) * pq));
    const size_t conv_at = l.add<char>(conv::backward_filter_scratch(ctx, desc, false));
    void* base = nullptr;
    if (int st = workspace(ctx, l.total(), &base); st != RN_STATUS_OK) return st;
    double* norms = at<double>(base, norms_at);
    float* vhat = at<float>(base, vhat_at);
    float* w_eff = at<float>(base, weff_at);
    cudaStream_t s = ctx->stream;

    RN_LAUNCH(filter_norms, desc.k, kThreads, s, crs, v, gamma, norms, nullptr, ctx->error_word);
    RN_CUDA_CHECK_LAUNCH();
    // 1. du and dbeta.
    const int64_t planes_total = int64_t(desc.n) * desc.k * pq;
    RN_LAUNCH(epilogue_grad, stride_blocks(ctx, planes_total), 256, s, planes_total, desc.k, pq, act, post_scale,
              post_shift, FastDiv(pq), FastDiv(desc.k), y, dy, du);
    RN_CUDA_CHECK_LAUNCH();
    if (dbeta) {
      if (int st = channel_sum(ctx, desc.n, desc.k, pq, du, dbeta, at<char>(base, sums_at)); st != RN_STATUS_OK)
        return st;
    }
    // 2. dx through the effective filters.
    RN_LAUNCH(effective_filters, stride_blocks(ctx, filters), 256, s, filters, crs, v, gamma, norms, vhat,
              dx ? w_eff : nullptr);
    RN_CUDA_CHECK_LAUNCH();
    if (dx) {
      if (int st = conv::backward_data(ctx, desc, du, w_eff, dx); st != RN_STATUS_OK) return st;
    }
    // 3. G into dv, then the projection in place.
    if (int st = conv::backward_filter(ctx, desc, x, du, dv, nullptr, false, at<char>(base, conv_at));
        st != RN_STATUS_OK)
      return st;
    RN_LAUNCH(project, desc.k, kThreads, s, crs, vhat, gamma, norms, dv, dgamma);
    RN_CUDA_CHECK_LAUNCH();
    return int(RN_STATUS_OK);
  });
}

}  // extern "C"
