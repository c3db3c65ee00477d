// Weight-normalized conv (NormProp family): forward against a float64 reference,
// every gradient against central finite differences of that reference, for each
// activation, with and without NormProp's post map, every ISA level and algorithm.
#include <algorithm>
#include <cmath>

#include "test_util.h"

using namespace rntest;

namespace {

struct Problem {
  rn_conv2d_desc d;
  int act;
  float post_scale, post_shift;
};

rn_conv2d_desc make(int n, int c, int h, int w, int k, int r, int stride, int pad, int algo) {
  rn_conv2d_desc d{};
  d.n = n; d.c = c; d.h = h; d.w = w; d.k = k; d.r = d.s = r;
  d.stride_h = d.stride_w = stride;
  d.pad_h = d.pad_w = pad;
  d.p = (h + 2 * pad - r) / stride + 1;
  d.q = (w + 2 * pad - r) / stride + 1;
  d.algo = algo;
  return d;
}

// y (float64) of the op; y has 2k channels with CReLU.
std::vector<double> reference(const Problem& pr, const std::vector<double>& x, const std::vector<double>& v,
                              const std::vector<double>& gamma, const std::vector<double>& beta) {
  const rn_conv2d_desc& d = pr.d;
  const int crs = d.c * d.r * d.s, pq = d.p * d.q, halves = pr.act == RN_ACT_CRELU ? 2 : 1;
  std::vector<double> y(size_t(d.n) * halves * d.k * pq);
  for (int k = 0; k < d.k; ++k) {
    double norm = 0.0;
    for (int i = 0; i < crs; ++i) norm += v[k * crs + i] * v[k * crs + i];
    norm = std::sqrt(norm);
    for (int n = 0; n < d.n; ++n)
      for (int p = 0; p < d.p; ++p)
        for (int q = 0; q < d.q; ++q) {
          double acc = 0.0;
          for (int c = 0; c < d.c; ++c)
            for (int r = 0; r < d.r; ++r)
              for (int s = 0; s < d.s; ++s) {
                const int ih = p * d.stride_h - d.pad_h + r, iw = q * d.stride_w - d.pad_w + s;
                if (ih < 0 || ih >= d.h || iw < 0 || iw >= d.w) continue;
                acc += v[((k * d.c + c) * d.r + r) * d.s + s] * x[((size_t(n) * d.c + c) * d.h + ih) * d.w + iw];
              }
          const double u = gamma[k] * acc / norm + beta[k];
          const size_t at = (size_t(n) * halves * d.k + k) * pq + p * d.q + q;
          y[at] = pr.post_scale * (pr.act == RN_ACT_NONE ? u : std::max(u, 0.0)) + pr.post_shift;
          if (halves == 2) y[at + size_t(d.k) * pq] = pr.post_scale * std::max(-u, 0.0) + pr.post_shift;
        }
  }
  return y;
}

double dot(const std::vector<double>& a, const std::vector<float>& b) {
  double s = 0.0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// d(sum y . dy)/d(param) by central differences, one parameter vector at a time.
std::vector<double> finite_difference(const Problem& pr, std::vector<double> x, std::vector<double> v,
                                      std::vector<double> g, std::vector<double> b, int which,
                                      const std::vector<float>& dy) {
  std::vector<double>* params[] = {&x, &v, &g, &b};
  std::vector<double>& t = *params[which];
  std::vector<double> grad(t.size());
  const double h = 1e-5;
  for (size_t i = 0; i < t.size(); ++i) {
    const double keep = t[i];
    t[i] = keep + h;
    const double up = dot(reference(pr, x, v, g, b), dy);
    t[i] = keep - h;
    const double down = dot(reference(pr, x, v, g, b), dy);
    t[i] = keep;
    grad[i] = (up - down) / (2 * h);
  }
  return grad;
}

// Data and float64 gradients of one problem, shared by every (threads, ISA, algorithm) run.
struct Case {
  Problem pr;
  std::vector<float> x, v, gamma, beta, dy;
  std::vector<double> y_ref, grads[4];  // dx, dv, dgamma, dbeta by finite differences
};

std::vector<float> random_vector(std::mt19937_64& rng, size_t n, float lo, float hi) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& e : v) e = u(rng);
  return v;
}

std::vector<double> widen(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

// Random data whose pre-activations all stay 1e-3 away from the ReLU kink, so that
// central differences with h = 1e-5 never straddle it.
Case make_case(const Problem& pr, std::mt19937_64& rng) {
  const rn_conv2d_desc& d = pr.d;
  Case c{pr, {}, {}, {}, {}, {}, {}, {}};
  const size_t xs = size_t(d.n) * d.c * d.h * d.w, vs = size_t(d.k) * d.c * d.r * d.s;
  const size_t ys = size_t(d.n) * d.k * d.p * d.q * (pr.act == RN_ACT_CRELU ? 2 : 1);
  Problem linear{d, RN_ACT_NONE, 1.0f, 0.0f};
  for (int attempt = 0;; ++attempt) {
    c.x = random_vector(rng, xs, -1, 1);
    c.v = random_vector(rng, vs, -1, 1);
    c.gamma = random_vector(rng, d.k, 0.5f, 1.5f);
    c.beta = random_vector(rng, d.k, -0.5f, 0.5f);
    const auto u = reference(linear, widen(c.x), widen(c.v), widen(c.gamma), widen(c.beta));
    if (pr.act == RN_ACT_NONE || std::all_of(u.begin(), u.end(), [](double e) { return std::abs(e) > 1e-3; })) break;
    RN_EXPECT(attempt < 100, "no kink-free data found");
  }
  c.dy = random_vector(rng, ys, -1, 1);
  c.y_ref = reference(pr, widen(c.x), widen(c.v), widen(c.gamma), widen(c.beta));
  for (int which = 0; which < 4; ++which)
    c.grads[which] = finite_difference(pr, widen(c.x), widen(c.v), widen(c.gamma), widen(c.beta), which, c.dy);
  return c;
}

void load(Buffer& b, const std::vector<float>& v) { std::copy(v.begin(), v.end(), b.data()); }

void run(const Case& cs, rn_context* ctx, const char* label) {
  const Problem& pr = cs.pr;
  const rn_conv2d_desc& d = pr.d;
  const size_t us = size_t(d.n) * d.k * d.p * d.q;
  Buffer x(cs.x.size()), v(cs.v.size()), gamma(d.k), beta(d.k), dy(cs.dy.size());
  load(x, cs.x); load(v, cs.v); load(gamma, cs.gamma); load(beta, cs.beta); load(dy, cs.dy);

  Buffer y(cs.dy.size());
  char name[200];
  std::snprintf(name, sizeof name, "%s forward", label);
  RN_EXPECT_OK(rn_wnconv_forward(ctx, &d, pr.act, pr.post_scale, pr.post_shift, x.data(), v.data(), gamma.data(),
                                 beta.data(), y.data()));
  expect_close(name, y, cs.y_ref, 1e-5);

  Buffer du(us), dx(cs.x.size()), dv(cs.v.size()), dgamma(d.k), dbeta(d.k);
  RN_EXPECT_OK(rn_wnconv_backward(ctx, &d, pr.act, pr.post_scale, pr.post_shift, x.data(), v.data(), gamma.data(),
                                  y.data(), dy.data(), du.data(), dx.data(), dv.data(), dgamma.data(), dbeta.data()));
  const Buffer* outs[] = {&dx, &dv, &dgamma, &dbeta};
  const char* names[] = {"dx", "dv", "dgamma", "dbeta"};
  for (int which = 0; which < 4; ++which) {
    std::snprintf(name, sizeof name, "%s %s vs finite differences", label, names[which]);
    expect_close(name, *outs[which], cs.grads[which], 1e-4);
  }

  // Optional outputs: NULL dx / dgamma / dbeta leave dv unchanged; du may be dy itself.
  Buffer dv2(cs.v.size()), dy_copy(cs.dy.size());
  load(dy_copy, cs.dy);
  const std::vector<double> du_first = du.to_double();
  if (pr.act == RN_ACT_CRELU) du.poison();  // its first call's values must not carry over
  float* du2 = pr.act == RN_ACT_CRELU ? du.data() : dy_copy.data();
  RN_EXPECT_OK(rn_wnconv_backward(ctx, &d, pr.act, pr.post_scale, pr.post_shift, x.data(), v.data(), gamma.data(),
                                  y.data(), dy_copy.data(), du2, nullptr, dv2.data(), nullptr, nullptr));
  std::snprintf(name, sizeof name, "%s dv without dx/dgamma/dbeta, du in place", label);
  expect_close(name, dv2, dv.to_double(), 1e-6);
  if (pr.act == RN_ACT_CRELU) {
    std::snprintf(name, sizeof name, "%s du without dx/dgamma/dbeta", label);
    expect_close(name, du, du_first, 1e-7);
  }
}

}  // namespace

int main() {
  const float a = 1.0f / RN_NORMPROP_RELU_STD, b = -RN_NORMPROP_RELU_MEAN / RN_NORMPROP_RELU_STD;
  std::mt19937_64 rng(7);
  const int shapes[][8] = {
      {2, 3, 7, 6, 5, 3, 1, 1},   // odd sizes
      {3, 5, 7, 6, 4, 3, 2, 1},   // stride 2
      {2, 4, 5, 5, 3, 1, 1, 0},   // 1x1
      {2, 18, 6, 5, 17, 3, 1, 1}, // partial lane blocks
  };
  for (const auto& sh : shapes)
    for (int act : {RN_ACT_NONE, RN_ACT_RELU, RN_ACT_CRELU})
      for (bool normprop : {false, true}) {
        const rn_conv2d_desc auto_desc = make(sh[0], sh[1], sh[2], sh[3], sh[4], sh[5], sh[6], sh[7], 0);
        const Case cs = make_case(Problem{auto_desc, act, normprop ? a : 1.0f, normprop ? b : 0.0f}, rng);
        for (int threads : {1, 2}) {
          rn_context* ctx = rn_context_create(threads);
          for (int isa : isa_levels()) {
            RN_EXPECT_OK(rn_context_set_isa(ctx, isa));
            for (int algo : {RN_CONV_ALGO_AUTO, RN_CONV_ALGO_IM2COL, RN_CONV_ALGO_WINOGRAD, RN_CONV_ALGO_DIRECT}) {
              Case run_case = cs;
              run_case.pr.d.algo = algo;
              if (rn_conv2d_check(&run_case.pr.d) != RN_STATUS_OK) continue;  // Winograd: 3x3 stride 1 only
              char label[160];
              std::snprintf(label, sizeof label, "[t=%d %s algo=%d act=%d normprop=%d] n%d c%d %dx%d k%d r%d s%d",
                            threads, rn_isa_name(isa), algo, act, normprop, sh[0], sh[1], sh[2], sh[3], sh[4],
                            sh[5], sh[6]);
              run(run_case, ctx, label);
            }
          }
          rn_context_destroy(ctx);
        }
      }

  // Refusals: zero-norm filter, bad activation, non-positive post scale, CReLU du aliasing dy.
  rn_context* ctx = rn_context_create(1);
  rn_conv2d_desc d = make(1, 1, 3, 3, 1, 1, 1, 0, RN_CONV_ALGO_AUTO);
  float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, zero[1] = {0}, one[1] = {1}, y[18] = {}, buf[18] = {};
  RN_EXPECT(rn_wnconv_forward(ctx, &d, RN_ACT_RELU, 1, 0, x, zero, one, nullptr, y) == RN_STATUS_BAD_ARGUMENT,
            "zero-norm filter");
  RN_EXPECT(rn_wnconv_forward(ctx, &d, 7, 1, 0, x, one, one, nullptr, y) == RN_STATUS_BAD_ARGUMENT, "bad act");
  RN_EXPECT(rn_wnconv_forward(ctx, &d, RN_ACT_RELU, 0, 0, x, one, one, nullptr, y) == RN_STATUS_BAD_ARGUMENT,
            "post_scale 0");
  RN_EXPECT(rn_wnconv_backward(ctx, &d, RN_ACT_CRELU, 1, 0, x, one, one, y, buf, buf, nullptr, buf, nullptr,
                               nullptr) == RN_STATUS_BAD_ARGUMENT,
            "CReLU with du == dy");
  RN_EXPECT(rn_wnconv_forward(ctx, &d, RN_ACT_RELU, 1, 0, x, one, one, nullptr, y) == RN_STATUS_OK, "valid call");
  rn_context_destroy(ctx);
  return finish("test_weightnorm_conv");
}
