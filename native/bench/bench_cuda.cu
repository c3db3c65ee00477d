// CUDA kernel benchmark at the shapes of ResNet-110 on CIFAR, batch 128 (the 3x3 convs
// with 16/32/64 channels at 32/16/8 px, the stride-2 transitions, BN + ReLU / CReLU, the
// residual add + ReLU, shortcut A, pooling, the classifier, SGD over the 1.7M
// parameters): ms per call (CUDA events on the library's stream), GFLOP/s for the
// convs and the linear layer, GB/s of the bytes each op must move (both passes for the
// two-pass ops), and that as a share of the card's measured device-to-device copy
// bandwidth. Each conv row (forward, backward-data, backward-filter) also gets cuDNN's
// fastest algorithm for that shape and math mode (cuDNN loaded at run time,
// include/resnorm/cuda_cudnn.h: $RESNORM_CUDNN_LIB or libcudnn.so.9), its time, resnorm's
// speed relative to it (the target: >= 0.8x) and the relative difference of the two
// outputs (a cheap sanity check); without cuDNN the table is the same less those columns.
// Prints a markdown table (and writes it to the file named by argv[1]).
//   bench_cuda [out.md] [--quick] [--only TEXT]
// --only runs just the rows whose "op shape" contains TEXT (e.g. "bwd-filter+bias fp32 16->16"),
// to put one kernel under a profiler (ncu -k regex:gemm bench_cuda --only ...).
// Linked with the library's objects (one CUDA runtime in the process).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "resnorm/cuda.h"
#include "resnorm/cuda_cudnn.h"
#include "resnorm/weightnorm_conv.h"

namespace {

bool quick = false;
std::string only;  // --only: the rows run
bool with_cudnn = false;  // rn_cudnn_load succeeded

void die(const char* what, int st) {
  std::fprintf(stderr, "bench_cuda: %s failed (status %d)\n", what, st);
  std::exit(1);
}

struct Row {
  std::string op, shape;
  double ms, flops, bytes;  // per call
  // The same op with cuDNN (conv rows, when cuDNN is loaded): its time, its algorithm,
  // ||resnorm - cuDNN|| / ||cuDNN|| of the outputs.
  double cudnn_ms = -1.0, rel_err = -1.0;
  std::string cudnn_algo, cudnn_error;  // error: cuDNN failed on this op (rn_cudnn_error)
};

// ||a - b|| / ||b|| over n floats of device memory.
double rel_difference(rn_cuda_context* ctx, const float* a, const float* b, size_t n) {
  std::vector<float> ha(n), hb(n);
  if (rn_cuda_copy_to_host(ctx, ha.data(), a, n * sizeof(float)) != RN_STATUS_OK ||
      rn_cuda_copy_to_host(ctx, hb.data(), b, n * sizeof(float)) != RN_STATUS_OK)
    return -1.0;
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const double d = double(ha[i]) - double(hb[i]);
    num += d * d;
    den += double(hb[i]) * hb[i];
  }
  return den > 0.0 ? std::sqrt(num / den) : std::sqrt(num);
}

class Bench {
 public:
  explicit Bench(rn_cuda_context* ctx) : ctx_(ctx), stream_(static_cast<cudaStream_t>(rn_cuda_context_stream(ctx))) {
    cudaEventCreate(&start_);
    cudaEventCreate(&stop_);
  }
  ~Bench() {
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }

  // Device memory from the context's pool (reset between groups), filled with U(-1, 1).
  float* tensor(size_t n, float lo = -1.0f, float hi = 1.0f) {
    void* p = nullptr;
    if (int st = rn_cuda_pool_alloc(ctx_, n * sizeof(float), &p); st != RN_STATUS_OK) die("pool_alloc", st);
    std::vector<float> host(n);
    std::uniform_real_distribution<float> u(lo, hi);
    for (float& f : host) f = u(rng_);
    if (int st = rn_cuda_copy_to_device(ctx_, p, host.data(), n * sizeof(float)); st != RN_STATUS_OK)
      die("copy_to_device", st);
    return static_cast<float*>(p);
  }
  int32_t* ints(size_t n, int32_t mod) {
    void* p = nullptr;
    if (int st = rn_cuda_pool_alloc(ctx_, n * sizeof(int32_t), &p); st != RN_STATUS_OK) die("pool_alloc", st);
    std::vector<int32_t> host(n);
    for (size_t i = 0; i < n; ++i) host[i] = int32_t(rng_() % uint64_t(mod));
    rn_cuda_copy_to_device(ctx_, p, host.data(), n * sizeof(int32_t));
    return static_cast<int32_t*>(p);
  }
  void reset() {
    sync("reset");
    rn_cuda_pool_reset(ctx_);
  }
  void sync(const char* what) {
    if (int st = rn_cuda_synchronize(ctx_); st != RN_STATUS_OK) die(what, st);
  }

  // Times f (enqueues one call, returns its status): warm-up, then enough repetitions
  // for ~25 ms (at least 3, at most 200) between two events.
  void run(const std::string& op, const std::string& shape, double flops, double bytes, const std::function<int()>& f) {
    skipped_ = !only.empty() && (op + " " + shape).find(only) == std::string::npos;
    if (skipped_) return;
    const double ms = time_ms(op, f);
    rows_.push_back(Row{op, shape, ms, flops, bytes, -1.0, -1.0, {}, {}});
    std::fprintf(stderr, "  %-34s %-28s %9.4f ms\n", op.c_str(), shape.c_str(), ms);
  }

  // The last row's op with cuDNN: f runs it (the first call searches cuDNN's algorithms);
  // then each (resnorm output, cuDNN output, count) pair is compared once, the largest
  // relative difference kept. A cuDNN failure is noted in the row, not fatal.
  struct Pair {
    const float* resnorm;
    const float* cudnn;
    size_t count;
  };
  void versus_cudnn(const rn_conv2d_desc& d, int direction, const std::function<int()>& f,
                    std::initializer_list<Pair> outputs) {
    if (!with_cudnn || skipped_) return;
    Row& row = rows_.back();
    if (int st = f(); st != RN_STATUS_OK) {
      row.cudnn_error = "status " + std::to_string(st) + ": " + rn_cudnn_error();
      std::fprintf(stderr, "  %-34s FAILED: %s\n", "  cuDNN", row.cudnn_error.c_str());
      sync("after a failed cuDNN call");
      return;
    }
    row.cudnn_ms = time_ms(row.op + " (cuDNN)", f);
    rn_cudnn_algo_info info;
    if (rn_cudnn_conv2d_algo(ctx_, &d, direction, &info) == RN_STATUS_OK) row.cudnn_algo = info.name;
    row.rel_err = 0.0;
    for (const Pair& p : outputs) row.rel_err = std::max(row.rel_err, rel_difference(ctx_, p.resnorm, p.cudnn, p.count));
    std::fprintf(stderr, "  %-34s %-28s %9.4f ms  rel. difference %.2e\n", ("  cuDNN " + row.cudnn_algo).c_str(),
                 row.shape.c_str(), row.cudnn_ms, row.rel_err);
  }

  double time_ms(const std::string& op, const std::function<int()>& f) {
    for (int i = 0; i < 2; ++i)
      if (int st = f(); st != RN_STATUS_OK) die(op.c_str(), st);
    sync(op.c_str());
    cudaEventRecord(start_, stream_);
    if (int st = f(); st != RN_STATUS_OK) die(op.c_str(), st);
    cudaEventRecord(stop_, stream_);
    cudaEventSynchronize(stop_);
    float one = 0.0f;
    cudaEventElapsedTime(&one, start_, stop_);
    const double budget = quick ? 5.0 : 25.0;
    const int reps = std::max(3, std::min(200, int(budget / std::max(one, 1e-3f))));
    cudaEventRecord(start_, stream_);
    for (int i = 0; i < reps; ++i)
      if (int st = f(); st != RN_STATUS_OK) die(op.c_str(), st);
    cudaEventRecord(stop_, stream_);
    cudaEventSynchronize(stop_);
    float total = 0.0f;
    cudaEventElapsedTime(&total, start_, stop_);
    sync(op.c_str());
    return double(total) / reps;
  }

  // Device-to-device copy bandwidth (read + write bytes per second), GB/s.
  double copy_bandwidth() {
    const size_t bytes = size_t(quick ? 64 : 256) << 20;
    void *a = nullptr, *b = nullptr;
    if (cudaMalloc(&a, bytes) != cudaSuccess || cudaMalloc(&b, bytes) != cudaSuccess) die("cudaMalloc", 2);
    cudaMemsetAsync(a, 0, bytes, stream_);
    cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, stream_);
    const int reps = 20;
    cudaEventRecord(start_, stream_);
    for (int i = 0; i < reps; ++i) cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, stream_);
    cudaEventRecord(stop_, stream_);
    cudaEventSynchronize(stop_);
    float ms = 0.0f;
    cudaEventElapsedTime(&ms, start_, stop_);
    cudaFree(a);
    cudaFree(b);
    return 2.0 * double(bytes) * reps / (double(ms) * 1e-3) / 1e9;
  }

  const std::vector<Row>& rows() const { return rows_; }

 private:
  rn_cuda_context* ctx_;
  cudaStream_t stream_;
  cudaEvent_t start_, stop_;
  std::mt19937_64 rng_{42};
  std::vector<Row> rows_;
  bool skipped_ = false;  // the last run() was left out by --only
};

rn_conv2d_desc conv(int n, int c, int hw, int k, int r, int stride, int pad) {
  rn_conv2d_desc d{};
  d.n = n, d.c = c, d.h = d.w = hw, d.k = k, d.r = d.s = r;
  d.stride_h = d.stride_w = stride, d.pad_h = d.pad_w = pad;
  d.p = d.q = (hw + 2 * pad - r) / stride + 1;
  d.algo = RN_CONV_ALGO_AUTO;
  return d;
}

std::string conv_shape(const rn_conv2d_desc& d, bool crelu_input = false) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%d%s->%d %dx%d@%d s%d", crelu_input ? d.c / 2 : d.c, crelu_input ? "x2" : "", d.k,
                d.r, d.s, d.h, d.stride_h);
  return buf;
}

void bench_convs(Bench& b, rn_cuda_context* ctx, const char* mode) {
  const int n = 128;
  struct Spec {
    int c, hw, k, r, stride, pad;
  };
  const Spec specs[] = {
      {3, 32, 16, 3, 1, 1},   // stem
      {16, 32, 16, 3, 1, 1},  // stage 1
      {16, 32, 32, 3, 2, 1},  // transition 1 -> 2
      {32, 16, 32, 3, 1, 1},  // stage 2
      {32, 16, 64, 3, 2, 1},  // transition 2 -> 3
      {64, 8, 64, 3, 1, 1},   // stage 3
  };
  const std::string m(mode);
  for (const Spec& s : specs) {
    b.reset();
    const rn_conv2d_desc d = conv(n, s.c, s.hw, s.k, s.r, s.stride, s.pad);
    const double xs = double(d.n) * d.c * d.h * d.w, ws = double(d.k) * d.c * d.r * d.s,
                 ys = double(d.n) * d.k * d.p * d.q;
    const double flops = 2.0 * d.n * d.k * d.c * d.r * d.s * d.p * d.q;
    float* x = b.tensor(size_t(xs));
    float* w = b.tensor(size_t(ws));
    float* y = b.tensor(size_t(ys));
    float* dy = b.tensor(size_t(ys));
    float* dx = b.tensor(size_t(xs));
    float* dw = b.tensor(size_t(ws));
    float* db = b.tensor(size_t(d.k));
    // cuDNN's outputs, beside resnorm's (compared once per shape).
    float* y_c = with_cudnn ? b.tensor(size_t(ys)) : nullptr;
    float* dx_c = with_cudnn ? b.tensor(size_t(xs)) : nullptr;
    float* dw_c = with_cudnn ? b.tensor(size_t(ws)) : nullptr;
    float* db_c = with_cudnn ? b.tensor(size_t(d.k)) : nullptr;
    const std::string shape = conv_shape(d);
    b.run("conv fwd " + m, shape, flops, 4 * (xs + ws + ys),
          [&] { return rn_cuda_conv2d_forward(ctx, &d, x, w, nullptr, y); });
    b.versus_cudnn(d, 0, [&] { return rn_cudnn_conv2d_forward(ctx, &d, x, w, nullptr, y_c); },
                   {{y, y_c, size_t(ys)}});
    b.run("conv bwd-data " + m, shape, flops, 4 * (xs + ws + ys),
          [&] { return rn_cuda_conv2d_backward_data(ctx, &d, dy, w, dx); });
    b.versus_cudnn(d, 1, [&] { return rn_cudnn_conv2d_backward_data(ctx, &d, dy, w, dx_c); },
                   {{dx, dx_c, size_t(xs)}});
    b.run("conv bwd-filter+bias " + m, shape, flops, 4 * (xs + ws + 2 * ys),
          [&] { return rn_cuda_conv2d_backward_filter(ctx, &d, x, dy, dw, db); });
    b.versus_cudnn(d, 2, [&] { return rn_cudnn_conv2d_backward_filter(ctx, &d, x, dy, dw_c, db_c); },
                   {{dw, dw_c, size_t(ws)}, {db, db_c, size_t(d.k)}});
  }
  // The CReLU consumer: conv of crelu(x) from the 16-channel pre-activation (32 inputs).
  for (const Spec& s : {Spec{16, 32, 16, 3, 1, 1}, Spec{64, 8, 64, 3, 1, 1}}) {
    b.reset();
    const rn_conv2d_desc d = conv(n, 2 * s.c, s.hw, s.k, s.r, s.stride, s.pad);
    const double xs = double(d.n) * s.c * d.h * d.w, ws = double(d.k) * d.c * d.r * d.s,
                 ys = double(d.n) * d.k * d.p * d.q;
    const double flops = 2.0 * d.n * d.k * d.c * d.r * d.s * d.p * d.q;
    float* x = b.tensor(size_t(xs));
    float* w = b.tensor(size_t(ws));
    float* y = b.tensor(size_t(ys));
    float* dy = b.tensor(size_t(ys));
    float* dw = b.tensor(size_t(ws));
    const std::string shape = conv_shape(d, true);
    b.run("conv fwd crelu-input " + m, shape, flops, 4 * (xs + ws + ys),
          [&] { return rn_cuda_conv2d_forward_crelu_input(ctx, &d, x, w, nullptr, y); });
    b.run("conv bwd-filter crelu-input " + m, shape, flops, 4 * (xs + ws + ys),
          [&] { return rn_cuda_conv2d_backward_filter_crelu_input(ctx, &d, x, dy, dw, nullptr); });
  }
  // The fused epilogue and the weight-normalized conv (NormProp, CReLU) at stage 1.
  {
    b.reset();
    const rn_conv2d_desc d = conv(n, 16, 32, 16, 3, 1, 1);
    const double xs = double(d.n) * d.c * d.h * d.w, ws = double(d.k) * d.c * d.r * d.s,
                 ys = double(d.n) * d.k * d.p * d.q;
    const double flops = 2.0 * d.n * d.k * d.c * d.r * d.s * d.p * d.q;
    float* x = b.tensor(size_t(xs));
    float* w = b.tensor(size_t(ws));
    float* scale = b.tensor(size_t(d.k), 0.5f, 1.5f);
    float* bias = b.tensor(size_t(d.k));
    float* y2 = b.tensor(size_t(2 * ys));
    float* dy2 = b.tensor(size_t(2 * ys));
    float* du = b.tensor(size_t(ys));
    float* dx = b.tensor(size_t(xs));
    float* dv = b.tensor(size_t(ws));
    float* dg = b.tensor(size_t(d.k));
    float* dbt = b.tensor(size_t(d.k));
    const rn_conv2d_epilogue ep{scale, bias, RN_ACT_CRELU, 1.0f, 0.0f};
    const std::string shape = conv_shape(d) + " crelu";
    b.run("conv fwd+scale,bias,crelu " + m, shape, flops, 4 * (xs + ws + 2 * ys),
          [&] { return rn_cuda_conv2d_forward_epilogue(ctx, &d, x, w, &ep, y2); });
    const float ps = 1.0f / RN_NORMPROP_RELU_STD, pt = -RN_NORMPROP_RELU_MEAN / RN_NORMPROP_RELU_STD;
    b.run("wnconv fwd (normprop) " + m, shape, flops, 4 * (xs + ws + 2 * ys),
          [&] { return rn_cuda_wnconv_forward(ctx, &d, RN_ACT_CRELU, ps, pt, x, w, scale, bias, y2); });
    b.run("wnconv bwd (normprop) " + m, shape, 2 * flops, 4 * (2 * xs + 2 * ws + 5 * ys), [&] {
      return rn_cuda_wnconv_backward(ctx, &d, RN_ACT_CRELU, ps, pt, x, w, scale, y2, dy2, du, dx, dv, dg, dbt);
    });
  }
}

void bench_norm(Bench& b, rn_cuda_context* ctx) {
  const int n = 128;
  struct Spec {
    int c, hw;
  };
  for (const Spec& s : {Spec{16, 1024}, Spec{32, 256}, Spec{64, 64}}) {
    b.reset();
    const double xs = double(n) * s.c * s.hw;
    float* x = b.tensor(size_t(xs));
    float* y = b.tensor(size_t(2 * xs));
    float* dy = b.tensor(size_t(2 * xs));
    float* dx = b.tensor(size_t(xs));
    float* gamma = b.tensor(s.c, 0.5f, 1.5f);
    float* beta = b.tensor(s.c);
    float* rm = b.tensor(s.c);
    float* rv = b.tensor(s.c, 0.5f, 1.5f);
    float* sm = b.tensor(s.c);
    float* si = b.tensor(s.c);
    float* dg = b.tensor(s.c);
    float* db = b.tensor(s.c);
    char shape[64];
    std::snprintf(shape, sizeof shape, "%dx%dx%d", n, s.c, s.hw);
    for (int act : {RN_ACT_RELU, RN_ACT_CRELU}) {
      const int out = act == RN_ACT_CRELU ? 2 : 1;
      const std::string a = act == RN_ACT_CRELU ? "crelu" : "relu";
      b.run("bn+" + a + " fwd (train)", shape, 0, 4 * (2 * xs + out * xs), [&] {
        return rn_cuda_batchnorm_forward_training(ctx, n, s.c, s.hw, act, 1e-5f, 0.1f, x, gamma, beta, rm, rv, sm, si,
                                                  y);
      });
      b.run("bn+" + a + " bwd", shape, 0, 4 * (2 * xs + 2 * out * xs + xs), [&] {
        return rn_cuda_batchnorm_backward(ctx, n, s.c, s.hw, act, x, gamma, beta, sm, si, dy, dx, dg, db);
      });
      b.run("bn+" + a + " fwd (inference)", shape, 0, 4 * (xs + out * xs), [&] {
        return rn_cuda_batchnorm_forward_inference(ctx, n, s.c, s.hw, act, 1e-5f, x, gamma, beta, rm, rv, y);
      });
    }
    const int64_t count = int64_t(xs);
    b.run("add+relu fwd", shape, 0, 4 * 3 * xs, [&] { return rn_cuda_add_relu_forward(ctx, count, x, dx, y); });
    b.run("add+relu bwd", shape, 0, 4 * 4 * xs, [&] { return rn_cuda_add_relu_backward(ctx, count, x, dy, dx, y); });
    b.run("crelu fwd (unfused)", shape, 0, 4 * 3 * xs, [&] { return rn_cuda_crelu_forward(ctx, n, s.c, s.hw, x, y); });
  }
}

void bench_rest(Bench& b, rn_cuda_context* ctx) {
  const int n = 128;
  // Shortcut A at the two transitions.
  for (int c : {16, 32}) {
    b.reset();
    const int hw = c == 16 ? 32 : 16;
    const double xs = double(n) * c * hw * hw, ys = double(n) * 2 * c * (hw / 2) * (hw / 2);
    float* x = b.tensor(size_t(xs));
    float* y = b.tensor(size_t(ys));
    char shape[64];
    std::snprintf(shape, sizeof shape, "%d->%d @%d s2", c, 2 * c, hw);
    b.run("shortcut A fwd", shape, 0, 4 * (ys + ys / 2),
          [&] { return rn_cuda_shortcut_a_forward(ctx, n, c, hw, hw, 2 * c, 2, x, y); });
    b.run("shortcut A bwd", shape, 0, 4 * (xs + ys / 2),
          [&] { return rn_cuda_shortcut_a_backward(ctx, n, c, hw, hw, 2 * c, 2, y, x); });
  }
  // Head: global average pool, linear 64 -> 10, softmax cross-entropy.
  {
    b.reset();
    const double xs = double(n) * 64 * 64;
    float* x = b.tensor(size_t(xs));
    float* pooled = b.tensor(size_t(n) * 64);
    float* w = b.tensor(640);
    float* bias = b.tensor(10);
    float* logits = b.tensor(size_t(n) * 10);
    float* dlogits = b.tensor(size_t(n) * 10);
    float* dw = b.tensor(640);
    float* dbias = b.tensor(10);
    float* loss = b.tensor(1);
    int32_t* labels = b.ints(n, 10);
    b.run("global avgpool fwd", "128x64x8x8", 0, 4 * (xs + n * 64),
          [&] { return rn_cuda_global_avgpool_forward(ctx, n, 64, 64, x, pooled); });
    b.run("global avgpool bwd", "128x64x8x8", 0, 4 * (xs + n * 64),
          [&] { return rn_cuda_global_avgpool_backward(ctx, n, 64, 64, pooled, x); });
    b.run("linear fwd", "128x64->10", 2.0 * n * 64 * 10, 4 * (n * 64 + 640 + n * 10),
          [&] { return rn_cuda_linear_forward(ctx, n, 64, 10, pooled, w, bias, logits); });
    b.run("linear bwd-data", "128x64->10", 2.0 * n * 64 * 10, 4 * (n * 64 + 640 + n * 10),
          [&] { return rn_cuda_linear_backward_data(ctx, n, 64, 10, dlogits, w, pooled); });
    b.run("linear bwd-weight+bias", "128x64->10", 2.0 * n * 64 * 10, 4 * (n * 64 + 640 + n * 10),
          [&] { return rn_cuda_linear_backward_weight(ctx, n, 64, 10, pooled, dlogits, dw, dbias); });
    b.run("softmax xent fwd", "128x10", 0, 4 * (n * 10 + n),
          [&] { return rn_cuda_softmax_xent_forward(ctx, n, 10, logits, labels, loss); });
    b.run("softmax xent bwd", "128x10", 0, 4 * (2 * n * 10 + n),
          [&] { return rn_cuda_softmax_xent_backward(ctx, n, 10, logits, labels, 1.0f, dlogits); });
  }
  // Max pool 3x3/2 (the ImageNet stem's, at batch 32).
  {
    b.reset();
    const int mn = 32, c = 64, hw = 112, p = 56;
    const double xs = double(mn) * c * hw * hw, ys = double(mn) * c * p * p;
    float* x = b.tensor(size_t(xs));
    float* y = b.tensor(size_t(ys));
    float* dx = b.tensor(size_t(xs));
    void* a = nullptr;
    rn_cuda_pool_alloc(ctx, size_t(ys) * sizeof(int32_t), &a);
    int32_t* argmax = static_cast<int32_t*>(a);
    b.run("maxpool 3x3/2 fwd", "32x64x112x112", 0, 4 * (xs + 2 * ys),
          [&] { return rn_cuda_maxpool2d_forward(ctx, mn, c, hw, hw, 3, 2, 1, x, y, argmax); });
    b.run("maxpool 3x3/2 bwd", "32x64x112x112", 0, 4 * (xs + 2 * ys),
          [&] { return rn_cuda_maxpool2d_backward(ctx, mn, c, hw, hw, 3, 2, 1, argmax, y, dx); });
  }
  // SGD over ResNet-110's parameters (1.73M), momentum 0.9, weight decay 1e-4.
  {
    b.reset();
    const int64_t count = 1730714;
    float* p = b.tensor(size_t(count));
    float* g = b.tensor(size_t(count));
    float* v = b.tensor(size_t(count));
    const rn_sgd_params prm{0.1f, 0.9f, 0.0f, 1e-4f, 0, 0};
    b.run("sgd step (fused)", "1.73M params", 0, 4.0 * 5 * count,
          [&] { return rn_cuda_sgd_step(ctx, &prm, count, p, g, v); });
  }
}

}  // namespace

int main(int argc, char** argv) {
  const char* out_path = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0)
      quick = true;
    else if (std::strcmp(argv[i], "--only") == 0) {
      if (i + 1 == argc) {
        std::fprintf(stderr, "usage: bench_cuda [out.md] [--quick] [--only TEXT]\n");
        return 2;
      }
      only = argv[++i];
    } else
      out_path = argv[i];
  }
  rn_cuda_context* ctx = nullptr;
  const int st = rn_cuda_context_create(0, &ctx);
  if (st == RN_STATUS_UNSUPPORTED) {
    std::printf("bench_cuda: skipped: no CUDA device (rn_cuda_device_count = %d)\n", rn_cuda_device_count());
    return 0;
  }
  if (st != RN_STATUS_OK) die("context_create", st);
  if (int s = rn_cuda_pool_reserve(ctx, size_t(768) << 20); s != RN_STATUS_OK) die("pool_reserve", s);
  // cuDNN, when it can be loaded: the baseline column of the conv rows.
  std::string cudnn_line;
  with_cudnn = rn_cudnn_load(nullptr) == RN_STATUS_OK;
  if (with_cudnn)
    cudnn_line = std::string("cuDNN: ") + rn_cudnn_info();
  else
    cudnn_line = std::string("cuDNN: not loaded (") + rn_cudnn_error() + ")";
  std::fprintf(stderr, "bench_cuda: %s\n", cudnn_line.c_str());
  Bench b(ctx);
  const double copy_gbs = b.copy_bandwidth();
  std::fprintf(stderr, "bench_cuda: %s, device-to-device copy %.0f GB/s\n", rn_cuda_context_device_name(ctx),
               copy_gbs);
  bench_convs(b, ctx, "fp32");
  if (rn_cuda_context_set_math(ctx, RN_CUDA_MATH_TF32) == RN_STATUS_OK) {
    bench_convs(b, ctx, "tf32");
    rn_cuda_context_set_math(ctx, RN_CUDA_MATH_FP32);
  }
  bench_norm(b, ctx);
  bench_rest(b, ctx);
  b.reset();

  std::string md;
  char line[1024];
  cudaDeviceProp prop;
  cudaGetDeviceProperties(&prop, rn_cuda_context_device(ctx));
  int rt = 0;
  cudaRuntimeGetVersion(&rt);
  std::snprintf(line, sizeof line,
                "### resnorm CUDA kernels: %s (sm_%d%d, %d SMs), CUDA runtime %d\n\n"
                "ResNet-110 (CIFAR) shapes at batch 128 unless stated. Device-to-device copy bandwidth "
                "(read + write): **%.0f GB/s**. GB/s counts the bytes an op must move (both passes of the "
                "two-pass ops: batch norm reads x twice); %%copy is that against the copy bandwidth.\n\n",
                prop.name, prop.major, prop.minor, prop.multiProcessorCount, rt, copy_gbs);
  md += line;
  md += cudnn_line + "\n\n";
  if (with_cudnn)
    md += "Conv rows: cuDNN's fastest algorithm for the shape and math mode (cudnnFind*AlgorithmEx; FP32 rows "
          "with CUDNN_FMA_MATH, TF32 rows with CUDNN_DEFAULT_MATH), its time, resnorm's speed as a multiple of "
          "cuDNN's (target >= 0.8x), and ||resnorm - cuDNN|| / ||cuDNN|| of the outputs.\n\n"
          "| op | shape | ms | GFLOP/s | GB/s | %copy | cuDNN ms | cuDNN algo | speed vs cuDNN | rel. diff |\n"
          "|---|---|---:|---:|---:|---:|---:|---|---:|---:|\n";
  else
    md += "| op | shape | ms | GFLOP/s | GB/s | %copy |\n|---|---|---:|---:|---:|---:|\n";
  int compared = 0, on_target = 0;
  std::string below, failures;
  for (const Row& r : b.rows()) {
    const double gflops = r.flops > 0 ? r.flops / (r.ms * 1e-3) / 1e9 : 0.0;
    const double gbs = r.bytes / (r.ms * 1e-3) / 1e9;
    char gf[32] = "-";
    if (gflops > 0) std::snprintf(gf, sizeof gf, "%.0f", gflops);
    std::snprintf(line, sizeof line, "| %s | %s | %.4f | %s | %.0f | %.0f%% |", r.op.c_str(), r.shape.c_str(), r.ms,
                  gf, gbs, 100.0 * gbs / copy_gbs);
    md += line;
    if (with_cudnn) {
      if (r.cudnn_ms > 0.0) {
        const double speed = r.cudnn_ms / r.ms;
        std::snprintf(line, sizeof line, " %.4f | %s | %.2fx | %.1e |", r.cudnn_ms, r.cudnn_algo.c_str(), speed,
                      r.rel_err);
        ++compared;
        if (speed >= 0.8)
          ++on_target;
        else
          below += "\n- " + r.op + " " + r.shape;
      } else {
        std::snprintf(line, sizeof line, " - | %s | - | - |", r.cudnn_error.empty() ? "-" : "failed");
        if (!r.cudnn_error.empty()) failures += "\n- " + r.op + " " + r.shape + ": " + r.cudnn_error;
      }
      md += line;
    }
    md += "\n";
  }
  if (with_cudnn) {
    std::snprintf(line, sizeof line, "\nresnorm conv at >= 0.8x cuDNN's speed: %d of %d rows.", on_target, compared);
    md += line;
    md += below.empty() ? std::string("\n") : " Below:" + below + "\n";
    if (!failures.empty()) md += "\ncuDNN failed on:" + failures + "\n";
  }
  std::fputs(md.c_str(), stdout);
  if (out_path != nullptr) {
    FILE* f = std::fopen(out_path, "w");
    if (f == nullptr) {
      std::fprintf(stderr, "bench_cuda: cannot write %s\n", out_path);
    } else {
      std::fputs(md.c_str(), f);
      std::fclose(f);
    }
  }
  rn_cuda_context_destroy(ctx);
  return 0;
}
