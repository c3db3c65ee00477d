// Winograd F(2x2,3x3) kernels, compiled once per ISA level (see winograd.h for
// the scheme and conv2d_winograd.cpp for the driver).
//
// Transforms run across the tiles of a tile row (stride-1 loops the compiler
// vectorizes); the 16 GEMMs use a register-blocked micro-kernel over the
// level's vector type (simd.h).
#include <immintrin.h>

#include <cstring>

#include "isa_kernels.h"
#include "winograd.h"

namespace rn::RN_ISA_NS {

#include "simd.h"

namespace {

// Input value x[ih][iw] of one channel plane, zero outside the image.
inline void load_padded_row(const float* plane, const wino::Geometry& g, int32_t ih, float* xp) {
  // xp[j] = x[ih][j - pad_w] for j in [0, 2*tw + 2)
  const int32_t len = 2 * g.tw + 2;
  if (ih < 0 || ih >= g.h) {
    std::memset(xp, 0, sizeof(float) * len);
    return;
  }
  const float* row = plane + int64_t(ih) * g.w;
  int32_t j = 0;
  for (; j < g.pad_w && j < len; ++j) xp[j] = 0.0f;
  int32_t copy = g.w;
  if (g.pad_w + copy > len) copy = len - g.pad_w;
  if (copy > 0) {
    std::memcpy(xp + g.pad_w, row, sizeof(float) * copy);
    j = g.pad_w + copy;
  }
  for (; j < len; ++j) xp[j] = 0.0f;
}

}  // namespace

void wino_input_transform(const wino::Geometry& g, const float* x, int64_t row0, int32_t rows, float* v,
                          float* scratch) {
  const int32_t tw = g.tw;
  const int64_t tb = g.tb;
  const int64_t pos_stride = int64_t(g.c) * tb;  // v[xi][c][t]
  float* col = scratch;                          // col[i][j][tw]: column-transformed input rows
  float* xp = scratch + 16 * tw;                 // one zero-padded input row
  for (int32_t c = 0; c < g.c; ++c) {
    for (int32_t ri = 0; ri < rows; ++ri) {
      const int64_t grow = row0 + ri;
      const int64_t img = grow / g.th;
      const int32_t th = int32_t(grow % g.th);
      const float* plane = x + (img * g.c + c) * int64_t(g.h) * g.w;
      for (int32_t i = 0; i < 4; ++i) {
        load_padded_row(plane, g, 2 * th - g.pad_h + i, xp);
        float* c0 = col + (i * 4 + 0) * tw;
        float* c1 = col + (i * 4 + 1) * tw;
        float* c2 = col + (i * 4 + 2) * tw;
        float* c3 = col + (i * 4 + 3) * tw;
        // d B along the row: (d0 - d2, d1 + d2, d2 - d1, d1 - d3) per tile
        for (int32_t t = 0; t < tw; ++t) {
          float d0 = xp[2 * t], d1 = xp[2 * t + 1], d2 = xp[2 * t + 2], d3 = xp[2 * t + 3];
          c0[t] = d0 - d2;
          c1[t] = d1 + d2;
          c2[t] = d2 - d1;
          c3[t] = d1 - d3;
        }
      }
      // B^T (.) across the 4 rows
      float* out = v + int64_t(c) * tb + int64_t(ri) * tw;
      for (int32_t j = 0; j < 4; ++j) {
        const float* r0 = col + (0 * 4 + j) * tw;
        const float* r1 = col + (1 * 4 + j) * tw;
        const float* r2 = col + (2 * 4 + j) * tw;
        const float* r3 = col + (3 * 4 + j) * tw;
        float* o0 = out + (0 * 4 + j) * pos_stride;
        float* o1 = out + (1 * 4 + j) * pos_stride;
        float* o2 = out + (2 * 4 + j) * pos_stride;
        float* o3 = out + (3 * 4 + j) * pos_stride;
        for (int32_t t = 0; t < tw; ++t) {
          o0[t] = r0[t] - r2[t];
          o1[t] = r1[t] + r2[t];
          o2[t] = r2[t] - r1[t];
          o3[t] = r1[t] - r3[t];
        }
      }
    }
    // Padding columns: zero, so the GEMMs only ever read defined values.
    const int64_t used = int64_t(rows) * tw;
    if (used < tb)
      for (int xi = 0; xi < wino::kPositions; ++xi)
        std::memset(v + xi * pos_stride + int64_t(c) * tb + used, 0, sizeof(float) * (tb - used));
  }
}

void wino_output_transform(const wino::Geometry& g, const float* m, const float* bias, int64_t row0, int32_t rows,
                           float* y, float* scratch) {
  const int32_t tw = g.tw;
  const int64_t tb = g.tb;
  const int64_t pos_stride = int64_t(g.k) * tb;  // m[xi][k][t]
  float* e = scratch;                            // e[i][j][tw]: A^T applied down the columns
  float* out0 = scratch + 8 * tw;                // two output rows, interleaved back to q order
  float* out1 = out0 + 2 * tw + 2;
  for (int32_t k = 0; k < g.k; ++k) {
    const float b = bias ? bias[k] : 0.0f;
    for (int32_t ri = 0; ri < rows; ++ri) {
      const int64_t grow = row0 + ri;
      const int64_t img = grow / g.th;
      const int32_t th = int32_t(grow % g.th);
      const float* in = m + int64_t(k) * tb + int64_t(ri) * tw;
      // rows of A^T M: (M0 + M1 + M2, M1 - M2 - M3) for each column j
      for (int32_t j = 0; j < 4; ++j) {
        const float* m0 = in + (0 * 4 + j) * pos_stride;
        const float* m1 = in + (1 * 4 + j) * pos_stride;
        const float* m2 = in + (2 * 4 + j) * pos_stride;
        const float* m3 = in + (3 * 4 + j) * pos_stride;
        float* e0 = e + (0 * 4 + j) * tw;
        float* e1 = e + (1 * 4 + j) * tw;
        for (int32_t t = 0; t < tw; ++t) {
          e0[t] = m0[t] + m1[t] + m2[t];
          e1[t] = m1[t] - m2[t] - m3[t];
        }
      }
      // (.) A along the row, interleaving the two output columns of each tile
      for (int32_t i = 0; i < 2; ++i) {
        const float* f0 = e + (i * 4 + 0) * tw;
        const float* f1 = e + (i * 4 + 1) * tw;
        const float* f2 = e + (i * 4 + 2) * tw;
        const float* f3 = e + (i * 4 + 3) * tw;
        float* o = i == 0 ? out0 : out1;
        for (int32_t t = 0; t < tw; ++t) {
          o[2 * t] = f0[t] + f1[t] + f2[t] + b;
          o[2 * t + 1] = f1[t] - f2[t] - f3[t] + b;
        }
      }
      float* plane = y + (img * g.k + k) * int64_t(g.p) * g.q;
      const int32_t p0 = 2 * th;
      std::memcpy(plane + int64_t(p0) * g.q, out0, sizeof(float) * g.q);
      if (p0 + 1 < g.p) std::memcpy(plane + int64_t(p0 + 1) * g.q, out1, sizeof(float) * g.q);
    }
  }
}

void wino_grad_transform(const wino::Geometry& g, const float* dy, int64_t row0, int32_t rows, float* z) {
  // z[xi][k][t] = (A dY A^T)[xi] for the 2x2 output-gradient tile t (zero beyond p, q)
  const int32_t tw = g.tw;
  const int64_t tb = g.tb;
  const int64_t pos_stride = int64_t(g.k) * tb;
  for (int32_t k = 0; k < g.k; ++k) {
    for (int32_t ri = 0; ri < rows; ++ri) {
      const int64_t grow = row0 + ri;
      const int64_t img = grow / g.th;
      const int32_t th = int32_t(grow % g.th);
      const float* plane = dy + (img * g.k + k) * int64_t(g.p) * g.q;
      const int32_t p0 = 2 * th;
      const float* row_a = plane + int64_t(p0) * g.q;
      const float* row_c = p0 + 1 < g.p ? plane + int64_t(p0 + 1) * g.q : nullptr;
      float* out = z + int64_t(k) * tb + int64_t(ri) * tw;
      for (int32_t t = 0; t < tw; ++t) {
        const int32_t q0 = 2 * t;
        const bool has_b = q0 + 1 < g.q;
        float a = row_a[q0], b = has_b ? row_a[q0 + 1] : 0.0f;
        float c = row_c ? row_c[q0] : 0.0f, d = (row_c && has_b) ? row_c[q0 + 1] : 0.0f;
        // A dY: rows (a, b), (a + c, b + d), (a - c, b - d), (-c, -d); then each row (u, v) -> (u, u+v, u-v, -v)
        const float ru[4] = {a, a + c, a - c, -c};
        const float rv[4] = {b, b + d, b - d, -d};
        for (int i = 0; i < 4; ++i) {
          out[(i * 4 + 0) * pos_stride + t] = ru[i];
          out[(i * 4 + 1) * pos_stride + t] = ru[i] + rv[i];
          out[(i * 4 + 2) * pos_stride + t] = ru[i] - rv[i];
          out[(i * 4 + 3) * pos_stride + t] = -rv[i];
        }
      }
    }
    const int64_t used = int64_t(rows) * tw;
    if (used < tb)
      for (int xi = 0; xi < wino::kPositions; ++xi)
        std::memset(z + xi * pos_stride + int64_t(k) * tb + used, 0, sizeof(float) * (tb - used));
  }
}

namespace {

// acc (MR x NV vectors) = U[k0.., :] * V[:, t0..]; written to M.
template <int MR, int NV>
inline void micro_nn(int32_t c, const float* u, int64_t ldu, const float* v, int64_t ldv, float* m, int64_t ldm) {
  Vec acc[MR][NV];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) acc[i][j] = vzero();
  for (int32_t ci = 0; ci < c; ++ci) {
    Vec vv[NV];
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) vv[j] = vload(v + ci * ldv + j * kWidth);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      Vec uu = vset1(u[i * ldu + ci]);
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) acc[i][j] = vfmadd(uu, vv[j], acc[i][j]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) vstore(m + i * ldm + j * kWidth, acc[i][j]);
}

// Register blocking per level: MR rows of U times NV vectors of tiles.
#if defined(RN_ISA_LEVEL_avx512)
constexpr int kMr = 4, kNv = 4;  // 16 accumulators of 32 registers
#elif defined(RN_ISA_LEVEL_avx2)
constexpr int kMr = 4, kNv = 2;  // 8 accumulators of 16 registers
#else
constexpr int kMr = 4, kNv = 2;
#endif
constexpr int kNc = kNv * kWidth;  // tile columns per micro-tile; divides kTileAlign

template <int MR>
void rows_nn(int32_t c, int32_t tb, const float* u, const float* v, float* m) {
  for (int32_t t = 0; t < tb; t += kNc) micro_nn<MR, kNv>(c, u, c, v + t, tb, m + t, tb);
}

// acc[k0.., c0..] += Z[k0.., :] . V[c0.., :] (dot products over the tile axis)
template <int MR, int NR>
inline void micro_nt(int32_t tb, const float* z, const float* v, int64_t ld, float* acc, int64_t ldacc) {
  Vec s[MR][NR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) s[i][j] = vzero();
  for (int32_t t = 0; t < tb; t += kWidth) {
    Vec zz[MR], vv[NR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) zz[i] = vload(z + i * ld + t);
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) vv[j] = vload(v + j * ld + t);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < NR; ++j) s[i][j] = vfmadd(zz[i], vv[j], s[i][j]);
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) acc[i * ldacc + j] += vhsum(s[i][j]);
}

#if defined(RN_ISA_LEVEL_avx512)
constexpr int kNtMr = 4, kNtNr = 4;
#else
constexpr int kNtMr = 3, kNtNr = 3;
#endif

template <int MR>
void rows_nt(int32_t c, int32_t tb, const float* z, const float* v, float* acc) {
  int32_t c0 = 0;
  for (; c0 + kNtNr <= c; c0 += kNtNr) micro_nt<MR, kNtNr>(tb, z, v + int64_t(c0) * tb, tb, acc + c0, c);
  for (; c0 < c; ++c0) micro_nt<MR, 1>(tb, z, v + int64_t(c0) * tb, tb, acc + c0, c);
}

}  // namespace

void wino_gemm(int32_t k, int32_t c, int32_t tb, const float* u, const float* v, float* m) {
  for (int xi = 0; xi < wino::kPositions; ++xi) {
    const float* uxi = u + int64_t(xi) * k * c;
    const float* vxi = v + int64_t(xi) * c * tb;
    float* mxi = m + int64_t(xi) * k * tb;
    int32_t k0 = 0;
    for (; k0 + kMr <= k; k0 += kMr) rows_nn<kMr>(c, tb, uxi + int64_t(k0) * c, vxi, mxi + int64_t(k0) * tb);
    for (; k0 < k; ++k0) rows_nn<1>(c, tb, uxi + int64_t(k0) * c, vxi, mxi + int64_t(k0) * tb);
  }
}

void wino_gemm_acc_nt(int32_t k, int32_t c, int32_t tb, const float* z, const float* v, float* acc) {
  for (int xi = 0; xi < wino::kPositions; ++xi) {
    const float* zxi = z + int64_t(xi) * k * tb;
    const float* vxi = v + int64_t(xi) * c * tb;
    float* axi = acc + int64_t(xi) * k * c;
    int32_t k0 = 0;
    for (; k0 + kNtMr <= k; k0 += kNtMr)
      rows_nt<kNtMr>(c, tb, zxi + int64_t(k0) * tb, vxi, axi + int64_t(k0) * c);
    for (; k0 < k; ++k0) rows_nt<1>(c, tb, zxi + int64_t(k0) * tb, vxi, axi + int64_t(k0) * c);
  }
}

}  // namespace rn::RN_ISA_NS
