// CUDA kernel benchmark at the shapes of ResNet-110 on CIFAR, batch 128 (the 3x3 convs
// with 16/32/64 channels at 32/16/8 px, the stride-2 transitions, BN + ReLU / CReLU, the
// residual add + ReLU, shortcut A, pooling, the classifier, SGD over the 1.7M
// parameters): ms per call (CUDA events on the library's stream), GFLOP/s for the
// convs and the linear layer, GB/s of the bytes each op must move (both passes for the
// two-pass ops), and that as a share of the card's measured device-to-device copy
// bandwidth. Prints a markdown table (and writes it to the file named by argv[1]).
//   bench_cuda [out.md] [--quick]
// Linked with the library's objects (one CUDA runtime in the process).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "resnorm/cuda.h"
#include "resnorm/weightnorm_conv.h"

namespace {

bool quick = false;

void die(const char* what, int st) {
  std::fprintf(stderr, "bench_cuda: %s failed (status %d)\n", what, st);
  std::exit(1);
}

struct Row {
  std::string op, shape;
  double ms, flops, bytes;  // per call
};

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
    rows_.push_back(Row{op, shape, double(total) / reps, flops, bytes});
    std::fprintf(stderr, "  %-34s %-28s %9.4f ms\n", op.c_str(), shape.c_str(), double(total) / reps);
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
    const std::string shape = conv_shape(d);
    b.run("conv fwd " + m, shape, flops, 4 * (xs + ws + ys),
          [&] { return rn_cuda_conv2d_forward(ctx, &d, x, w, nullptr, y); });
    b.run("conv bwd-data " + m, shape, flops, 4 * (xs + ws + ys),
          [&] { return rn_cuda_conv2d_backward_data(ctx, &d, dy, w, dx); });
    b.run("conv bwd-filter+bias " + m, shape, flops, 4 * (xs + ws + 2 * ys),
          [&] { return rn_cuda_conv2d_backward_filter(ctx, &d, x, dy, dw, db); });
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
    else
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
                "two-pass ops: batch norm reads x twice); %%copy is that against the copy bandwidth.\n\n"
                "| op | shape | ms | GFLOP/s | GB/s | %%copy |\n|---|---|---:|---:|---:|---:|\n",
                prop.name, prop.major, prop.minor, prop.multiProcessorCount, rt, copy_gbs);
  md += line;
  for (const Row& r : b.rows()) {
    const double gflops = r.flops > 0 ? r.flops / (r.ms * 1e-3) / 1e9 : 0.0;
    const double gbs = r.bytes / (r.ms * 1e-3) / 1e9;
    char gf[32] = "-";
    if (gflops > 0) std::snprintf(gf, sizeof gf, "%.0f", gflops);
    std::snprintf(line, sizeof line, "| %s | %s | %.4f | %s | %.0f | %.0f%% |\n", r.op.c_str(), r.shape.c_str(), r.ms,
                  gf, gbs, 100.0 * gbs / copy_gbs);
    md += line;
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
