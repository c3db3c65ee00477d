// Two ways of running one conv, timed call by call in alternation (A B B A ...) in one process:
// on a shared VM, whose speed drifts by tens of percent over seconds, the calls of the two
// ways then see the same machine, and the ratio of their medians holds to a few percent where
// separate runs (bench_conv, bench-kernels) disagree by 20-40 %.
//   bench_conv_ab N C H W K R S stride pad direction(f|d|w) A B [calls=300] [rounds=3] [threads]
// A and B: an algorithm (auto, im2col, winograd, direct), optionally with ":E" for the context's
// experiment value (rn_context_set_experiment), e.g. "auto" against "auto:1" while a kernel branches on
// ctx->experiment to compare a change with the code it replaces. Both ways use one context (one
// thread pool) and the same tensors (rn_alloc'd, 64-byte aligned as the engine's own).
// A way may end in "@LIB", a libresnorm.so of another build (say the commit before a change,
// built in a worktree): that way's calls go to LIB, loaded beside the linked one with its own
// context, so a change can be timed against its parent without a branch on ctx->experiment.
// Two contexts mean two thread pools, whose idle workers spin for a while after each call;
// the calls are then spaced (kSettle) so that neither way runs beside the other's spinning.

#include <algorithm>
#include <cmath>
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.h"
#include "resnorm/resnorm.h"

namespace {

// The entry points a way calls: the linked library's, or another build's (@LIB).
struct Api {
  decltype(&rn_context_create) context_create = rn_context_create;
  decltype(&rn_context_destroy) context_destroy = rn_context_destroy;
  decltype(&rn_context_set_experiment) set_experiment = rn_context_set_experiment;
  decltype(&rn_conv2d_forward) forward = rn_conv2d_forward;
  decltype(&rn_conv2d_backward_data) backward_data = rn_conv2d_backward_data;
  decltype(&rn_conv2d_backward_filter) backward_filter = rn_conv2d_backward_filter;
};

template <class F>
bool resolve(void* lib, const char* name, F* f) {
  *f = reinterpret_cast<F>(dlsym(lib, name));
  return *f != nullptr;
}

bool load_api(const std::string& path, Api* api) {
  void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    std::fprintf(stderr, "cannot load %s: %s\n", path.c_str(), dlerror());
    return false;
  }
  return resolve(lib, "rn_context_create", &api->context_create) &&
         resolve(lib, "rn_context_destroy", &api->context_destroy) &&
         resolve(lib, "rn_context_set_experiment", &api->set_experiment) &&
         resolve(lib, "rn_conv2d_forward", &api->forward) &&
         resolve(lib, "rn_conv2d_backward_data", &api->backward_data) &&
         resolve(lib, "rn_conv2d_backward_filter", &api->backward_filter);
}

struct Way {
  std::string name;
  int algo = RN_CONV_ALGO_AUTO;
  int experiment = 0;
  std::string lib;  // empty: the linked library
  Api api;
  rn_context* ctx = nullptr;
};

bool parse_way(const char* text, Way* way) {
  way->name = text;
  std::string algo = text;
  const size_t at = algo.find('@');
  if (at != std::string::npos) {
    way->lib = algo.substr(at + 1);
    algo.resize(at);
    if (way->lib.empty() || !load_api(way->lib, &way->api)) return false;
  }
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
                 "  A, B: auto | im2col | winograd | direct, optionally :E (the context's experiment value),\n"
                 "        optionally @LIB (a libresnorm.so of another build to call instead of the linked one)\n",
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
  // One context for the ways on the same library (one thread pool), one per other library.
  rn_context* linked_ctx = nullptr;
  for (Way& way : ways) {
    if (way.lib.empty() && linked_ctx != nullptr) {
      way.ctx = linked_ctx;
      continue;
    }
    way.ctx = way.api.context_create(threads);
    if (way.ctx == nullptr) {
      std::fprintf(stderr, "no context\n");
      return 1;
    }
    if (way.lib.empty()) linked_ctx = way.ctx;
  }
  const bool two_pools = ways[0].ctx != ways[1].ctx;
  constexpr auto kSettle = std::chrono::milliseconds(2);  // > the pool's 200 us of spinning
  auto call = [&](const Way& way) {
    d.algo = way.algo;
    way.api.set_experiment(way.ctx, way.experiment);
    const Api& a = way.api;
    if (dir == 'f') return a.forward(way.ctx, &d, tensors.x.data(), tensors.w.data(), nullptr, tensors.y.data());
    if (dir == 'd') return a.backward_data(way.ctx, &d, tensors.dy.data(), tensors.w.data(), tensors.dx.data());
    return a.backward_filter(way.ctx, &d, tensors.x.data(), tensors.dy.data(), tensors.dw.data(), nullptr);
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
  std::printf("%s against %s, %d calls of each a round, %d threads%s\n", ways[1].name.c_str(), ways[0].name.c_str(),
              calls, rn_context_num_threads(ways[0].ctx), two_pools ? " (two pools: calls 2 ms apart)" : "");
  std::vector<double> ratios;
  for (int round = 0; round < rounds; ++round) {
    std::vector<double> times[2];
    for (int i = 0; i < 2 * calls; ++i) {
      const int which = (i + i / 2) % 2;  // A B B A A B B A ...: neither way always goes first
      if (two_pools) std::this_thread::sleep_for(kSettle);
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
  ways[0].api.context_destroy(ways[0].ctx);
  if (two_pools) ways[1].api.context_destroy(ways[1].ctx);
  return 0;
}
