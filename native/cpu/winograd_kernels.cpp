// Winograd F(4x4,3x3) transforms on channel-blocked rows (16 channels in the
// vector lanes), compiled per ISA level. See winograd.h for the scheme and the
// layouts; conv2d_winograd.cpp drives them.
//
//   input:   V = B^T d B     (6x6 patch -> 6x6)
//   output:  Y = A^T M A     (6x6 -> 4x4 outputs), + bias
//   grad:    Z = A dY A^T    (4x4 output gradient -> 6x6), for backward-filter
//   filters: U = G g G^T     (3x3 -> 6x6), 16 output channels per vector
//   filter gradients: dW = G^T S G (6x6 -> 3x3), 16 input channels per vector
// Every transform is separable: a 1-D pass along the rows into a small stack
// buffer, then along the columns, with the 16 lanes of a channel block as SIMD.
#include <immintrin.h>

#include "gemm.h"
#include "isa_kernels.h"
#include "winograd.h"

namespace rn::RN_ISA_NS {

#include "simd.h"
#include "epilogue_simd.h"

namespace {

constexpr int kSub = kLanes / kWidth;  // vectors per 16-lane block

// B^T d for 6 values (points 0, +-1, +-2, inf).
inline void bt6(const Vec d[6], Vec t[6]) {
  const Vec two = vset1(2.0f), four = vset1(4.0f), five = vset1(5.0f);
  t[0] = vfmadd(four, d[0], vfnmadd(five, d[2], d[4]));
  t[1] = vfnmadd(four, vadd(d[1], d[2]), vadd(d[3], d[4]));
  t[2] = vfmadd(four, vsub(d[1], d[2]), vsub(d[4], d[3]));
  t[3] = vfmadd(two, vsub(d[3], d[1]), vsub(d[4], d[2]));
  t[4] = vfnmadd(two, vsub(d[3], d[1]), vsub(d[4], d[2]));
  t[5] = vfmadd(four, d[1], vfnmadd(five, d[3], d[5]));
}

// A^T m for 6 values -> 4.
inline void at6(const Vec m[6], Vec s[4]) {
  const Vec two = vset1(2.0f), four = vset1(4.0f), eight = vset1(8.0f);
  const Vec p12 = vadd(m[1], m[2]), m12 = vsub(m[1], m[2]);
  const Vec p34 = vadd(m[3], m[4]), m34 = vsub(m[3], m[4]);
  s[0] = vadd(vadd(m[0], p12), p34);
  s[1] = vfmadd(two, m34, m12);
  s[2] = vfmadd(four, p34, p12);
  s[3] = vadd(vfmadd(eight, m34, m12), m[5]);
}

// A e for 4 values -> 6 (the transpose of at6's map).
inline void a4(const Vec e[4], Vec z[6]) {
  const Vec two = vset1(2.0f), four = vset1(4.0f);
  const Vec p02 = vadd(e[0], e[2]), p13 = vadd(e[1], e[3]);
  const Vec q02 = vfmadd(four, e[2], e[0]), q13 = vfmadd(four, e[3], e[1]);
  z[0] = e[0];
  z[1] = vadd(p02, p13);
  z[2] = vsub(p02, p13);
  z[3] = vfmadd(two, q13, q02);
  z[4] = vfnmadd(two, q13, q02);
  z[5] = e[3];
}

// G x for 3 values -> 6 (rows of G: 1/4 (1, 0, 0), -1/6 (1, 1, 1), -1/6 (1, -1, 1),
// 1/24 (1, 2, 4), 1/24 (1, -2, 4), (0, 0, 1)).
inline void g3(const Vec x[3], Vec y[6]) {
  const Vec neg_sixth = vset1(-1.0f / 6), twelfth = vset1(1.0f / 12);
  const Vec p02 = vadd(x[0], x[2]);
  y[0] = vmul(vset1(0.25f), x[0]);
  y[1] = vmul(neg_sixth, vadd(p02, x[1]));
  y[2] = vmul(neg_sixth, vsub(p02, x[1]));
  const Vec e = vfmadd(vset1(1.0f / 24), x[0], vmul(vset1(1.0f / 6), x[2]));
  y[3] = vfmadd(twelfth, x[1], e);
  y[4] = vfnmadd(twelfth, x[1], e);
  y[5] = x[2];
}

// G^T y for 6 values -> 3 (the transpose of g3's map).
inline void gt6(const Vec y[6], Vec x[3]) {
  const Vec p12 = vadd(y[1], y[2]), p34 = vadd(y[3], y[4]);
  const Vec m21 = vsub(y[2], y[1]), m34 = vsub(y[3], y[4]);
  const Vec sixth = vset1(1.0f / 6), neg_p12 = vmul(vset1(-1.0f / 6), p12);  // -(y1 + y2) / 6
  x[0] = vfmadd(vset1(0.25f), y[0], vfmadd(vset1(1.0f / 24), p34, neg_p12));
  x[1] = vfmadd(sixth, m21, vmul(vset1(1.0f / 12), m34));
  x[2] = vadd(y[5], vfmadd(sixth, p34, neg_p12));
}

// The output transform of one tile row, each value stored as acc + bias; with kEpilogue,
// through the fused epilogue as it is stored (the same instructions as epilogue_c16 on the
// stored row, see epilogue_simd.h; CReLU's negative half into yt_neg).
template <bool kEpilogue>
void output_row(const float* m, int64_t t0, int64_t xi_stride, int32_t blocks, int32_t tw, const float* bias,
                const EpilogueArgs* ep, float* yt, float* yt_neg) {
  const int32_t lanes_total = blocks * kLanes;  // m[xi * xi_stride + t * lanes_total + k]
  const int64_t cols = 4 * int64_t(tw);
  for (int32_t kb = 0; kb < blocks; ++kb) {
    float* rows = yt + int64_t(kb) * 4 * cols * kLanes;
    float* neg_rows = kEpilogue ? yt_neg + int64_t(kb) * 4 * cols * kLanes : nullptr;
    for (int32_t b = 0; b < tw; ++b) {
      const float* in = m + (t0 + b) * lanes_total + int64_t(kb) * kLanes;
      for (int sub = 0; sub < kSub; ++sub) {
        const int32_t lane0 = kb * kLanes + sub * kWidth;
        const Vec bv = bias ? vload(bias + lane0) : vzero();
        const EpilogueArgs none;
        const LaneEpilogue lanes(kEpilogue ? *ep : none, lane0);
        Vec tmp[6][4];  // tmp[i][j'] = (M A)[i][j']
        for (int i = 0; i < 6; ++i) {
          Vec row[6];
          for (int j = 0; j < 6; ++j) row[j] = vload(in + (i * 6 + j) * xi_stride + sub * kWidth);
          at6(row, tmp[i]);
        }
        for (int j = 0; j < 4; ++j) {
          Vec col[6], s[4];
          for (int i = 0; i < 6; ++i) col[i] = tmp[i][j];
          at6(col, s);
          for (int i = 0; i < 4; ++i) {
            const int64_t at = (int64_t(i) * cols + 4 * b + j) * kLanes + sub * kWidth;
            if (kEpilogue)
              lanes.store(vadd(s[i], bv), rows + at, neg_rows + at);
            else
              vstore(rows + at, vadd(s[i], bv));
          }
        }
      }
    }
  }
}

}  // namespace

void wino4_filters(const float* g, int32_t i0, int32_t i1, int32_t cout16, float* u, int64_t u_plane, int64_t i_stride,
                   int64_t block_stride) {
  for (int32_t i = i0; i < i1; ++i) {
    const float* gi = g + int64_t(i) * 9 * cout16;
    for (int32_t o = 0; o < cout16; o += kWidth) {
      Vec t[6][3];  // t[a][s] = (G g)[a][s]
      for (int sc = 0; sc < 3; ++sc) {
        const Vec col[3] = {vload(gi + (0 + sc) * cout16 + o), vload(gi + (3 + sc) * cout16 + o),
                            vload(gi + (6 + sc) * cout16 + o)};
        Vec out[6];
        g3(col, out);
        for (int a = 0; a < 6; ++a) t[a][sc] = out[a];
      }
      for (int a = 0; a < 6; ++a) {
        Vec out[6];  // (G g G^T)[a][c]
        g3(t[a], out);
        float* to = u + int64_t(i) * i_stride + int64_t(o / kLanes) * block_stride + o % kLanes;
        for (int c = 0; c < 6; ++c) vstore(to + (a * 6 + c) * u_plane, out[c]);
      }
    }
  }
}

void wino4_filter_grads(const float* s, int64_t s_plane, int32_t k0, int32_t k1, int32_t cin, int32_t cin16,
                        float* dw) {
  alignas(64) float tmp[9][kWidth];
  for (int32_t k = k0; k < k1; ++k)
    for (int32_t c0 = 0; c0 < cin; c0 += kWidth) {
      const float* sk = s + int64_t(k) * cin16 + c0;
      Vec t[3][6];  // t[r][j] = (G^T S)[r][j]
      for (int j = 0; j < 6; ++j) {
        Vec col[6], out[3];
        for (int i = 0; i < 6; ++i) col[i] = vload(sk + (i * 6 + j) * s_plane);
        gt6(col, out);
        for (int r = 0; r < 3; ++r) t[r][j] = out[r];
      }
      for (int r = 0; r < 3; ++r) {
        Vec out[3];  // (G^T S G)[r][sc]
        gt6(t[r], out);
        for (int sc = 0; sc < 3; ++sc) vstore(tmp[r * 3 + sc], out[sc]);
      }
      // dw is [k][c][3][3]: the 16 input channels of the vectors are 9 floats apart there
      const int32_t lanes = cin - c0 < kWidth ? cin - c0 : kWidth;
      float* out = dw + (int64_t(k) * cin + c0) * 9;
      for (int32_t l = 0; l < lanes; ++l)
        for (int tap = 0; tap < 9; ++tap) out[l * 9 + tap] = tmp[tap][l];
    }
}

void wino4_input_row(const float* xt, int32_t blocks, int32_t wp, int32_t tw, float* v, int64_t t0,
                     int64_t xi_stride, int32_t lanes_total) {
  // v[xi * xi_stride + t * lanes_total + c]
  for (int32_t cb = 0; cb < blocks; ++cb) {
    const float* rows = xt + int64_t(cb) * 6 * wp * kLanes;
    for (int32_t b = 0; b < tw; ++b) {
      float* out = v + (t0 + b) * lanes_total + int64_t(cb) * kLanes;
      for (int sub = 0; sub < kSub; ++sub) {
        Vec tmp[6][6];  // tmp[i][j'] = (d B)[i][j']
        for (int i = 0; i < 6; ++i) {
          const float* src = rows + (int64_t(i) * wp + 4 * b) * kLanes + sub * kWidth;
          Vec d[6];
          for (int j = 0; j < 6; ++j) d[j] = vload(src + j * kLanes);
          bt6(d, tmp[i]);
        }
        for (int j = 0; j < 6; ++j) {
          Vec col[6], t[6];
          for (int i = 0; i < 6; ++i) col[i] = tmp[i][j];
          bt6(col, t);
          for (int i = 0; i < 6; ++i) vstore(out + (i * 6 + j) * xi_stride + sub * kWidth, t[i]);
        }
      }
    }
  }
}

void wino4_output_row(const float* m, int64_t t0, int64_t xi_stride, int32_t blocks, int32_t tw, const float* bias,
                      const EpilogueArgs* ep, float* yt, float* yt_neg) {
  if (ep)
    output_row<true>(m, t0, xi_stride, blocks, tw, bias, ep, yt, yt_neg);
  else
    output_row<false>(m, t0, xi_stride, blocks, tw, bias, nullptr, yt, yt_neg);
}

void wino4_grad_row(const float* dyt, int32_t blocks, int32_t tw, float* z, int64_t t0, int64_t xi_stride) {
  const int32_t lanes_total = blocks * kLanes;  // z[xi * xi_stride + t * lanes_total + k]
  const int64_t cols = 4 * int64_t(tw);
  for (int32_t kb = 0; kb < blocks; ++kb) {
    const float* rows = dyt + int64_t(kb) * 4 * cols * kLanes;
    for (int32_t b = 0; b < tw; ++b) {
      float* out = z + (t0 + b) * lanes_total + int64_t(kb) * kLanes;
      for (int sub = 0; sub < kSub; ++sub) {
        Vec tmp[4][6];  // tmp[i][j'] = (dY A^T)[i][j']
        for (int i = 0; i < 4; ++i) {
          Vec e[4];
          for (int j = 0; j < 4; ++j) e[j] = vload(rows + (int64_t(i) * cols + 4 * b + j) * kLanes + sub * kWidth);
          a4(e, tmp[i]);
        }
        for (int j = 0; j < 6; ++j) {
          Vec col[4], zz[6];
          for (int i = 0; i < 4; ++i) col[i] = tmp[i][j];
          a4(col, zz);
          for (int i = 0; i < 6; ++i) vstore(out + (i * 6 + j) * xi_stride + sub * kWidth, zz[i]);
        }
      }
    }
  }
}

}  // namespace rn::RN_ISA_NS
