// The two ways the executor could feed a CReLU into the next conv, timed side by side on
// one block shape (batch 128, 3x3 stride-1 conv of 2C input channels to K outputs):
//   2C:  batch norm + CReLU writes [relu(u), relu(-u)] (2C channels); the conv and its
//        backward-filter read that tensor;
//   y:   batch norm writes u (C channels); the conv and its backward-filter read CReLU(u)
//        from u (rn_conv2d_forward_crelu_input / rn_conv2d_backward_filter_crelu_input:
//        formed in the Winograd pack where C is a multiple of 16, else expanded a few
//        images at a time in cache).
// Backward-data and the batch norm backward are the same calls either way, so they are
// left out. Prints the median ms of each call and each path's total, per round, after
// one unprinted warm-up round (the first calls of a process run slow: clocks, page faults).
//   bench_crelu_paths C HW K [threads=all] [reps=15] [rounds=3]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "bench_common.h"
#include "resnorm/resnorm.h"

namespace {

// The median ms of reps calls of f.
template <class F>
double median_ms(const F& f, int reps) {
  return 1e3 * rnbench::median_of(rnbench::timed_calls(f, reps, 0.0));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s C HW K [threads] [reps] [rounds]\n", argv[0]);
    return 2;
  }
  const int n = 128, c = std::atoi(argv[1]), hw = std::atoi(argv[2]), k = std::atoi(argv[3]);
  const int threads = argc > 4 ? std::atoi(argv[4]) : 0;
  const int reps = argc > 5 ? std::atoi(argv[5]) : 15, rounds = argc > 6 ? std::atoi(argv[6]) : 3;
  if (c <= 0 || hw <= 0 || k <= 0 || reps <= 0 || rounds <= 0) {
    std::fprintf(stderr, "C, HW, K, reps and rounds must be positive\n");
    return 2;
  }
  const rn_conv2d_desc d = rnbench::crelu_input_conv_desc(n, c, hw, k);
  const size_t e = size_t(n) * c * hw * hw;
  std::vector<float> x(e), u(e), both(2 * e), y(size_t(n) * k * hw * hw), w(size_t(k) * 2 * c * 9), dw(w.size());
  std::vector<float> gamma(c, 1.0f), beta(c, 0.0f), mean(c, 0.0f), var(c, 1.0f), save_mean(c), save_invstd(c);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1, 1);
  for (auto* v : {&x, &w, &y})
    for (float& f : *v) f = dist(rng);
  rn_context* ctx = rn_context_create(threads);
  auto bn = [&](int act, float* out) {
    return rn_batchnorm_forward_training(ctx, n, c, hw * hw, act, 1e-5f, 0.1f, x.data(), gamma.data(), beta.data(),
                                         mean.data(), var.data(), save_mean.data(), save_invstd.data(), out);
  };
  std::printf("batch %d, BN over %d channels at %dx%d, conv 3x3 %d -> %d, %d threads (median of %d calls)\n", n, c, hw,
              hw, 2 * c, k, rn_context_num_threads(ctx), reps);
  std::printf("CReLU formed in the conv's pack: %s\n", rn_conv2d_crelu_input_in_pack(&d) == 1 ? "yes" : "no (chunks)");
  for (int round = -1; round < rounds; ++round) {
    const double bn2 = median_ms([&] { return bn(RN_ACT_CRELU, both.data()); }, reps);
    const double conv2 = median_ms([&] { return rn_conv2d_forward(ctx, &d, both.data(), w.data(), nullptr, y.data()); }, reps);
    const double filt2 = median_ms(
        [&] { return rn_conv2d_backward_filter(ctx, &d, both.data(), y.data(), dw.data(), nullptr); }, reps);
    const double bn1 = median_ms([&] { return bn(RN_ACT_NONE, u.data()); }, reps);
    const double conv1 = median_ms(
        [&] { return rn_conv2d_forward_crelu_input(ctx, &d, u.data(), w.data(), nullptr, y.data()); }, reps);
    const double filt1 = median_ms(
        [&] { return rn_conv2d_backward_filter_crelu_input(ctx, &d, u.data(), y.data(), dw.data(), nullptr); }, reps);
    if (round < 0) continue;  // warm-up
    std::printf("2C: bn+crelu %.3f + conv %.3f + filter %.3f = %.3f ms | y: bn %.3f + conv %.3f + filter %.3f = %.3f ms"
                " | y / 2C %.2f\n",
                bn2, conv2, filt2, bn2 + conv2 + filt2, bn1, conv1, filt1, bn1 + conv1 + filt1,
                (bn1 + conv1 + filt1) / (bn2 + conv2 + filt2));
  }
  rn_context_destroy(ctx);
  return 0;
}
