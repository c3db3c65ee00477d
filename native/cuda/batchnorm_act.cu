// Batch normalization fused with ReLU / CReLU on CUDA (batchnorm.h semantics, the
// CPU's batchnorm_act.cpp numerics):
// Training forward = two passes over x:
//   1. statistics: per channel, sums of t = x - k_c and t^2 (k_c = x[0, c, 0], a shift
//      against cancellation) over (channel, split) blocks in double, then a per-channel
//      kernel that adds the splits in order and derives mean, biased variance, save_mean,
//      save_invstd = 1/sqrt(var + eps) (double, stored as float), the running statistics
//      (momentum; unbiased variance m/(m-1)) and the affine constants;
//   2. normalize + activate: u = fma(x - mean, scale, beta) with scale = gamma*invstd
//      rounded to float from the float invstd (the CPU's definition of u, bit for bit:
//      the CPU's AVX2 / AVX-512 kernels use the same fma), y = act(u).
// Backward = two passes over (x, dy): the reduction of du and du*(x - mean) (u recomputed
// the same way, so the gates agree with the forward's), then dx = a*du + b*(x - mean) + c.
#include <cmath>

#include "reduce.cuh"
#include "resnorm/batchnorm.h"

namespace rn::cuda {

namespace {

bool valid_act(int32_t act) { return act == RN_ACT_NONE || act == RN_ACT_RELU || act == RN_ACT_CRELU; }

int check_common(int32_t n, int32_t c, int32_t hw, int32_t act, const float* x, const void* out, const float* gamma,
                 const float* beta) {
  if (n <= 0 || c <= 0 || hw <= 0 || !valid_act(act)) return RN_STATUS_BAD_ARGUMENT;
  if (act == RN_ACT_CRELU && c > INT32_MAX / 2) return RN_STATUS_BAD_ARGUMENT;
  if (x == nullptr || out == nullptr) return RN_STATUS_BAD_ARGUMENT;
  if ((gamma == nullptr) != (beta == nullptr)) return RN_STATUS_BAD_ARGUMENT;
  // 32-bit index math: the output (2x the input with CReLU) below 2^31 elements.
  if (2 * int64_t(n) * c * hw >= kMaxIndex) return RN_STATUS_UNSUPPORTED;
  return RN_STATUS_OK;
}

// Per-channel constants of the elementwise passes (floats, as the CPU's BnChannel):
// u = fma(x - mean, scale, beta); dx = fma(a, du, fma(b, x - mean, c)).
struct Channel {
  float mean, scale, beta, a, b, c;
};

// ---------------------------------------------------------------- pass 1 operators

template <int V>
struct StatsOp {
  const float* x;
  int32_t c, hw;
  struct State {
    const float* base;
    float shift;
  };
  __device__ State channel(int32_t ch) const { return State{x + int64_t(ch) * hw, x[int64_t(ch) * hw]}; }
  __device__ void add(const State& st, int32_t img, int32_t i, double* s1, double* s2) const {
    float v[V];
    load_v<V>(st.base + int64_t(img) * c * hw + i, v);
    float a = 0.0f, b = 0.0f;
#pragma unroll
    for (int k = 0; k < V; ++k) {
      const float t = v[k] - st.shift;
      a += t;
      b = fmaf(t, t, b);
    }
    *s1 += a;
    *s2 += b;
  }
};

// u = (x - mean)*scale + beta: the one definition of u, so forward and backward agree on its
// sign bit for bit (as the CPU kernels' affine).
__device__ __forceinline__ float bn_u(float x, const Channel& k) {
  return __fmaf_rn(__fsub_rn(x, k.mean), k.scale, k.beta);
}

// du of one element: the activation's gate on dy (u from x and the channel constants).
template <int ACT>
__device__ __forceinline__ float grad_u(float x, float dpos, float dneg, const Channel& k) {
  if constexpr (ACT == RN_ACT_NONE) return dpos;
  const float u = bn_u(x, k);
  const float g = u > 0.0f ? dpos : 0.0f;
  if constexpr (ACT == RN_ACT_RELU) return g;
  return __fsub_rn(g, u < 0.0f ? dneg : 0.0f);
}

// The channel's forward constants from the saved statistics (as the CPU's channel_affine).
__device__ __forceinline__ Channel saved_affine(const float* save_mean, const float* save_invstd, const float* gamma,
                                                const float* beta, int32_t ch) {
  const float g = gamma ? gamma[ch] : 1.0f;
  return Channel{save_mean[ch], __fmul_rn(g, save_invstd[ch]), beta ? beta[ch] : 0.0f, 0.0f, 0.0f, 0.0f};
}

template <int V, int ACT>
struct BackwardReduceOp {
  const float* x;
  const float* dy;
  const float* save_mean;
  const float* save_invstd;
  const float* gamma;
  const float* beta;
  int32_t c, hw;
  struct State {
    Channel k;
    int32_t ch;
  };
  __device__ State channel(int32_t ch) const {
    return State{saved_affine(save_mean, save_invstd, gamma, beta, ch), ch};
  }
  __device__ void add(const State& st, int32_t img, int32_t i, double* s1, double* s2) const {
    const int64_t oc = ACT == RN_ACT_CRELU ? 2 * int64_t(c) : c;
    float xv[V], dp[V], dn[V];
    load_v<V>(x + (int64_t(img) * c + st.ch) * hw + i, xv);
    const float* d = dy + (int64_t(img) * oc + st.ch) * hw + i;
    load_v<V>(d, dp);
    if constexpr (ACT == RN_ACT_CRELU) load_v<V>(d + int64_t(c) * hw, dn);
    double a = 0.0, b = 0.0;
#pragma unroll
    for (int k = 0; k < V; ++k) {
      const float du = grad_u<ACT>(xv[k], dp[k], ACT == RN_ACT_CRELU ? dn[k] : 0.0f, st.k);
      a += du;
      b += double(du) * double(__fsub_rn(xv[k], st.k.mean));
    }
    *s1 += a;
    *s2 += b;
  }
};

// ---------------------------------------------------------------- per-channel finishers

__global__ void finish_stats(const double2* partial, int32_t c, int32_t splits, int64_t m, const float* x,
                             int32_t hw, float eps, float momentum, const float* gamma, const float* beta,
                             float* running_mean, float* running_var, float* save_mean, float* save_invstd,
                             Channel* consts) {
  const int32_t ch = blockIdx.x * blockDim.x + threadIdx.x;
  if (ch >= c) return;
  const double2 s = channel_total(partial, ch, splits);
  const double inv_m = 1.0 / double(m), unbias = double(m) / double(m - 1), mom = momentum;
  const float shift = x[int64_t(ch) * hw];
  const double d = s.x * inv_m, mean = double(shift) + d;
  const double var = fmax(s.y * inv_m - d * d, 0.0);
  save_mean[ch] = float(mean);
  save_invstd[ch] = float(1.0 / sqrt(var + double(eps)));
  if (running_mean) {
    running_mean[ch] = float((1.0 - mom) * running_mean[ch] + mom * mean);
    running_var[ch] = float((1.0 - mom) * running_var[ch] + mom * var * unbias);
  }
  consts[ch] = saved_affine(save_mean, save_invstd, gamma, beta, ch);
}

__global__ void inference_consts(int32_t c, float eps, const float* running_mean, const float* running_var,
                                 const float* gamma, const float* beta, Channel* consts) {
  const int32_t ch = blockIdx.x * blockDim.x + threadIdx.x;
  if (ch >= c) return;
  const float invstd = float(1.0 / sqrt(double(running_var[ch]) + double(eps)));
  const float g = gamma ? gamma[ch] : 1.0f;
  consts[ch] = Channel{running_mean[ch], __fmul_rn(g, invstd), beta ? beta[ch] : 0.0f, 0.0f, 0.0f, 0.0f};
}

// The inference forward as u = scale*x + shift (rn_cuda_batchnorm_inference_affine): the
// same invstd and scale as inference_consts, the shift in double before its one rounding.
__global__ void inference_affine(int32_t c, float eps, const float* running_mean, const float* running_var,
                                 const float* gamma, const float* beta, float* scale, float* shift) {
  const int32_t ch = blockIdx.x * blockDim.x + threadIdx.x;
  if (ch >= c) return;
  const float invstd = float(1.0 / sqrt(double(running_var[ch]) + double(eps)));
  const float g = gamma ? gamma[ch] : 1.0f, sc = __fmul_rn(g, invstd);
  scale[ch] = sc;
  shift[ch] = float(double(beta ? beta[ch] : 0.0f) - double(running_mean[ch]) * double(sc));
}

__global__ void finish_backward(const double2* partial, int32_t c, int32_t splits, int64_t m, const float* save_mean,
                                const float* save_invstd, const float* gamma, const float* beta, float* dgamma,
                                float* dbeta, Channel* consts) {
  const int32_t ch = blockIdx.x * blockDim.x + threadIdx.x;
  if (ch >= c) return;
  const double2 s = channel_total(partial, ch, splits);
  Channel k = saved_affine(save_mean, save_invstd, gamma, beta, ch);
  const double invstd = save_invstd[ch], g_gamma = invstd * s.y, g_beta = s.x, inv_m = 1.0 / double(m);
  if (dgamma) {
    dgamma[ch] = float(g_gamma);
    dbeta[ch] = float(g_beta);
  }
  // dx = scale*(du - dbeta/m - (x - mean)*invstd*dgamma/m)
  k.a = k.scale;
  k.b = float(-double(k.scale) * invstd * g_gamma * inv_m);
  k.c = float(-double(k.scale) * g_beta * inv_m);
  consts[ch] = k;
}

// ---------------------------------------------------------------- pass 2 operators

template <int V, int ACT>
struct ApplyOp {
  const float* x;
  float* y;
  const Channel* consts;
  int32_t c, hw;
  __device__ void operator()(int32_t img, int32_t ch, int32_t i, uint32_t flat) const {
    const Channel k = consts[ch];
    float xv[V], pos[V], neg[V];
    load_v<V>(x + flat, xv);
#pragma unroll
    for (int j = 0; j < V; ++j) {
      const float u = bn_u(xv[j], k);
      pos[j] = ACT == RN_ACT_NONE ? u : relu_nan(u);
      neg[j] = relu_nan(__fsub_rn(0.0f, u));
    }
    if constexpr (ACT == RN_ACT_CRELU) {
      float* yp = y + (int64_t(img) * 2 * c + ch) * hw + i;
      store_v<V>(yp, pos);
      store_v<V>(yp + int64_t(c) * hw, neg);
    } else {
      store_v<V>(y + flat, pos);
    }
  }
};

// y = max(u + res, 0): a block's last batch norm with the shortcut and ReLU fused in (the
// same arithmetic as ApplyOp NONE, then rn_cuda_add_relu_forward).
template <int V>
struct ApplyAddReluOp {
  const float* x;
  const float* res;
  float* y;
  const Channel* consts;
  int32_t c, hw;
  __device__ void operator()(int32_t, int32_t ch, int32_t, uint32_t flat) const {
    const Channel k = consts[ch];
    float xv[V], rv[V], out[V];
    load_v<V>(x + flat, xv);
    load_v<V>(res + flat, rv);
#pragma unroll
    for (int j = 0; j < V; ++j)
      out[j] = relu_nan(__fadd_rn(bn_u(xv[j], k), rv[j]));
    store_v<V>(y + flat, out);
  }
};

template <int V, int ACT>
struct DxOp {
  const float* x;
  const float* dy;
  float* dx;
  const Channel* consts;
  int32_t c, hw;
  __device__ void operator()(int32_t img, int32_t ch, int32_t i, uint32_t flat) const {
    const Channel k = consts[ch];
    float xv[V], dp[V], dn[V], out[V];
    load_v<V>(x + flat, xv);
    const float* d = ACT == RN_ACT_CRELU ? dy + (int64_t(img) * 2 * c + ch) * hw + i : dy + flat;
    load_v<V>(d, dp);
    if constexpr (ACT == RN_ACT_CRELU) load_v<V>(d + int64_t(c) * hw, dn);
#pragma unroll
    for (int j = 0; j < V; ++j) {
      const float du = grad_u<ACT>(xv[j], dp[j], ACT == RN_ACT_CRELU ? dn[j] : 0.0f, k);
      out[j] = __fmaf_rn(k.a, du, __fmaf_rn(k.b, __fsub_rn(xv[j], k.mean), k.c));
    }
    store_v<V>(dx + flat, out);
  }
};

// ---------------------------------------------------------------- launchers

template <int V>
int apply_v(rn_cuda_context* ctx, int32_t n, int32_t c, int32_t hw, int32_t act, const float* x, float* y,
            const Channel* consts) {
  switch (act) {
    case RN_ACT_RELU: return launch_planes<V>(ctx, ApplyOp<V, RN_ACT_RELU>{x, y, consts, c, hw}, n, c, hw);
    case RN_ACT_CRELU: return launch_planes<V>(ctx, ApplyOp<V, RN_ACT_CRELU>{x, y, consts, c, hw}, n, c, hw);
    default: return launch_planes<V>(ctx, ApplyOp<V, RN_ACT_NONE>{x, y, consts, c, hw}, n, c, hw);
  }
}

int apply(rn_cuda_context* ctx, int32_t n, int32_t c, int32_t hw, int32_t act, const float* x, float* y,
          const Channel* consts) {
  if (hw % 4 == 0 && aligned16(x, y)) return apply_v<4>(ctx, n, c, hw, act, x, y, consts);
  return apply_v<1>(ctx, n, c, hw, act, x, y, consts);
}

int apply_add_relu(rn_cuda_context* ctx, int32_t n, int32_t c, int32_t hw, const float* x, const float* res, float* y,
                   const Channel* consts) {
  if (hw % 4 == 0 && aligned16(x, y) && aligned16(res))
    return launch_planes<4>(ctx, ApplyAddReluOp<4>{x, res, y, consts, c, hw}, n, c, hw);
  return launch_planes<1>(ctx, ApplyAddReluOp<1>{x, res, y, consts, c, hw}, n, c, hw);
}

template <int V, int ACT>
int backward_passes(rn_cuda_context* ctx, int32_t n, int32_t c, int32_t hw, const float* x, const float* gamma,
                    const float* beta, const float* save_mean, const float* save_invstd, const float* dy, float* dx,
                    float* dgamma, float* dbeta, double2* partial, Channel* consts) {
  const int64_t m = int64_t(n) * hw;
  const ChannelSplit sp = channel_split(ctx, c, m);
  const BackwardReduceOp<V, ACT> op{x, dy, save_mean, save_invstd, gamma, beta, c, hw};
  RN_LAUNCH((channel_partials<V, BackwardReduceOp<V, ACT>>), dim3(c, sp.splits), kReduceThreads, ctx->stream, op, hw,
            FastDiv(hw), m, sp.chunk, partial);
  RN_CUDA_CHECK_LAUNCH();
  RN_LAUNCH(finish_backward, blocks_for(c, 128), 128, ctx->stream, partial, c, sp.splits, m, save_mean, save_invstd,
            gamma, beta, dgamma, dbeta, consts);
  RN_CUDA_CHECK_LAUNCH();
  return launch_planes<V>(ctx, DxOp<V, ACT>{x, dy, dx, consts, c, hw}, n, c, hw);
}

template <int V>
int backward_v(rn_cuda_context* ctx, int32_t n, int32_t c, int32_t hw, int32_t act, const float* x,
               const float* gamma, const float* beta, const float* save_mean, const float* save_invstd,
               const float* dy, float* dx, float* dgamma, float* dbeta, double2* partial, Channel* consts) {
  switch (act) {
    case RN_ACT_RELU:
      return backward_passes<V, RN_ACT_RELU>(ctx, n, c, hw, x, gamma, beta, save_mean, save_invstd, dy, dx, dgamma,
                                             dbeta, partial, consts);
    case RN_ACT_CRELU:
      return backward_passes<V, RN_ACT_CRELU>(ctx, n, c, hw, x, gamma, beta, save_mean, save_invstd, dy, dx, dgamma,
                                              dbeta, partial, consts);
    default:
      return backward_passes<V, RN_ACT_NONE>(ctx, n, c, hw, x, gamma, beta, save_mean, save_invstd, dy, dx, dgamma,
                                             dbeta, partial, consts);
  }
}

// Scratch: the (channel, split) partial sums and the per-channel constants.
struct Scratch {
  double2* partial;
  Channel* consts;
};
int take_scratch(rn_cuda_context* ctx, int32_t c, int64_t m, Scratch* s) {
  Layout l;
  const size_t p_at = l.add<double2>(size_t(channel_split(ctx, c, m).splits) * c);
  const size_t c_at = l.add<Channel>(c);
  void* base = nullptr;
  if (int st = workspace(ctx, l.total(), &base); st != RN_STATUS_OK) return st;
  s->partial = at<double2>(base, p_at);
  s->consts = at<Channel>(base, c_at);
  return RN_STATUS_OK;
}

}  // namespace

}  // namespace rn::cuda

using namespace rn::cuda;

namespace {

// The training forward; with a residual (act NONE), y = max(u + residual, 0).
int training_forward(rn_cuda_context* ctx, int32_t n, int32_t c, int32_t hw, int32_t act, float eps, float momentum,
                     const float* x, const float* gamma, const float* beta, float* running_mean, float* running_var,
                     float* save_mean, float* save_invstd, const float* residual, float* y) {
  if (int st = check_common(n, c, hw, act, x, y, gamma, beta); st != RN_STATUS_OK) return st;
  if (!(eps >= 0.0f) || !std::isfinite(eps) || !std::isfinite(momentum)) return RN_STATUS_BAD_ARGUMENT;
  if (save_mean == nullptr || save_invstd == nullptr) return RN_STATUS_BAD_ARGUMENT;
  if ((running_mean == nullptr) != (running_var == nullptr)) return RN_STATUS_BAD_ARGUMENT;
  const int64_t m = int64_t(n) * hw;
  if (m < 2) return RN_STATUS_BAD_ARGUMENT;  // the unbiased variance needs two values
  return guarded(ctx, [&] {
    Scratch s;
    if (int st = take_scratch(ctx, c, m, &s); st != RN_STATUS_OK) return st;
    const ChannelSplit sp = channel_split(ctx, c, m);
    const dim3 grid(c, sp.splits);
    if (hw % 4 == 0 && aligned16(x)) {
      RN_LAUNCH((channel_partials<4, StatsOp<4>>), grid, kReduceThreads, ctx->stream, StatsOp<4>{x, c, hw}, hw,
                FastDiv(hw), m, sp.chunk, s.partial);
    } else {
      RN_LAUNCH((channel_partials<1, StatsOp<1>>), grid, kReduceThreads, ctx->stream, StatsOp<1>{x, c, hw}, hw,
                FastDiv(hw), m, sp.chunk, s.partial);
    }
    RN_CUDA_CHECK_LAUNCH();
    RN_LAUNCH(finish_stats, blocks_for(c, 128), 128, ctx->stream, s.partial, c, sp.splits, m, x, hw, eps, momentum,
              gamma, beta, running_mean, running_var, save_mean, save_invstd, s.consts);
    RN_CUDA_CHECK_LAUNCH();
    if (residual) return apply_add_relu(ctx, n, c, hw, x, residual, y, s.consts);
    return apply(ctx, n, c, hw, act, x, y, s.consts);
  });
}

}  // namespace

extern "C" {

RN_API int rn_cuda_batchnorm_forward_training(rn_cuda_context* ctx, int32_t n, int32_t c, int32_t hw, int32_t act,
                                              float eps, float momentum, const float* x, const float* gamma,
                                              const float* beta, float* running_mean, float* running_var,
                                              float* save_mean, float* save_invstd, float* y) {
  return training_forward(ctx, n, c, hw, act, eps, momentum, x, gamma, beta, running_mean, running_var, save_mean,
                          save_invstd, nullptr, y);
}

RN_API int rn_cuda_batchnorm_forward_training_add_relu(rn_cuda_context* ctx, int32_t n, int32_t c, int32_t hw,
                                                       float eps, float momentum, const float* x, const float* gamma,
                                                       const float* beta, float* running_mean, float* running_var,
                                                       float* save_mean, float* save_invstd, const float* residual,
                                                       float* y) {
  if (residual == nullptr) return RN_STATUS_BAD_ARGUMENT;
  return training_forward(ctx, n, c, hw, RN_ACT_NONE, eps, momentum, x, gamma, beta, running_mean, running_var,
                          save_mean, save_invstd, residual, y);
}

RN_API int rn_cuda_batchnorm_forward_inference(rn_cuda_context* ctx, int32_t n, int32_t c, int32_t hw, int32_t act,
                                               float eps, const float* x, const float* gamma, const float* beta,
                                               const float* running_mean, const float* running_var, float* y) {
  if (int st = check_common(n, c, hw, act, x, y, gamma, beta); st != RN_STATUS_OK) return st;
  if (!(eps >= 0.0f) || !std::isfinite(eps)) return RN_STATUS_BAD_ARGUMENT;
  if (running_mean == nullptr || running_var == nullptr) return RN_STATUS_BAD_ARGUMENT;
  return guarded(ctx, [&] {
    void* base = nullptr;
    if (int st = workspace(ctx, sizeof(Channel) * size_t(c), &base); st != RN_STATUS_OK) return st;
    Channel* consts = static_cast<Channel*>(base);
    RN_LAUNCH(inference_consts, blocks_for(c, 128), 128, ctx->stream, c, eps, running_mean, running_var, gamma, beta,
              consts);
    RN_CUDA_CHECK_LAUNCH();
    return apply(ctx, n, c, hw, act, x, y, consts);
  });
}

RN_API int rn_cuda_batchnorm_inference_affine(rn_cuda_context* ctx, int32_t c, float eps, const float* gamma,
                                              const float* beta, const float* running_mean,
                                              const float* running_var, float* scale, float* shift) {
  if (c <= 0 || !running_mean || !running_var || !scale || !shift) return RN_STATUS_BAD_ARGUMENT;
  if ((gamma == nullptr) != (beta == nullptr)) return RN_STATUS_BAD_ARGUMENT;
  if (!(eps >= 0.0f) || !std::isfinite(eps)) return RN_STATUS_BAD_ARGUMENT;
  return guarded(ctx, [&] {
    RN_LAUNCH(inference_affine, blocks_for(c, 128), 128, ctx->stream, c, eps, running_mean, running_var, gamma, beta,
              scale, shift);
    RN_CUDA_CHECK_LAUNCH();
    return int(RN_STATUS_OK);
  });
}

RN_API int rn_cuda_batchnorm_backward(rn_cuda_context* ctx, int32_t n, int32_t c, int32_t hw, int32_t act,
                                      const float* x, const float* gamma, const float* beta, const float* save_mean,
                                      const float* save_invstd, const float* dy, float* dx, float* dgamma,
                                      float* dbeta) {
  if (int st = check_common(n, c, hw, act, x, dx, gamma, beta); st != RN_STATUS_OK) return st;
  if (save_mean == nullptr || save_invstd == nullptr || dy == nullptr) return RN_STATUS_BAD_ARGUMENT;
  if (gamma != nullptr && (dgamma == nullptr || dbeta == nullptr)) return RN_STATUS_BAD_ARGUMENT;
  if (gamma == nullptr && (dgamma != nullptr || dbeta != nullptr)) return RN_STATUS_BAD_ARGUMENT;
  const int64_t m = int64_t(n) * hw;
  if (m < 2) return RN_STATUS_BAD_ARGUMENT;
  return guarded(ctx, [&] {
    Scratch s;
    if (int st = take_scratch(ctx, c, m, &s); st != RN_STATUS_OK) return st;
    if (hw % 4 == 0 && aligned16(x, dy, dx))
      return backward_v<4>(ctx, n, c, hw, act, x, gamma, beta, save_mean, save_invstd, dy, dx, dgamma, dbeta,
                           s.partial, s.consts);
    return backward_v<1>(ctx, n, c, hw, act, x, gamma, beta, save_mean, save_invstd, dy, dx, dgamma, dbeta,
                         s.partial, s.consts);
  });
}

}  // extern "C"
