// The backward of a BatchNorm+CReLU feeding a conv, in the two ways the engine can run it, timed
// call by call in alternation (A B B A ...) so both see the same minute of a drifting machine:
//   2C: rn_conv2d_backward_data writes the gradient of [relu(u), relu(-u)] (2C channels), then
//       rn_batchnorm_backward with RN_ACT_CRELU folds it onto u by sign and runs the batch norm's;
//   u:  rn_conv2d_backward_data_crelu_input folds the 2C gradient onto u as it forms it (a tile
//       row at a time, in cache, where the conv runs as Winograd), then rn_batchnorm_backward
//       without the activation.
// Batch 128, BN over C channels at HW x HW, conv 3x3 stride 1 of 2C inputs to K outputs. First
// says whether the two ways' dx are bit-identical; then per round the median ms of each way
// (each call = the conv's backward-data + the batch norm backward) and u / 2C.
//   bench_crelu_backward C HW K [calls=40] [rounds=3] [threads=all]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "bench_common.h"
#include "resnorm/resnorm.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s C HW K [calls] [rounds] [threads]\n", argv[0]);
    return 2;
  }
  const int n = 128, c = std::atoi(argv[1]), hw = std::atoi(argv[2]), k = std::atoi(argv[3]);
  const int calls = argc > 4 ? std::atoi(argv[4]) : 40, rounds = argc > 5 ? std::atoi(argv[5]) : 3;
  const int threads = argc > 6 ? std::atoi(argv[6]) : 0;
  if (c <= 0 || hw <= 0 || k <= 0 || calls <= 0 || rounds <= 0) {
    std::fprintf(stderr, "C, HW, K, calls and rounds must be positive\n");
    return 2;
  }
  const rn_conv2d_desc d = rnbench::crelu_input_conv_desc(n, c, hw, k);
  const size_t e = size_t(n) * c * hw * hw;
  std::mt19937 rng(1);
  rnbench::Floats x = rnbench::random_floats(e, rng), w = rnbench::random_floats(size_t(k) * 2 * c * 9, rng);
  rnbench::Floats dy = rnbench::random_floats(size_t(n) * k * hw * hw, rng);
  rnbench::Floats u(e), d2c(2 * e), du(e), dx_a(e), dx_b(e);
  std::vector<float> gamma(c, 1.0f), beta(c, 0.1f), mean(c, 0.0f), var(c, 1.0f), smean(c), sinv(c);
  std::vector<float> dg(c), db(c);
  rn_context* ctx = rn_context_create(threads);
  if (rn_batchnorm_forward_training(ctx, n, c, hw * hw, RN_ACT_NONE, 1e-5f, 0.1f, x.data(), gamma.data(), beta.data(),
                                    mean.data(), var.data(), smean.data(), sinv.data(), u.data()) != RN_STATUS_OK) {
    std::fprintf(stderr, "batch norm forward failed\n");
    return 1;
  }
  auto way_2c = [&] {
    int st = rn_conv2d_backward_data(ctx, &d, dy.data(), w.data(), d2c.data());
    if (st != RN_STATUS_OK) return st;
    return rn_batchnorm_backward(ctx, n, c, hw * hw, RN_ACT_CRELU, x.data(), gamma.data(), beta.data(), smean.data(),
                                 sinv.data(), d2c.data(), dx_a.data(), dg.data(), db.data());
  };
  auto way_u = [&] {
    int st = rn_conv2d_backward_data_crelu_input(ctx, &d, dy.data(), w.data(), u.data(), du.data());
    if (st != RN_STATUS_OK) return st;
    return rn_batchnorm_backward(ctx, n, c, hw * hw, RN_ACT_NONE, x.data(), gamma.data(), beta.data(), smean.data(),
                                 sinv.data(), du.data(), dx_b.data(), dg.data(), db.data());
  };
  if (way_2c() != RN_STATUS_OK || way_u() != RN_STATUS_OK) {
    std::fprintf(stderr, "a call failed\n");
    return 1;
  }
  std::printf("batch %d, BN over %d channels at %dx%d, conv 3x3 %d -> %d, %d threads; gradient formed in the conv: %s\n",
              n, c, hw, hw, 2 * c, k, rn_context_num_threads(ctx),
              rn_conv2d_resolve_algo(&d, 1) == RN_CONV_ALGO_WINOGRAD && c % 16 == 0 ? "yes" : "no (chunks)");
  std::printf("results: %s\n", std::memcmp(dx_a.data(), dx_b.data(), sizeof(float) * e) == 0 ? "bit-identical"
                                                                                               : "DIFFER");
  for (int round = 0; round < rounds; ++round) {
    std::vector<double> ta, tb;
    for (int i = 0; i < calls; ++i) {
      const bool a_first = i % 2 == 0;
      for (int j = 0; j < 2; ++j) {
        const bool a = (j == 0) == a_first;
        const double t = rnbench::timed_calls([&] { return a ? way_2c() : way_u(); }, 1, 0.0)[0];
        (a ? ta : tb).push_back(t);
      }
    }
    const double ma = 1e3 * rnbench::median_of(ta), mb = 1e3 * rnbench::median_of(tb);
    std::printf("round %d: 2C %.3f ms | u %.3f ms | u / 2C %.3f\n", round, ma, mb, mb / ma);
  }
  rn_context_destroy(ctx);
  return 0;
}
