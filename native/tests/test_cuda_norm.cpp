// CUDA batch norm (+ ReLU / CReLU) and the standalone activations against the CPU
// kernels: training forward (y, saved and running statistics), inference forward,
// backward (dx, dgamma, dbeta); affine and running statistics on/off, in-place use,
// shapes whose planes are and are not multiples of 4 floats (vector and scalar
// paths), many splits of the statistics reduction, a large mean (the shifted sums).
// Skips without a CUDA device.
#include "test_cuda_util.h"

using namespace rntest;
using namespace rntest::cuda;

namespace {

struct Shape {
  int n, c, hw;
};

int out_channels(int c, int act) { return act == RN_ACT_CRELU ? 2 * c : c; }

// Random x (offset + U(-1, 1)) whose normalized values stay away from the ReLU kink
// (|u| > 1e-3 by the CPU's own forward), so both sides agree on every gate.
void fill_input(rn_context* cpu, std::mt19937_64& rng, const Shape& s, Buffer& x, const float* gamma,
                const float* beta, float offset) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (size_t i = 0; i < x.size(); ++i) x[i] = offset + u(rng);
  Buffer y(x.size()), m(s.c), v(s.c);
  for (int round = 0; round < 50; ++round) {
    if (rn_batchnorm_forward_training(cpu, s.n, s.c, s.hw, RN_ACT_NONE, 1e-5f, 0.1f, x.data(), gamma, beta, nullptr,
                                      nullptr, m.data(), v.data(), y.data()) != RN_STATUS_OK)
      return;
    int redrawn = 0;
    for (size_t i = 0; i < x.size(); ++i)
      if (std::fabs(y[i]) < 1e-3f) {
        x[i] = offset + u(rng);
        ++redrawn;
      }
    if (redrawn == 0) return;
  }
}

// save_mean against the CPU's, each channel's error in units of its standard deviation (the
// invstd the CPU saved): a mean near zero has no meaningful relative error, and the two sides
// sum in other orders (as test_batchnorm judges the mean against the float64 one).
void expect_mean_match(rn_cuda_context* g, const std::string& what, const DevBuffer& gpu, const Buffer& mean,
                       const Buffer& invstd, double tol) {
  expect_sync(g, what);
  const std::vector<float> all = gpu.download_all();
  RN_EXPECT(gpu.guard_intact(all), "%s: wrote past the end of its output", what.c_str());
  for (size_t c = 0; c < mean.size(); ++c) {
    const double err = std::fabs(double(all[c]) - mean[c]) * invstd[c];
    const double rounding = std::fabs(mean[c]) * 6e-8 * invstd[c];  // the mean stored as float
    RN_EXPECT(err <= tol + rounding, "%s[%zu]: %.9g, the CPU's %.9g (off by %.3g of the std)", what.c_str(), c,
              double(all[c]), double(mean[c]), err);
  }
}

void bn_case(rn_cuda_context* g, rn_context* cpu, std::mt19937_64& rng, const Shape& s, int act, bool affine,
             bool track, float offset) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "bn n=%d c=%d hw=%d act=%d affine=%d track=%d offset=%g", s.n, s.c, s.hw, act,
                int(affine), int(track), offset);
  const std::string l(buf);
  const size_t xn = size_t(s.n) * s.c * s.hw, yn = size_t(s.n) * out_channels(s.c, act) * s.hw;
  const float eps = 1e-5f, momentum = 0.1f;
  const double tol = offset != 0.0f ? 1e-4 : kFp32Tol;  // x carries ~|offset|*6e-8 absolute precision
  Buffer x(xn), gamma(s.c), beta(s.c), rm(s.c), rv(s.c), sm(s.c), si(s.c), y(yn);
  gamma.fill_random(rng, 0.5f, 1.5f);
  beta.fill_random(rng, -0.5f, 0.5f);
  rm.fill_random(rng, -0.2f, 0.2f);
  rv.fill_random(rng, 0.5f, 1.5f);
  const float* gm = affine ? gamma.data() : nullptr;
  const float* bt = affine ? beta.data() : nullptr;
  fill_input(cpu, rng, s, x, gm, bt, offset);
  DevBuffer X(g, xn), GM(g, s.c), BT(g, s.c), RM(g, s.c), RV(g, s.c), SM(g, s.c), SI(g, s.c), Y(g, yn);
  X.upload(x), GM.upload(gamma), BT.upload(beta), RM.upload(rm), RV.upload(rv);
  const float* dgm = affine ? GM.data() : nullptr;
  const float* dbt = affine ? BT.data() : nullptr;

  // Training forward (the running statistics are updated in place on both sides).
  RN_EXPECT_OK(rn_batchnorm_forward_training(cpu, s.n, s.c, s.hw, act, eps, momentum, x.data(), gm, bt,
                                             track ? rm.data() : nullptr, track ? rv.data() : nullptr, sm.data(),
                                             si.data(), y.data()));
  RN_CUDA_EXPECT_OK(rn_cuda_batchnorm_forward_training(g, s.n, s.c, s.hw, act, eps, momentum, X.data(), dgm, dbt,
                                                       track ? RM.data() : nullptr, track ? RV.data() : nullptr,
                                                       SM.data(), SI.data(), Y.data()));
  expect_match(g, l + " y", Y, y, tol);
  expect_mean_match(g, l + " save_mean", SM, sm, si, tol);
  expect_match(g, l + " save_invstd", SI, si, kFp32Tol);
  if (track) {
    expect_match(g, l + " running_mean", RM, rm, tol);
    expect_match(g, l + " running_var", RV, rv, kFp32Tol);
  }

  // A block's last batch norm with the shortcut and ReLU fused in (no running statistics).
  if (act == RN_ACT_NONE) {
    Buffer res(xn), ya(xn), sma(s.c), sia(s.c);
    res.fill_random(rng);
    DevBuffer RES(g, xn), YA(g, xn), SMA(g, s.c), SIA(g, s.c);
    RES.upload(res);
    RN_EXPECT_OK(rn_batchnorm_forward_training_add_relu(cpu, s.n, s.c, s.hw, eps, momentum, x.data(), gm, bt, nullptr,
                                                        nullptr, sma.data(), sia.data(), res.data(), ya.data()));
    RN_CUDA_EXPECT_OK(rn_cuda_batchnorm_forward_training_add_relu(g, s.n, s.c, s.hw, eps, momentum, X.data(), dgm,
                                                                  dbt, nullptr, nullptr, SMA.data(), SIA.data(),
                                                                  RES.data(), YA.data()));
    expect_match(g, l + " add_relu y", YA, ya, tol);
    expect_mean_match(g, l + " add_relu save_mean", SMA, sma, sia, tol);
  }

  // Backward from the CPU's saved statistics (the same u on both sides).
  Buffer dy(yn), dx(xn), dg(s.c), db(s.c);
  dy.fill_random(rng);
  DevBuffer DY(g, yn), DX(g, xn), DG(g, s.c), DB(g, s.c), SMC(g, s.c), SIC(g, s.c);
  DY.upload(dy), SMC.upload(sm), SIC.upload(si);
  RN_EXPECT_OK(rn_batchnorm_backward(cpu, s.n, s.c, s.hw, act, x.data(), gm, bt, sm.data(), si.data(), dy.data(),
                                     dx.data(), affine ? dg.data() : nullptr, affine ? db.data() : nullptr));
  RN_CUDA_EXPECT_OK(rn_cuda_batchnorm_backward(g, s.n, s.c, s.hw, act, X.data(), dgm, dbt, SMC.data(), SIC.data(),
                                               DY.data(), DX.data(), affine ? DG.data() : nullptr,
                                               affine ? DB.data() : nullptr));
  expect_match(g, l + " dx", DX, dx, tol);
  if (affine) {
    expect_match(g, l + " dgamma", DG, dg, tol);
    expect_match(g, l + " dbeta", DB, db, tol);
  }

  // Inference forward from the (updated) running statistics.
  if (track) {
    Buffer yi(yn);
    DevBuffer YI(g, yn), RMC(g, s.c), RVC(g, s.c);
    RMC.upload(rm), RVC.upload(rv);
    RN_EXPECT_OK(rn_batchnorm_forward_inference(cpu, s.n, s.c, s.hw, act, eps, x.data(), gm, bt, rm.data(), rv.data(),
                                                yi.data()));
    RN_CUDA_EXPECT_OK(rn_cuda_batchnorm_forward_inference(g, s.n, s.c, s.hw, act, eps, X.data(), dgm, dbt,
                                                          RMC.data(), RVC.data(), YI.data()));
    expect_match(g, l + " inference y", YI, yi, tol);
    // The inference map as per-channel scale and shift (folded into a conv's epilogue).
    Buffer sc(s.c), sh(s.c);
    DevBuffer SC(g, s.c), SH(g, s.c);
    RN_EXPECT_OK(rn_batchnorm_inference_affine(cpu, s.c, eps, gm, bt, rm.data(), rv.data(), sc.data(), sh.data()));
    RN_CUDA_EXPECT_OK(rn_cuda_batchnorm_inference_affine(g, s.c, eps, dgm, dbt, RMC.data(), RVC.data(), SC.data(),
                                                         SH.data()));
    expect_match(g, l + " inference scale", SC, sc, tol);
    expect_match(g, l + " inference shift", SH, sh, tol);
  }

  // In place: y == x (NONE, RELU) and dx == dy.
  if (act != RN_ACT_CRELU) {
    DevBuffer XY(g, xn), S1(g, s.c), S2(g, s.c);
    XY.upload(x);
    RN_CUDA_EXPECT_OK(rn_cuda_batchnorm_forward_training(g, s.n, s.c, s.hw, act, eps, momentum, XY.data(), dgm, dbt,
                                                         nullptr, nullptr, S1.data(), S2.data(), XY.data()));
    expect_match(g, l + " in-place y", XY, y, tol);
    DevBuffer DXY(g, xn), DG2(g, s.c), DB2(g, s.c);
    DXY.upload(dy);
    RN_CUDA_EXPECT_OK(rn_cuda_batchnorm_backward(g, s.n, s.c, s.hw, act, X.data(), dgm, dbt, SMC.data(), SIC.data(),
                                                 DXY.data(), DXY.data(), affine ? DG2.data() : nullptr,
                                                 affine ? DB2.data() : nullptr));
    expect_match(g, l + " in-place dx", DXY, dx, tol);
  }
}

// Flat activations on count floats starting `skew` floats into an allocation (skew 1:
// unaligned pointers, the scalar path; count % 4 != 0: the scalar tail).
void activation_case(rn_cuda_context* g, rn_context* cpu, std::mt19937_64& rng, int64_t count, int skew) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "activation count=%lld skew=%d", static_cast<long long>(count), skew);
  const std::string l(buf);
  const size_t n = size_t(count);
  Buffer a(n), b(n), dy(n);
  a.fill_random(rng);
  b.fill_random(rng);
  dy.fill_random(rng);
  DevBuffer A0(g, n + skew), B0(g, n + skew), DY0(g, n + skew);
  std::vector<float> pad(n + skew, 0.0f);
  auto put = [&](DevBuffer& d, const Buffer& h) {
    std::copy(h.data(), h.data() + n, pad.begin() + skew);
    d.upload(pad);
  };
  put(A0, a), put(B0, b), put(DY0, dy);
  const float* A = A0.data() + skew;
  const float* B = B0.data() + skew;
  const float* DY = DY0.data() + skew;
  // Outputs: compared through a device copy at offset 0.
  auto check = [&](const std::string& what, DevBuffer& out0, const Buffer& ref) {
    expect_sync(g, l + " " + what);
    RN_EXPECT(out0.guard_intact(out0.download_all()), "%s %s: wrote past the end", l.c_str(), what.c_str());
    DevBuffer out(g, n);
    RN_CUDA_EXPECT_OK(rn_cuda_copy_device(g, out.data(), out0.data() + skew, n * sizeof(float)));
    expect_match(g, l + " " + what, out, ref, kFp32Tol);
  };
  {
    Buffer y(n), dx(n);
    DevBuffer Y(g, n + skew), DX(g, n + skew);
    RN_EXPECT_OK(rn_relu_forward(cpu, count, a.data(), y.data()));
    RN_CUDA_EXPECT_OK(rn_cuda_relu_forward(g, count, A, Y.data() + skew));
    check("relu", Y, y);
    RN_EXPECT_OK(rn_relu_backward(cpu, count, y.data(), dy.data(), dx.data()));
    RN_CUDA_EXPECT_OK(rn_cuda_relu_backward(g, count, Y.data() + skew, DY, DX.data() + skew));
    check("relu_backward", DX, dx);
  }
  {
    Buffer y(n), da(n), db(n), s(n);
    DevBuffer Y(g, n + skew), DA(g, n + skew), DB(g, n + skew), S(g, n + skew);
    RN_EXPECT_OK(rn_add_relu_forward(cpu, count, a.data(), b.data(), y.data()));
    RN_CUDA_EXPECT_OK(rn_cuda_add_relu_forward(g, count, A, B, Y.data() + skew));
    check("add_relu", Y, y);
    RN_EXPECT_OK(rn_add_relu_backward(cpu, count, y.data(), dy.data(), da.data(), db.data()));
    RN_CUDA_EXPECT_OK(rn_cuda_add_relu_backward(g, count, Y.data() + skew, DY, DA.data() + skew, DB.data() + skew));
    check("add_relu_backward da", DA, da);
    check("add_relu_backward db", DB, db);
    DevBuffer DA2(g, n + skew);
    RN_CUDA_EXPECT_OK(rn_cuda_add_relu_backward(g, count, Y.data() + skew, DY, DA2.data() + skew, nullptr));
    check("add_relu_backward db=NULL", DA2, da);
    RN_EXPECT_OK(rn_add(cpu, count, a.data(), b.data(), s.data()));
    RN_CUDA_EXPECT_OK(rn_cuda_add(g, count, A, B, S.data() + skew));
    check("add", S, s);
    Buffer sd(n);
    DevBuffer SD(g, n + skew);
    RN_EXPECT_OK(rn_relu_backward_sum(cpu, count, y.data(), a.data(), dy.data(), sd.data()));
    RN_CUDA_EXPECT_OK(rn_cuda_relu_backward_sum(g, count, Y.data() + skew, A, DY, SD.data() + skew));
    check("relu_backward_sum", SD, sd);
  }
}

void crelu_case(rn_cuda_context* g, rn_context* cpu, std::mt19937_64& rng, const Shape& s) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "crelu n=%d c=%d hw=%d", s.n, s.c, s.hw);
  const std::string l(buf);
  const size_t xn = size_t(s.n) * s.c * s.hw;
  Buffer x(xn), y(2 * xn), dy(2 * xn), dx(xn);
  x.fill_random(rng);
  dy.fill_random(rng);
  DevBuffer X(g, xn), Y(g, 2 * xn), DY(g, 2 * xn), DX(g, xn);
  X.upload(x), DY.upload(dy);
  RN_EXPECT_OK(rn_crelu_forward(cpu, s.n, s.c, s.hw, x.data(), y.data()));
  RN_CUDA_EXPECT_OK(rn_cuda_crelu_forward(g, s.n, s.c, s.hw, X.data(), Y.data()));
  expect_match(g, l + " forward", Y, y, kFp32Tol);
  RN_EXPECT_OK(rn_crelu_backward(cpu, s.n, s.c, s.hw, x.data(), dy.data(), dx.data()));
  RN_CUDA_EXPECT_OK(rn_cuda_crelu_backward(g, s.n, s.c, s.hw, X.data(), DY.data(), DX.data()));
  expect_match(g, l + " backward", DX, dx, kFp32Tol);
}

void bad_arguments(rn_cuda_context* g) {
  DevBuffer X(g, 64), Y(g, 128), S(g, 4), T(g, 4);
  RN_EXPECT(rn_cuda_batchnorm_forward_training(g, 1, 4, 1, RN_ACT_NONE, 1e-5f, 0.1f, X.data(), nullptr, nullptr,
                                               nullptr, nullptr, S.data(), T.data(), Y.data()) ==
                RN_STATUS_BAD_ARGUMENT,
            "m < 2");
  RN_EXPECT(rn_cuda_batchnorm_forward_training(g, 2, 4, 8, 9, 1e-5f, 0.1f, X.data(), nullptr, nullptr, nullptr,
                                               nullptr, S.data(), T.data(), Y.data()) == RN_STATUS_BAD_ARGUMENT,
            "act");
  RN_EXPECT(rn_cuda_batchnorm_forward_training(g, 2, 4, 8, RN_ACT_NONE, 1e-5f, 0.1f, X.data(), S.data(), nullptr,
                                               nullptr, nullptr, S.data(), T.data(), Y.data()) ==
                RN_STATUS_BAD_ARGUMENT,
            "gamma without beta");
  RN_EXPECT(rn_cuda_batchnorm_forward_inference(g, 2, 4, 8, RN_ACT_NONE, -1.0f, X.data(), nullptr, nullptr, S.data(),
                                                T.data(), Y.data()) == RN_STATUS_BAD_ARGUMENT,
            "eps < 0");
  RN_EXPECT(rn_cuda_batchnorm_forward_training_add_relu(g, 2, 4, 8, 1e-5f, 0.1f, X.data(), nullptr, nullptr, nullptr,
                                                        nullptr, S.data(), T.data(), nullptr, Y.data()) ==
                RN_STATUS_BAD_ARGUMENT,
            "add_relu without a residual");
  RN_EXPECT(rn_cuda_batchnorm_inference_affine(g, 4, 1e-5f, nullptr, nullptr, nullptr, T.data(), S.data(),
                                               Y.data()) == RN_STATUS_BAD_ARGUMENT,
            "inference affine without running mean");
  RN_EXPECT(rn_cuda_batchnorm_inference_affine(g, 0, 1e-5f, nullptr, nullptr, S.data(), T.data(), X.data(),
                                               Y.data()) == RN_STATUS_BAD_ARGUMENT,
            "inference affine c = 0");
  RN_EXPECT(rn_cuda_relu_forward(g, -1, X.data(), Y.data()) == RN_STATUS_BAD_ARGUMENT, "count < 0");
  RN_EXPECT(rn_cuda_relu_forward(g, 0, nullptr, nullptr) == RN_STATUS_OK, "count 0");
  RN_EXPECT(rn_cuda_crelu_forward(g, 0, 4, 8, X.data(), Y.data()) == RN_STATUS_BAD_ARGUMENT, "n 0");
  expect_sync(g, "bad arguments");
}

}  // namespace

// test_cuda_norm --fuzz COUNT SEED: COUNT random shapes, each through bn_case (every
// activation, affine and tracked or not) and crelu_case, and an activation_case of a random
// count: plane sizes on and off the vector widths, channel counts around the splits' grid,
// batches of 1-9 (at least 4 values a channel, see test_batchnorm's fuzz mode).
int fuzz(rn_cuda_context* g, rn_context* cpu, int count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto pick = [&](std::initializer_list<int> v) { return pick_one(rng, v); };
  for (int i = 0; i < count; ++i) {
    Shape s{};
    s.n = pick({1, 2, 3, 4, 9});
    // (3 channels or more: the norm-wise error of dgamma, dbeta over one or two channels is
    // that of one or two sums that can cancel to near zero)
    s.c = pick({3, 5, 8, 16, 17, 33, 64});
    s.hw = rng() % 2 ? int(1 + rng() % 70) : pick({81, 98, 100, 196, 255, 256, 784, 1024});
    if (s.n * s.hw < 4) s.hw = 4;
    for (int act : {RN_ACT_NONE, RN_ACT_RELU, RN_ACT_CRELU})
      for (int variant = 0; variant < 2; ++variant) bn_case(g, cpu, rng, s, act, variant == 0, variant == 0, 0.0f);
    crelu_case(g, cpu, rng, s);
    activation_case(g, cpu, rng, int64_t(1 + rng() % 5000), int(rng() % 2));
  }
  std::printf("cuda batchnorm/activation fuzz: %d random shapes from seed %llu\n", count,
              static_cast<unsigned long long>(seed));
  return finish_cuda("cuda batchnorm/activation --fuzz", g, cpu);
}

int main(int argc, char** argv) {
  rn_cuda_context* g = context_or_skip("cuda batchnorm/activation");
  rn_context* cpu = rn_context_create(0);
  int fuzz_count;
  uint64_t fuzz_seed;
  if (fuzz_args(argc, argv, &fuzz_count, &fuzz_seed)) return fuzz(g, cpu, fuzz_count, fuzz_seed);
  std::mt19937_64 rng(77);
  const Shape shapes[] = {
      {3, 5, 42},      // 7x6 planes: hw % 4 != 0, the scalar path
      {4, 6, 16},      // the vector path
      {2, 3, 25},      // few channels
      {16, 16, 1024},  // a CIFAR layer at batch 16: many splits per channel
      {2, 64, 64},     // more channels than splits
  };
  for (const Shape& s : shapes)
    for (int act : {RN_ACT_NONE, RN_ACT_RELU, RN_ACT_CRELU})
      for (int variant = 0; variant < 3; ++variant) {
        const bool affine = variant != 1, track = variant != 2;
        bn_case(g, cpu, rng, s, act, affine, track, 0.0f);
      }
  for (int act : {RN_ACT_RELU, RN_ACT_CRELU}) bn_case(g, cpu, rng, {3, 5, 42}, act, true, true, 5.0f);
  for (int64_t count : {int64_t(1), int64_t(7), int64_t(1024), int64_t(100003)})
    for (int skew : {0, 1}) activation_case(g, cpu, rng, count, skew);
  for (const Shape& s : shapes) crelu_case(g, cpu, rng, s);
  bad_arguments(g);
  return finish_cuda("cuda batchnorm/activation", g, cpu);
}
