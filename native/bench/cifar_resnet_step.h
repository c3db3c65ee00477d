// A CIFAR ResNet training step (He et al.'s 6n+2 network, the paper's BatchNorm +
// ReLU / CReLU blocks, option-A shortcuts) written against resnorm's C API, once for both
// backends: the CPU library (rn_*) and the CUDA library (rn_cuda_*) take the same
// arguments in the same order, so the network is a template over a small backend struct.
//
// What it is for: the whole-step benchmark on a GPU (bench_resnet_cuda: eager launches
// against one CUDA-graph launch per step, against PyTorch on the same card) and the
// whole-step test that the CUDA backend trains exactly like the CPU one
// (test_cuda_resnet_step). The Java executor (org.resnorm.model.ResNet) is the product's
// network; this one mirrors its CIFAR basic-block path op for op:
//   stem: conv3x3(3 -> w) -> BN -> ReLU
//   block: conv3x3(C -> K, stride) -> BN -> act (ReLU: K, CReLU: 2K channels)
//          -> conv3x3(K or 2K -> K) -> BN; + shortcut (identity, or option A at the
//          stride-2 blocks); -> ReLU (fused with the add)
//   head: global average pool -> linear -> softmax cross-entropy (mean)
// and, as options, the Java executor's fusions across ops (Config): the block's last BN
// adding the shortcut and applying the ReLU (residual_in_bn), and a BN+CReLU unit storing
// its pre-activation u for the next conv to read as [relu(u), relu(-u)] (crelu_in_conv).
//   SGD: momentum 0.9, Nesterov, coupled weight decay 1e-4 on every learned tensor, as
//        one fused update over all parameters (they are laid out contiguously).
// Every buffer is planned first and carved from one block (on the GPU: the context's
// pool), so the step reads and writes fixed pointers: what a CUDA graph needs.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "resnorm/resnorm.h"

#ifdef RN_STEP_WITH_CUDA
#include "resnorm/cuda.h"
#endif

namespace rn::step {

struct Config {
  int depth = 110;  // 6n + 2
  bool crelu = false;
  int batch = 128;
  int channels = 3;
  int hw = 32;  // square images
  int classes = 10;
  int width = 16;  // stage widths: width, 2 width, 4 width
  float momentum = 0.9f;
  float weight_decay = 1e-4f;
  bool nesterov = true;
  float bn_eps = 1e-5f;
  float bn_momentum = 0.1f;
  // Fill the whole block with NaN before anything is written (tests: a buffer read before
  // it was written then shows up as a NaN loss).
  bool poison = false;
  // The block's last BN writes max(BN(x) + shortcut, 0) in one pass
  // (batchnorm_forward_training_add_relu) instead of BN, then add_relu.
  bool residual_in_bn = false;
  // (crelu only) A block's BN+CReLU unit writes u = BN(x) (K channels) and the block's
  // second conv reads crelu(u) (conv2d_forward_crelu_input / backward_filter_crelu_input)
  // instead of the 2K-channel tensor; its backward-data hands back dL/du
  // (conv2d_backward_data_crelu_input), and the unit's BN backward runs without the CReLU.
  bool crelu_in_conv = false;
  // A block's two input gradients (main path, shortcut) summed and passed back through the
  // add + ReLU of the block below in one pass (relu_backward_sum into d_sum), which that block
  // then does not run; the first block (the stem below) adds as before.
  bool residual_sum_backward = false;
  int blocks_per_stage() const { return (depth - 2) / 6; }
};

// Op names shared by both libraries: Backend::conv2d_forward(ctx, ...) calls
// rn_conv2d_forward or rn_cuda_conv2d_forward with the same arguments.
#define RN_STEP_OP(prefix, name) \
  template <class... A>          \
  static int name(Ctx* c, A... a) { return prefix##name(c, a...); }
#define RN_STEP_OPS(prefix)                                                                                     \
  RN_STEP_OP(prefix, conv2d_forward)                                                                            \
  RN_STEP_OP(prefix, conv2d_backward_data)                                                                      \
  RN_STEP_OP(prefix, conv2d_backward_filter)                                                                    \
  RN_STEP_OP(prefix, conv2d_forward_crelu_input)                                                                \
  RN_STEP_OP(prefix, conv2d_backward_filter_crelu_input)                                                        \
  RN_STEP_OP(prefix, conv2d_backward_data_crelu_input)                                                          \
  RN_STEP_OP(prefix, batchnorm_forward_training_add_relu)                                                       \
  RN_STEP_OP(prefix, batchnorm_forward_training)                                                                \
  RN_STEP_OP(prefix, batchnorm_backward)                                                                        \
  RN_STEP_OP(prefix, add_relu_forward)                                                                          \
  RN_STEP_OP(prefix, add_relu_backward)                                                                         \
  RN_STEP_OP(prefix, add)                                                                                       \
  RN_STEP_OP(prefix, relu_backward_sum)                                                                         \
  RN_STEP_OP(prefix, shortcut_a_forward)                                                                        \
  RN_STEP_OP(prefix, shortcut_a_backward)                                                                       \
  RN_STEP_OP(prefix, global_avgpool_forward)                                                                    \
  RN_STEP_OP(prefix, global_avgpool_backward)                                                                   \
  RN_STEP_OP(prefix, linear_forward)                                                                            \
  RN_STEP_OP(prefix, linear_backward_data)                                                                      \
  RN_STEP_OP(prefix, linear_backward_weight)                                                                    \
  RN_STEP_OP(prefix, softmax_xent_forward)                                                                      \
  RN_STEP_OP(prefix, softmax_xent_backward)                                                                     \
  RN_STEP_OP(prefix, sgd_step)

struct CpuBackend {
  using Ctx = rn_context;
  RN_STEP_OPS(rn_)
  static int alloc(Ctx*, size_t bytes, void** out) {
    *out = rn_alloc(bytes);
    return *out ? RN_STATUS_OK : RN_STATUS_OUT_OF_MEMORY;
  }
  static void release(Ctx*, void* p) { rn_free(p); }
  static int upload(Ctx*, void* dst, const void* src, size_t bytes) {
    std::memcpy(dst, src, bytes);
    return RN_STATUS_OK;
  }
  static int download(Ctx*, void* dst, const void* src, size_t bytes) {
    std::memcpy(dst, src, bytes);
    return RN_STATUS_OK;
  }
  static int fill_nan(Ctx*, void* p, size_t bytes) {
    std::memset(p, 0xff, bytes);  // all-ones floats are NaN
    return RN_STATUS_OK;
  }
};

#ifdef RN_STEP_WITH_CUDA
struct CudaBackend {
  using Ctx = rn_cuda_context;
  RN_STEP_OPS(rn_cuda_)
  // The network's one block is the context's pool (so one network per context).
  static int alloc(Ctx* c, size_t bytes, void** out) {
    int st = rn_cuda_pool_reserve(c, bytes);
    return st == RN_STATUS_OK ? rn_cuda_pool_alloc(c, bytes, out) : st;
  }
  static void release(Ctx* c, void*) { rn_cuda_pool_reset(c); }
  static int upload(Ctx* c, void* dst, const void* src, size_t bytes) {
    return rn_cuda_copy_to_device(c, dst, src, bytes);
  }
  static int download(Ctx* c, void* dst, const void* src, size_t bytes) {
    return rn_cuda_copy_to_host(c, dst, src, bytes);
  }
  static int fill_nan(Ctx* c, void* p, size_t bytes) { return rn_cuda_memset(c, p, 0xff, bytes); }
};
#endif

#undef RN_STEP_OPS
#undef RN_STEP_OP

#define RN_STEP_TRY(call)                         \
  do {                                            \
    const int rn_st_ = (call);                    \
    if (rn_st_ != RN_STATUS_OK) return rn_st_;    \
  } while (0)

// Op families of a step, for a caller that times them (bench_resnet_cuda's profile).
enum Op { kConvForward, kConvBackwardData, kConvBackwardFilter, kNormForward, kNormBackward, kResidual, kShortcut,
          kHead, kSgd, kEnd, kOpCount };
inline const char* op_name(int op) {
  static const char* const names[kOpCount] = {"conv forward", "conv backward-data", "conv backward-filter",
                                               "batchnorm(+act) forward", "batchnorm(+act) backward",
                                               "add+relu / add", "shortcut A", "pool, fc, loss", "sgd update", "end"};
  return op >= 0 && op < kOpCount ? names[op] : "?";
}

template <class B>
class CifarResNet {
 public:
  using Ctx = typename B::Ctx;
  // Called with an Op just before each op is enqueued (and kEnd after the last of a step);
  // nullptr (the default): nothing is called.
  using Marker = void (*)(void* user, int op);
  void set_marker(Marker m, void* user) {
    marker_ = m;
    marker_user_ = user;
  }

  // Plans and allocates every buffer and initializes the parameters from `seed`
  // (He-normal convs, BN gamma 1 / beta 0, running var 1, PyTorch's uniform linear).
  // status() says whether that worked; nothing else may be called when it did not.
  CifarResNet(Ctx* ctx, const Config& cfg, uint64_t seed) : ctx_(ctx), cfg_(cfg) {
    status_ = build(seed);
  }
  ~CifarResNet() {
    if (block_) B::release(ctx_, block_);
  }
  CifarResNet(const CifarResNet&) = delete;
  CifarResNet& operator=(const CifarResNet&) = delete;

  int status() const { return status_; }
  const Config& config() const { return cfg_; }
  // The batch the step reads: images [batch, channels, hw, hw] and labels [batch].
  float* images() { return images_; }
  int32_t* labels() { return labels_; }
  int64_t param_count() const { return param_floats_; }
  size_t bytes() const { return block_bytes_; }

  // Forward, backward and the SGD update of one step, enqueued on the backend's context.
  // The first step after construction starts the momentum buffers (v = g).
  int step(float lr) {
    RN_STEP_TRY(forward_backward());
    RN_STEP_TRY(sgd(lr, !stepped_));
    stepped_ = true;
    return RN_STATUS_OK;
  }
  // Whether step() has run, and a way to mark the step a replayed graph stands for.
  bool stepped() const { return stepped_; }

  // The mean loss of the last forward pass (copies one float to the host).
  int loss(float* out) { return B::download(ctx_, out, loss_, sizeof(float)); }
  // Parameters (in their contiguous order), or the BN running statistics, to the host.
  int download_params(std::vector<float>* out) {
    out->resize(size_t(param_floats_));
    return B::download(ctx_, out->data(), params_, sizeof(float) * size_t(param_floats_));
  }
  int download_running_stats(std::vector<float>* out) {
    out->clear();
    for (const Bn& bn : bns_) {
      std::vector<float> m(size_t(bn.c)), v(size_t(bn.c));
      RN_STEP_TRY(B::download(ctx_, m.data(), bn.rmean, sizeof(float) * m.size()));
      RN_STEP_TRY(B::download(ctx_, v.data(), bn.rvar, sizeof(float) * v.size()));
      out->insert(out->end(), m.begin(), m.end());
      out->insert(out->end(), v.begin(), v.end());
    }
    return RN_STATUS_OK;
  }

  // Conv FLOPs (2 x multiply-adds) of one training step: forward, backward-data and
  // backward-filter of every conv, except the stem's backward-data (nothing needs it).
  double conv_flops_per_step() const {
    double f = 0;
    for (const Conv* c : convs_) {
      const rn_conv2d_desc& d = c->d;
      const double one = 2.0 * d.n * d.k * d.c * d.r * d.s * d.p * d.q;
      f += c == &stem_.conv ? 2 * one : 3 * one;
    }
    return f;
  }

  int forward_backward() {
    const int n = cfg_.batch;
    // forward
    RN_STEP_TRY(unit_forward(stem_, images_));
    const float* h = stem_.out;
    for (Block& b : blocks_) {
      RN_STEP_TRY(unit_forward(b.u1, h));
      const float* skip = h;
      if (b.reshape) {
        mark(kShortcut);
        RN_STEP_TRY(B::shortcut_a_forward(ctx_, n, b.cin, b.h, b.w, b.k, b.stride, h, skip_));
        skip = skip_;
      }
      if (cfg_.residual_in_bn) {
        RN_STEP_TRY(unit_forward(b.u2, b.u1.out, skip, b.out));  // the add + ReLU inside the BN
      } else {
        RN_STEP_TRY(unit_forward(b.u2, b.u1.out));
        mark(kResidual);
        RN_STEP_TRY(B::add_relu_forward(ctx_, b.out_count(n), b.u2.out, skip, b.out));
      }
      h = b.out;
    }
    const int feat = 4 * cfg_.width, last_hw = blocks_.back().p * blocks_.back().p;
    mark(kHead);
    RN_STEP_TRY(B::global_avgpool_forward(ctx_, n, feat, last_hw, h, pooled_));
    RN_STEP_TRY(B::linear_forward(ctx_, n, feat, cfg_.classes, pooled_, fc_w_, fc_b_, logits_));
    RN_STEP_TRY(B::softmax_xent_forward(ctx_, n, cfg_.classes, logits_, labels_, loss_));
    // backward
    RN_STEP_TRY(B::softmax_xent_backward(ctx_, n, cfg_.classes, logits_, labels_, 1.0f, dlogits_));
    RN_STEP_TRY(B::linear_backward_weight(ctx_, n, feat, cfg_.classes, pooled_, dlogits_, d_fc_w_, d_fc_b_));
    RN_STEP_TRY(B::linear_backward_data(ctx_, n, feat, cfg_.classes, dlogits_, fc_w_, dpooled_));
    float* d_out = grad_a_;  // dL/d(block output), then the block's dL/dx in the other buffer
    float* d_in = grad_b_;
    mark(kHead);
    RN_STEP_TRY(B::global_avgpool_backward(ctx_, n, feat, last_hw, dpooled_, d_out));
    for (size_t i = blocks_.size(); i-- > 0;) {
      Block& b = blocks_[i];
      const float* x = i == 0 ? stem_.out : blocks_[i - 1].out;
      const bool sum_below = cfg_.residual_sum_backward && i > 0;  // x is the block below's relu(sum)
      mark(kResidual);
      if (!(cfg_.residual_sum_backward && i + 1 < blocks_.size()))  // else the block above wrote d_sum_
        RN_STEP_TRY(B::add_relu_backward(ctx_, b.out_count(n), b.out, d_out, d_sum_, nullptr));
      RN_STEP_TRY(unit_backward(b.u2, b.u1.out, d_sum_, d_act_));
      RN_STEP_TRY(unit_backward(b.u1, x, d_act_, d_x1_));
      const float* d_skip = d_sum_;
      if (b.reshape) {
        mark(kShortcut);
        RN_STEP_TRY(B::shortcut_a_backward(ctx_, n, b.cin, b.h, b.w, b.k, b.stride, d_sum_, d_skip_));
        d_skip = d_skip_;
      }
      mark(kResidual);
      if (sum_below) {  // in place over d_sum_ when the shortcut is the identity (d_skip == d_sum_)
        RN_STEP_TRY(B::relu_backward_sum(ctx_, int64_t(n) * b.cin * b.h * b.w, x, d_x1_, d_skip, d_sum_));
        continue;
      }
      RN_STEP_TRY(B::add(ctx_, int64_t(n) * b.cin * b.h * b.w, d_x1_, d_skip, d_in));
      std::swap(d_out, d_in);
    }
    return unit_backward(stem_, images_, d_out, nullptr);
  }

  int sgd(float lr, bool first_step) {
    const rn_sgd_params p{lr, cfg_.momentum, 0.0f, cfg_.weight_decay, cfg_.nesterov ? 1 : 0, first_step ? 1 : 0};
    mark(kSgd);
    RN_STEP_TRY(B::sgd_step(ctx_, &p, param_floats_, params_, grads_, velocity_));
    mark(kEnd);
    return RN_STATUS_OK;
  }
  void mark_stepped() { stepped_ = true; }

 private:
  struct Conv {
    rn_conv2d_desc d{};
    float* w = nullptr;
    float* dw = nullptr;
  };
  struct Bn {
    int c = 0, hw = 0, act = RN_ACT_NONE;
    float *gamma = nullptr, *beta = nullptr, *dgamma = nullptr, *dbeta = nullptr;
    float *rmean = nullptr, *rvar = nullptr, *smean = nullptr, *sinvstd = nullptr;
  };
  // conv -> BN (fused with act); pre = the conv's output (BN's input, read by backward)
  struct Unit {
    Conv conv;
    int bn_index = 0;
    float* pre = nullptr;
    float* out = nullptr;
    bool crelu_input = false;  // the conv reads crelu(x) of its K-channel input (crelu_in_conv)
    bool stores_u = false;     // a BN+CReLU unit writing u; the next conv forms the CReLU
  };
  struct Block {
    Unit u1, u2;
    bool reshape = false;
    int cin = 0, h = 0, w = 0, k = 0, stride = 1, p = 0;
    float* out = nullptr;
    int64_t out_count(int n) const { return int64_t(n) * k * p * p; }
  };
  // A planned piece: where its pointer goes and how many floats.
  struct Piece {
    float** at;
    size_t floats;
  };

  // residual (with out): the BN adds it and applies the ReLU, writing out (residual_in_bn).
  int unit_forward(Unit& u, const float* x, const float* residual = nullptr, float* out = nullptr) {
    const Bn& bn = bns_[size_t(u.bn_index)];
    mark(kConvForward);
    if (u.crelu_input)
      RN_STEP_TRY(B::conv2d_forward_crelu_input(ctx_, &u.conv.d, x, u.conv.w, nullptr, u.pre));
    else
      RN_STEP_TRY(B::conv2d_forward(ctx_, &u.conv.d, x, u.conv.w, nullptr, u.pre));
    mark(kNormForward);
    if (residual != nullptr)
      return B::batchnorm_forward_training_add_relu(ctx_, u.conv.d.n, bn.c, bn.hw, cfg_.bn_eps, cfg_.bn_momentum,
                                                    u.pre, bn.gamma, bn.beta, bn.rmean, bn.rvar, bn.smean,
                                                    bn.sinvstd, residual, out);
    return B::batchnorm_forward_training(ctx_, u.conv.d.n, bn.c, bn.hw, u.stores_u ? RN_ACT_NONE : bn.act,
                                         cfg_.bn_eps, cfg_.bn_momentum, u.pre, bn.gamma, bn.beta, bn.rmean, bn.rvar,
                                         bn.smean, bn.sinvstd, u.out);
  }
  // dy = dL/d(unit output); dx (nullptr for the stem) = dL/d(unit input).
  int unit_backward(Unit& u, const float* x, const float* dy, float* dx) {
    const Bn& bn = bns_[size_t(u.bn_index)];
    mark(kNormBackward);
    // stores_u: dy is dL/du already (the next conv folded the CReLU's gradient in)
    RN_STEP_TRY(B::batchnorm_backward(ctx_, u.conv.d.n, bn.c, bn.hw, u.stores_u ? RN_ACT_NONE : bn.act, u.pre,
                                      bn.gamma, bn.beta, bn.smean, bn.sinvstd, dy, d_pre_, bn.dgamma, bn.dbeta));
    mark(kConvBackwardFilter);
    if (u.crelu_input)
      RN_STEP_TRY(B::conv2d_backward_filter_crelu_input(ctx_, &u.conv.d, x, d_pre_, u.conv.dw, nullptr));
    else
      RN_STEP_TRY(B::conv2d_backward_filter(ctx_, &u.conv.d, x, d_pre_, u.conv.dw, nullptr));
    mark(kConvBackwardData);
    if (dx != nullptr && u.crelu_input)
      RN_STEP_TRY(B::conv2d_backward_data_crelu_input(ctx_, &u.conv.d, d_pre_, u.conv.w, x, dx));
    else if (dx != nullptr)
      RN_STEP_TRY(B::conv2d_backward_data(ctx_, &u.conv.d, d_pre_, u.conv.w, dx));
    return RN_STATUS_OK;
  }

  void mark(int op) {
    if (marker_ != nullptr) marker_(marker_user_, op);
  }

  static rn_conv2d_desc conv_desc(int n, int c, int hw, int k, int stride) {
    rn_conv2d_desc d{};
    d.n = n;
    d.c = c;
    d.h = d.w = hw;
    d.k = k;
    d.r = d.s = 3;
    d.stride_h = d.stride_w = stride;
    d.pad_h = d.pad_w = 1;
    d.p = d.q = (hw + 2 - 3) / stride + 1;
    d.algo = RN_CONV_ALGO_AUTO;
    return d;
  }

  // A conv + BN unit reading [n, c, hw, hw]: plans its parameters and buffers (no output
  // buffer with own_out false: its BN writes the block's output).
  void plan_unit(Unit& u, int c, int hw, int k, int stride, int act, bool own_out = true) {
    const int n = cfg_.batch;
    u.conv.d = conv_desc(n, c, hw, k, stride);
    const int p = u.conv.d.p;
    param(&u.conv.w, &u.conv.dw, size_t(k) * c * 9, Init::kHe, 9 * k);
    convs_.push_back(&u.conv);
    Bn bn;
    bn.c = k;
    bn.hw = p * p;
    bn.act = act;
    u.bn_index = int(bns_.size());
    bns_.push_back(bn);
    const size_t out_floats = size_t(n) * k * p * p;
    buffer(&u.pre, out_floats);
    if (own_out) buffer(&u.out, act == RN_ACT_CRELU && !u.stores_u ? 2 * out_floats : out_floats);
    largest_ = std::max(largest_, act == RN_ACT_CRELU ? 2 * out_floats : out_floats);  // its gradient
    largest_ = std::max(largest_, size_t(n) * c * hw * hw);
  }

  enum class Init { kHe, kOne, kZero, kLinear };
  struct ParamInit {
    float** at;
    float** grad_at;
    size_t floats;
    Init init;
    int fan;
  };
  void param(float** at, float** grad_at, size_t floats, Init init, int fan) {
    param_plan_.push_back({at, grad_at, floats, init, fan});
  }
  void buffer(float** at, size_t floats) { buffer_plan_.push_back({at, floats}); }
  static size_t round_up(size_t floats) { return (floats + 63) & ~size_t(63); }  // 256-byte pieces

  int build(uint64_t seed) {
    const int per_stage = cfg_.blocks_per_stage();
    if (cfg_.depth < 8 || (cfg_.depth - 2) % 6 != 0 || cfg_.batch < 1 || cfg_.hw < 4 || cfg_.width < 1 ||
        cfg_.classes < 2 || cfg_.channels < 1)
      return RN_STATUS_BAD_ARGUMENT;
    const int n = cfg_.batch, act = cfg_.crelu ? RN_ACT_CRELU : RN_ACT_RELU;
    blocks_.resize(size_t(3 * per_stage));  // sized once: the plan holds pointers into it
    plan_unit(stem_, cfg_.channels, cfg_.hw, cfg_.width, 1, RN_ACT_RELU);
    int c = cfg_.width, hw = cfg_.hw;
    size_t bi = 0;
    for (int stage = 0; stage < 3; ++stage) {
      const int k = cfg_.width << stage;
      for (int j = 0; j < per_stage; ++j, ++bi) {
        Block& b = blocks_[bi];
        b.stride = stage > 0 && j == 0 ? 2 : 1;
        b.cin = c;
        b.h = b.w = hw;
        b.k = k;
        b.reshape = b.stride != 1 || c != k;
        b.u1.stores_u = b.u2.crelu_input = cfg_.crelu && cfg_.crelu_in_conv;
        plan_unit(b.u1, c, hw, k, b.stride, act);
        b.p = b.u1.conv.d.p;
        plan_unit(b.u2, cfg_.crelu ? 2 * k : k, b.p, k, 1, RN_ACT_NONE, !cfg_.residual_in_bn);
        buffer(&b.out, size_t(n) * k * b.p * b.p);
        if (b.reshape) skip_floats_ = std::max(skip_floats_, size_t(n) * k * b.p * b.p);
        c = k;
        hw = b.p;
      }
    }
    const int feat = 4 * cfg_.width;
    param(&fc_w_, &d_fc_w_, size_t(cfg_.classes) * feat, Init::kLinear, feat);
    param(&fc_b_, &d_fc_b_, size_t(cfg_.classes), Init::kLinear, feat);
    for (Bn& bn : bns_) {
      param(&bn.gamma, &bn.dgamma, size_t(bn.c), Init::kOne, 0);
      param(&bn.beta, &bn.dbeta, size_t(bn.c), Init::kZero, 0);
      buffer(&bn.rmean, size_t(bn.c));
      buffer(&bn.rvar, size_t(bn.c));
      buffer(&bn.smean, size_t(bn.c));
      buffer(&bn.sinvstd, size_t(bn.c));
    }
    buffer(&images_, size_t(n) * cfg_.channels * cfg_.hw * cfg_.hw);
    buffer(reinterpret_cast<float**>(&labels_), size_t(n));  // int32, the size of a float
    buffer(&skip_, std::max<size_t>(skip_floats_, 1));
    buffer(&pooled_, size_t(n) * feat);
    buffer(&logits_, size_t(n) * cfg_.classes);
    buffer(&dlogits_, size_t(n) * cfg_.classes);
    buffer(&dpooled_, size_t(n) * feat);
    buffer(&loss_, 1);
    // Backward's working buffers, each as large as the largest activation.
    for (float** g : {&grad_a_, &grad_b_, &d_sum_, &d_act_, &d_x1_, &d_pre_, &d_skip_}) buffer(g, largest_);

    // One block: parameters, gradients and momentum buffers as three contiguous runs (one
    // fused SGD call), then the buffers.
    for (const ParamInit& pi : param_plan_) param_floats_ += int64_t(round_up(pi.floats));
    size_t floats = 3 * size_t(param_floats_);
    for (const Piece& pc : buffer_plan_) floats += round_up(pc.floats);
    block_bytes_ = floats * sizeof(float);
    void* mem = nullptr;
    RN_STEP_TRY(B::alloc(ctx_, block_bytes_, &mem));
    block_ = mem;
    if (cfg_.poison) RN_STEP_TRY(B::fill_nan(ctx_, mem, block_bytes_));
    float* base = static_cast<float*>(mem);
    params_ = base;
    grads_ = base + param_floats_;
    velocity_ = base + 2 * param_floats_;
    size_t at = 0;
    for (const ParamInit& pi : param_plan_) {
      *pi.at = params_ + at;
      *pi.grad_at = grads_ + at;
      at += round_up(pi.floats);
    }
    at = 3 * size_t(param_floats_);
    for (const Piece& pc : buffer_plan_) {
      *pc.at = base + at;
      at += round_up(pc.floats);
    }

    // Initial values, made on the host and copied over once. The padding between
    // pieces is zero in the parameters and the gradients, so the fused SGD keeps it zero.
    std::mt19937_64 rng(seed);
    std::vector<float> host(size_t(param_floats_), 0.0f);
    size_t off = 0;
    for (const ParamInit& pi : param_plan_) {
      float* v = host.data() + off;
      switch (pi.init) {
        case Init::kHe: {  // fb.resnet.torch: N(0, sqrt(2 / (kh * kw * out_channels)))
          std::normal_distribution<float> g(0.0f, std::sqrt(2.0f / float(pi.fan)));
          for (size_t i = 0; i < pi.floats; ++i) v[i] = g(rng);
          break;
        }
        case Init::kLinear: {  // PyTorch nn.Linear: U(-1/sqrt(in), 1/sqrt(in))
          const float bound = 1.0f / std::sqrt(float(pi.fan));
          std::uniform_real_distribution<float> u(-bound, bound);
          for (size_t i = 0; i < pi.floats; ++i) v[i] = u(rng);
          break;
        }
        case Init::kOne:
          for (size_t i = 0; i < pi.floats; ++i) v[i] = 1.0f;
          break;
        case Init::kZero:
          break;
      }
      off += round_up(pi.floats);
    }
    RN_STEP_TRY(B::upload(ctx_, params_, host.data(), host.size() * sizeof(float)));
    std::fill(host.begin(), host.end(), 0.0f);
    RN_STEP_TRY(B::upload(ctx_, grads_, host.data(), host.size() * sizeof(float)));
    RN_STEP_TRY(B::upload(ctx_, velocity_, host.data(), host.size() * sizeof(float)));
    for (const Bn& bn : bns_) {
      const std::vector<float> zeros(size_t(bn.c), 0.0f), ones(size_t(bn.c), 1.0f);
      RN_STEP_TRY(B::upload(ctx_, bn.rmean, zeros.data(), zeros.size() * sizeof(float)));
      RN_STEP_TRY(B::upload(ctx_, bn.rvar, ones.data(), ones.size() * sizeof(float)));
    }
    return RN_STATUS_OK;
  }

  Ctx* ctx_;
  Config cfg_;
  Marker marker_ = nullptr;
  void* marker_user_ = nullptr;
  int status_ = RN_STATUS_OK;
  bool stepped_ = false;
  void* block_ = nullptr;
  size_t block_bytes_ = 0;
  std::vector<ParamInit> param_plan_;
  std::vector<Piece> buffer_plan_;
  int64_t param_floats_ = 0;
  size_t largest_ = 0, skip_floats_ = 0;
  float *params_ = nullptr, *grads_ = nullptr, *velocity_ = nullptr;
  Unit stem_;
  std::vector<Block> blocks_;
  std::vector<Bn> bns_;  // filled while planning; pointers into it are planned only after it is complete
  std::vector<const Conv*> convs_;
  float *fc_w_ = nullptr, *fc_b_ = nullptr, *d_fc_w_ = nullptr, *d_fc_b_ = nullptr;
  float* images_ = nullptr;
  int32_t* labels_ = nullptr;
  float *skip_ = nullptr, *pooled_ = nullptr, *logits_ = nullptr, *dlogits_ = nullptr, *dpooled_ = nullptr;
  float* loss_ = nullptr;
  float *grad_a_ = nullptr, *grad_b_ = nullptr, *d_sum_ = nullptr, *d_act_ = nullptr, *d_x1_ = nullptr,
        *d_pre_ = nullptr, *d_skip_ = nullptr;
};

#undef RN_STEP_TRY

}  // namespace rn::step
