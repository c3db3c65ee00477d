// Batch-norm inner loops over one contiguous segment of a channel plane, compiled per
// ISA level (see norm_kernels.h). batchnorm_act.cpp splits the tensor into segments,
// spreads them over the pool and combines the per-thread partial sums.
//
// Every loop is one streaming pass. Reductions keep float vector accumulators over
// short blocks (at most 16 values per lane per accumulator) and add each block's sum
// into double, so sums over millions of values keep double-like accuracy at float
// speed. Every element of u is computed with the same vector instructions:
// - a run of at least a vector whose length is not whole vectors (7x7 and 14x14 planes:
//   49 = 6 x 8 + 1, 196 = 24 x 8 + 4) ends with its last whole vector, at len - kWidth,
//   overlapping the one before: elementwise loops compute it from the inputs before the
//   run's other stores (so y == x in place still reads x) and store it last, over the
//   overlap with the same values; reductions keep only its new lanes (vlast). The padded
//   stack copy this replaced cost three memcpy calls a run: at 7x7 the fused CReLU forward
//   took 1.7x, the backward 1.8x the time of 48-float planes.
// - a run shorter than a vector goes through the same code on a padded stack copy.
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

// How a run of len floats ends (see the file comment): whole vectors up to `whole`, then, where
// `overlap`, the last whole vector at `last` = len - kWidth; else a padded copy of [whole, len).
struct RunEnd {
  int64_t whole, last;
  bool overlap;
  explicit RunEnd(int64_t len) : whole(len - len % kWidth), last(len - kWidth), overlap(whole != len && len > kWidth) {}
};

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
void apply_run(const float* x, int64_t len, Vec mean, Vec scale, Vec beta, float* y, float* yneg) {
  const RunEnd end(len);
  const int64_t whole = end.whole, last = end.last;
  Vec tail_pos = vzero(), tail_neg = vzero();
  if (end.overlap) {  // from x before any store (y may be x)
    Vec u = affine(vload(x + last), mean, scale, beta);
    tail_pos = kAct == RN_ACT_NONE ? u : vrelu(u);
    tail_neg = vrelu(vsub(vzero(), u));
  }
  int64_t i = 0;
  for (; i + 2 * kWidth <= whole; i += 2 * kWidth) {
    Vec x0 = vload(x + i), x1 = vload(x + i + kWidth);
    apply_vec<kAct>(x0, mean, scale, beta, y + i, yneg + i);
    apply_vec<kAct>(x1, mean, scale, beta, y + i + kWidth, yneg + i + kWidth);
  }
  for (; i < whole; i += kWidth) apply_vec<kAct>(vload(x + i), mean, scale, beta, y + i, yneg + i);
  if (end.overlap) {
    vstore(y + last, tail_pos);
    if (kAct == RN_ACT_CRELU) vstore(yneg + last, tail_neg);
  } else if (i < len) {
    const int64_t r = len - i;
    float xb[kWidth] = {}, yb[kWidth], nb[kWidth];
    std::memcpy(xb, x + i, sizeof(float) * r);
    apply_vec<kAct>(vload(xb), mean, scale, beta, yb, nb);
    std::memcpy(y + i, yb, sizeof(float) * r);
    if (kAct == RN_ACT_CRELU) std::memcpy(yneg + i, nb, sizeof(float) * r);
  }
}

template <int kAct>
void apply_t(const BnRuns& r, const BnChannel& ch, float* y) {
  const Vec mean = vset1(ch.mean), scale = vset1(ch.scale), beta = vset1(ch.beta);
  for (int64_t p = 0; p < r.planes; ++p) {
    float* yp = y + p * r.other_stride;
    apply_run<kAct>(r.x + p * r.x_stride, r.len, mean, scale, beta, yp, kAct == RN_ACT_CRELU ? yp + r.neg_offset : yp);
  }
}

// y = max(u + res, 0): the batch norm of a block's last conv, the shortcut added and the
// block's ReLU in the normalize pass (the same bits as bn_apply NONE, then add_relu_forward).
void apply_add_relu_t(const BnRuns& r, const BnChannel& ch, const float* res, float* y) {
  const Vec mean = vset1(ch.mean), scale = vset1(ch.scale), beta = vset1(ch.beta);
  const RunEnd end(r.len);
  const int64_t whole = end.whole, last = end.last;
  const bool overlap = end.overlap;
  for (int64_t p = 0; p < r.planes; ++p) {
    const float* x = r.x + p * r.x_stride;
    const float* rp = res + p * r.other_stride;
    float* yp = y + p * r.other_stride;
    Vec tail = vzero();
    if (overlap) tail = vrelu(vadd(affine(vload(x + last), mean, scale, beta), vload(rp + last)));  // y may be x or res
    int64_t i = 0;
    for (; i < whole; i += kWidth) vstore(yp + i, vrelu(vadd(affine(vload(x + i), mean, scale, beta), vload(rp + i))));
    if (overlap) {
      vstore(yp + last, tail);
    } else if (i < r.len) {
      const int64_t rem = r.len - i;
      float xb[kWidth] = {}, rb[kWidth] = {}, yb[kWidth];
      std::memcpy(xb, x + i, sizeof(float) * rem);
      std::memcpy(rb, rp + i, sizeof(float) * rem);
      vstore(yb, vrelu(vadd(affine(vload(xb), mean, scale, beta), vload(rb))));
      std::memcpy(yp + i, yb, sizeof(float) * rem);
    }
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

// Float vector partial sums, added into double every kFlush vector steps.
struct Partials {
  static constexpr int kFlush = 16;
  Vec a[kUnroll], b[kUnroll];
  int steps = 0;
  double d1 = 0.0, d2 = 0.0;
  Partials() { clear(); }
  void clear() {
    for (int k = 0; k < kUnroll; ++k) a[k] = b[k] = vzero();
    steps = 0;
  }
  void tick() {
    if (++steps == kFlush) flush();
  }
  void flush() {
    d1 += vhsum(vadd(vadd(a[0], a[1]), vadd(a[2], a[3])));
    d2 += vhsum(vadd(vadd(b[0], b[1]), vadd(b[2], b[3])));
    clear();
  }
};

template <int kAct>
void reduce_t(const BnRuns& r, const BnChannel& ch, const float* dy_base, double* sdu, double* sdux) {
  const Vec mean = vset1(ch.mean), scale = vset1(ch.scale), beta = vset1(ch.beta);
  Partials acc;
  const int64_t len = r.len;
  for (int64_t p = 0; p < r.planes; ++p) {
    const float* x = r.x + p * r.x_stride;
    const float* dy = dy_base + p * r.other_stride;
    const float* dyneg = kAct == RN_ACT_CRELU ? dy + r.neg_offset : dy;
    int64_t i = 0;
    for (; i + kStep <= len; i += kStep) {
      for (int k = 0; k < kUnroll; ++k) {
        const int64_t o = i + k * kWidth;
        Vec xv = vload(x + o);
        Vec du = grad_u<kAct>(xv, dy + o, dyneg + o, mean, scale, beta);
        acc.a[k] = vadd(acc.a[k], du);
        acc.b[k] = vfmadd(du, vsub(xv, mean), acc.b[k]);
      }
      acc.tick();
    }
    for (; i + kWidth <= len; i += kWidth) {
      Vec xv = vload(x + i);
      Vec du = grad_u<kAct>(xv, dy + i, dyneg + i, mean, scale, beta);
      acc.a[0] = vadd(acc.a[0], du);
      acc.b[0] = vfmadd(du, vsub(xv, mean), acc.b[0]);
      acc.tick();
    }
    if (i < len) {
      const int rem = int(len - i);
      Vec du, xm;
      if (len > kWidth) {  // the run's last whole vector; only its last rem lanes are new
        const int64_t o = len - kWidth;
        Vec xv = vload(x + o);
        du = vlast(grad_u<kAct>(xv, dy + o, dyneg + o, mean, scale, beta), rem);
        xm = vlast(vsub(xv, mean), rem);
      } else {  // shorter than a vector: padded with dy = 0 (du = 0 there)
        float xb[kWidth] = {}, db[kWidth] = {}, nb[kWidth] = {};
        std::memcpy(xb, x + i, sizeof(float) * rem);
        std::memcpy(db, dy + i, sizeof(float) * rem);
        if (kAct == RN_ACT_CRELU) std::memcpy(nb, dyneg + i, sizeof(float) * rem);
        Vec xv = vload(xb);
        du = grad_u<kAct>(xv, db, nb, mean, scale, beta);
        xm = vsub(xv, mean);
      }
      acc.a[0] = vadd(acc.a[0], du);
      acc.b[0] = vfmadd(du, xm, acc.b[0]);
      acc.tick();
    }
  }
  acc.flush();
  *sdu += acc.d1;
  *sdux += acc.d2;
}

template <int kAct>
void dx_run(const float* x, const float* dy, const float* dyneg, int64_t len, Vec mean, Vec scale, Vec beta, Vec a,
            Vec b, Vec c, float* dx) {
  const RunEnd end(len);  // as in apply_run (dx may be dy)
  const int64_t whole = end.whole, last = end.last;
  const bool overlap = end.overlap;
  Vec tail = vzero();
  if (overlap) {
    Vec xv = vload(x + last);
    Vec du = grad_u<kAct>(xv, dy + last, dyneg + last, mean, scale, beta);
    tail = vfmadd(a, du, vfmadd(b, vsub(xv, mean), c));
  }
  int64_t i = 0;
  for (; i < whole; i += kWidth) {
    Vec xv = vload(x + i);
    Vec du = grad_u<kAct>(xv, dy + i, dyneg + i, mean, scale, beta);
    vstore(dx + i, vfmadd(a, du, vfmadd(b, vsub(xv, mean), c)));
  }
  if (overlap) {
    vstore(dx + last, tail);
  } else if (i < len) {
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

template <int kAct>
void dx_t(const BnRuns& r, const BnChannel& ch, const float* dy, float* dx) {
  const Vec mean = vset1(ch.mean), scale = vset1(ch.scale), beta = vset1(ch.beta);
  const Vec a = vset1(ch.a), b = vset1(ch.b), c = vset1(ch.c);
  for (int64_t p = 0; p < r.planes; ++p) {
    const float* d = dy + p * r.other_stride;
    dx_run<kAct>(r.x + p * r.x_stride, d, kAct == RN_ACT_CRELU ? d + r.neg_offset : d, r.len, mean, scale, beta, a,
                 b, c, dx + p * r.x_stride);
  }
}

}  // namespace

// Adds sum(x - shift) and sum((x - shift)^2) to *s1, *s2. The shift (a sample of the
// channel) keeps the sum of squares free of cancellation when |mean| >> std.
void bn_stats(const BnRuns& r, float shift_s, double* s1, double* s2) {
  const Vec shift = vset1(shift_s);
  Partials acc;
  double t1 = 0.0, t2 = 0.0;
  const int64_t len = r.len;
  for (int64_t p = 0; p < r.planes; ++p) {
    const float* x = r.x + p * r.x_stride;
    int64_t i = 0;
    for (; i + kStep <= len; i += kStep) {
      for (int k = 0; k < kUnroll; ++k) {
        Vec t = vsub(vload(x + i + k * kWidth), shift);
        acc.a[k] = vadd(acc.a[k], t);
        acc.b[k] = vfmadd(t, t, acc.b[k]);
      }
      acc.tick();
    }
    for (; i + kWidth <= len; i += kWidth) {
      Vec t = vsub(vload(x + i), shift);
      acc.a[0] = vadd(acc.a[0], t);
      acc.b[0] = vfmadd(t, t, acc.b[0]);
      acc.tick();
    }
    if (i < len && len > kWidth) {  // the run's last whole vector, its last len - i lanes
      Vec t = vlast(vsub(vload(x + len - kWidth), shift), int(len - i));
      acc.a[0] = vadd(acc.a[0], t);
      acc.b[0] = vfmadd(t, t, acc.b[0]);
      acc.tick();
      i = len;
    }
    for (; i < len; ++i) {  // shorter than a vector
      double t = double(x[i]) - double(shift_s);
      t1 += t;
      t2 += t * t;
    }
  }
  acc.flush();
  *s1 += acc.d1 + t1;
  *s2 += acc.d2 + t2;
}

void bn_apply(int act, const BnRuns& r, const BnChannel& ch, float* y) {
  switch (act) {
    case RN_ACT_RELU: return apply_t<RN_ACT_RELU>(r, ch, y);
    case RN_ACT_CRELU: return apply_t<RN_ACT_CRELU>(r, ch, y);
    default: return apply_t<RN_ACT_NONE>(r, ch, y);
  }
}

void bn_apply_add_relu(const BnRuns& r, const BnChannel& ch, const float* res, float* y) {
  apply_add_relu_t(r, ch, res, y);
}

void bn_backward_reduce(int act, const BnRuns& r, const BnChannel& ch, const float* dy, double* sdu, double* sdux) {
  switch (act) {
    case RN_ACT_RELU: return reduce_t<RN_ACT_RELU>(r, ch, dy, sdu, sdux);
    case RN_ACT_CRELU: return reduce_t<RN_ACT_CRELU>(r, ch, dy, sdu, sdux);
    default: return reduce_t<RN_ACT_NONE>(r, ch, dy, sdu, sdux);
  }
}

void bn_backward_dx(int act, const BnRuns& r, const BnChannel& ch, const float* dy, float* dx) {
  switch (act) {
    case RN_ACT_RELU: return dx_t<RN_ACT_RELU>(r, ch, dy, dx);
    case RN_ACT_CRELU: return dx_t<RN_ACT_CRELU>(r, ch, dy, dx);
    default: return dx_t<RN_ACT_NONE>(r, ch, dy, dx);
  }
}

}  // namespace rn::RN_ISA_NS
