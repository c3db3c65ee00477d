// Two ways of running one conv, timed call by call in alternation (A B B A ...) in one process:
// on a shared VM, whose speed drifts by tens of percent over seconds, the calls of the two
// ways then see the same machine, and the ratio of their medians holds to a few percent where
// separate runs (bench_conv, bench-kernels) disagree by 20-40 %.
//   bench_conv_ab N C H W K R S stride pad direction(f|d|w) A B [calls=300] [rounds=3] [threads]
// A and B: an algorithm (auto, im2col, winograd, direct), optionally with ":E" for the context's
// experiment value (rn_context_set_experiment), e.g. "auto" against "auto:1" while a kernel branches on
// ctx->experiment to compare a change with the code it replaces. Both ways use one context (one
// thread pool) and the same tensors (rn_alloc'd, 64-byte aligned as the engine's own).

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "bench_common.h"
#include "resnorm/resnorm.h"

namespace {

struct Way {
  std::string name;
  int algo = RN_CONV_ALGO_AUTO;
  int experiment = 0;
};

bool parse_way(const char* text, Way* way) {
  way->name = text;
  std::string algo = text;
  const size_t colon = algo.find(':');
  if (colon != std::string::npos) {
    char* end = nullptr;
    way->experiment = int(std::strtol(algo.c_str() + colon + 1, &end, 10));
    if (end == algo.c_str() + colon + 1 || *end != '\0') return false;
    algo.resize(colon);
  }
  if (algo == "auto") way->algo = RN_CONV_ALGO_AUTO;
  else if (algo == "im2col") way->algo = RN_CONV_ALGO_IM2COL;
  else if (algo == "winograd") way->algo = RN_CONV_ALGO_WINOGRAD;
  else if (algo == "direct") way->algo = RN_CONV_ALGO_DIRECT;
  else return false;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 13) {
    std::fprintf(stderr,
                 "usage: %s N C H W K R S stride pad direction(f|d|w) A B [calls=300] [rounds=3] [threads]\n"
                 "  A, B: auto | im2col | winograd | direct, optionally :E (the context's experiment value)\n",
                 argv[0]);
    return 2;
  }
  rn_conv2d_desc d = rnbench::conv_desc_from_args(argv);
  const char dir = argv[10][0];
  Way ways[2];
  const int calls = argc > 13 ? std::atoi(argv[13]) : 300;
  const int rounds = argc > 14 ? std::atoi(argv[14]) : 3;
  const int threads = argc > 15 ? std::atoi(argv[15]) : 0;
  if (!parse_way(argv[11], &ways[0]) || !parse_way(argv[12], &ways[1])) {
    std::fprintf(stderr, "bad way: %s or %s\n", argv[11], argv[12]);
    return 2;
  }
  if ((dir != 'f' && dir != 'd' && dir != 'w') || calls < 2 || rounds < 1) {
    std::fprintf(stderr, "bad direction, calls or rounds\n");
    return 2;
  }
  for (const Way& way : ways) {
    d.algo = way.algo;
    if (rn_conv2d_check(&d) != RN_STATUS_OK) {
      std::fprintf(stderr, "%s does not apply to this shape\n", way.name.c_str());
      return 2;
    }
  }
  std::mt19937 rng(1);
  rnbench::ConvTensors tensors(d, rng);
  rn_context* ctx = rn_context_create(threads);
  if (ctx == nullptr) {
    std::fprintf(stderr, "no context\n");
    return 1;
  }
  auto call = [&](const Way& way) {
    d.algo = way.algo;
    rn_context_set_experiment(ctx, way.experiment);
    return tensors.run(ctx, d, dir);
  };
  using Clock = std::chrono::steady_clock;
  for (int i = 0; i < 4; ++i)  // warm-up: workspace, page faults
    if (call(ways[i % 2]) != RN_STATUS_OK) return 1;
  // The two ways' results side by side (a change under measurement that computes something else
  // would otherwise time as well as any): the largest difference relative to the largest |A|.
  {
    const float* out = dir == 'f' ? tensors.y.data() : dir == 'd' ? tensors.dx.data() : tensors.dw.data();
    const size_t count = dir == 'f' ? tensors.y.size() : dir == 'd' ? tensors.dx.size() : tensors.dw.size();
    std::vector<float> result[2];
    for (int k = 0; k < 2; ++k) {
      if (call(ways[k]) != RN_STATUS_OK) return 1;
      result[k].assign(out, out + count);
    }
    double scale = 0, diff = 0;
    size_t differing = 0;
    for (size_t i = 0; i < count; ++i) {
      scale = std::max(scale, std::fabs(double(result[0][i])));
      const double e = std::fabs(double(result[0][i]) - double(result[1][i]));
      if (!(e == 0)) ++differing;  // NaN counts
      diff = std::max(diff, e);
    }
    std::printf("results: %s (%zu of %zu floats differ, largest difference %.3g of max |A| %.3g)\n",
                differing == 0 ? "bit-identical" : "differ", differing, count, diff, scale);
  }
  const double flops = 2.0 * d.n * d.k * d.c * d.r * d.s * d.p * d.q;
  std::printf("%s against %s, %d calls of each a round, %d threads\n", ways[1].name.c_str(), ways[0].name.c_str(),
              calls, rn_context_num_threads(ctx));
  std::vector<double> ratios;
  for (int round = 0; round < rounds; ++round) {
    std::vector<double> times[2];
    for (int i = 0; i < 2 * calls; ++i) {
      const int which = (i + i / 2) % 2;  // A B B A A B B A ...: neither way always goes first
      const auto t = Clock::now();
      if (call(ways[which]) != RN_STATUS_OK) {
        std::fprintf(stderr, "a call failed\n");
        return 1;
      }
      times[which].push_back(std::chrono::duration<double>(Clock::now() - t).count());
    }
    const double a = rnbench::median_of(times[0]), b = rnbench::median_of(times[1]);
    ratios.push_back(b / a);
    std::printf("round %d: %s %.3f ms (%.1f GFLOP/s), %s %.3f ms (%.1f GFLOP/s): B / A time %.3f\n", round,
                ways[0].name.c_str(), a * 1e3, flops / a * 1e-9, ways[1].name.c_str(), b * 1e3, flops / b * 1e-9,
                b / a);
  }
  std::printf("B / A time, median of %d rounds: %.3f\n", rounds, rnbench::median_of(ratios));
  rn_context_destroy(ctx);
  return 0;
}
