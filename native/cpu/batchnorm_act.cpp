// Batch normalization fused with ReLU / CReLU: the C entry points of batchnorm.h.
//
// Training forward = two passes over x:
//   1. statistics: every thread sums (x - k_c) and (x - k_c)^2 over its contiguous share
//      of the tensor into per-thread, per-channel partials (k_c = x[0, c, 0], a shift
//      against cancellation); the caller combines them in double;
//   2. normalize + activate: u = (x - mean)*scale + beta, y = act(u) (CReLU writes both
//      halves of the 2C-channel output from the one read of x).
// Backward = two passes over (x, dy):
//   1. reduction: du = gate(dy, sign u) (u recomputed from x and the saved statistics),
//      per-channel sums of du and du*(x - mean);
//   2. dx = a*du + b*(x - mean) + c0 with per-channel a, b, c0 (no division per element).
// Work is split by element ranges (norm_impl.h), not by channels, so every thread streams
// contiguous memory whatever N, C and HW are.
#include <cmath>

#include "norm_impl.h"
#include "resnorm/batchnorm.h"

namespace {

using rn::norm::for_each_segment;
using rn::norm::threads_for;

bool valid_act(int32_t act) { return act == RN_ACT_NONE || act == RN_ACT_RELU || act == RN_ACT_CRELU; }

// Shape, activation, affine pair and the always-required pointers.
int check_common(int32_t n, int32_t c, int32_t hw, int32_t act, const float* x, const void* out,
                 const float* gamma, const float* beta) {
  if (n <= 0 || c <= 0 || hw <= 0 || !valid_act(act)) return RN_STATUS_BAD_ARGUMENT;
  if (act == RN_ACT_CRELU && c > INT32_MAX / 2) return RN_STATUS_BAD_ARGUMENT;
  if (x == nullptr || out == nullptr) return RN_STATUS_BAD_ARGUMENT;
  if ((gamma == nullptr) != (beta == nullptr)) return RN_STATUS_BAD_ARGUMENT;
  return RN_STATUS_OK;
}

// Per-channel constants of u = (x - mean)*scale + beta. scale = gamma*invstd is rounded to
// float here, from the float invstd, identically in forward and backward.
struct ChannelAffine {
  float* scale;
  float* beta;
};

void fill_affine(int32_t c, const float* gamma, const float* beta, const float* invstd, ChannelAffine out) {
  for (int32_t ch = 0; ch < c; ++ch) {
    const float g = gamma ? gamma[ch] : 1.0f;
    out.scale[ch] = g * invstd[ch];
    out.beta[ch] = beta ? beta[ch] : 0.0f;
  }
}

// y = act((x - mean)*scale + beta), one pass (training and inference share it).
void apply_pass(rn_context* ctx, const rn::NormKernels& k, int32_t n, int32_t c, int32_t hw, int32_t act,
                const float* x, const float* mean, ChannelAffine af, float* y) {
  const int64_t planes = int64_t(n) * c;
  for_each_segment(ctx, planes, hw, threads_for(ctx, planes * hw), [&](int, int64_t p, int64_t off, int64_t len) {
    const int64_t ch = p % c;
    const float* xs = x + p * hw + off;
    if (act == RN_ACT_CRELU) {
      float* ypos = y + ((p / c) * 2 * c + ch) * hw + off;
      k.bn_apply(act, xs, len, mean[ch], af.scale[ch], af.beta[ch], ypos, ypos + int64_t(c) * hw);
    } else {
      float* ys = y + p * hw + off;
      k.bn_apply(act, xs, len, mean[ch], af.scale[ch], af.beta[ch], ys, ys);
    }
  });
}

}  // namespace

extern "C" {

int rn_batchnorm_forward_training(rn_context* ctx, int32_t n, int32_t c, int32_t hw, int32_t act, float eps,
                                  float momentum, const float* x, const float* gamma, const float* beta,
                                  float* running_mean, float* running_var, float* save_mean, float* save_invstd,
                                  float* y) {
  if (int st = check_common(n, c, hw, act, x, y, gamma, beta); st != RN_STATUS_OK) return st;
  if (!(eps >= 0.0f) || !std::isfinite(eps) || !std::isfinite(momentum)) return RN_STATUS_BAD_ARGUMENT;
  if (save_mean == nullptr || save_invstd == nullptr) return RN_STATUS_BAD_ARGUMENT;
  if ((running_mean == nullptr) != (running_var == nullptr)) return RN_STATUS_BAD_ARGUMENT;
  const int64_t m = int64_t(n) * hw;
  if (m < 2) return RN_STATUS_BAD_ARGUMENT;  // the unbiased variance needs two values
  return rn_guarded(ctx, [&] {
    const auto& k = rn::norm_kernels(ctx->isa);
    const int64_t planes = int64_t(n) * c;
    const int pool_threads = ctx->pool.size();
    rn::ScratchPlan plan;
    const size_t o_part = plan.add_array<double>(size_t(pool_threads) * c * 2);
    const size_t o_shift = plan.add_array<float>(c);
    const size_t o_scale = plan.add_array<float>(c);
    const size_t o_beta = plan.add_array<float>(c);
    void* ws = ctx->workspace.require(plan.total());
    double* part = rn::at_offset<double>(ws, o_part);
    float* shift = rn::at_offset<float>(ws, o_shift);
    ChannelAffine af{rn::at_offset<float>(ws, o_scale), rn::at_offset<float>(ws, o_beta)};
    for (size_t i = 0; i < size_t(pool_threads) * c * 2; ++i) part[i] = 0.0;
    for (int32_t ch = 0; ch < c; ++ch) shift[ch] = x[int64_t(ch) * hw];

    // Pass 1: statistics.
    for_each_segment(ctx, planes, hw, threads_for(ctx, planes * hw), [&](int tid, int64_t p, int64_t off, int64_t len) {
      const int64_t ch = p % c;
      double* acc = part + (int64_t(tid) * c + ch) * 2;
      k.bn_stats(x + p * hw + off, len, shift[ch], acc, acc + 1);
    });
    const double inv_m = 1.0 / double(m), unbias = double(m) / double(m - 1), mom = momentum;
    for (int32_t ch = 0; ch < c; ++ch) {
      double s1 = 0.0, s2 = 0.0;
      for (int t = 0; t < pool_threads; ++t) {
        s1 += part[(int64_t(t) * c + ch) * 2];
        s2 += part[(int64_t(t) * c + ch) * 2 + 1];
      }
      const double d = s1 * inv_m;
      const double mean = double(shift[ch]) + d;
      double var = s2 * inv_m - d * d;
      if (var < 0.0) var = 0.0;
      save_mean[ch] = float(mean);
      save_invstd[ch] = float(1.0 / std::sqrt(var + double(eps)));
      if (running_mean) {
        running_mean[ch] = float((1.0 - mom) * running_mean[ch] + mom * mean);
        running_var[ch] = float((1.0 - mom) * running_var[ch] + mom * var * unbias);
      }
    }
    fill_affine(c, gamma, beta, save_invstd, af);

    // Pass 2: normalize + activate.
    apply_pass(ctx, k, n, c, hw, act, x, save_mean, af, y);
    return RN_STATUS_OK;
  });
}

int rn_batchnorm_forward_inference(rn_context* ctx, int32_t n, int32_t c, int32_t hw, int32_t act, float eps,
                                   const float* x, const float* gamma, const float* beta,
                                   const float* running_mean, const float* running_var, float* y) {
  if (int st = check_common(n, c, hw, act, x, y, gamma, beta); st != RN_STATUS_OK) return st;
  if (!(eps >= 0.0f) || !std::isfinite(eps)) return RN_STATUS_BAD_ARGUMENT;
  if (running_mean == nullptr || running_var == nullptr) return RN_STATUS_BAD_ARGUMENT;
  return rn_guarded(ctx, [&] {
    const auto& k = rn::norm_kernels(ctx->isa);
    rn::ScratchPlan plan;
    const size_t o_invstd = plan.add_array<float>(c);
    const size_t o_scale = plan.add_array<float>(c);
    const size_t o_beta = plan.add_array<float>(c);
    void* ws = ctx->workspace.require(plan.total());
    float* invstd = rn::at_offset<float>(ws, o_invstd);
    ChannelAffine af{rn::at_offset<float>(ws, o_scale), rn::at_offset<float>(ws, o_beta)};
    for (int32_t ch = 0; ch < c; ++ch) invstd[ch] = float(1.0 / std::sqrt(double(running_var[ch]) + double(eps)));
    fill_affine(c, gamma, beta, invstd, af);
    apply_pass(ctx, k, n, c, hw, act, x, running_mean, af, y);
    return RN_STATUS_OK;
  });
}

int rn_batchnorm_backward(rn_context* ctx, int32_t n, int32_t c, int32_t hw, int32_t act, const float* x,
                          const float* gamma, const float* beta, const float* save_mean, const float* save_invstd,
                          const float* dy, float* dx, float* dgamma, float* dbeta) {
  if (int st = check_common(n, c, hw, act, x, dx, gamma, beta); st != RN_STATUS_OK) return st;
  if (save_mean == nullptr || save_invstd == nullptr || dy == nullptr) return RN_STATUS_BAD_ARGUMENT;
  // Affine on: both parameter gradients are written; affine off: there are none.
  if (gamma != nullptr && (dgamma == nullptr || dbeta == nullptr)) return RN_STATUS_BAD_ARGUMENT;
  if (gamma == nullptr && (dgamma != nullptr || dbeta != nullptr)) return RN_STATUS_BAD_ARGUMENT;
  const int64_t m = int64_t(n) * hw;
  if (m < 2) return RN_STATUS_BAD_ARGUMENT;  // as the training forward
  return rn_guarded(ctx, [&] {
    const auto& k = rn::norm_kernels(ctx->isa);
    const int64_t planes = int64_t(n) * c;
    const int pool_threads = ctx->pool.size();
    rn::ScratchPlan plan;
    const size_t o_part = plan.add_array<double>(size_t(pool_threads) * c * 2);
    const size_t o_scale = plan.add_array<float>(c);
    const size_t o_beta = plan.add_array<float>(c);
    const size_t o_coef = plan.add_array<float>(size_t(c) * 2);
    void* ws = ctx->workspace.require(plan.total());
    double* part = rn::at_offset<double>(ws, o_part);
    ChannelAffine af{rn::at_offset<float>(ws, o_scale), rn::at_offset<float>(ws, o_beta)};
    float* coef = rn::at_offset<float>(ws, o_coef);  // per channel: b, c0
    for (size_t i = 0; i < size_t(pool_threads) * c * 2; ++i) part[i] = 0.0;
    fill_affine(c, gamma, beta, save_invstd, af);
    const int threads = threads_for(ctx, planes * hw);
    // dy (and dx) planes: [N, 2C, HW] for CReLU (the negative half C planes further on).
    const int64_t dy_img = int64_t(act == RN_ACT_CRELU ? 2 : 1) * c * hw, neg = int64_t(c) * hw;
    auto dy_at = [&](int64_t p, int64_t off) { return dy + (p / c) * dy_img + (p % c) * hw + off; };

    // Pass 1: sum du and du*(x - mean) per channel.
    for_each_segment(ctx, planes, hw, threads, [&](int tid, int64_t p, int64_t off, int64_t len) {
      const int64_t ch = p % c;
      const float* d = dy_at(p, off);
      double* acc = part + (int64_t(tid) * c + ch) * 2;
      k.bn_backward_reduce(act, x + p * hw + off, d, act == RN_ACT_CRELU ? d + neg : d, len, save_mean[ch],
                           af.scale[ch], af.beta[ch], acc, acc + 1);
    });
    const double inv_m = 1.0 / double(m);
    for (int32_t ch = 0; ch < c; ++ch) {
      double sdu = 0.0, sdux = 0.0;
      for (int t = 0; t < pool_threads; ++t) {
        sdu += part[(int64_t(t) * c + ch) * 2];
        sdux += part[(int64_t(t) * c + ch) * 2 + 1];
      }
      const double invstd = save_invstd[ch];
      const double g_beta = sdu, g_gamma = invstd * sdux;
      if (dgamma) {
        dgamma[ch] = float(g_gamma);
        dbeta[ch] = float(g_beta);
      }
      // dx = scale*(du - dbeta/m - (x - mean)*invstd*dgamma/m) = scale*du + b*(x - mean) + c0
      const double a = af.scale[ch];
      coef[2 * ch] = float(-a * invstd * g_gamma * inv_m);
      coef[2 * ch + 1] = float(-a * g_beta * inv_m);
    }

    // Pass 2: dx.
    for_each_segment(ctx, planes, hw, threads, [&](int, int64_t p, int64_t off, int64_t len) {
      const int64_t ch = p % c;
      const float* d = dy_at(p, off);
      k.bn_backward_dx(act, x + p * hw + off, d, act == RN_ACT_CRELU ? d + neg : d, len, save_mean[ch],
                       af.scale[ch], af.beta[ch], af.scale[ch], coef[2 * ch], coef[2 * ch + 1], dx + p * hw + off);
    });
    return RN_STATUS_OK;
  });
}

}  // extern "C"
