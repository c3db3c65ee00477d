// CUDA conv2d and weight-normalized conv against the CPU kernels: forward (plain, with
// bias, every fused epilogue), backward-data, backward-filter (+bias), the crelu-input
// variants, wnconv forward/backward; odd shapes, strides, padding, 1x1/3x3/7x7 and
// non-square kernels, every GEMM tile (M <= 16, 32, 64, > 64), split-K and not; FP32
// (relative error < 1e-5) and TF32 (< 5e-3). Skips without a CUDA device.
#include "test_cuda_util.h"

using namespace rntest;
using namespace rntest::cuda;
using namespace rntest::cuda::conv;

namespace {


std::string label_of(const rn_conv2d_desc& d, const char* mode) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s n=%d c=%d %dx%d k=%d %dx%d stride=%d,%d pad=%d,%d", mode, d.n, d.c, d.h, d.w, d.k,
                d.r, d.s, d.stride_h, d.stride_w, d.pad_h, d.pad_w);
  return buf;
}

void conv_case(rn_cuda_context* g, rn_context* cpu, std::mt19937_64& rng, const Case& cs, double tol,
               const char* mode) {
  const rn_conv2d_desc d = make(cs);
  RN_EXPECT(rn_conv2d_check(&d) == RN_STATUS_OK, "bad test case");
  const std::string l = label_of(d, mode);
  Buffer x(xsize(d)), w(wsize(d)), b(d.k), dy(ysize(d)), scale(d.k);
  x.fill_random(rng);
  w.fill_random(rng);
  b.fill_random(rng);
  dy.fill_random(rng);
  scale.fill_random(rng, 0.25f, 2.0f);
  DevBuffer X(g, xsize(d)), W(g, wsize(d)), B(g, d.k), DY(g, ysize(d)), SCALE(g, d.k);
  X.upload(x), W.upload(w), B.upload(b), DY.upload(dy), SCALE.upload(scale);

  // Forward, with and without bias.
  for (bool with_bias : {false, true}) {
    Buffer y(ysize(d));
    DevBuffer Y(g, ysize(d));
    RN_EXPECT_OK(rn_conv2d_forward(cpu, &d, x.data(), w.data(), with_bias ? b.data() : nullptr, y.data()));
    RN_CUDA_EXPECT_OK(rn_cuda_conv2d_forward(g, &d, X.data(), W.data(), with_bias ? B.data() : nullptr, Y.data()));
    expect_match(g, l + (with_bias ? " forward+bias" : " forward"), Y, y, tol);
  }
  // Backward-data.
  {
    Buffer dx(xsize(d));
    DevBuffer DX(g, xsize(d));
    RN_EXPECT_OK(rn_conv2d_backward_data(cpu, &d, dy.data(), w.data(), dx.data()));
    RN_CUDA_EXPECT_OK(rn_cuda_conv2d_backward_data(g, &d, DY.data(), W.data(), DX.data()));
    expect_match(g, l + " backward_data", DX, dx, tol);
  }
  // Backward-filter, with and without the bias gradient.
  for (bool with_bias : {false, true}) {
    Buffer dw(wsize(d)), db(d.k);
    DevBuffer DW(g, wsize(d)), DB(g, d.k);
    RN_EXPECT_OK(rn_conv2d_backward_filter(cpu, &d, x.data(), dy.data(), dw.data(), with_bias ? db.data() : nullptr));
    RN_CUDA_EXPECT_OK(
        rn_cuda_conv2d_backward_filter(g, &d, X.data(), DY.data(), DW.data(), with_bias ? DB.data() : nullptr));
    expect_match(g, l + " backward_filter", DW, dw, tol);
    if (with_bias) expect_match(g, l + " backward_filter dbias", DB, db, kFp32Tol);
  }
  // Fused epilogues: every activation, scale/bias on or off, NormProp's post map or none.
  const float ps = 1.0f / RN_NORMPROP_RELU_STD, pshift = -RN_NORMPROP_RELU_MEAN / RN_NORMPROP_RELU_STD;
  for (int act : {RN_ACT_NONE, RN_ACT_RELU, RN_ACT_CRELU})
    for (int variant = 0; variant < 3; ++variant) {
      const bool with_scale = variant != 1, post = variant == 2;
      const size_t yn = ysize(d) * (act == RN_ACT_CRELU ? 2 : 1);
      const rn_conv2d_epilogue ep_cpu{with_scale ? scale.data() : nullptr, b.data(), act, post ? ps : 1.0f,
                                      post ? pshift : 0.0f};
      const rn_conv2d_epilogue ep_gpu{with_scale ? SCALE.data() : nullptr, B.data(), act, post ? ps : 1.0f,
                                      post ? pshift : 0.0f};
      Buffer y(yn);
      DevBuffer Y(g, yn);
      RN_EXPECT_OK(rn_conv2d_forward_epilogue(cpu, &d, x.data(), w.data(), &ep_cpu, y.data()));
      RN_CUDA_EXPECT_OK(rn_cuda_conv2d_forward_epilogue(g, &d, X.data(), W.data(), &ep_gpu, Y.data()));
      char what[96];
      std::snprintf(what, sizeof what, " epilogue act=%d scale=%d post=%d", act, int(with_scale), int(post));
      expect_match(g, l + what, Y, y, tol);
    }
  // The conv of crelu(x): x has c channels, the conv sees 2c.
  {
    Case c2 = cs;
    c2.c = 2 * cs.c;
    const rn_conv2d_desc d2 = make(c2);
    Buffer w2(wsize(d2)), y(ysize(d2)), dw(wsize(d2)), db(d2.k);
    w2.fill_random(rng);
    DevBuffer W2(g, wsize(d2)), Y(g, ysize(d2)), DW(g, wsize(d2)), DB(g, d2.k);
    W2.upload(w2);
    RN_EXPECT_OK(rn_conv2d_forward_crelu_input(cpu, &d2, x.data(), w2.data(), b.data(), y.data()));
    RN_CUDA_EXPECT_OK(rn_cuda_conv2d_forward_crelu_input(g, &d2, X.data(), W2.data(), B.data(), Y.data()));
    expect_match(g, l + " forward_crelu_input", Y, y, tol);
    for (int act : {RN_ACT_NONE, RN_ACT_CRELU}) {  // a folded inference batch norm, then its activation
      const size_t yn = ysize(d2) * (act == RN_ACT_CRELU ? 2 : 1);
      const rn_conv2d_epilogue ep_cpu{scale.data(), b.data(), act, 1.0f, 0.0f};
      const rn_conv2d_epilogue ep_gpu{SCALE.data(), B.data(), act, 1.0f, 0.0f};
      Buffer ye(yn);
      DevBuffer YE(g, yn);
      RN_EXPECT_OK(rn_conv2d_forward_crelu_input_epilogue(cpu, &d2, x.data(), w2.data(), &ep_cpu, ye.data()));
      RN_CUDA_EXPECT_OK(rn_cuda_conv2d_forward_crelu_input_epilogue(g, &d2, X.data(), W2.data(), &ep_gpu, YE.data()));
      expect_match(g, l + " forward_crelu_input_epilogue act=" + std::to_string(act), YE, ye, tol);
    }
    RN_EXPECT_OK(rn_conv2d_backward_filter_crelu_input(cpu, &d2, x.data(), dy.data(), dw.data(), db.data()));
    RN_CUDA_EXPECT_OK(rn_cuda_conv2d_backward_filter_crelu_input(g, &d2, X.data(), DY.data(), DW.data(), DB.data()));
    expect_match(g, l + " backward_filter_crelu_input", DW, dw, tol);
    expect_match(g, l + " backward_filter_crelu_input dbias", DB, db, kFp32Tol);
    Buffer dxc(xsize(d));
    DevBuffer DXC(g, xsize(d));
    RN_EXPECT_OK(rn_conv2d_backward_data_crelu_input(cpu, &d2, dy.data(), w2.data(), x.data(), dxc.data()));
    RN_CUDA_EXPECT_OK(rn_cuda_conv2d_backward_data_crelu_input(g, &d2, DY.data(), W2.data(), X.data(), DXC.data()));
    expect_match(g, l + " backward_data_crelu_input", DXC, dxc, tol);
  }
}

void wnconv_case(rn_cuda_context* g, rn_context* cpu, std::mt19937_64& rng, const Case& cs, double tol,
                 const char* mode) {
  const rn_conv2d_desc d = make(cs);
  const std::string l = label_of(d, mode) + " wnconv";
  Buffer x(xsize(d)), v(wsize(d)), gamma(d.k), beta(d.k);
  x.fill_random(rng);
  v.fill_random(rng);
  gamma.fill_random(rng, 0.5f, 1.5f);
  beta.fill_random(rng, -0.5f, 0.5f);
  DevBuffer X(g, xsize(d)), V(g, wsize(d)), G(g, d.k), BETA(g, d.k);
  X.upload(x), V.upload(v), G.upload(gamma), BETA.upload(beta);
  const float ps = 1.0f / RN_NORMPROP_RELU_STD, pshift = -RN_NORMPROP_RELU_MEAN / RN_NORMPROP_RELU_STD;
  for (int act : {RN_ACT_NONE, RN_ACT_RELU, RN_ACT_CRELU})
    for (bool post : {false, true}) {
      const float a = post ? ps : 1.0f, t = post ? pshift : 0.0f;
      const size_t yn = ysize(d) * (act == RN_ACT_CRELU ? 2 : 1);
      char what[64];
      std::snprintf(what, sizeof what, " act=%d post=%d", act, int(post));
      Buffer y(yn);
      DevBuffer Y(g, yn);
      RN_EXPECT_OK(rn_wnconv_forward(cpu, &d, act, a, t, x.data(), v.data(), gamma.data(), beta.data(), y.data()));
      RN_CUDA_EXPECT_OK(rn_cuda_wnconv_forward(g, &d, act, a, t, X.data(), V.data(), G.data(), BETA.data(), Y.data()));
      expect_match(g, l + what + " forward", Y, y, tol);

      // Backward from the CPU's y (the same activation gates on both sides).
      Buffer dy(yn), du(ysize(d)), dx(xsize(d)), dv(wsize(d)), dg(d.k), db(d.k);
      dy.fill_random(rng);
      DevBuffer YC(g, yn), DY(g, yn), DU(g, ysize(d)), DX(g, xsize(d)), DV(g, wsize(d)), DG(g, d.k), DB(g, d.k);
      YC.upload(y), DY.upload(dy);
      RN_EXPECT_OK(rn_wnconv_backward(cpu, &d, act, a, t, x.data(), v.data(), gamma.data(), y.data(), dy.data(),
                                      du.data(), dx.data(), dv.data(), dg.data(), db.data()));
      RN_CUDA_EXPECT_OK(rn_cuda_wnconv_backward(g, &d, act, a, t, X.data(), V.data(), G.data(), YC.data(), DY.data(),
                                                DU.data(), DX.data(), DV.data(), DG.data(), DB.data()));
      expect_match(g, l + what + " du", DU, du, kFp32Tol);
      expect_match(g, l + what + " dx", DX, dx, tol);
      expect_match(g, l + what + " dv", DV, dv, tol);
      expect_match(g, l + what + " dgamma", DG, dg, tol);
      expect_match(g, l + what + " dbeta", DB, db, kFp32Tol);
    }
  // Optional outputs off (dx, dgamma, dbeta NULL) and du == dy (act NONE): dv unchanged.
  {
    Buffer y(ysize(d)), dy(ysize(d)), dv(wsize(d)), du(ysize(d));
    dy.fill_random(rng);
    RN_EXPECT_OK(rn_wnconv_forward(cpu, &d, RN_ACT_RELU, 1.0f, 0.0f, x.data(), v.data(), gamma.data(), beta.data(),
                                   y.data()));
    DevBuffer YC(g, ysize(d)), DY(g, ysize(d)), DV(g, wsize(d));
    YC.upload(y), DY.upload(dy);
    RN_EXPECT_OK(rn_wnconv_backward(cpu, &d, RN_ACT_RELU, 1.0f, 0.0f, x.data(), v.data(), gamma.data(), y.data(),
                                    dy.data(), du.data(), nullptr, dv.data(), nullptr, nullptr));
    RN_CUDA_EXPECT_OK(rn_cuda_wnconv_backward(g, &d, RN_ACT_RELU, 1.0f, 0.0f, X.data(), V.data(), G.data(),
                                              YC.data(), DY.data(), DY.data(), nullptr, DV.data(), nullptr, nullptr));
    expect_match(g, l + " in-place du dv", DV, dv, tol);
    expect_match(g, l + " in-place du", DY, du, kFp32Tol);
  }
}

void bad_arguments(rn_cuda_context* g, std::mt19937_64& rng) {
  const rn_conv2d_desc d = make({2, 3, 5, 5, 4, 3, 3, 1, 1, 1, 1});
  DevBuffer X(g, xsize(d)), W(g, wsize(d)), Y(g, ysize(d) * 2), G(g, d.k);
  rn_conv2d_desc bad = d;
  bad.p += 1;
  RN_EXPECT(rn_cuda_conv2d_forward(g, &bad, X.data(), W.data(), nullptr, Y.data()) == RN_STATUS_BAD_ARGUMENT, "p");
  RN_EXPECT(rn_cuda_conv2d_forward(g, &d, nullptr, W.data(), nullptr, Y.data()) == RN_STATUS_BAD_ARGUMENT, "x null");
  RN_EXPECT(rn_cuda_conv2d_forward(g, nullptr, X.data(), W.data(), nullptr, Y.data()) == RN_STATUS_BAD_ARGUMENT,
            "desc null");
  RN_EXPECT(rn_cuda_conv2d_forward(nullptr, &d, X.data(), W.data(), nullptr, Y.data()) == RN_STATUS_BAD_ARGUMENT,
            "ctx null");
  const rn_conv2d_epilogue ep{nullptr, nullptr, 7, 1.0f, 0.0f};
  RN_EXPECT(rn_cuda_conv2d_forward_epilogue(g, &d, X.data(), W.data(), &ep, Y.data()) == RN_STATUS_BAD_ARGUMENT,
            "act");
  RN_EXPECT(rn_cuda_conv2d_forward_crelu_input(g, &d, X.data(), W.data(), nullptr, Y.data()) ==
                RN_STATUS_BAD_ARGUMENT,
            "odd c for crelu input");
  RN_EXPECT(rn_cuda_conv2d_backward_data_crelu_input(g, &d, Y.data(), W.data(), X.data(), G.data()) ==
                RN_STATUS_BAD_ARGUMENT,
            "odd c for crelu-input backward-data");
  RN_EXPECT(rn_cuda_wnconv_forward(g, &d, RN_ACT_RELU, 0.0f, 0.0f, X.data(), W.data(), G.data(), nullptr, Y.data()) ==
                RN_STATUS_BAD_ARGUMENT,
            "post_scale 0");
  // A zero filter: the call is accepted, the device records it, synchronize reports it once.
  std::vector<float> v = random_floats(rng, wsize(d));
  for (size_t i = 0; i < wsize(d) / d.k; ++i) v[i] = 0.0f;
  W.upload(v);
  G.upload(random_floats(rng, d.k, 0.5f, 1.5f));
  X.upload(random_floats(rng, xsize(d)));
  RN_CUDA_EXPECT_OK(
      rn_cuda_wnconv_forward(g, &d, RN_ACT_RELU, 1.0f, 0.0f, X.data(), W.data(), G.data(), nullptr, Y.data()));
  RN_EXPECT(rn_cuda_synchronize(g) == RN_STATUS_BAD_ARGUMENT, "zero-norm filter not reported");
  RN_EXPECT(rn_cuda_synchronize(g) == RN_STATUS_OK, "error word not cleared");
}

// A random shape for the fuzz mode: sides of 1-17 and a few larger, channel counts at and next
// to the tiles' edges (M <= 16, 32, 64, > 64 for the forward's output channels and the
// backward-data's input channels), 1x1 to 7x7 and non-square taps, strides 1-3 and padding per
// axis; at most ~0.4 M multiply-adds a direction (the host emulation runs every thread of every
// block) and at least 3 output channels and 48 outputs (see test_conv2d's fuzz mode).
Case random_case(std::mt19937_64& rng) {
  auto pick = [&](std::initializer_list<int> v) { return pick_one(rng, v); };
  for (;;) {
    Case cs{};
    cs.n = pick({1, 2, 3, 5});
    cs.c = pick({1, 2, 3, 4, 6, 8, 15, 16, 17, 31, 32, 33, 64, 65});
    cs.k = pick({3, 5, 8, 15, 16, 17, 31, 32, 33, 64, 65});
    cs.h = pick({1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13, 14, 16, 17, 28});
    cs.w = pick({1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13, 14, 16, 17, 28, 33});
    cs.r = pick({1, 2, 3, 3, 3, 5, 7});
    cs.s = rng() % 4 == 0 ? pick({1, 2, 3, 5}) : cs.r;
    cs.sh = pick({1, 1, 2, 2, 3});
    cs.sw = rng() % 4 == 0 ? pick({1, 2, 3}) : cs.sh;
    cs.ph = int(rng() % cs.r);
    cs.pw = int(rng() % cs.s);
    if (cs.h + 2 * cs.ph < cs.r || cs.w + 2 * cs.pw < cs.s) continue;
    const rn_conv2d_desc d = make(cs);
    if (rn_conv2d_check(&d) != RN_STATUS_OK) continue;
    if (double(d.n) * d.k * d.p * d.q * d.c * d.r * d.s > 4e5 || d.n * d.k * d.p * d.q < 48) continue;
    return cs;
  }
}

// test_cuda_conv --fuzz COUNT SEED: COUNT random shapes (random_case) through conv_case in FP32
// and TF32, and wnconv_case on every fourth.
int fuzz(rn_cuda_context* g, rn_context* cpu, int count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (int i = 0; i < count; ++i) {
    const Case cs = random_case(rng);
    for (int math : {RN_CUDA_MATH_FP32, RN_CUDA_MATH_TF32}) {
      if (rn_cuda_context_set_math(g, math) != RN_STATUS_OK) continue;  // TF32 below sm 80
      const double tol = math == RN_CUDA_MATH_TF32 ? kTf32Tol : kFp32Tol;
      const char* mode = math == RN_CUDA_MATH_TF32 ? "tf32" : "fp32";
      conv_case(g, cpu, rng, cs, tol, mode);
      if (i % 4 == 0) wnconv_case(g, cpu, rng, cs, tol, mode);
    }
  }
  RN_EXPECT(rn_cuda_context_set_math(g, RN_CUDA_MATH_FP32) == RN_STATUS_OK, "set_math back");
  std::printf("cuda conv2d fuzz: %d random shapes from seed %llu\n", count, static_cast<unsigned long long>(seed));
  return finish_cuda("cuda conv2d --fuzz", g, cpu);
}

}  // namespace

int main(int argc, char** argv) {
  rn_cuda_context* g = context_or_skip("cuda conv2d");
  rn_context* cpu = rn_context_create(0);
  int fuzz_count;
  uint64_t fuzz_seed;
  if (fuzz_args(argc, argv, &fuzz_count, &fuzz_seed)) return fuzz(g, cpu, fuzz_count, fuzz_seed);
  std::mt19937_64 rng(2024);
  const Case cases[] = {
      {3, 5, 7, 6, 4, 3, 3, 1, 1, 1, 1},      // the odd 3x3, M <= 16
      {3, 5, 7, 6, 4, 3, 3, 2, 2, 1, 1},      // stride 2
      {3, 5, 7, 6, 6, 1, 1, 1, 1, 0, 0},      // 1x1
      {3, 5, 7, 6, 6, 1, 1, 2, 2, 0, 0},      // 1x1 stride 2 (the projection shortcut)
      {2, 3, 15, 13, 8, 7, 7, 2, 2, 3, 3},    // the 7x7 stem
      {3, 4, 9, 8, 5, 3, 1, 2, 1, 1, 0},      // non-square kernel, stride and padding
      {2, 17, 9, 9, 33, 3, 3, 1, 1, 1, 1},    // M <= 64 (forward), <= 32 (backward-data)
      {4, 16, 32, 32, 16, 3, 3, 1, 1, 1, 1},  // a CIFAR layer: split-K backward-filter
      {8, 4, 16, 16, 8, 3, 3, 1, 1, 1, 1},    // 16 splits: more than sum_splits has lanes
      {8, 70, 24, 24, 70, 3, 3, 1, 1, 1, 1},  // M > 64 with N >= 4096: the 128x128 tile
  };
  for (int math : {RN_CUDA_MATH_FP32, RN_CUDA_MATH_TF32}) {
    const int st = rn_cuda_context_set_math(g, math);
    if (math == RN_CUDA_MATH_TF32 && st == RN_STATUS_UNSUPPORTED) {
      std::printf("cuda conv2d: TF32 not supported by this device (sm < 80): FP32 only\n");
      break;
    }
    RN_EXPECT(st == RN_STATUS_OK, "set_math");
    const double tol = math == RN_CUDA_MATH_TF32 ? kTf32Tol : kFp32Tol;
    const char* mode = math == RN_CUDA_MATH_TF32 ? "tf32" : "fp32";
    for (const Case& cs : cases) conv_case(g, cpu, rng, cs, tol, mode);
    for (const Case& cs : {cases[0], cases[1], cases[3], cases[7]}) wnconv_case(g, cpu, rng, cs, tol, mode);
  }
  RN_EXPECT(rn_cuda_context_set_math(g, RN_CUDA_MATH_FP32) == RN_STATUS_OK, "set_math back");
  bad_arguments(g, rng);
  return finish_cuda("cuda conv2d", g, cpu);
}
