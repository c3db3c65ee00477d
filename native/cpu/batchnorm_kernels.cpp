// Batch-norm inner loops over one contiguous segment of a channel plane, compiled per
// ISA level (see norm_kernels.h). batchnorm_act.cpp splits the tensor into segments,
// spreads them over the pool and combines the per-thread partial sums.
//
// Every loop is one streaming pass. Reductions keep float vector accumulators over
// short blocks (at most 16 values per lane per accumulator) and add each block's sum
// into double, so sums over millions of values keep double-like accuracy at float
// speed. Tails shorter than a vector go through the same vector code on a padded
// stack copy, so every element of u is computed with the same instructions.
#include <immintrin.h>

#include <cstring>

#include "norm_kernels.h"
#include "resnorm/batchnorm.h"

namespace rn::RN_ISA_NS {

#include "simd.h"
#include "norm_simd.h"

namespace {

constexpr int64_t kUnroll = 4;
constexpr int64_t kStep = kUnroll * kWidth;
constexpr int64_t kBlock = 16 * kStep;  // elements per float partial sum, flushed to double

// u = (x - mean)*scale + beta: the one definition of u (see norm_kernels.h).
inline Vec affine(Vec x, Vec mean, Vec scale, Vec beta) { return vfmadd(vsub(x, mean), scale, beta); }

template <int kAct>
inline void apply_vec(Vec x, Vec mean, Vec scale, Vec beta, float* y, float* yneg) {
  Vec u = affine(x, mean, scale, beta);
  if (kAct == RN_ACT_NONE) {
    vstore(y, u);
  } else if (kAct == RN_ACT_RELU) {
    vstore(y, vrelu(u));
  } else {
    vstore(y, vrelu(u));
    vstore(yneg, vrelu(vsub(vzero(), u)));
  }
}

template <int kAct>
void apply_t(const float* x, int64_t len, float mean_s, float scale_s, float beta_s, float* y,
             float* yneg) {
  const Vec mean = vset1(mean_s), scale = vset1(scale_s), beta = vset1(beta_s);
  int64_t i = 0;
  for (; i + 2 * kWidth <= len; i += 2 * kWidth) {
    Vec x0 = vload(x + i), x1 = vload(x + i + kWidth);
    apply_vec<kAct>(x0, mean, scale, beta, y + i, yneg + i);
    apply_vec<kAct>(x1, mean, scale, beta, y + i + kWidth, yneg + i + kWidth);
  }
  for (; i + kWidth <= len; i += kWidth) apply_vec<kAct>(vload(x + i), mean, scale, beta, y + i, yneg + i);
  if (i < len) {
    const int64_t r = len - i;
    float xb[kWidth] = {}, yb[kWidth], nb[kWidth];
    std::memcpy(xb, x + i, sizeof(float) * r);
    apply_vec<kAct>(vload(xb), mean, scale, beta, yb, nb);
    std::memcpy(y + i, yb, sizeof(float) * r);
    if (kAct == RN_ACT_CRELU) std::memcpy(yneg + i, nb, sizeof(float) * r);
  }
}

// du of one vector: the activation's gradient gate applied to dy.
template <int kAct>
inline Vec grad_u(Vec x, const float* dy, const float* dyneg, Vec mean, Vec scale, Vec beta) {
  if (kAct == RN_ACT_NONE) return vload(dy);
  Vec u = affine(x, mean, scale, beta);
  if (kAct == RN_ACT_RELU) return vkeep_pos(vload(dy), u);
  return vsub(vkeep_pos(vload(dy), u), vkeep_neg(vload(dyneg), u));
}

template <int kAct>
void reduce_t(const float* x, const float* dy, const float* dyneg, int64_t len,
              float mean_s, float scale_s, float beta_s, double* sdu, double* sdux) {
  const Vec mean = vset1(mean_s), scale = vset1(scale_s), beta = vset1(beta_s);
  double d1 = 0.0, d2 = 0.0;
  int64_t i = 0;
  while (i + kStep <= len) {
    const int64_t block_end = i + kBlock < len ? i + kBlock : len;
    Vec a[kUnroll], b[kUnroll];
    for (int k = 0; k < kUnroll; ++k) a[k] = b[k] = vzero();
    for (; i + kStep <= block_end; i += kStep) {
      for (int k = 0; k < kUnroll; ++k) {
        const int64_t o = i + k * kWidth;
        Vec xv = vload(x + o);
        Vec du = grad_u<kAct>(xv, dy + o, dyneg + o, mean, scale, beta);
        a[k] = vadd(a[k], du);
        b[k] = vfmadd(du, vsub(xv, mean), b[k]);
      }
    }
    d1 += vhsum(vadd(vadd(a[0], a[1]), vadd(a[2], a[3])));
    d2 += vhsum(vadd(vadd(b[0], b[1]), vadd(b[2], b[3])));
  }
  if (i < len) {  // fewer than kStep left: one vector at a time, the last one padded (dy = 0 there)
    Vec a = vzero(), b = vzero();
    for (; i < len; i += kWidth) {
      const int64_t r = len - i < kWidth ? len - i : kWidth;
      float xb[kWidth] = {}, db[kWidth] = {}, nb[kWidth] = {};
      const float *xp = x + i, *dp = dy + i, *np = dyneg + i;
      if (r < kWidth) {
        std::memcpy(xb, xp, sizeof(float) * r);
        std::memcpy(db, dp, sizeof(float) * r);
        if (kAct == RN_ACT_CRELU) std::memcpy(nb, np, sizeof(float) * r);
        xp = xb, dp = db, np = nb;
      }
      Vec xv = vload(xp);
      Vec du = grad_u<kAct>(xv, dp, np, mean, scale, beta);
      a = vadd(a, du);
      b = vfmadd(du, vsub(xv, mean), b);
    }
    d1 += vhsum(a);
    d2 += vhsum(b);
  }
  *sdu += d1;
  *sdux += d2;
}

template <int kAct>
void dx_t(const float* x, const float* dy, const float* dyneg, int64_t len, float mean_s, float scale_s,
          float beta_s, float a_s, float b_s, float c_s, float* dx) {
  const Vec mean = vset1(mean_s), scale = vset1(scale_s), beta = vset1(beta_s);
  const Vec a = vset1(a_s), b = vset1(b_s), c = vset1(c_s);
  int64_t i = 0;
  for (; i + kWidth <= len; i += kWidth) {
    Vec xv = vload(x + i);
    Vec du = grad_u<kAct>(xv, dy + i, dyneg + i, mean, scale, beta);
    vstore(dx + i, vfmadd(a, du, vfmadd(b, vsub(xv, mean), c)));
  }
  if (i < len) {
    const int64_t r = len - i;
    float xb[kWidth] = {}, db[kWidth] = {}, nb[kWidth] = {}, out[kWidth];
    std::memcpy(xb, x + i, sizeof(float) * r);
    std::memcpy(db, dy + i, sizeof(float) * r);
    if (kAct == RN_ACT_CRELU) std::memcpy(nb, dyneg + i, sizeof(float) * r);
    Vec xv = vload(xb);
    Vec du = grad_u<kAct>(xv, db, nb, mean, scale, beta);
    vstore(out, vfmadd(a, du, vfmadd(b, vsub(xv, mean), c)));
    std::memcpy(dx + i, out, sizeof(float) * r);
  }
}

}  // namespace

// Adds sum(x - shift) and sum((x - shift)^2) to *s1, *s2. The shift (a sample of the
// channel) keeps the sum of squares free of cancellation when |mean| >> std.
void bn_stats(const float* __restrict x, int64_t len, float shift_s, double* s1, double* s2) {
  const Vec shift = vset1(shift_s);
  double d1 = 0.0, d2 = 0.0;
  int64_t i = 0;
  while (i + kStep <= len) {
    const int64_t block_end = i + kBlock < len ? i + kBlock : len;
    Vec a[kUnroll], b[kUnroll];
    for (int k = 0; k < kUnroll; ++k) a[k] = b[k] = vzero();
    for (; i + kStep <= block_end; i += kStep) {
      for (int k = 0; k < kUnroll; ++k) {
        Vec t = vsub(vload(x + i + k * kWidth), shift);
        a[k] = vadd(a[k], t);
        b[k] = vfmadd(t, t, b[k]);
      }
    }
    d1 += vhsum(vadd(vadd(a[0], a[1]), vadd(a[2], a[3])));
    d2 += vhsum(vadd(vadd(b[0], b[1]), vadd(b[2], b[3])));
  }
  for (; i < len; ++i) {
    double t = double(x[i]) - double(shift_s);
    d1 += t;
    d2 += t * t;
  }
  *s1 += d1;
  *s2 += d2;
}

void bn_apply(int act, const float* x, int64_t len, float mean, float scale, float beta, float* y, float* yneg) {
  switch (act) {
    case RN_ACT_RELU: return apply_t<RN_ACT_RELU>(x, len, mean, scale, beta, y, yneg);
    case RN_ACT_CRELU: return apply_t<RN_ACT_CRELU>(x, len, mean, scale, beta, y, yneg);
    default: return apply_t<RN_ACT_NONE>(x, len, mean, scale, beta, y, yneg);
  }
}

void bn_backward_reduce(int act, const float* x, const float* dy, const float* dyneg, int64_t len, float mean,
                        float scale, float beta, double* sdu, double* sdux) {
  switch (act) {
    case RN_ACT_RELU: return reduce_t<RN_ACT_RELU>(x, dy, dyneg, len, mean, scale, beta, sdu, sdux);
    case RN_ACT_CRELU: return reduce_t<RN_ACT_CRELU>(x, dy, dyneg, len, mean, scale, beta, sdu, sdux);
    default: return reduce_t<RN_ACT_NONE>(x, dy, dyneg, len, mean, scale, beta, sdu, sdux);
  }
}

void bn_backward_dx(int act, const float* x, const float* dy, const float* dyneg, int64_t len, float mean,
                    float scale, float beta, float a, float b, float c, float* dx) {
  switch (act) {
    case RN_ACT_RELU: return dx_t<RN_ACT_RELU>(x, dy, dyneg, len, mean, scale, beta, a, b, c, dx);
    case RN_ACT_CRELU: return dx_t<RN_ACT_CRELU>(x, dy, dyneg, len, mean, scale, beta, a, b, c, dx);
    default: return dx_t<RN_ACT_NONE>(x, dy, dyneg, len, mean, scale, beta, a, b, c, dx);
  }
}

}  // namespace rn::RN_ISA_NS
