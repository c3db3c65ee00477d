// Standalone ReLU / CReLU / add+ReLU against float64 references, every ISA level,
// 1 and 2 threads, odd sizes, in-place use, NaN propagation, bad arguments.
#include "test_util.h"

using namespace rntest;

namespace {

void check(rn_context* ctx, std::mt19937_64& rng, const char* isa, int threads) {
  char l[128];
  for (int64_t count : {1, 7, 16, 33, 100003}) {
    std::snprintf(l, sizeof l, "%s t=%d count=%lld", isa, threads, (long long)count);
    std::string label(l);
    Buffer x(count), y(count), dy(count), dx(count), a(count), b(count), da(count), db(count);
    x.fill_random(rng);
    dy.fill_random(rng);
    a.fill_random(rng);
    b.fill_random(rng);
    std::vector<double> ry(count), rdx(count), ra(count), rda(count);
    for (int64_t i = 0; i < count; ++i) {
      ry[i] = x[i] > 0 ? x[i] : 0.0;
      rdx[i] = x[i] > 0 ? dy[i] : 0.0;
      double s = double(a[i] + b[i]);  // float sum, as the kernel
      ra[i] = s > 0 ? s : 0.0;
      rda[i] = s > 0 ? dy[i] : 0.0;
    }
    RN_EXPECT_OK(rn_relu_forward(ctx, count, x.data(), y.data()));
    expect_close((label + " relu").c_str(), y, ry, 1e-7);
    RN_EXPECT_OK(rn_relu_backward(ctx, count, y.data(), dy.data(), dx.data()));
    expect_close((label + " relu backward").c_str(), dx, rdx, 1e-7);
    RN_EXPECT_OK(rn_add_relu_forward(ctx, count, a.data(), b.data(), y.data()));
    expect_close((label + " add_relu").c_str(), y, ra, 1e-7);
    RN_EXPECT_OK(rn_add_relu_backward(ctx, count, y.data(), dy.data(), da.data(), db.data()));
    expect_close((label + " add_relu backward da").c_str(), da, rda, 1e-7);
    expect_close((label + " add_relu backward db").c_str(), db, rda, 1e-7);
    std::vector<double> rsum(count);
    for (int64_t i = 0; i < count; ++i) rsum[i] = double(a[i] + b[i]);
    Buffer sum(count);
    RN_EXPECT_OK(rn_add(ctx, count, a.data(), b.data(), sum.data()));
    expect_close((label + " add").c_str(), sum, rsum, 1e-7);
    std::memcpy(sum.data(), a.data(), sizeof(float) * count);
    RN_EXPECT_OK(rn_add(ctx, count, sum.data(), b.data(), sum.data()));  // in place, y == a
    expect_close((label + " add in place").c_str(), sum, rsum, 1e-7);
    Buffer da2(count);
    RN_EXPECT_OK(rn_add_relu_backward(ctx, count, y.data(), dy.data(), da2.data(), nullptr));
    expect_close((label + " add_relu backward db=NULL").c_str(), da2, rda, 1e-7);
    // In place: relu y == x, relu backward dx == dy, add_relu y == a, backward da == dy.
    Buffer ip(count);
    std::memcpy(ip.data(), x.data(), sizeof(float) * count);
    RN_EXPECT_OK(rn_relu_forward(ctx, count, ip.data(), ip.data()));
    expect_close((label + " relu in place").c_str(), ip, ry, 1e-7);
    Buffer ipd(count);
    std::memcpy(ipd.data(), dy.data(), sizeof(float) * count);
    RN_EXPECT_OK(rn_relu_backward(ctx, count, ip.data(), ipd.data(), ipd.data()));
    expect_close((label + " relu backward in place").c_str(), ipd, rdx, 1e-7);
    std::memcpy(ip.data(), a.data(), sizeof(float) * count);
    RN_EXPECT_OK(rn_add_relu_forward(ctx, count, ip.data(), b.data(), ip.data()));
    expect_close((label + " add_relu in place").c_str(), ip, ra, 1e-7);
    std::memcpy(ipd.data(), dy.data(), sizeof(float) * count);
    RN_EXPECT_OK(rn_add_relu_backward(ctx, count, ip.data(), ipd.data(), ipd.data(), nullptr));
    expect_close((label + " add_relu backward in place").c_str(), ipd, rda, 1e-7);
    // relu_backward_sum: dx = (a + b)·[x > 0], x the ReLU output; the bits of add, then
    // relu_backward; in place over either gradient.
    std::vector<double> rsd(count);
    for (int64_t i = 0; i < count; ++i) rsd[i] = x[i] > 0 ? double(a[i] + b[i]) : 0.0;
    Buffer sd(count), two(count);
    RN_EXPECT_OK(rn_relu_backward_sum(ctx, count, x.data(), a.data(), b.data(), sd.data()));
    expect_close((label + " relu_backward_sum").c_str(), sd, rsd, 1e-7);
    RN_EXPECT_OK(rn_add(ctx, count, a.data(), b.data(), two.data()));
    RN_EXPECT_OK(rn_relu_backward(ctx, count, x.data(), two.data(), two.data()));
    RN_EXPECT(std::memcmp(sd.data(), two.data(), sizeof(float) * count) == 0,
              "%s: relu_backward_sum differs from add, then relu_backward", label.c_str());
    std::memcpy(ipd.data(), a.data(), sizeof(float) * count);
    RN_EXPECT_OK(rn_relu_backward_sum(ctx, count, x.data(), ipd.data(), b.data(), ipd.data()));
    RN_EXPECT(std::memcmp(sd.data(), ipd.data(), sizeof(float) * count) == 0, "%s: relu_backward_sum in place (da)",
              label.c_str());
    std::memcpy(ipd.data(), b.data(), sizeof(float) * count);
    RN_EXPECT_OK(rn_relu_backward_sum(ctx, count, x.data(), a.data(), ipd.data(), ipd.data()));
    RN_EXPECT(std::memcmp(sd.data(), ipd.data(), sizeof(float) * count) == 0, "%s: relu_backward_sum in place (db)",
              label.c_str());
  }
  // NaN propagates through the forward ops (as PyTorch).
  {
    Buffer x(5), y(5);
    for (int i = 0; i < 5; ++i) x[i] = float(i) - 2.0f;
    x[1] = std::nanf("");
    for (int i = 0; i < 5; ++i) y[i] = 12345.0f;  // finite: the NaN must be the kernel's, not the poison
    RN_EXPECT_OK(rn_relu_forward(ctx, 5, x.data(), y.data()));
    RN_EXPECT(y[0] == 0.0f && std::isnan(y[1]) && y[2] == 0.0f && y[3] == 1.0f && y[4] == 2.0f,
              "%s relu NaN propagation: %g %g %g %g %g", isa, y[0], y[1], y[2], y[3], y[4]);
  }
  struct S {
    int n, c, hw;
  };
  for (S s : {S{3, 5, 42}, S{1, 3, 25}, S{4, 2, 1}, S{2, 3, 1001}, S{1, 1, 40000}}) {
    std::snprintf(l, sizeof l, "%s t=%d crelu n=%d c=%d hw=%d", isa, threads, s.n, s.c, s.hw);
    std::string label(l);
    const size_t xn = size_t(s.n) * s.c * s.hw;
    Buffer x(xn), y(2 * xn), dy(2 * xn), dx(xn);
    x.fill_random(rng);
    dy.fill_random(rng);
    std::vector<double> ry(2 * xn), rdx(xn);
    for (int n = 0; n < s.n; ++n)
      for (int c = 0; c < s.c; ++c)
        for (int i = 0; i < s.hw; ++i) {
          size_t xi = (size_t(n) * s.c + c) * s.hw + i, yi = (size_t(n) * 2 * s.c + c) * s.hw + i;
          size_t yn = yi + size_t(s.c) * s.hw;
          double v = x[xi];
          ry[yi] = v > 0 ? v : 0.0;
          ry[yn] = v < 0 ? -v : 0.0;
          rdx[xi] = (v > 0 ? dy[yi] : 0.0) - (v < 0 ? dy[yn] : 0.0);
        }
    RN_EXPECT_OK(rn_crelu_forward(ctx, s.n, s.c, s.hw, x.data(), y.data()));
    expect_close((label + " forward").c_str(), y, ry, 1e-7);
    RN_EXPECT_OK(rn_crelu_backward(ctx, s.n, s.c, s.hw, x.data(), dy.data(), dx.data()));
    expect_close((label + " backward").c_str(), dx, rdx, 1e-7);
  }
}

void check_bad_arguments(rn_context* ctx) {
  float v[4] = {0, 0, 0, 0};
  const int BAD = RN_STATUS_BAD_ARGUMENT;
  RN_EXPECT(rn_relu_forward(ctx, -1, v, v) == BAD, "relu count<0");
  RN_EXPECT(rn_relu_forward(ctx, 4, nullptr, v) == BAD, "relu x null");
  RN_EXPECT(rn_relu_forward(ctx, 0, nullptr, nullptr) == RN_STATUS_OK, "relu count 0");
  RN_EXPECT(rn_relu_forward(nullptr, 4, v, v) == BAD, "relu ctx null");
  RN_EXPECT(rn_relu_backward(ctx, 4, v, v, nullptr) == BAD, "relu backward dx null");
  RN_EXPECT(rn_add_relu_forward(ctx, 4, v, nullptr, v) == BAD, "add_relu b null");
  RN_EXPECT(rn_add_relu_forward(ctx, -4, v, v, v) == BAD, "add_relu count<0");
  RN_EXPECT(rn_add_relu_backward(ctx, 4, v, v, nullptr, v) == BAD, "add_relu backward da null");
  RN_EXPECT(rn_relu_backward_sum(ctx, 4, v, v, nullptr, v) == BAD, "relu_backward_sum db null");
  RN_EXPECT(rn_relu_backward_sum(ctx, 4, nullptr, v, v, v) == BAD, "relu_backward_sum y null");
  RN_EXPECT(rn_relu_backward_sum(ctx, 4, v, v, v, nullptr) == BAD, "relu_backward_sum dx null");
  RN_EXPECT(rn_relu_backward_sum(ctx, -1, v, v, v, v) == BAD, "relu_backward_sum count<0");
  RN_EXPECT(rn_relu_backward_sum(ctx, 0, nullptr, nullptr, nullptr, nullptr) == RN_STATUS_OK,
            "relu_backward_sum count 0");
  RN_EXPECT(rn_crelu_forward(ctx, 0, 1, 1, v, v) == BAD, "crelu n=0");
  RN_EXPECT(rn_crelu_forward(ctx, 1, -1, 1, v, v) == BAD, "crelu c<0");
  RN_EXPECT(rn_crelu_forward(ctx, 1, 1, 1, v, nullptr) == BAD, "crelu y null");
  RN_EXPECT(rn_crelu_backward(ctx, 1, 1, 1, v, nullptr, v) == BAD, "crelu dy null");
}

}  // namespace

int main() {
  std::mt19937_64 rng(3);
  for (int threads : {1, 2}) {
    rn_context* ctx = rn_context_create(threads);
    for (int isa : isa_levels()) {
      RN_EXPECT_OK(rn_context_set_isa(ctx, isa));
      check(ctx, rng, rn_isa_name(isa), threads);
    }
    check_bad_arguments(ctx);
    rn_context_destroy(ctx);
  }
  return finish("test_activation");
}
