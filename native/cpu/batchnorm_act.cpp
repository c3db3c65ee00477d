// Batch normalization fused with ReLU / CReLU: the C entry points of batchnorm.h.
//
// Training forward = two passes over x:
//   1. statistics: sums of (x - k_c) and (x - k_c)^2 in double (k_c = x[0, c, 0], a shift
//      against cancellation);
//   2. normalize + activate: u = (x - mean)*scale + beta, y = act(u) (CReLU writes both
//      halves of the 2C-channel output from the one read of x).
// Backward = two passes over (x, dy):
//   1. reduction: du = gate(dy, sign u) (u recomputed from x and the saved statistics),
//      per-channel sums of du and du*(x - mean);
//   2. dx = a*du + b*(x - mean) + c0 with per-channel a, b, c0 (no division per element).
// Schedules (make_plan): by channel, each thread runs both passes of its channels back to
// back, the second from cache; or, with too few channels to spread over the threads, both
// passes stream contiguous element ranges (norm_impl.h) with per-thread partial sums.
#include <algorithm>
#include <cmath>

#include "norm_impl.h"
#include "resnorm/batchnorm.h"

namespace {

using rn::BnChannel;
using rn::BnRuns;
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

// Geometry of one call and the choice of schedule.
struct Plan {
  int32_t n, c, hw, act;
  int threads;
  bool by_channel;
  int64_t out_img() const { return int64_t(act == RN_ACT_CRELU ? 2 : 1) * c * hw; }  // y / dy per image
  int64_t neg() const { return int64_t(c) * hw; }                                      // CReLU's 2nd half
  // All N runs of channel ch.
  BnRuns channel(const float* x, int64_t ch) const {
    return BnRuns{x + ch * hw, n, hw, int64_t(c) * hw, out_img(), neg()};
  }
  // One contiguous piece of plane p (image p / c, channel p % c).
  BnRuns segment(const float* x, int64_t p, int64_t off, int64_t len) const {
    return BnRuns{x + p * hw + off, 1, len, 0, 0, neg()};
  }
  int64_t out_at(int64_t p, int64_t off) const { return (p / c) * out_img() + (p % c) * hw + off; }
};

// By channel: each thread owns whole channels and runs both passes of a channel back to
// back, so the second pass reads the channel from its cache (x is read from memory once).
// Chosen when the channels spread evenly over the threads; otherwise (few channels, e.g.
// the RGB stem) both passes stream contiguous element ranges over all threads.
Plan make_plan(const rn_context* ctx, int32_t n, int32_t c, int32_t hw, int32_t act) {
  Plan p{n, c, hw, act, threads_for(ctx, int64_t(n) * c * hw), false};
  p.by_channel = p.threads == 1 || c % p.threads == 0 || c >= 4 * p.threads;
  return p;
}

// Runs body(channel) for every channel on plan.threads threads, whole channels each.
template <class Body>
void for_each_channel(rn_context* ctx, const Plan& plan, const Body& body) {
  const int64_t per = (int64_t(plan.c) + plan.threads - 1) / plan.threads;
  ctx->pool.parallel_for(plan.c, per, [&](int64_t b, int64_t e, int) {
    for (int64_t ch = b; ch < e; ++ch) body(ch);
  });
}

// u = (x - mean)*scale + beta with scale = gamma*invstd rounded to float from the float
// invstd: the same bits in forward (from the statistics it saves) and in backward.
BnChannel channel_affine(float mean, float invstd, const float* gamma, const float* beta, int64_t ch) {
  const float g = gamma ? gamma[ch] : 1.0f;
  return BnChannel{mean, g * invstd, beta ? beta[ch] : 0.0f, 0.0f, 0.0f, 0.0f};
}

// Per-thread, per-channel pairs of double partial sums for the streaming schedule.
struct Partials {
  double* data;
  int32_t c;
  int threads;
  double* at(int tid, int64_t ch) { return data + (int64_t(tid) * c + ch) * 2; }
  void sum(int64_t ch, double* s1, double* s2) {
    *s1 = *s2 = 0.0;
    for (int t = 0; t < threads; ++t) {
      *s1 += at(t, ch)[0];
      *s2 += at(t, ch)[1];
    }
  }
};

Partials take_partials(rn_context* ctx, int32_t c, size_t extra_floats, float** extra) {
  const int threads = ctx->pool.size();
  rn::ScratchPlan plan;
  const size_t o_part = plan.add_array<double>(size_t(threads) * c * 2);
  const size_t o_extra = plan.add_array<float>(extra_floats);
  void* ws = ctx->workspace.require(plan.total());
  Partials p{rn::at_offset<double>(ws, o_part), c, threads};
  for (size_t i = 0; i < size_t(threads) * c * 2; ++i) p.data[i] = 0.0;
  *extra = rn::at_offset<float>(ws, o_extra);
  return p;
}

// The training forward; with a residual (act NONE): y = max(u + residual, 0), residual laid
// out as y, in the normalize pass.
int training_forward(rn_context* ctx, int32_t n, int32_t c, int32_t hw, int32_t act, float eps, float momentum,
                     const float* x, const float* gamma, const float* beta, float* running_mean, float* running_var,
                     float* save_mean, float* save_invstd, const float* residual, float* y) {
  if (int st = check_common(n, c, hw, act, x, y, gamma, beta); st != RN_STATUS_OK) return st;
  if (!(eps >= 0.0f) || !std::isfinite(eps) || !std::isfinite(momentum)) return RN_STATUS_BAD_ARGUMENT;
  if (save_mean == nullptr || save_invstd == nullptr) return RN_STATUS_BAD_ARGUMENT;
  if ((running_mean == nullptr) != (running_var == nullptr)) return RN_STATUS_BAD_ARGUMENT;
  const int64_t m = int64_t(n) * hw;
  if (m < 2) return RN_STATUS_BAD_ARGUMENT;  // the unbiased variance needs two values
  return rn_guarded(ctx, [&] {
    const auto& k = rn::norm_kernels(ctx->isa);
    const Plan plan = make_plan(ctx, n, c, hw, act);
    // The normalize pass: the activation, or the residual addition and ReLU.
    auto apply = [&](const BnRuns& r, const BnChannel& bc, int64_t at) {
      if (residual)
        k.bn_apply_add_relu(r, bc, residual + at, y + at);
      else
        k.bn_apply(act, r, bc, y + at);
    };
    const double inv_m = 1.0 / double(m), unbias = double(m) / double(m - 1), mom = momentum;
    // Sums of (x - shift) -> saved and running statistics -> the channel's affine constants.
    auto finish = [&](int64_t ch, float shift, double s1, double s2) {
      const double d = s1 * inv_m, mean = double(shift) + d;
      const double var = std::max(s2 * inv_m - d * d, 0.0);
      save_mean[ch] = float(mean);
      save_invstd[ch] = float(1.0 / std::sqrt(var + double(eps)));
      if (running_mean) {
        running_mean[ch] = float((1.0 - mom) * running_mean[ch] + mom * mean);
        running_var[ch] = float((1.0 - mom) * running_var[ch] + mom * var * unbias);
      }
      return channel_affine(save_mean[ch], save_invstd[ch], gamma, beta, ch);
    };
    if (plan.by_channel) {
      for_each_channel(ctx, plan, [&](int64_t ch) {
        const BnRuns r = plan.channel(x, ch);
        const float shift = x[ch * hw];
        double s1 = 0.0, s2 = 0.0;
        k.bn_stats(r, shift, &s1, &s2);
        const BnChannel bc = finish(ch, shift, s1, s2);
        apply(r, bc, ch * hw);
      });
      return RN_STATUS_OK;
    }
    float* consts;  // per channel: shift, then mean, scale, beta
    Partials part = take_partials(ctx, c, size_t(c) * 4, &consts);
    for (int32_t ch = 0; ch < c; ++ch) consts[ch] = x[int64_t(ch) * hw];
    const int64_t planes = int64_t(n) * c;
    for_each_segment(ctx, planes, hw, plan.threads, [&](int tid, int64_t p, int64_t off, int64_t len) {
      double* acc = part.at(tid, p % c);
      k.bn_stats(plan.segment(x, p, off, len), consts[p % c], acc, acc + 1);
    });
    for (int32_t ch = 0; ch < c; ++ch) {
      double s1, s2;
      part.sum(ch, &s1, &s2);
      const BnChannel bc = finish(ch, consts[ch], s1, s2);
      consts[c + 3 * ch] = bc.mean, consts[c + 3 * ch + 1] = bc.scale, consts[c + 3 * ch + 2] = bc.beta;
    }
    for_each_segment(ctx, planes, hw, plan.threads, [&](int, int64_t p, int64_t off, int64_t len) {
      const float* q = consts + c + 3 * (p % c);
      apply(plan.segment(x, p, off, len), BnChannel{q[0], q[1], q[2], 0, 0, 0}, plan.out_at(p, off));
    });
    return RN_STATUS_OK;
  });
}

}  // namespace

extern "C" {

int rn_batchnorm_forward_training(rn_context* ctx, int32_t n, int32_t c, int32_t hw, int32_t act, float eps,
                                  float momentum, const float* x, const float* gamma, const float* beta,
                                  float* running_mean, float* running_var, float* save_mean, float* save_invstd,
                                  float* y) {
  return training_forward(ctx, n, c, hw, act, eps, momentum, x, gamma, beta, running_mean, running_var, save_mean,
                          save_invstd, nullptr, y);
}

int rn_batchnorm_forward_training_add_relu(rn_context* ctx, int32_t n, int32_t c, int32_t hw, float eps,
                                           float momentum, const float* x, const float* gamma, const float* beta,
                                           float* running_mean, float* running_var, float* save_mean,
                                           float* save_invstd, const float* residual, float* y) {
  if (residual == nullptr) return RN_STATUS_BAD_ARGUMENT;
  return training_forward(ctx, n, c, hw, RN_ACT_NONE, eps, momentum, x, gamma, beta, running_mean, running_var,
                          save_mean, save_invstd, residual, y);
}

int rn_batchnorm_forward_inference(rn_context* ctx, int32_t n, int32_t c, int32_t hw, int32_t act, float eps,
                                   const float* x, const float* gamma, const float* beta,
                                   const float* running_mean, const float* running_var, float* y) {
  if (int st = check_common(n, c, hw, act, x, y, gamma, beta); st != RN_STATUS_OK) return st;
  if (!(eps >= 0.0f) || !std::isfinite(eps)) return RN_STATUS_BAD_ARGUMENT;
  if (running_mean == nullptr || running_var == nullptr) return RN_STATUS_BAD_ARGUMENT;
  return rn_guarded(ctx, [&] {
    const auto& k = rn::norm_kernels(ctx->isa);
    const Plan plan = make_plan(ctx, n, c, hw, act);
    auto affine = [&](int64_t ch) {
      const float invstd = float(1.0 / std::sqrt(double(running_var[ch]) + double(eps)));
      return channel_affine(running_mean[ch], invstd, gamma, beta, ch);
    };
    if (plan.by_channel) {
      for_each_channel(ctx, plan, [&](int64_t ch) { k.bn_apply(act, plan.channel(x, ch), affine(ch), y + ch * hw); });
    } else {
      for_each_segment(ctx, int64_t(n) * c, hw, plan.threads, [&](int, int64_t p, int64_t off, int64_t len) {
        k.bn_apply(act, plan.segment(x, p, off, len), affine(p % c), y + plan.out_at(p, off));
      });
    }
    return RN_STATUS_OK;
  });
}

int rn_batchnorm_inference_affine(rn_context* ctx, int32_t c, float eps, const float* gamma, const float* beta,
                                  const float* running_mean, const float* running_var, float* scale, float* shift) {
  if (c <= 0 || !running_mean || !running_var || !scale || !shift) return RN_STATUS_BAD_ARGUMENT;
  if ((gamma == nullptr) != (beta == nullptr)) return RN_STATUS_BAD_ARGUMENT;
  if (!(eps >= 0.0f) || !std::isfinite(eps)) return RN_STATUS_BAD_ARGUMENT;
  return rn_guarded(ctx, [&] {
    for (int32_t ch = 0; ch < c; ++ch) {
      // the scale exactly as rn_batchnorm_forward_inference's; the shift in double, rounded once
      const float invstd = float(1.0 / std::sqrt(double(running_var[ch]) + double(eps)));
      const BnChannel bc = channel_affine(running_mean[ch], invstd, gamma, beta, ch);
      scale[ch] = bc.scale;
      shift[ch] = float(double(bc.beta) - double(bc.mean) * double(bc.scale));
    }
    return int(RN_STATUS_OK);
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
    const Plan plan = make_plan(ctx, n, c, hw, act);
    const double inv_m = 1.0 / double(m);
    // sum du, sum du*(x - mean) -> parameter gradients and dx = a*du + b*(x - mean) + c.
    auto finish = [&](int64_t ch, double sdu, double sdux) {
      BnChannel bc = channel_affine(save_mean[ch], save_invstd[ch], gamma, beta, ch);
      const double invstd = save_invstd[ch], g_gamma = invstd * sdux, g_beta = sdu;
      if (dgamma) {
        dgamma[ch] = float(g_gamma);
        dbeta[ch] = float(g_beta);
      }
      // dx = scale*(du - dbeta/m - (x - mean)*invstd*dgamma/m)
      bc.a = bc.scale;
      bc.b = float(-double(bc.scale) * invstd * g_gamma * inv_m);
      bc.c = float(-double(bc.scale) * g_beta * inv_m);
      return bc;
    };
    if (plan.by_channel) {
      for_each_channel(ctx, plan, [&](int64_t ch) {
        const BnRuns r = plan.channel(x, ch);
        double sdu = 0.0, sdux = 0.0;
        BnChannel bc = channel_affine(save_mean[ch], save_invstd[ch], gamma, beta, ch);
        k.bn_backward_reduce(act, r, bc, dy + ch * hw, &sdu, &sdux);
        bc = finish(ch, sdu, sdux);
        k.bn_backward_dx(act, r, bc, dy + ch * hw, dx + ch * hw);
      });
      return RN_STATUS_OK;
    }
    float* consts;  // per channel: the 6 floats of BnChannel
    Partials part = take_partials(ctx, c, size_t(c) * 6, &consts);
    BnChannel* chans = reinterpret_cast<BnChannel*>(consts);
    for (int32_t ch = 0; ch < c; ++ch) chans[ch] = channel_affine(save_mean[ch], save_invstd[ch], gamma, beta, ch);
    const int64_t planes = int64_t(n) * c;
    for_each_segment(ctx, planes, hw, plan.threads, [&](int tid, int64_t p, int64_t off, int64_t len) {
      double* acc = part.at(tid, p % c);
      k.bn_backward_reduce(act, plan.segment(x, p, off, len), chans[p % c], dy + plan.out_at(p, off), acc, acc + 1);
    });
    for (int32_t ch = 0; ch < c; ++ch) {
      double sdu, sdux;
      part.sum(ch, &sdu, &sdux);
      chans[ch] = finish(ch, sdu, sdux);
    }
    for_each_segment(ctx, planes, hw, plan.threads, [&](int, int64_t p, int64_t off, int64_t len) {
      k.bn_backward_dx(act, plan.segment(x, p, off, len), chans[p % c], dy + plan.out_at(p, off),
                       dx + p * hw + off);
    });
    return RN_STATUS_OK;
  });
}

}  // extern "C"
