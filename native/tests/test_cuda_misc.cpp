// CUDA pooling, shortcut A, linear, softmax cross-entropy / top-k and the fused SGD
// step against the CPU kernels, on odd shapes; the max-pool's argmax (ties and NaN
// included) must match exactly; the data-dependent errors (a bad label, a bad argmax)
// must be reported by rn_cuda_synchronize. Skips without a CUDA device.
#include <cmath>

#include "test_cuda_util.h"

using namespace rntest;
using namespace rntest::cuda;

namespace {

std::string fmt(const char* f, int a, int b, int c, int d, int e = 0, int g = 0, int h = 0) {
  char buf[160];
  std::snprintf(buf, sizeof buf, f, a, b, c, d, e, g, h);
  return buf;
}

void avgpool_case(rn_cuda_context* gp, rn_context* cpu, std::mt19937_64& rng, int n, int c, int hw) {
  const std::string l = fmt("avgpool n=%d c=%d hw=%d", n, c, hw, 0);
  const size_t xn = size_t(n) * c * hw, yn = size_t(n) * c;
  Buffer x(xn), y(yn), dy(yn), dx(xn);
  x.fill_random(rng);
  dy.fill_random(rng);
  DevBuffer X(gp, xn), Y(gp, yn), DY(gp, yn), DX(gp, xn);
  X.upload(x), DY.upload(dy);
  RN_EXPECT_OK(rn_global_avgpool_forward(cpu, n, c, hw, x.data(), y.data()));
  RN_CUDA_EXPECT_OK(rn_cuda_global_avgpool_forward(gp, n, c, hw, X.data(), Y.data()));
  expect_match(gp, l + " forward", Y, y, kFp32Tol);
  RN_EXPECT_OK(rn_global_avgpool_backward(cpu, n, c, hw, dy.data(), dx.data()));
  RN_CUDA_EXPECT_OK(rn_cuda_global_avgpool_backward(gp, n, c, hw, DY.data(), DX.data()));
  expect_match(gp, l + " backward", DX, dx, kFp32Tol);
}

// values: 0 uniform, 1 small integers (ties), 2 uniform with NaNs.
void maxpool_case(rn_cuda_context* gp, rn_context* cpu, std::mt19937_64& rng, int n, int c, int h, int w, int kernel,
                  int stride, int pad, int values) {
  const std::string l = fmt("maxpool n=%d c=%d %dx%d k=%d s=%d p=%d", n, c, h, w, kernel, stride, pad) +
                        (values == 1 ? " ties" : values == 2 ? " nan" : "");
  const int p = (h + 2 * pad - kernel) / stride + 1, q = (w + 2 * pad - kernel) / stride + 1;
  const size_t xn = size_t(n) * c * h * w, yn = size_t(n) * c * p * q;
  Buffer x(xn), y(yn), dy(yn), dx(xn), dx2(xn);
  x.fill_random(rng);
  dy.fill_random(rng);
  if (values == 1)
    for (size_t i = 0; i < xn; ++i) x[i] = std::round(x[i] * 2.0f);
  if (values == 2)
    for (size_t i = 0; i < xn; i += 11) x[i] = std::nanf("");
  std::vector<int32_t> argmax(yn);
  DevBuffer X(gp, xn), Y(gp, yn), DY(gp, yn), DX(gp, xn), DX2(gp, xn);
  DevInts A(gp, yn);
  X.upload(x), DY.upload(dy);
  RN_EXPECT_OK(rn_maxpool2d_forward(cpu, n, c, h, w, kernel, stride, pad, x.data(), y.data(), argmax.data()));
  // Outputs start finite (not NaN poison): with NaN inputs (values == 2) the NaN the max
  // must propagate is then the kernel's, and every value is compared exactly (a max selects).
  const std::vector<float> sentinel(yn, 12345.0f);
  Y.upload(sentinel);
  RN_CUDA_EXPECT_OK(rn_cuda_maxpool2d_forward(gp, n, c, h, w, kernel, stride, pad, X.data(), Y.data(), A.data()));
  expect_equal(gp, l + " argmax", A, argmax.data());
  expect_same_floats(gp, l + " forward", Y, y.data());
  // Without argmax output.
  DevBuffer Y2(gp, yn);
  Y2.upload(sentinel);
  RN_CUDA_EXPECT_OK(rn_cuda_maxpool2d_forward(gp, n, c, h, w, kernel, stride, pad, X.data(), Y2.data(), nullptr));
  expect_same_floats(gp, l + " forward (no argmax)", Y2, y.data());
  RN_EXPECT_OK(rn_maxpool2d_backward(cpu, n, c, h, w, kernel, stride, pad, argmax.data(), dy.data(), dx.data()));
  RN_CUDA_EXPECT_OK(rn_cuda_maxpool2d_backward(gp, n, c, h, w, kernel, stride, pad, A.data(), DY.data(), DX.data()));
  expect_match(gp, l + " backward", DX, dx, kFp32Tol);
  RN_EXPECT_OK(rn_maxpool2d_backward_recompute(cpu, n, c, h, w, kernel, stride, pad, x.data(), dy.data(), dx2.data()));
  RN_CUDA_EXPECT_OK(
      rn_cuda_maxpool2d_backward_recompute(gp, n, c, h, w, kernel, stride, pad, X.data(), DY.data(), DX2.data()));
  expect_match(gp, l + " backward_recompute", DX2, dx2, kFp32Tol);
}

void maxpool_bad_argmax(rn_cuda_context* gp) {
  const int n = 1, c = 1, h = 4, w = 4, kernel = 2, stride = 2, pad = 0;
  DevBuffer DY(gp, 4), DX(gp, 16);
  DevInts A(gp, 4);
  DY.upload(std::vector<float>{1, 2, 3, 4});
  A.upload(std::vector<int32_t>{0, 2, 8, 99});  // 99 lies outside the plane
  RN_CUDA_EXPECT_OK(rn_cuda_maxpool2d_backward(gp, n, c, h, w, kernel, stride, pad, A.data(), DY.data(), DX.data()));
  RN_EXPECT(rn_cuda_synchronize(gp) == RN_STATUS_BAD_ARGUMENT, "bad argmax not reported");
  RN_EXPECT(rn_cuda_synchronize(gp) == RN_STATUS_OK, "error word not cleared");
  RN_EXPECT(rn_cuda_maxpool2d_forward(gp, 1, 1, 4, 4, 3, 1, 2, DY.data(), DX.data(), nullptr) ==
                RN_STATUS_BAD_ARGUMENT,
            "pad > kernel/2");
}

void shortcut_case(rn_cuda_context* gp, rn_context* cpu, std::mt19937_64& rng, int n, int c_in, int h, int w,
                   int c_out, int stride) {
  const std::string l = fmt("shortcut n=%d c_in=%d %dx%d c_out=%d stride=%d", n, c_in, h, w, c_out, stride);
  const int p = (h + stride - 1) / stride, q = (w + stride - 1) / stride;
  const size_t xn = size_t(n) * c_in * h * w, yn = size_t(n) * c_out * p * q;
  Buffer x(xn), y(yn), dy(yn), dx(xn);
  x.fill_random(rng);
  dy.fill_random(rng);
  DevBuffer X(gp, xn), Y(gp, yn), DY(gp, yn), DX(gp, xn);
  X.upload(x), DY.upload(dy);
  RN_EXPECT_OK(rn_shortcut_a_forward(cpu, n, c_in, h, w, c_out, stride, x.data(), y.data()));
  RN_CUDA_EXPECT_OK(rn_cuda_shortcut_a_forward(gp, n, c_in, h, w, c_out, stride, X.data(), Y.data()));
  expect_match(gp, l + " forward", Y, y, kFp32Tol);
  RN_EXPECT_OK(rn_shortcut_a_backward(cpu, n, c_in, h, w, c_out, stride, dy.data(), dx.data()));
  RN_CUDA_EXPECT_OK(rn_cuda_shortcut_a_backward(gp, n, c_in, h, w, c_out, stride, DY.data(), DX.data()));
  expect_match(gp, l + " backward", DX, dx, kFp32Tol);
}

void linear_case(rn_cuda_context* gp, rn_context* cpu, std::mt19937_64& rng, int n, int in, int out, double tol,
                 const char* mode) {
  const std::string l = fmt("linear n=%d in=%d out=%d", n, in, out, 0) + " " + mode;
  Buffer x(size_t(n) * in), w(size_t(out) * in), b(out), dy(size_t(n) * out);
  x.fill_random(rng);
  w.fill_random(rng);
  b.fill_random(rng);
  dy.fill_random(rng);
  DevBuffer X(gp, x.size()), W(gp, w.size()), B(gp, out), DY(gp, dy.size());
  X.upload(x), W.upload(w), B.upload(b), DY.upload(dy);
  for (bool with_bias : {false, true}) {
    Buffer y(size_t(n) * out);
    DevBuffer Y(gp, y.size());
    RN_EXPECT_OK(rn_linear_forward(cpu, n, in, out, x.data(), w.data(), with_bias ? b.data() : nullptr, y.data()));
    RN_CUDA_EXPECT_OK(
        rn_cuda_linear_forward(gp, n, in, out, X.data(), W.data(), with_bias ? B.data() : nullptr, Y.data()));
    expect_match(gp, l + (with_bias ? " forward+bias" : " forward"), Y, y, tol);
  }
  Buffer dx(x.size()), dw(w.size()), db(out);
  DevBuffer DX(gp, x.size()), DW(gp, w.size()), DB(gp, out);
  RN_EXPECT_OK(rn_linear_backward_data(cpu, n, in, out, dy.data(), w.data(), dx.data()));
  RN_CUDA_EXPECT_OK(rn_cuda_linear_backward_data(gp, n, in, out, DY.data(), W.data(), DX.data()));
  expect_match(gp, l + " backward_data", DX, dx, tol);
  RN_EXPECT_OK(rn_linear_backward_weight(cpu, n, in, out, x.data(), dy.data(), dw.data(), db.data()));
  RN_CUDA_EXPECT_OK(rn_cuda_linear_backward_weight(gp, n, in, out, X.data(), DY.data(), DW.data(), DB.data()));
  expect_match(gp, l + " backward_weight", DW, dw, tol);
  expect_match(gp, l + " backward_weight dbias", DB, db, kFp32Tol);
}

float read_float(rn_cuda_context* gp, const float* dev) {
  float v = std::nanf("");
  RN_EXPECT(rn_cuda_copy_to_host(gp, &v, dev, sizeof v) == RN_STATUS_OK, "copy");
  return v;
}

void softmax_case(rn_cuda_context* gp, rn_context* cpu, std::mt19937_64& rng, int n, int classes, float spread,
                  bool with_nan) {
  const std::string l = fmt("softmax n=%d classes=%d spread=%d nan=%d", n, classes, int(spread), int(with_nan));
  Buffer logits(size_t(n) * classes);
  logits.fill_random(rng, -spread, spread);
  if (with_nan) logits[classes + 3] = std::nanf("");  // row 1
  std::vector<int32_t> labels(n);
  std::uniform_int_distribution<int> pick(0, classes - 1);
  for (int32_t& v : labels) v = pick(rng);
  DevBuffer L(gp, logits.size()), LOSS(gp, 1), DL(gp, logits.size());
  DevInts LAB(gp, n);
  L.upload(logits), LAB.upload(labels);
  LOSS.upload(std::vector<float>{12345.0f});  // finite: a NaN loss must be the kernel's
  float loss = 0.0f;
  RN_EXPECT_OK(rn_softmax_xent_forward(cpu, n, classes, logits.data(), labels.data(), &loss));
  RN_CUDA_EXPECT_OK(rn_cuda_softmax_xent_forward(gp, n, classes, L.data(), LAB.data(), LOSS.data()));
  expect_sync(gp, l + " loss");
  const float gl = read_float(gp, LOSS.data());
  if (with_nan) {
    RN_EXPECT(std::isnan(gl), "%s: loss %g, want NaN", l.c_str(), gl);
  } else {
    RN_EXPECT(std::fabs(gl - loss) <= 1e-6 * std::fabs(loss) + 1e-7, "%s: loss %.9g vs cpu %.9g", l.c_str(), gl,
              loss);
  }
  if (!with_nan) {
    for (float scale : {1.0f, 0.5f}) {
      Buffer dl(logits.size());
      RN_EXPECT_OK(rn_softmax_xent_backward(cpu, n, classes, logits.data(), labels.data(), scale, dl.data()));
      RN_CUDA_EXPECT_OK(rn_cuda_softmax_xent_backward(gp, n, classes, L.data(), LAB.data(), scale, DL.data()));
      expect_match(gp, l + " backward", DL, dl, kFp32Tol);
    }
    // dlogits aliasing logits.
    DevBuffer LA(gp, logits.size());
    LA.upload(logits);
    Buffer dl(logits.size());
    RN_EXPECT_OK(rn_softmax_xent_backward(cpu, n, classes, logits.data(), labels.data(), 1.0f, dl.data()));
    RN_CUDA_EXPECT_OK(rn_cuda_softmax_xent_backward(gp, n, classes, LA.data(), LAB.data(), 1.0f, LA.data()));
    expect_match(gp, l + " backward in place", LA, dl, kFp32Tol);
  }
  void* count_dev = nullptr;
  RN_EXPECT(rn_cuda_malloc(gp, sizeof(int64_t), &count_dev) == RN_STATUS_OK, "malloc");
  for (int k : {1, 5}) {
    int64_t want = -1, got = -2;
    RN_EXPECT_OK(rn_topk_correct(cpu, n, classes, logits.data(), labels.data(), k, &want));
    RN_CUDA_EXPECT_OK(
        rn_cuda_topk_correct(gp, n, classes, L.data(), LAB.data(), k, static_cast<int64_t*>(count_dev)));
    expect_sync(gp, l + " topk");
    RN_EXPECT(rn_cuda_copy_to_host(gp, &got, count_dev, sizeof got) == RN_STATUS_OK, "copy");
    RN_EXPECT(got == want, "%s top-%d: %lld vs cpu %lld", l.c_str(), k, static_cast<long long>(got),
              static_cast<long long>(want));
  }
  rn_cuda_free(gp, count_dev);
}

void softmax_bad_label(rn_cuda_context* gp) {
  DevBuffer L(gp, 6), LOSS(gp, 1);
  DevInts LAB(gp, 2);
  L.upload(std::vector<float>{1, 2, 3, 4, 5, 6});
  LAB.upload(std::vector<int32_t>{1, 3});  // 3 >= classes
  RN_CUDA_EXPECT_OK(rn_cuda_softmax_xent_forward(gp, 2, 3, L.data(), LAB.data(), LOSS.data()));
  RN_EXPECT(rn_cuda_synchronize(gp) == RN_STATUS_BAD_ARGUMENT, "bad label not reported");
  RN_EXPECT(rn_cuda_synchronize(gp) == RN_STATUS_OK, "error word not cleared");
}

void sgd_case(rn_cuda_context* gp, rn_context* cpu, std::mt19937_64& rng, int64_t count, float momentum,
              float dampening, float wd, int nesterov) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "sgd count=%lld momentum=%g dampening=%g wd=%g nesterov=%d",
                static_cast<long long>(count), momentum, dampening, wd, nesterov);
  const std::string l(buf);
  const size_t n = size_t(count);
  Buffer p(n), v(n);
  p.fill_random(rng);
  v.fill_random(rng);  // ignored by the first step
  DevBuffer P(gp, n), V(gp, n), G(gp, n);
  P.upload(p), V.upload(v);
  for (int step = 0; step < 3; ++step) {
    Buffer grad(n);
    grad.fill_random(rng);
    G.upload(grad);
    const rn_sgd_params prm{0.1f, momentum, dampening, wd, nesterov, step == 0};
    float* vel = momentum != 0.0f ? v.data() : nullptr;
    RN_EXPECT_OK(rn_sgd_step(cpu, &prm, count, p.data(), grad.data(), vel));
    RN_CUDA_EXPECT_OK(rn_cuda_sgd_step(gp, &prm, count, P.data(), G.data(), momentum != 0.0f ? V.data() : nullptr));
  }
  expect_match(gp, l + " param", P, p, kFp32Tol);
  if (momentum != 0.0f) expect_match(gp, l + " velocity", V, v, kFp32Tol);
  const rn_sgd_params bad{0.1f, 0.9f, 0.1f, 0.0f, 1, 0};
  RN_EXPECT(rn_cuda_sgd_step(gp, &bad, count, P.data(), G.data(), V.data()) == RN_STATUS_BAD_ARGUMENT,
            "nesterov with dampening");
}

}  // namespace

int main() {
  rn_cuda_context* gp = context_or_skip("cuda pooling/shortcut/linear/softmax/sgd");
  rn_context* cpu = rn_context_create(0);
  std::mt19937_64 rng(31337);

  avgpool_case(gp, cpu, rng, 3, 5, 42);
  avgpool_case(gp, cpu, rng, 2, 64, 64);
  avgpool_case(gp, cpu, rng, 1, 3, 1);
  for (int values : {0, 1, 2}) {
    maxpool_case(gp, cpu, rng, 3, 5, 7, 6, 3, 2, 1, values);  // the ImageNet stem pool on an odd plane
    maxpool_case(gp, cpu, rng, 2, 3, 8, 8, 2, 2, 0, values);
    maxpool_case(gp, cpu, rng, 2, 4, 9, 7, 3, 1, 1, values);  // overlapping windows
    maxpool_case(gp, cpu, rng, 1, 2, 11, 10, 5, 3, 2, values);
  }
  maxpool_bad_argmax(gp);

  shortcut_case(gp, cpu, rng, 3, 5, 7, 6, 8, 2);
  shortcut_case(gp, cpu, rng, 3, 5, 7, 6, 5, 1);
  shortcut_case(gp, cpu, rng, 2, 16, 8, 8, 32, 2);
  shortcut_case(gp, cpu, rng, 2, 3, 10, 11, 7, 3);

  for (int math : {RN_CUDA_MATH_FP32, RN_CUDA_MATH_TF32}) {
    if (rn_cuda_context_set_math(gp, math) != RN_STATUS_OK) break;
    const double tol = math == RN_CUDA_MATH_TF32 ? kTf32Tol : kFp32Tol;
    const char* mode = math == RN_CUDA_MATH_TF32 ? "tf32" : "fp32";
    linear_case(gp, cpu, rng, 3, 17, 10, tol, mode);
    linear_case(gp, cpu, rng, 130, 70, 40, tol, mode);
    linear_case(gp, cpu, rng, 9, 300, 129, tol, mode);
  }
  rn_cuda_context_set_math(gp, RN_CUDA_MATH_FP32);

  softmax_case(gp, cpu, rng, 7, 10, 3.0f, false);
  softmax_case(gp, cpu, rng, 130, 1000, 3.0f, false);
  softmax_case(gp, cpu, rng, 5, 37, 80.0f, false);  // large logits: the max is subtracted
  softmax_case(gp, cpu, rng, 4, 10, 3.0f, true);
  softmax_bad_label(gp);

  for (int64_t count : {int64_t(1), int64_t(1001), int64_t(100000)}) {
    sgd_case(gp, cpu, rng, count, 0.0f, 0.0f, 5e-4f, 0);
    sgd_case(gp, cpu, rng, count, 0.9f, 0.0f, 5e-4f, 0);
    sgd_case(gp, cpu, rng, count, 0.9f, 0.1f, 1e-4f, 0);
    sgd_case(gp, cpu, rng, count, 0.9f, 0.0f, 5e-4f, 1);
  }
  return finish_cuda("cuda pooling/shortcut/linear/softmax/sgd", gp, cpu);
}
