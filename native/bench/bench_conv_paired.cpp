// A conv's speed against the sgemm ceiling measured next to it, for a machine whose speed
// drifts over seconds (a shared VM): each round times sgemm 2048^3 on the context's threads,
// then the conv for as long as that sgemm took, then sgemm again, and reports the conv's
// median against the faster of the two sgemm runs. The per-round ratio cancels the drift that
// a ceiling measured once at the start (bench-kernels, JMH) leaves in the ratio.
//   bench_conv_paired N C H W K R S stride pad direction(f|d|w) [rounds=5] [threads=all]
// OpenBLAS's threads busy-wait for a while after each threaded sgemm, so every round waits
// kOpenBlasSpinSeconds before it times the conv (timed right after, the 3x3/2 32->64
// backward-data ran at half its speed: 56-70 against 116-141 GFLOP/s, Zen 3, 2 threads). It
// waits busy, as a training step would keep the core: after a sleep, the first calls ran slower.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "bench_common.h"
#include "resnorm/resnorm.h"

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
constexpr double kOpenBlasSpinSeconds = 0.2;
void busy_wait(double seconds) {
  for (const auto start = Clock::now(); seconds_since(start) < seconds;) {
  }
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 11) {
    std::fprintf(stderr, "usage: %s N C H W K R S stride pad direction(f|d|w) [rounds] [threads]\n", argv[0]);
    return 2;
  }
  const rn_conv2d_desc d = rnbench::conv_desc_from_args(argv);
  const char dir = argv[10][0];
  const int rounds = argc > 11 ? std::atoi(argv[11]) : 5;
  const int threads = argc > 12 ? std::atoi(argv[12]) : 0;
  if (rn_conv2d_check(&d) != RN_STATUS_OK || (dir != 'f' && dir != 'd' && dir != 'w') || rounds < 1) {
    std::fprintf(stderr, "bad shape, direction or rounds\n");
    return 2;
  }
  std::mt19937 rng(1);
  rnbench::ConvTensors tensors(d, rng);
  using rnbench::random_floats;
  const int n = 2048;
  rnbench::Floats a = random_floats(size_t(n) * n, rng), b = random_floats(size_t(n) * n, rng),
                  c = random_floats(size_t(n) * n, rng);
  rn_context* ctx = rn_context_create(threads);
  auto conv = [&] { return tensors.run(ctx, d, dir); };
  auto sgemm_seconds = [&] {
    const auto t = Clock::now();
    rn_blas_sgemm_ceiling(rn_context_num_threads(ctx), n, n, n, a.data(), b.data(), c.data());
    return seconds_since(t);
  };
  const double conv_flops = 2.0 * d.n * d.k * d.c * d.r * d.s * d.p * d.q, sgemm_flops = 2.0 * n * n * n;
  conv();  // warm-up: workspace, page faults
  sgemm_seconds();
  std::vector<double> ratios;
  for (int round = 0; round < rounds; ++round) {
    const double s1 = sgemm_seconds();
    busy_wait(kOpenBlasSpinSeconds);
    std::vector<double> samples;
    for (const auto start = Clock::now(); samples.size() < 5 || seconds_since(start) < s1;) {
      const auto t = Clock::now();
      if (conv() != RN_STATUS_OK) return 1;
      samples.push_back(seconds_since(t));
    }
    const double s2 = sgemm_seconds();
    std::sort(samples.begin(), samples.end());
    const double ceiling = sgemm_flops / std::min(s1, s2) * 1e-9;
    const double median = conv_flops / samples[samples.size() / 2] * 1e-9, best = conv_flops / samples[0] * 1e-9;
    ratios.push_back(median / ceiling);
    std::printf("round %d: sgemm %.1f GFLOP/s, conv median %.1f best %.1f GFLOP/s: %.0f %%\n", round, ceiling, median,
                best, 100 * ratios.back());
    busy_wait(kOpenBlasSpinSeconds);
  }
  std::sort(ratios.begin(), ratios.end());
  std::printf("conv median / adjacent sgemm, median of %d rounds: %.0f %%\n", rounds, 100 * ratios[ratios.size() / 2]);
  rn_context_destroy(ctx);
  return 0;
}
