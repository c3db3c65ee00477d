// Batch norm + ReLU/CReLU (fused) against a float64 reference; fused == unfused
// (BN act=NONE, then the standalone activation); every ISA level, 1 and 2 threads,
// odd shapes, affine on/off, running statistics on/off, in-place use, bad arguments.
#include "test_util.h"

using namespace rntest;

namespace {

struct Shape {
  int n, c, hw;
};

int out_channels(int c, int act) { return act == RN_ACT_CRELU ? 2 * c : c; }

// float64 reference of the training forward (biased batch variance) and its backward.
struct Ref {
  std::vector<double> mean, var, invstd, u, y;
};

Ref reference_forward(const Shape& s, int act, double eps, const float* x, const float* gamma, const float* beta,
                      const float* fixed_mean = nullptr, const float* fixed_var = nullptr) {
  Ref r;
  const int64_t m = int64_t(s.n) * s.hw;
  r.mean.assign(s.c, 0.0);
  r.var.assign(s.c, 0.0);
  r.invstd.assign(s.c, 0.0);
  for (int c = 0; c < s.c; ++c) {
    double sum = 0.0, sq = 0.0;
    for (int n = 0; n < s.n; ++n)
      for (int i = 0; i < s.hw; ++i) sum += x[(int64_t(n) * s.c + c) * s.hw + i];
    double mean = fixed_mean ? fixed_mean[c] : sum / m;
    for (int n = 0; n < s.n; ++n)
      for (int i = 0; i < s.hw; ++i) {
        double d = x[(int64_t(n) * s.c + c) * s.hw + i] - mean;
        sq += d * d;
      }
    r.mean[c] = mean;
    r.var[c] = fixed_var ? fixed_var[c] : sq / m;
    r.invstd[c] = 1.0 / std::sqrt(r.var[c] + eps);
  }
  const int oc = out_channels(s.c, act);
  r.u.assign(size_t(s.n) * s.c * s.hw, 0.0);
  r.y.assign(size_t(s.n) * oc * s.hw, 0.0);
  for (int n = 0; n < s.n; ++n)
    for (int c = 0; c < s.c; ++c)
      for (int i = 0; i < s.hw; ++i) {
        int64_t xi = (int64_t(n) * s.c + c) * s.hw + i;
        double g = gamma ? gamma[c] : 1.0, b = beta ? beta[c] : 0.0;
        double u = (x[xi] - r.mean[c]) * r.invstd[c] * g + b;
        r.u[xi] = u;
        int64_t yi = (int64_t(n) * oc + c) * s.hw + i;
        if (act == RN_ACT_NONE) r.y[yi] = u;
        else r.y[yi] = u > 0 ? u : 0.0;
        if (act == RN_ACT_CRELU) r.y[yi + int64_t(s.c) * s.hw] = u < 0 ? -u : 0.0;
      }
  return r;
}

struct RefGrad {
  std::vector<double> dx, dgamma, dbeta;
  std::vector<double> gamma_scale, beta_scale;  // sqrt of the sum of squared terms of each sum
};

RefGrad reference_backward(const Shape& s, int act, const Ref& r, const float* x, const float* gamma,
                           const float* dy) {
  const int64_t m = int64_t(s.n) * s.hw;
  const int oc = out_channels(s.c, act);
  RefGrad g;
  g.dx.assign(size_t(s.n) * s.c * s.hw, 0.0);
  g.dgamma.assign(s.c, 0.0);
  g.dbeta.assign(s.c, 0.0);
  g.gamma_scale.assign(s.c, 0.0);
  g.beta_scale.assign(s.c, 0.0);
  std::vector<double> du(g.dx.size());
  for (int n = 0; n < s.n; ++n)
    for (int c = 0; c < s.c; ++c)
      for (int i = 0; i < s.hw; ++i) {
        int64_t xi = (int64_t(n) * s.c + c) * s.hw + i, yi = (int64_t(n) * oc + c) * s.hw + i;
        double u = r.u[xi], d = dy[yi];
        if (act == RN_ACT_RELU) d = u > 0 ? d : 0.0;
        if (act == RN_ACT_CRELU) d = (u > 0 ? d : 0.0) - (u < 0 ? dy[yi + int64_t(s.c) * s.hw] : 0.0);
        du[xi] = d;
        double xhat = (x[xi] - r.mean[c]) * r.invstd[c];
        g.dbeta[c] += d;
        g.dgamma[c] += d * xhat;
        g.beta_scale[c] += d * d;
        g.gamma_scale[c] += d * xhat * d * xhat;
      }
  for (int n = 0; n < s.n; ++n)
    for (int c = 0; c < s.c; ++c)
      for (int i = 0; i < s.hw; ++i) {
        int64_t xi = (int64_t(n) * s.c + c) * s.hw + i;
        double xhat = (x[xi] - r.mean[c]) * r.invstd[c], gm = gamma ? gamma[c] : 1.0;
        g.dx[xi] = gm * r.invstd[c] / m * (m * du[xi] - g.dbeta[c] - xhat * g.dgamma[c]);
      }
  return g;
}

// Random x whose normalized values stay away from the ReLU kink (|u| > 1e-3), so
// float32 and float64 agree on every gate: redraws offending elements until none is left.
void fill_input(std::mt19937_64& rng, const Shape& s, Buffer& x, const float* gamma, const float* beta,
                float offset) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (size_t i = 0; i < x.size(); ++i) x[i] = offset + u(rng);
  for (int round = 0; round < 50; ++round) {
    Ref r = reference_forward(s, RN_ACT_NONE, 1e-5, x.data(), gamma, beta);
    int redrawn = 0;
    for (size_t i = 0; i < x.size(); ++i)
      if (std::fabs(r.u[i]) < 1e-3) {
        x[i] = offset + u(rng);
        ++redrawn;
      }
    if (redrawn == 0) return;
  }
}

void copy(Buffer& dst, const Buffer& src) { std::memcpy(dst.data(), src.data(), sizeof(float) * src.size()); }

void check_shape(rn_context* ctx, std::mt19937_64& rng, const Shape& s, int act, bool affine, bool track,
                 float offset, const char* isa_name, int threads) {
  char label[160];
  std::snprintf(label, sizeof label, "bn %s t=%d n=%d c=%d hw=%d act=%d affine=%d track=%d offset=%g", isa_name,
                threads, s.n, s.c, s.hw, act, affine, track, offset);
  const size_t xn = size_t(s.n) * s.c * s.hw, yn = size_t(s.n) * out_channels(s.c, act) * s.hw;
  const float eps = 1e-5f, momentum = 0.1f;
  Buffer x(xn), gamma(s.c), beta(s.c), rm(s.c), rv(s.c), smean(s.c), sinv(s.c), y(yn);
  gamma.fill_random(rng, 0.5f, 1.5f);
  beta.fill_random(rng, -0.5f, 0.5f);
  rm.fill_random(rng, -0.2f, 0.2f);
  rv.fill_random(rng, 0.5f, 1.5f);
  const float* g = affine ? gamma.data() : nullptr;
  const float* b = affine ? beta.data() : nullptr;
  fill_input(rng, s, x, g, b, offset);
  std::vector<double> rm0 = rm.to_double(), rv0 = rv.to_double();

  RN_EXPECT_OK(rn_batchnorm_forward_training(ctx, s.n, s.c, s.hw, act, eps, momentum, x.data(), g, b,
                                             track ? rm.data() : nullptr, track ? rv.data() : nullptr,
                                             smean.data(), sinv.data(), y.data()));
  Ref r = reference_forward(s, act, eps, x.data(), g, b);
  std::string l(label);
  // With a large offset, x itself carries only ~|offset|*6e-8 of absolute precision and the
  // float save_mean one rounding more: u (and what depends on it) is good to ~1e-5*|offset|/std.
  const double tol = offset != 0 ? 2e-4 : 1e-5;
  expect_close((l + " y").c_str(), y, r.y, tol);
  // The mean is judged against the spread (a mean near 0 has no meaningful relative error).
  for (int c = 0; c < s.c; ++c) {
    double err = std::fabs(smean[c] - r.mean[c]) / std::sqrt(r.var[c]);
    double rounding = std::fabs(r.mean[c]) * 6e-8 / std::sqrt(r.var[c]);  // storing the mean as float
    RN_EXPECT(smean.intact() && err < 1e-5 + rounding, "%s save_mean[%d]: error %.3g of the std", label, c, err);
  }
  expect_close((l + " save_invstd").c_str(), sinv, r.invstd, 1e-5);
  if (track) {
    const double m = double(s.n) * s.hw;
    std::vector<double> erm(s.c), erv(s.c);
    for (int c = 0; c < s.c; ++c) {
      erm[c] = 0.9 * rm0[c] + 0.1 * r.mean[c];
      erv[c] = 0.9 * rv0[c] + 0.1 * r.var[c] * m / (m - 1);
    }
    expect_close((l + " running_mean").c_str(), rm, erm, 1e-5);
    expect_close((l + " running_var").c_str(), rv, erv, 1e-5);
  }

  // Backward vs the float64 reference.
  Buffer dy(yn), dx(xn), dg(s.c), db(s.c);
  dy.fill_random(rng);
  RN_EXPECT_OK(rn_batchnorm_backward(ctx, s.n, s.c, s.hw, act, x.data(), g, b, smean.data(), sinv.data(), dy.data(),
                                     dx.data(), affine ? dg.data() : nullptr, affine ? db.data() : nullptr));
  RefGrad rg = reference_backward(s, act, r, x.data(), g, dy.data());
  expect_close((l + " dx").c_str(), dx, rg.dx, offset != 0 ? 2e-4 : 1e-4);
  if (affine) {
    // A sum of m terms that cancel: its error is judged against the terms' size, not its own.
    RN_EXPECT(dg.intact() && db.intact(), "%s: dgamma/dbeta written out of bounds", label);
    for (int c = 0; c < s.c; ++c) {
      double eg = std::fabs(dg[c] - rg.dgamma[c]), eb = std::fabs(db[c] - rg.dbeta[c]);
      RN_EXPECT(eg <= tol * (std::fabs(rg.dgamma[c]) + std::sqrt(rg.gamma_scale[c])), "%s dgamma[%d] %.9g vs %.9g",
                label, c, dg[c], rg.dgamma[c]);
      RN_EXPECT(eb <= tol * (std::fabs(rg.dbeta[c]) + std::sqrt(rg.beta_scale[c])), "%s dbeta[%d] %.9g vs %.9g",
                label, c, db[c], rg.dbeta[c]);
    }
  }

  // Fused == unfused: BN (act NONE) then the standalone activation, and the backward chain.
  if (act != RN_ACT_NONE) {
    Buffer u(xn), yu(yn), sm2(s.c), si2(s.c), du(xn), dxu(xn), dg2(s.c), db2(s.c);
    RN_EXPECT_OK(rn_batchnorm_forward_training(ctx, s.n, s.c, s.hw, RN_ACT_NONE, eps, momentum, x.data(), g, b,
                                               nullptr, nullptr, sm2.data(), si2.data(), u.data()));
    if (act == RN_ACT_RELU) {
      RN_EXPECT_OK(rn_relu_forward(ctx, int64_t(xn), u.data(), yu.data()));
      RN_EXPECT_OK(rn_relu_backward(ctx, int64_t(xn), yu.data(), dy.data(), du.data()));
    } else {
      RN_EXPECT_OK(rn_crelu_forward(ctx, s.n, s.c, s.hw, u.data(), yu.data()));
      RN_EXPECT_OK(rn_crelu_backward(ctx, s.n, s.c, s.hw, u.data(), dy.data(), du.data()));
    }
    RN_EXPECT_OK(rn_batchnorm_backward(ctx, s.n, s.c, s.hw, RN_ACT_NONE, x.data(), g, b, sm2.data(), si2.data(),
                                       du.data(), dxu.data(), affine ? dg2.data() : nullptr,
                                       affine ? db2.data() : nullptr));
    expect_close((l + " fused vs unfused y").c_str(), y, yu.to_double(), 1e-7);
    expect_close((l + " fused vs unfused dx").c_str(), dx, dxu.to_double(), 1e-6);
    if (affine) {
      expect_close((l + " fused vs unfused dgamma").c_str(), dg, dg2.to_double(), 1e-6);
      expect_close((l + " fused vs unfused dbeta").c_str(), db, db2.to_double(), 1e-6);
    }
  }

  // Inference with the running statistics.
  if (track) {
    Buffer yi(yn);
    RN_EXPECT_OK(rn_batchnorm_forward_inference(ctx, s.n, s.c, s.hw, act, eps, x.data(), g, b, rm.data(), rv.data(),
                                                yi.data()));
    Ref ri = reference_forward(s, act, eps, x.data(), g, b, rm.data(), rv.data());
    expect_close((l + " inference y").c_str(), yi, ri.y, 1e-5);
    // The same map as per-channel scale and shift (for folding into the conv before it):
    // u = scale*x + shift against the float64 inference u, every element.
    Buffer scale(s.c), shift(s.c);
    RN_EXPECT_OK(rn_batchnorm_inference_affine(ctx, s.c, eps, g, b, rm.data(), rv.data(), scale.data(),
                                               shift.data()));
    Ref u_ref = reference_forward(s, RN_ACT_NONE, eps, x.data(), g, b, rm.data(), rv.data());
    Buffer folded(size_t(s.n) * s.c * s.hw);
    for (size_t i = 0; i < size_t(s.n) * s.c * s.hw; ++i) {
      const size_t ch = (i / s.hw) % s.c;
      folded[i] = scale[ch] * x[i] + shift[ch];  // in float, as a conv epilogue evaluates it
    }
    expect_close((l + " inference affine").c_str(), folded, u_ref.y, 1e-5);
  }

  // In place (y == x, dx == dy) for NONE and RELU gives the same bits as out of place.
  if (act != RN_ACT_CRELU) {
    Buffer xy(xn), sm3(s.c), si3(s.c), dd(xn), dg3(s.c), db3(s.c);
    copy(xy, x);
    RN_EXPECT_OK(rn_batchnorm_forward_training(ctx, s.n, s.c, s.hw, act, eps, momentum, xy.data(), g, b, nullptr,
                                               nullptr, sm3.data(), si3.data(), xy.data()));
    RN_EXPECT(std::memcmp(xy.data(), y.data(), sizeof(float) * xn) == 0, "%s: in-place forward differs", label);
    copy(dd, dy);
    RN_EXPECT_OK(rn_batchnorm_backward(ctx, s.n, s.c, s.hw, act, x.data(), g, b, smean.data(), sinv.data(),
                                       dd.data(), dd.data(), affine ? dg3.data() : nullptr,
                                       affine ? db3.data() : nullptr));
    RN_EXPECT(std::memcmp(dd.data(), dx.data(), sizeof(float) * xn) == 0, "%s: in-place backward differs", label);
  }

  // The residual block's last batch norm with the shortcut and ReLU fused in: the same bits as
  // the batch norm (NONE), then add_relu; the same statistics; in place over the residual too.
  if (act == RN_ACT_NONE) {
    Buffer res(xn), u(xn), want(xn), got(xn), sm4(s.c), si4(s.c), sm5(s.c), si5(s.c);
    Buffer rm4(s.c), rv4(s.c), rm5(s.c), rv5(s.c);  // the same running statistics before each call
    res.fill_random(rng, -1.0f, 1.0f);
    Buffer res2(xn);  // the residual kept for the call in place over x (res is overwritten below)
    copy(res2, res);
    copy(rm4, rm);
    copy(rv4, rv);
    copy(rm5, rm);
    copy(rv5, rv);
    RN_EXPECT_OK(rn_batchnorm_forward_training(ctx, s.n, s.c, s.hw, RN_ACT_NONE, eps, momentum, x.data(), g, b,
                                               track ? rm4.data() : nullptr, track ? rv4.data() : nullptr,
                                               sm4.data(), si4.data(), u.data()));
    RN_EXPECT_OK(rn_add_relu_forward(ctx, int64_t(xn), u.data(), res.data(), want.data()));
    RN_EXPECT_OK(rn_batchnorm_forward_training_add_relu(ctx, s.n, s.c, s.hw, eps, momentum, x.data(), g, b,
                                                        track ? rm5.data() : nullptr, track ? rv5.data() : nullptr,
                                                        sm5.data(), si5.data(), res.data(), got.data()));
    RN_EXPECT(std::memcmp(got.data(), want.data(), sizeof(float) * xn) == 0, "%s: BN + add + ReLU differs", label);
    RN_EXPECT(std::memcmp(sm5.data(), sm4.data(), sizeof(float) * s.c) == 0 &&
                  std::memcmp(si5.data(), si4.data(), sizeof(float) * s.c) == 0 &&
                  std::memcmp(rm5.data(), rm4.data(), sizeof(float) * s.c) == 0 &&
                  std::memcmp(rv5.data(), rv4.data(), sizeof(float) * s.c) == 0,
              "%s: BN + add + ReLU statistics differ", label);
    RN_EXPECT_OK(rn_batchnorm_forward_training_add_relu(ctx, s.n, s.c, s.hw, eps, momentum, x.data(), g, b, nullptr,
                                                        nullptr, sm5.data(), si5.data(), res.data(), res.data()));
    RN_EXPECT(std::memcmp(res.data(), want.data(), sizeof(float) * xn) == 0, "%s: in place over the residual", label);
    Buffer xi(xn);  // and in place over x (the statistics pass reads each channel before it is written)
    copy(xi, x);
    RN_EXPECT_OK(rn_batchnorm_forward_training_add_relu(ctx, s.n, s.c, s.hw, eps, momentum, xi.data(), g, b, nullptr,
                                                        nullptr, sm5.data(), si5.data(), res2.data(), xi.data()));
    RN_EXPECT(std::memcmp(xi.data(), want.data(), sizeof(float) * xn) == 0, "%s: in place over x", label);
  }
}

void check_bad_arguments(rn_context* ctx) {
  Buffer x(8), y(16), p(2), q(2), r(2), t(2), dx(8), dy(16);
  const int BAD = RN_STATUS_BAD_ARGUMENT;
  auto train = [&](int n, int c, int hw, int act, const float* xx, const float* g, const float* b, float* rm,
                   float* rv, float* sm, float* si, float* yy, float eps = 1e-5f, float mom = 0.1f) {
    return rn_batchnorm_forward_training(ctx, n, c, hw, act, eps, mom, xx, g, b, rm, rv, sm, si, yy);
  };
  RN_EXPECT(train(2, 2, 2, 0, x.data(), p.data(), q.data(), r.data(), t.data(), p.data(), q.data(), y.data()) ==
                RN_STATUS_OK, "valid call");
  RN_EXPECT(train(-1, 2, 2, 0, x.data(), nullptr, nullptr, nullptr, nullptr, p.data(), q.data(), y.data()) == BAD, "n<0");
  RN_EXPECT(train(2, 0, 2, 0, x.data(), nullptr, nullptr, nullptr, nullptr, p.data(), q.data(), y.data()) == BAD, "c=0");
  RN_EXPECT(train(2, 2, -3, 0, x.data(), nullptr, nullptr, nullptr, nullptr, p.data(), q.data(), y.data()) == BAD, "hw<0");
  RN_EXPECT(train(1, 2, 1, 0, x.data(), nullptr, nullptr, nullptr, nullptr, p.data(), q.data(), y.data()) == BAD, "m=1");
  RN_EXPECT(train(2, 2, 2, 3, x.data(), nullptr, nullptr, nullptr, nullptr, p.data(), q.data(), y.data()) == BAD, "act");
  RN_EXPECT(train(2, 2, 2, 0, nullptr, nullptr, nullptr, nullptr, nullptr, p.data(), q.data(), y.data()) == BAD, "x null");
  RN_EXPECT(train(2, 2, 2, 0, x.data(), nullptr, nullptr, nullptr, nullptr, p.data(), q.data(), nullptr) == BAD, "y null");
  RN_EXPECT(train(2, 2, 2, 0, x.data(), nullptr, nullptr, nullptr, nullptr, nullptr, q.data(), y.data()) == BAD, "save null");
  RN_EXPECT(train(2, 2, 2, 0, x.data(), p.data(), nullptr, nullptr, nullptr, p.data(), q.data(), y.data()) == BAD, "beta null");
  RN_EXPECT(train(2, 2, 2, 0, x.data(), nullptr, nullptr, r.data(), nullptr, p.data(), q.data(), y.data()) == BAD, "rv null");
  RN_EXPECT(train(2, 2, 2, 0, x.data(), nullptr, nullptr, nullptr, nullptr, p.data(), q.data(), y.data(), -1.0f) == BAD, "eps<0");
  RN_EXPECT(train(2, 2, 2, 0, x.data(), nullptr, nullptr, nullptr, nullptr, p.data(), q.data(), y.data(), std::nanf(""))
                == BAD, "eps NaN");
  RN_EXPECT(rn_batchnorm_forward_training(nullptr, 2, 2, 2, 0, 1e-5f, 0.1f, x.data(), nullptr, nullptr, nullptr, nullptr,
                                          p.data(), q.data(), y.data()) == BAD, "ctx null");
  RN_EXPECT(rn_batchnorm_forward_inference(ctx, 2, 2, 2, 0, 1e-5f, x.data(), nullptr, nullptr, nullptr, q.data(),
                                           y.data()) == BAD, "inference without running stats");
  RN_EXPECT(rn_batchnorm_forward_inference(ctx, 2, 2, 2, 0, 1e-5f, x.data(), nullptr, nullptr, p.data(), q.data(),
                                           y.data()) == RN_STATUS_OK, "inference valid (m=... any)");
  RN_EXPECT(rn_batchnorm_forward_training_add_relu(ctx, 2, 2, 2, 1e-5f, 0.1f, x.data(), nullptr, nullptr, nullptr,
                                                   nullptr, p.data(), q.data(), nullptr, dx.data()) == BAD,
            "add_relu without a residual");
  RN_EXPECT(rn_batchnorm_forward_training_add_relu(ctx, 1, 2, 1, 1e-5f, 0.1f, x.data(), nullptr, nullptr, nullptr,
                                                   nullptr, p.data(), q.data(), x.data(), dx.data()) == BAD,
            "add_relu with m = 1");
  RN_EXPECT(rn_batchnorm_inference_affine(ctx, 2, 1e-5f, p.data(), q.data(), r.data(), t.data(), dx.data(),
                                         dy.data()) == RN_STATUS_OK, "inference affine valid");
  RN_EXPECT(rn_batchnorm_inference_affine(ctx, 0, 1e-5f, p.data(), q.data(), r.data(), t.data(), dx.data(),
                                         dy.data()) == BAD, "inference affine c=0");
  RN_EXPECT(rn_batchnorm_inference_affine(ctx, 2, 1e-5f, p.data(), nullptr, r.data(), t.data(), dx.data(),
                                         dy.data()) == BAD, "inference affine gamma without beta");
  RN_EXPECT(rn_batchnorm_inference_affine(ctx, 2, 1e-5f, nullptr, nullptr, nullptr, t.data(), dx.data(),
                                         dy.data()) == BAD, "inference affine without running mean");
  RN_EXPECT(rn_batchnorm_inference_affine(ctx, 2, -1.0f, nullptr, nullptr, r.data(), t.data(), dx.data(),
                                         dy.data()) == BAD, "inference affine eps<0");
  RN_EXPECT(rn_batchnorm_inference_affine(ctx, 2, 1e-5f, nullptr, nullptr, r.data(), t.data(), nullptr,
                                         dy.data()) == BAD, "inference affine without scale");
  RN_EXPECT(rn_batchnorm_backward(ctx, 2, 2, 2, 0, x.data(), p.data(), q.data(), p.data(), q.data(), dy.data(),
                                  dx.data(), nullptr, nullptr) == BAD, "affine without dgamma");
  RN_EXPECT(rn_batchnorm_backward(ctx, 2, 2, 2, 0, x.data(), nullptr, nullptr, p.data(), q.data(), dy.data(),
                                  dx.data(), r.data(), t.data()) == BAD, "dgamma without affine");
  RN_EXPECT(rn_batchnorm_backward(ctx, 2, 2, 2, 0, x.data(), nullptr, nullptr, p.data(), q.data(), nullptr, dx.data(),
                                  nullptr, nullptr) == BAD, "dy null");
  RN_EXPECT(rn_batchnorm_backward(ctx, 2, 2, 2, 0, x.data(), nullptr, nullptr, p.data(), nullptr, dy.data(), dx.data(),
                                  nullptr, nullptr) == BAD, "invstd null");
}

}  // namespace

// test_batchnorm --fuzz COUNT SEED: COUNT random shapes, each with every activation and both
// variants (affine and tracked, or neither), on a random thread count of 1-3 and every ISA
// level: plane sizes around the vector widths (runs with overlapping last vectors, padded
// copies below one vector) and channel counts that do or do not spread over the threads (the
// by-channel and the streaming schedules).
int fuzz(int count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto pick = [&](std::initializer_list<int> v) { return pick_one(rng, v); };
  rn_context* ctxs[3] = {rn_context_create(1), rn_context_create(2), rn_context_create(3)};
  for (int i = 0; i < count; ++i) {
    Shape s{};
    s.n = pick({1, 2, 3, 4, 7});
    s.c = pick({1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 16, 17, 32, 33});
    s.hw = rng() % 2 ? int(1 + rng() % 70) : pick({81, 98, 100, 127, 128, 129, 196, 255, 256, 784, 1000, 1024});
    // At least 4 values a channel: with 2, x_hat is +-1 whatever x is, so dx is ~0 and its
    // norm-wise relative error is float32 rounding over a near-zero result.
    if (s.n * s.hw < 4) s.hw = 4;
    const int t = int(rng() % 3);
    for (int isa : isa_levels()) {
      RN_EXPECT_OK(rn_context_set_isa(ctxs[t], isa));
      for (int act : {RN_ACT_NONE, RN_ACT_RELU, RN_ACT_CRELU})
        for (int variant = 0; variant < 2; ++variant)
          check_shape(ctxs[t], rng, s, act, variant == 0, variant == 0, 0.0f, rn_isa_name(isa), t + 1);
    }
  }
  for (rn_context* ctx : ctxs) rn_context_destroy(ctx);
  std::printf("fuzz: %d random shapes from seed %llu\n", count, static_cast<unsigned long long>(seed));
  return finish("test_batchnorm --fuzz");
}

int main(int argc, char** argv) {
  int fuzz_count;
  uint64_t fuzz_seed;
  if (fuzz_args(argc, argv, &fuzz_count, &fuzz_seed)) return fuzz(fuzz_count, fuzz_seed);
  std::mt19937_64 rng(11);
  // Small shapes run by channel on one thread; with 2 threads {3,5,4001} and {1,1,70001}
  // take the streaming schedule (channels do not spread evenly), {4,6,3001} the by-channel one.
  // Planes that are not whole vectors end with an overlapping last vector where they are at
  // least one long (7x7, 14x14: 49, 196; 17, 25 and 42 at every vector width), with a padded
  // copy where shorter (7, 1).
  const Shape shapes[] = {{3, 5, 42},   {1, 3, 25},   {4, 2, 1},    {2, 3, 1000}, {2, 2, 4099}, {3, 5, 4001},
                          {4, 6, 3001}, {1, 1, 70001}, {3, 4, 49},  {2, 3, 196},  {3, 2, 7},    {2, 3, 17}};
  for (int threads : {1, 2}) {
    rn_context* ctx = rn_context_create(threads);
    for (int isa : isa_levels()) {
      RN_EXPECT_OK(rn_context_set_isa(ctx, isa));
      for (const Shape& s : shapes)
        for (int act : {RN_ACT_NONE, RN_ACT_RELU, RN_ACT_CRELU})
          for (int variant = 0; variant < 2; ++variant)
            check_shape(ctx, rng, s, act, variant == 0, variant == 0, 0.0f, rn_isa_name(isa), threads);
      // A large mean relative to the spread: the shifted statistics must not cancel.
      check_shape(ctx, rng, {5, 3, 999}, RN_ACT_CRELU, true, true, 300.0f, rn_isa_name(isa), threads);
    }
    check_bad_arguments(ctx);
    rn_context_destroy(ctx);
  }
  return finish("test_batchnorm");
}
