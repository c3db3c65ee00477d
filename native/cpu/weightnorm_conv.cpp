// Weight-normalized convolution (NormProp family): see resnorm/weightnorm_conv.h.
// Forward is the conv with its epilogue (scale gamma_k / ||v_k||, bias, activation,
// post map); backward is one pass over dy (activation derivative and dbeta), the
// two conv gradients, and the weight-norm projection on the small filter tensor.
#include <cmath>

#include "context_impl.h"
#include "conv2d_impl.h"
#include "isa_kernels.h"
#include "resnorm/weightnorm_conv.h"

namespace {

using rn::at_offset;
using rn::ScratchPlan;
using rn::conv::filter_size;
using rn::conv::out_plane;

// Sum of v[i]^2 in double over eight interleaved partial sums (independent chains instead
// of one long dependent one), combined in a fixed order.
double sum_squares(const float* v, int64_t count) {
  double part[8] = {};
  int64_t i = 0;
  for (; i + 8 <= count; i += 8)
    for (int l = 0; l < 8; ++l) part[l] += double(v[i + l]) * v[i + l];
  for (; i < count; ++i) part[0] += double(v[i]) * v[i];
  return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

// ||v_k|| for every filter into norms[k], in double, the filters split over the pool;
// false if one is zero or not finite.
bool filter_norms(rn_context* ctx, const rn_conv2d_desc& d, const float* v, double* norms) {
  const int64_t crs = filter_size(d);
  ctx->pool.parallel_for(d.k, 8, [&](int64_t b, int64_t e, int) {
    for (int64_t k = b; k < e; ++k) norms[k] = std::sqrt(sum_squares(v + k * crs, crs));
  });
  for (int32_t k = 0; k < d.k; ++k)
    if (!(norms[k] > 0.0) || !std::isfinite(norms[k])) return false;
  return true;
}

bool valid_act(int32_t act) { return act >= RN_ACT_NONE && act <= RN_ACT_CRELU; }

}  // namespace

extern "C" {

int rn_wnconv_forward(rn_context* ctx, const rn_conv2d_desc* d, int32_t act, float post_scale, float post_shift,
                      const float* x, const float* v, const float* gamma, const float* beta, float* y) {
  if (int st = rn::conv::check(d); st != RN_STATUS_OK) return st;
  if (!x || !v || !gamma || !y || !valid_act(act) || !(post_scale > 0.0f)) return RN_STATUS_BAD_ARGUMENT;
  return rn_guarded(ctx, [&] {
    // norms and gamma/||v|| (k values each) from the staging block: the conv takes `workspace`.
    ScratchPlan plan;
    const size_t norms_at = plan.add_array<double>(d->k), scale_at = plan.add_array<float>(d->k);
    void* base = ctx->staging.require(plan.total());
    double* norms = at_offset<double>(base, norms_at);
    float* scale = at_offset<float>(base, scale_at);
    if (!filter_norms(ctx, *d, v, norms)) return int(RN_STATUS_BAD_ARGUMENT);
    for (int32_t k = 0; k < d->k; ++k) scale[k] = float(gamma[k] / norms[k]);
    const rn_conv2d_epilogue ep{scale, beta, act, post_scale, post_shift};
    return rn::conv::forward_epilogue(ctx, *d, x, v, ep, y);
  });
}

int rn_wnconv_backward(rn_context* ctx, const rn_conv2d_desc* d, int32_t act, float post_scale, float post_shift,
                       const float* x, const float* v, const float* gamma, const float* y, const float* dy,
                       float* du, float* dx, float* dv, float* dgamma, float* dbeta) {
  if (int st = rn::conv::check(d); st != RN_STATUS_OK) return st;
  if (!x || !v || !gamma || !y || !dy || !du || !dv || !valid_act(act) || !(post_scale > 0.0f))
    return RN_STATUS_BAD_ARGUMENT;
  if (act == RN_ACT_CRELU && du == dy) return RN_STATUS_BAD_ARGUMENT;  // dy has 2k planes per image
  return rn_guarded(ctx, [&] {
    const rn_conv2d_desc& desc = *d;
    const rn::IsaKernels& kern = rn::isa_kernels(ctx->isa);
    const int64_t crs = filter_size(desc), pq = out_plane(desc);
    // Scratch from the context's staging block (the conv calls below take `workspace`):
    // norms [k], per-plane sums [n*k] (double), then vhat and gamma*vhat [k*crs] (float).
    const int64_t planes = int64_t(desc.n) * desc.k, filters = int64_t(desc.k) * crs;
    ScratchPlan plan;
    const size_t norms_at = plan.add_array<double>(desc.k), sums_at = plan.add_array<double>(planes);
    const size_t vhat_at = plan.add_array<float>(filters), weff_at = plan.add_array<float>(filters);
    void* base = ctx->staging.require(plan.total());
    double* norms = at_offset<double>(base, norms_at);
    double* plane_sums = at_offset<double>(base, sums_at);
    float* vhat = at_offset<float>(base, vhat_at);
    float* w_eff = at_offset<float>(base, weff_at);
    if (!filter_norms(ctx, desc, v, norms)) return int(RN_STATUS_BAD_ARGUMENT);

    // 1. du and the per-plane sums for dbeta (summed in a fixed order: deterministic).
    const int32_t halves = act == RN_ACT_CRELU ? 2 : 1;
    ctx->pool.parallel_for(int64_t(desc.n) * desc.k, 1, [&](int64_t b, int64_t e, int) {
      for (int64_t plane = b; plane < e; ++plane) {
        const int64_t n = plane / desc.k, k = plane % desc.k;
        const int64_t pos = (n * halves * desc.k + k) * pq, neg = pos + desc.k * pq;
        plane_sums[plane] =
            kern.epilogue_grad(act, post_scale, post_shift, pq, y + pos, y + neg, dy + pos, dy + neg, du + plane * pq);
      }
    });
    if (dbeta)
      for (int32_t k = 0; k < desc.k; ++k) {
        double sum = 0.0;
        for (int32_t n = 0; n < desc.n; ++n) sum += plane_sums[int64_t(n) * desc.k + k];
        dbeta[k] = float(sum);
      }

    // 2. dx through the effective filters gamma_k vhat_k (filters split over the pool).
    ctx->pool.parallel_for(desc.k, 8, [&](int64_t b, int64_t e, int) {
      for (int64_t k = b; k < e; ++k) {
        const double inv = 1.0 / norms[k], g_inv = gamma[k] * inv;
        for (int64_t i = 0; i < crs; ++i) vhat[k * crs + i] = float(v[k * crs + i] * inv);
        if (dx)
          for (int64_t i = 0; i < crs; ++i) w_eff[k * crs + i] = float(v[k * crs + i] * g_inv);
      }
    });
    if (dx) {
      if (int st = rn::conv::backward_data(ctx, desc, du, w_eff, dx); st != RN_STATUS_OK) return st;
    }

    // 3. G = dL/d(effective filters), into dv; then the projection, in place.
    if (int st = rn::conv::backward_filter(ctx, desc, x, du, dv, nullptr); st != RN_STATUS_OK) return st;
    ctx->pool.parallel_for(desc.k, 8, [&](int64_t b, int64_t e, int) {
      for (int64_t k = b; k < e; ++k) {
        float* g = dv + k * crs;
        const float* vh = vhat + k * crs;
        double part[4] = {};  // independent chains, combined in a fixed order
        int64_t i = 0;
        for (; i + 4 <= crs; i += 4)
          for (int l = 0; l < 4; ++l) part[l] += double(g[i + l]) * vh[i + l];
        for (; i < crs; ++i) part[0] += double(g[i]) * vh[i];
        const double dot = (part[0] + part[1]) + (part[2] + part[3]);
        if (dgamma) dgamma[k] = float(dot);
        const double factor = gamma[k] / norms[k];
        for (i = 0; i < crs; ++i) g[i] = float(factor * (g[i] - dot * vh[i]));
      }
    });
    return int(RN_STATUS_OK);
  });
}

}  // extern "C"
