// Training batch norm fused with ReLU / CReLU against the unfused sequence, timed in
// alternation so both sides see the same minute of a drifting machine (a shared VM), with a
// memory copy of the same size as the fused op's traffic timed in the same round:
//   bench_bn_paired N C HW act(relu|crelu) direction(f|b) [rounds=7] [threads=all]
// Unfused forward = batch norm with no activation (x -> u), then the standalone activation
// (u -> y); unfused backward = activation backward (u, dy -> du), then batch norm backward
// (x, du -> dx): what BatchNormBenchmark's "unfused" variant runs.
// Each round times fused, unfused and the copy for about 0.3 s each (the median of the calls);
// the report gives every round's ratio and the medians over rounds. GB/s count the fused op's
// compulsory traffic for both variants (forward (1 + k)*E*4 bytes, backward (2 + k)*E*4, k = 2
// for CReLU, 1 for ReLU), as BatchNormBenchmark does, so their ratio is the speedup; the copy's
// GB/s count its reads and writes.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bench_common.h"
#include "resnorm/resnorm.h"

namespace {
// The median seconds per call of f over about `budget` seconds (five calls at least), after two
// warm-up calls.
template <class F>
double median_seconds(const F& f, double budget) {
  f();
  f();
  return rnbench::median_of(rnbench::timed_calls(f, 5, budget));
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: %s N C HW act(relu|crelu) direction(f|b) [rounds] [threads]\n", argv[0]);
    return 2;
  }
  const int32_t n = std::atoi(argv[1]), c = std::atoi(argv[2]), hw = std::atoi(argv[3]);
  const std::string act_name = argv[4];
  const char dir = argv[5][0];
  const int rounds = argc > 6 ? std::atoi(argv[6]) : 7;
  const int threads = argc > 7 ? std::atoi(argv[7]) : 0;
  const int32_t act = act_name == "crelu" ? RN_ACT_CRELU : act_name == "relu" ? RN_ACT_RELU : -1;
  if (n <= 0 || c <= 0 || hw <= 0 || act < 0 || (dir != 'f' && dir != 'b') || rounds < 1) {
    std::fprintf(stderr, "bad shape, act, direction or rounds\n");
    return 2;
  }
  const int k = act == RN_ACT_CRELU ? 2 : 1;
  const size_t e = size_t(n) * c * hw;
  std::mt19937 rng(1);
  using rnbench::random_floats;
  rnbench::Floats x = random_floats(e, rng), dy = random_floats(k * e, rng), y(k * e), u(e), du(e), dx(e);
  std::vector<float> gamma(c, 1.1f), beta(c, 0.05f), rmean(c, 0.0f), rvar(c, 1.0f), smean(c), sinv(c),
      dgamma(c), dbeta(c);
  rn_context* ctx = rn_context_create(threads);
  const float eps = 1e-5f, mom = 0.1f;
  // u and the statistics for the backward passes.
  rn_batchnorm_forward_training(ctx, n, c, hw, RN_ACT_NONE, eps, mom, x.data(), gamma.data(), beta.data(), nullptr,
                                nullptr, smean.data(), sinv.data(), u.data());
  auto fused = [&] {
    if (dir == 'f')
      return rn_batchnorm_forward_training(ctx, n, c, hw, act, eps, mom, x.data(), gamma.data(), beta.data(),
                                           rmean.data(), rvar.data(), smean.data(), sinv.data(), y.data());
    return rn_batchnorm_backward(ctx, n, c, hw, act, x.data(), gamma.data(), beta.data(), smean.data(), sinv.data(),
                                 dy.data(), dx.data(), dgamma.data(), dbeta.data());
  };
  auto unfused = [&] {
    if (dir == 'f') {
      int st = rn_batchnorm_forward_training(ctx, n, c, hw, RN_ACT_NONE, eps, mom, x.data(), gamma.data(),
                                             beta.data(), rmean.data(), rvar.data(), smean.data(), sinv.data(),
                                             u.data());
      if (st != RN_STATUS_OK) return st;
      return act == RN_ACT_CRELU ? rn_crelu_forward(ctx, n, c, hw, u.data(), y.data())
                                 : rn_relu_forward(ctx, int64_t(e), u.data(), y.data());
    }
    int st = act == RN_ACT_CRELU ? rn_crelu_backward(ctx, n, c, hw, u.data(), dy.data(), du.data())
                                 : rn_relu_backward(ctx, int64_t(e), u.data(), dy.data(), du.data());
    if (st != RN_STATUS_OK) return st;
    return rn_batchnorm_backward(ctx, n, c, hw, RN_ACT_NONE, x.data(), gamma.data(), beta.data(), smean.data(),
                                 sinv.data(), du.data(), dx.data(), dgamma.data(), dbeta.data());
  };
  // The copy moves as many bytes as the fused op's compulsory traffic: half read, half written.
  const size_t op_bytes = size_t(dir == 'f' ? 1 + k : 2 + k) * e * sizeof(float);
  rnbench::Floats src(op_bytes / 2 / sizeof(float)), dst(op_bytes / 2 / sizeof(float));
  std::fill(src.begin(), src.end(), 1.0f);
  auto copy = [&] {
    std::memcpy(dst.data(), src.data(), src.size() * sizeof(float));
    return int(RN_STATUS_OK);
  };
  std::printf("batch norm + %s %s, x %dx%dx%d, %d threads, %.1f MB of compulsory traffic\n", act_name.c_str(),
              dir == 'f' ? "forward" : "backward", n, c, hw, rn_context_num_threads(ctx), op_bytes / 1e6);
  std::printf("round  fused ms  GB/s  unfused ms  GB/s  copy GB/s  speedup  fused/copy\n");
  std::vector<double> tf, tu, ratio, copy_gbs;
  for (int r = 0; r < rounds; ++r) {
    const double f = median_seconds(fused, 0.3), un = median_seconds(unfused, 0.3), cp = median_seconds(copy, 0.3);
    tf.push_back(f), tu.push_back(un), ratio.push_back(un / f), copy_gbs.push_back(op_bytes / cp / 1e9);
    std::printf("%5d  %8.3f  %4.1f  %10.3f  %4.1f  %9.1f  %6.2fx  %9.0f %%\n", r, f * 1e3, op_bytes / f / 1e9,
                un * 1e3, op_bytes / un / 1e9, op_bytes / cp / 1e9, un / f, 100.0 * cp / f);
  }
  std::printf("median %7.3f  %4.1f  %10.3f  %4.1f  %9.1f  %6.2fx\n", rnbench::median_of(tf) * 1e3, op_bytes / rnbench::median_of(tf) / 1e9,
              rnbench::median_of(tu) * 1e3, op_bytes / rnbench::median_of(tu) / 1e9, rnbench::median_of(copy_gbs), rnbench::median_of(ratio));
  rn_context_destroy(ctx);
  return 0;
}
