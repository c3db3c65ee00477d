// Native conv timing without the JVM, for profiling (perf record) and for the GPU
// machine later. Java's bench-kernels / JMH remain the reported measurements.
//   bench_conv N C H W K R S stride pad [algo=0 auto|1 im2col|2 winograd|3 direct] [threads] [seconds]
//              [directions: any of f, d, w (forward, backward-data, backward-filter), p (plain backward: data +
//               filter + bias), n, b (weight-normalized conv forward / backward); default fdw]
//              [isa: 0 generic, 1 avx2, 2 avx512; default the best this CPU has]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "bench_common.h"
#include "resnorm/resnorm.h"

using rnbench::Floats;

int main(int argc, char** argv) {
  if (argc < 10) {
    std::fprintf(stderr, "usage: %s N C H W K R S stride pad [algo] [threads] [seconds] [directions] [isa]\n", argv[0]);
    return 2;
  }
  rn_conv2d_desc d = rnbench::conv_desc_from_args(argv);
  d.algo = argc > 10 ? std::atoi(argv[10]) : 0;
  const int threads = argc > 11 ? std::atoi(argv[11]) : 0;
  const double seconds = argc > 12 ? std::atof(argv[12]) : 1.0;
  const std::string dirs = argc > 13 ? argv[13] : "fdw";
  if (rn_conv2d_check(&d) != RN_STATUS_OK) {
    std::fprintf(stderr, "bad shape / algorithm\n");
    return 2;
  }
  const size_t xs = size_t(d.n) * d.c * d.h * d.w, ws = size_t(d.k) * d.c * d.r * d.s, ys = size_t(d.n) * d.k * d.p * d.q;
  Floats x(xs), w(ws), y(ys), dy(ys), dx(xs), dw(ws), du(ys), gamma(d.k, 0.8f), beta(d.k, 0.1f),
      dgamma(d.k), dbeta(d.k), db(d.k);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  for (auto* v : {&x, &w, &dy})
    for (float& f : *v) f = u(rng);
  rn_context* ctx = rn_context_create(threads);
  if (argc > 14 && rn_context_set_isa(ctx, std::atoi(argv[14])) != RN_STATUS_OK) {
    std::fprintf(stderr, "ISA level %s is not available here\n", argv[14]);
    return 2;
  }
  // y as the weight-normalized conv's backward sees it (its own forward output: real ReLU masks)
  if (dirs.find('b') != std::string::npos)
    rn_wnconv_forward(ctx, &d, RN_ACT_RELU, 1, 0, x.data(), w.data(), gamma.data(), beta.data(), y.data());
  const double flops = 2.0 * d.n * d.k * d.c * d.r * d.s * d.p * d.q;
  // f, d, w: the conv's directions; p: plain backward (data + filter + bias);
  // n, b: the weight-normalized conv (normprop2, ReLU) forward and backward.
  const char* names[6] = {"forward", "backward_data", "backward_filter", "plain_backward", "wnconv_forward",
                          "wnconv_backward"};
  const char* keys = "fdwpnb";
  const double scale[6] = {1, 1, 1, 2, 1, 2};  // direct-conv FLOPs per call, in units of one direction
  for (int dir = 0; dir < 6; ++dir) {
    if (dirs.find(keys[dir]) == std::string::npos) continue;
    auto run = [&] {
      switch (dir) {
        case 0: return rn_conv2d_forward(ctx, &d, x.data(), w.data(), nullptr, y.data());
        case 1: return rn_conv2d_backward_data(ctx, &d, dy.data(), w.data(), dx.data());
        case 2: return rn_conv2d_backward_filter(ctx, &d, x.data(), dy.data(), dw.data(), nullptr);
        case 3: {
          int st = rn_conv2d_backward_data(ctx, &d, dy.data(), w.data(), dx.data());
          return st ? st : rn_conv2d_backward_filter(ctx, &d, x.data(), dy.data(), dw.data(), db.data());
        }
        case 4: return rn_wnconv_forward(ctx, &d, RN_ACT_RELU, 1, 0, x.data(), w.data(), gamma.data(), beta.data(),
                                         y.data());
        default: return rn_wnconv_backward(ctx, &d, RN_ACT_RELU, 1, 0, x.data(), w.data(), gamma.data(), y.data(),
                                           dy.data(), du.data(), dx.data(), dw.data(), dgamma.data(), dbeta.data());
      }
    };
    run();
    std::vector<double> samples;
    auto start = std::chrono::steady_clock::now();
    while (samples.size() < 5 || std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < seconds) {
      auto t0 = std::chrono::steady_clock::now();
      if (run() != RN_STATUS_OK) return 1;
      samples.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(samples.begin(), samples.end());
    const double med = samples[samples.size() / 2], best = samples.front();
    // (the mean last: JMH reports means, which a few slow calls pull up)
    double mean = 0;
    for (double t : samples) mean += t / samples.size();
    std::printf("%-16s algo %d: median %8.3f ms %7.1f GFLOP/s | best %8.3f ms %7.1f GFLOP/s | mean %8.3f ms\n",
                names[dir], rn_conv2d_resolve_algo(&d, dir < 3 ? dir : 0), med * 1e3, scale[dir] * flops / med * 1e-9,
                best * 1e3, scale[dir] * flops / best * 1e-9, mean * 1e3);
  }
  rn_context_destroy(ctx);
  return 0;
}
