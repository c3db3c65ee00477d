// pooling: global average pool and max pool (forward, both backward variants) vs
// float64 references; odd shapes, ties, NaN, -inf, padding, bad arguments.
#include <algorithm>
#include <limits>

#include "test_util.h"

using namespace rntest;

namespace {

// An int32 buffer poisoned with -7 and followed by sentinels (argmax outputs).
class IntBuffer {
 public:
  static constexpr size_t kGuard = 16;
  static constexpr int32_t kSentinel = 0x5eadbeef;
  static constexpr int32_t kPoison = -7;
  explicit IntBuffer(size_t n) : v_(n + kGuard, kSentinel), n_(n) { std::fill(v_.begin(), v_.begin() + n, kPoison); }
  int32_t* data() { return v_.data(); }
  int32_t operator[](size_t i) const { return v_[i]; }
  bool intact() const {
    for (size_t i = n_; i < v_.size(); ++i) if (v_[i] != kSentinel) return false;
    return true;
  }

 private:
  std::vector<int32_t> v_;
  size_t n_;
};

struct Pool {
  int n, c, h, w, kernel, stride, pad;
  int p() const { return (h + 2 * pad - kernel) / stride + 1; }
  int q() const { return (w + 2 * pad - kernel) / stride + 1; }
  size_t in_size() const { return size_t(n) * c * h * w; }
  size_t out_size() const { return size_t(n) * c * p() * q(); }
};

// Float64 max pool written straight from the definition: scan the kernel window in
// row-major order, skip padding, keep the first maximum; a NaN wins (the first one).
void maxpool_ref(const Pool& g, const float* x, std::vector<double>& y, std::vector<int32_t>& arg) {
  const int p = g.p(), q = g.q();
  y.assign(g.out_size(), 0.0);
  arg.assign(g.out_size(), -1);
  for (int nc = 0; nc < g.n * g.c; ++nc)
    for (int i = 0; i < p; ++i)
      for (int j = 0; j < q; ++j) {
        double best = 0.0;
        int32_t at = -1;
        for (int r = 0; r < g.kernel; ++r)
          for (int s = 0; s < g.kernel; ++s) {
            int ih = i * g.stride - g.pad + r, iw = j * g.stride - g.pad + s;
            if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
            double v = x[(size_t(nc) * g.h + ih) * g.w + iw];
            bool take = at < 0 || (!std::isnan(best) && (v > best || std::isnan(v)));
            if (take) { best = v; at = ih * g.w + iw; }
          }
        size_t o = (size_t(nc) * p + i) * q + j;
        y[o] = best;
        arg[o] = at;
      }
}

std::vector<double> maxpool_backward_ref(const Pool& g, const std::vector<int32_t>& arg, const float* dy) {
  std::vector<double> dx(g.in_size(), 0.0);
  const size_t out_plane = size_t(g.p()) * g.q(), in_plane = size_t(g.h) * g.w;
  for (size_t o = 0; o < g.out_size(); ++o) dx[(o / out_plane) * in_plane + arg[o]] += dy[o];
  return dx;
}

bool same_float(float a, double b) { return (std::isnan(a) && std::isnan(b)) || double(a) == b; }

// Runs forward (with and without argmax) and both backward variants on x, compares with
// the references: forward values and argmax exactly, dx to float rounding of the sums.
void check_maxpool(rn_context* ctx, const Pool& g, const Buffer& x, std::mt19937_64& rng, const char* what) {
  std::vector<double> y_ref;
  std::vector<int32_t> arg_ref;
  maxpool_ref(g, x.data(), y_ref, arg_ref);
  Buffer y(g.out_size()), y2(g.out_size()), dy(g.out_size()), dx(g.in_size()), dx2(g.in_size());
  IntBuffer arg(g.out_size());
  RN_EXPECT_OK(rn_maxpool2d_forward(ctx, g.n, g.c, g.h, g.w, g.kernel, g.stride, g.pad, x.data(), y.data(), arg.data()));
  RN_EXPECT(y.intact() && arg.intact(), "%s: forward wrote past the end", what);
  size_t bad_y = 0, bad_arg = 0;
  for (size_t o = 0; o < g.out_size(); ++o) {
    bad_y += !same_float(y[o], y_ref[o]);
    bad_arg += arg[o] != arg_ref[o];
  }
  RN_EXPECT(bad_y == 0, "%s: %zu forward values differ from the reference", what, bad_y);
  RN_EXPECT(bad_arg == 0, "%s: %zu argmax entries differ from the reference", what, bad_arg);
  RN_EXPECT_OK(rn_maxpool2d_forward(ctx, g.n, g.c, g.h, g.w, g.kernel, g.stride, g.pad, x.data(), y2.data(), nullptr));
  RN_EXPECT(std::memcmp(y.data(), y2.data(), g.out_size() * 4) == 0 && y2.intact(), "%s: forward without argmax differs",
            what);

  dy.fill_random(rng);
  RN_EXPECT_OK(rn_maxpool2d_backward(ctx, g.n, g.c, g.h, g.w, g.kernel, g.stride, g.pad, arg.data(), dy.data(), dx.data()));
  expect_close(what, dx, maxpool_backward_ref(g, arg_ref, dy.data()), 1e-6);
  RN_EXPECT_OK(rn_maxpool2d_backward_recompute(ctx, g.n, g.c, g.h, g.w, g.kernel, g.stride, g.pad, x.data(), dy.data(),
                                               dx2.data()));
  RN_EXPECT(dx2.intact(), "%s: backward_recompute wrote past the end", what);
  RN_EXPECT(std::memcmp(dx.data(), dx2.data(), g.in_size() * 4) == 0, "%s: the two backward variants differ", what);
}

void test_global_avgpool(rn_context* ctx, std::mt19937_64& rng) {
  const int shapes[][3] = {{3, 5, 42}, {1, 1, 1}, {2, 64, 64}, {7, 3, 49}, {128, 16, 64}, {2, 3, 1000}};
  for (const auto& sh : shapes) {
    const int n = sh[0], c = sh[1], hw = sh[2];
    Buffer x(size_t(n) * c * hw), y(size_t(n) * c), dy(size_t(n) * c), dx(size_t(n) * c * hw);
    x.fill_random(rng);
    dy.fill_random(rng);
    std::vector<double> y_ref(size_t(n) * c, 0.0), dx_ref(size_t(n) * c * hw);
    for (size_t pl = 0; pl < y_ref.size(); ++pl) {
      for (int i = 0; i < hw; ++i) y_ref[pl] += x[pl * hw + i];
      y_ref[pl] /= hw;
      for (int i = 0; i < hw; ++i) dx_ref[pl * hw + i] = double(dy[pl]) / hw;
    }
    RN_EXPECT_OK(rn_global_avgpool_forward(ctx, n, c, hw, x.data(), y.data()));
    expect_close("global_avgpool forward", y, y_ref, 1e-6);
    RN_EXPECT_OK(rn_global_avgpool_backward(ctx, n, c, hw, dy.data(), dx.data()));
    expect_close("global_avgpool backward", dx, dx_ref, 1e-6);
  }
  // NaN propagates through the mean.
  Buffer x(6), y(2);
  for (int i = 0; i < 6; ++i) x[i] = float(i);
  x[4] = std::nanf("");
  y[0] = y[1] = 12345.0f;  // finite: the NaN must be the kernel's, not the poison
  RN_EXPECT_OK(rn_global_avgpool_forward(ctx, 1, 2, 3, x.data(), y.data()));
  RN_EXPECT(y[0] == 1.0f && std::isnan(y[1]), "global_avgpool NaN: y = %g %g", y[0], y[1]);
}

void test_maxpool(rn_context* ctx, std::mt19937_64& rng) {
  const Pool shapes[] = {
      {3, 5, 7, 6, 3, 2, 1},   // the ImageNet stem pool on odd/even sizes
      {2, 3, 8, 8, 3, 2, 1},   {1, 2, 7, 7, 3, 2, 1},  {2, 3, 112, 112, 3, 2, 1}, {2, 3, 5, 5, 2, 2, 0},
      {1, 1, 1, 1, 1, 1, 0},   {2, 4, 9, 6, 3, 1, 1},  {1, 3, 6, 7, 3, 3, 1},     {1, 2, 11, 10, 5, 3, 2},
      {3, 5, 7, 6, 2, 1, 1},   {2, 2, 4, 4, 4, 1, 2},  {1, 1, 3, 9, 3, 2, 0},     {2, 3, 2, 2, 3, 2, 1},
      {4, 17, 9, 9, 3, 2, 1}};
  for (const Pool& g : shapes) {
    Buffer x(g.in_size());
    x.fill_random(rng);
    check_maxpool(ctx, g, x, rng, "maxpool random");
    // Ties: few distinct values, so most windows hold several maxima.
    std::uniform_int_distribution<int> small(-2, 2);
    for (size_t i = 0; i < x.size(); ++i) x[i] = float(small(rng));
    check_maxpool(ctx, g, x, rng, "maxpool ties");
    // NaN and -inf: NaN must be selected; a window of -inf still selects a real pixel.
    std::uniform_int_distribution<int> pick(0, 9);
    for (size_t i = 0; i < x.size(); ++i) {
      int r = pick(rng);
      x[i] = r == 0 ? std::nanf("") : r < 5 ? -std::numeric_limits<float>::infinity() : float(small(rng));
    }
    check_maxpool(ctx, g, x, rng, "maxpool NaN/-inf");
  }
  // All -inf with padding: the pad (also -inf) must never be selected.
  Buffer x(9), y(4);
  IntBuffer arg(4);
  for (int i = 0; i < 9; ++i) x[i] = -std::numeric_limits<float>::infinity();
  RN_EXPECT_OK(rn_maxpool2d_forward(ctx, 1, 1, 3, 3, 3, 2, 1, x.data(), y.data(), arg.data()));
  RN_EXPECT(arg[0] == 0 && arg[1] == 1 && arg[2] == 3 && arg[3] == 4, "all -inf: argmax %d %d %d %d", arg[0], arg[1],
            arg[2], arg[3]);
}

void test_bad_arguments(rn_context* ctx) {
  float v[64] = {};
  float o[64];
  int32_t a[64] = {};
  const int BAD = RN_STATUS_BAD_ARGUMENT;
  RN_EXPECT(rn_global_avgpool_forward(nullptr, 1, 1, 1, v, o) == BAD, "null ctx");
  RN_EXPECT(rn_global_avgpool_forward(ctx, 0, 1, 1, v, o) == BAD, "n=0");
  RN_EXPECT(rn_global_avgpool_forward(ctx, 1, 1, 0, v, o) == BAD, "hw=0");
  RN_EXPECT(rn_global_avgpool_forward(ctx, 1, 1, 1, nullptr, o) == BAD, "null x");
  RN_EXPECT(rn_global_avgpool_backward(ctx, 1, -1, 1, v, o) == BAD, "c<0");
  RN_EXPECT(rn_global_avgpool_backward(ctx, 1, 1, 1, v, nullptr) == BAD, "null dx");
  RN_EXPECT(rn_maxpool2d_forward(nullptr, 1, 1, 4, 4, 2, 2, 0, v, o, a) == BAD, "null ctx");
  RN_EXPECT(rn_maxpool2d_forward(ctx, 1, 1, 4, 4, 3, 2, 2, v, o, a) == BAD, "pad > kernel/2");
  RN_EXPECT(rn_maxpool2d_forward(ctx, 1, 1, 4, 4, 2, 2, -1, v, o, a) == BAD, "pad < 0");
  RN_EXPECT(rn_maxpool2d_forward(ctx, 1, 1, 4, 4, 0, 1, 0, v, o, a) == BAD, "kernel = 0");
  RN_EXPECT(rn_maxpool2d_forward(ctx, 1, 1, 4, 4, 2, 0, 0, v, o, a) == BAD, "stride = 0");
  RN_EXPECT(rn_maxpool2d_forward(ctx, 1, 1, 2, 4, 5, 1, 1, v, o, a) == BAD, "kernel > h + 2 pad");
  RN_EXPECT(rn_maxpool2d_forward(ctx, 1, 1, 4, 0, 2, 2, 0, v, o, a) == BAD, "w = 0");
  RN_EXPECT(rn_maxpool2d_forward(ctx, 1, 1, 4, 4, 2, 2, 0, nullptr, o, a) == BAD, "null x");
  RN_EXPECT(rn_maxpool2d_forward(ctx, 1, 1, 4, 4, 2, 2, 0, v, nullptr, a) == BAD, "null y");
  RN_EXPECT(rn_maxpool2d_backward(ctx, 1, 1, 4, 4, 2, 2, 0, nullptr, v, o) == BAD, "null argmax");
  RN_EXPECT(rn_maxpool2d_backward_recompute(ctx, 1, 1, 4, 4, 2, 2, 0, nullptr, v, o) == BAD, "null x");
  RN_EXPECT(rn_maxpool2d_backward_recompute(ctx, 1, 1, 4, 4, 2, 2, 0, v, v, nullptr) == BAD, "null dx");
  // Corrupt argmax: rejected, nothing written outside dx.
  for (int32_t bad : {-1, 16, std::numeric_limits<int32_t>::max()}) {
    Buffer dx(16);
    int32_t arg[4] = {0, 3, bad, 15};
    RN_EXPECT(rn_maxpool2d_backward(ctx, 1, 1, 4, 4, 2, 2, 0, arg, v, dx.data()) == BAD, "argmax %d accepted", bad);
    RN_EXPECT(dx.intact(), "argmax %d: wrote past dx", bad);
  }
}

}  // namespace

int main() {
  std::mt19937_64 rng(3);
  for (int threads : {1, 2, 3}) {
    rn_context* ctx = rn_context_create(threads);
    test_global_avgpool(ctx, rng);
    test_maxpool(ctx, rng);
    test_bad_arguments(ctx);
    rn_context_destroy(ctx);
  }
  return finish("test_pooling");
}
