// Winograd F(4x4,3x3) transforms on channel-blocked rows (16 channels in the
// vector lanes), compiled per ISA level. See winograd.h for the scheme and the
// layouts; conv2d_winograd.cpp drives them.
//
//   input:   V = B^T d B     (6x6 patch -> 6x6)
//   output:  Y = A^T M A     (6x6 -> 4x4 outputs), + bias
//   grad:    Z = A dY A^T    (4x4 output gradient -> 6x6), for backward-filter
//   filters: U = G g G^T     (3x3 -> 6x6), 16 output channels per vector
//   filter gradients: dW = G^T S G (6x6 -> 3x3), 16 input channels per vector
// and, for 3-wide (3-tall) tiles, the F(3,3) twins over 5 of the 6 points (winograd.h): bt5,
// at5, a3 (the filters' transforms are shared).
// Every transform is separable: a 1-D pass along the rows into a small stack
// buffer, then along the columns, with the 16 lanes of a channel block as SIMD.
#include <immintrin.h>

#include <type_traits>

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

// F(3,3) over the points 0, 1, -1, 2, inf (positions 0, 1, 2, 3, 5 of the 6): B^T d for 5
// values, each point scaled by F(3,3)'s filter normalization over F(4,3)'s (2, 3, 1, 4, 1: see
// winograd.h), so the tile uses F(4,3)'s U. Rows: (4, -2, -4, 2, 0), (0, -6, -3, 3, 0),
// (0, 2, -3, 1, 0), (0, -4, 0, 4, 0), (0, 2, -1, -2, 1).
inline void bt5(const Vec d[5], Vec t[6]) {
  const Vec two = vset1(2.0f), three = vset1(3.0f), four = vset1(4.0f);
  const Vec a = vsub(d[3], d[1]);
  t[0] = vfmadd(four, vsub(d[0], d[2]), vadd(a, a));
  t[1] = vmul(three, vsub(a, vadd(d[1], d[2])));
  t[2] = vfmadd(three, vsub(d[1], d[2]), a);
  t[3] = vmul(four, a);
  t[5] = vfnmadd(two, a, vsub(d[4], d[2]));
}

// A^T m for the 5 points of F(3,3) (positions 0, 1, 2, 3, 5) -> 3.
inline void at5(const Vec m[6], Vec s[3]) {
  const Vec p12 = vadd(m[1], m[2]), m12 = vsub(m[1], m[2]);
  s[0] = vadd(vadd(m[0], p12), m[3]);
  s[1] = vfmadd(vset1(2.0f), m[3], m12);
  s[2] = vadd(vfmadd(vset1(4.0f), m[3], p12), m[5]);
}

// A e for 3 values -> the 5 points (the transpose of at5's map; z[4] is not written).
inline void a3(const Vec e[3], Vec z[6]) {
  const Vec p02 = vadd(e[0], e[2]);
  z[0] = e[0];
  z[1] = vadd(p02, e[1]);
  z[2] = vsub(p02, e[1]);
  z[3] = vfmadd(vset1(2.0f), e[1], vfmadd(vset1(4.0f), e[2], e[0]));
  z[5] = e[2];
}

// The positions of a side: 0-5 for a 4-wide tile, the five without wino::kNarrowPoint for a
// 3-wide one.
template <bool kWide>
constexpr int kSidePoints = kWide ? 6 : 5;
template <bool kWide>
constexpr int side_point(int k) {
  return kWide || k < wino::kNarrowPoint ? k : k + 1;
}

// A tile's four row bases in V / M (wino::RowIndex's classes: all, cols4, rows4, both4), as
// pointers to the tile's row in position 0's plane; position (i, j) is at class (i, j)'s
// pointer + (6i + j) * xi_stride. (i and j are constants in the unrolled loops, so is the class.)
// The tile functions take it by value and are inlined into their row loops: vector stores may
// alias anything (the intrinsics' types are may_alias), so pointers read from memory, a struct
// passed by reference, were reloaded after every store (the filter gradient's transforms took
// 40 % longer that way).
constexpr int position_class(int i, int j) {
  return (i == wino::kNarrowPoint ? 2 : 0) + (j == wino::kNarrowPoint ? 1 : 0);
}
template <class T>
struct TileRows {
  T* cls[4];
  int64_t xi_stride;
  T* at(int i, int j) const { return cls[position_class(i, j)] + (i * 6 + j) * xi_stride; }
};
template <class T>
TileRows<T> tile_rows(T* plane0, const wino::RowIndex& at, int32_t b, int32_t lanes_total, int64_t lane_offset,
                      int64_t xi_stride) {
  return {{plane0 + (at.all + b) * lanes_total + lane_offset, plane0 + (at.cols4 + b) * lanes_total + lane_offset,
           plane0 + (at.rows4 + b) * lanes_total + lane_offset, plane0 + (at.both4 + b) * lanes_total + lane_offset},
          xi_stride};
}

// f(b, wide) for the tiles of a tile row: the 4-wide ones, then the 3-wide ones (winograd.h), wide
// a std::bool_constant so that each kind gets its own unrolled transform (no branch per tile).
template <class F>
__attribute__((always_inline)) inline void each_tile(const wino::Tiling& tiles, const F& f) {
  for (int32_t b = 0; b < tiles.n4; ++b) f(b, std::true_type{});
  for (int32_t b = tiles.n4; b < tiles.tiles(); ++b) f(b, std::false_type{});
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

// The output transform of one tile of one 16-lane block (positions read through `at`, the
// outputs stored at yt's row stride `cols` x 16 from column c0), each value as acc + bias; with
// kEpilogue, through the fused epilogue as it is stored (the same instructions as epilogue_c16
// on the stored row, see epilogue_simd.h; CReLU's negative half into yt_neg).
template <bool kEpilogue, bool kTall, bool kWide>
__attribute__((always_inline)) inline void output_tile(const TileRows<const float> in, int64_t cols, int32_t c0,
                                                      const float* bias, int32_t lane_block, const EpilogueArgs* ep,
                                                      float* rows, float* neg_rows) {
  constexpr int kRows = kTall ? 4 : 3, kCols = kWide ? 4 : 3;
  for (int sub = 0; sub < kSub; ++sub) {
    const int32_t lane0 = lane_block * kLanes + sub * kWidth;
    const Vec bv = bias ? vload(bias + lane0) : vzero();
    const EpilogueArgs none;
    const LaneEpilogue lanes(kEpilogue ? *ep : none, lane0);
    Vec tmp[6][4];  // tmp[i][j'] = (M A)[i][j']
    for (int ii = 0; ii < kSidePoints<kTall>; ++ii) {
      const int i = side_point<kTall>(ii);
      Vec row[6];
      for (int jj = 0; jj < kSidePoints<kWide>; ++jj) {
        const int j = side_point<kWide>(jj);
        row[j] = vload(in.at(i, j) + sub * kWidth);
      }
      if constexpr (kWide) at6(row, tmp[i]);
      else at5(row, tmp[i]);
    }
    for (int j = 0; j < kCols; ++j) {
      Vec col[6], out[4];
      for (int ii = 0; ii < kSidePoints<kTall>; ++ii) col[side_point<kTall>(ii)] = tmp[side_point<kTall>(ii)][j];
      if constexpr (kTall) at6(col, out);
      else at5(col, out);
      for (int i = 0; i < kRows; ++i) {
        const int64_t at = (int64_t(i) * cols + c0 + j) * kLanes + sub * kWidth;
        if (kEpilogue)
          lanes.store(vadd(out[i], bv), rows + at, neg_rows + at);
        else
          vstore(rows + at, vadd(out[i], bv));
      }
    }
  }
}

template <bool kEpilogue, bool kTall>
void output_row(const float* m, const wino::RowIndex& at, int64_t xi_stride, int32_t blocks,
                const wino::Tiling& tiles, const float* bias, const EpilogueArgs* ep, float* yt, float* yt_neg) {
  const int32_t lanes_total = blocks * kLanes;  // m[xi * xi_stride + row * lanes_total + k]
  const int64_t cols = tiles.covered();
  for (int32_t kb = 0; kb < blocks; ++kb) {
    float* rows = yt + int64_t(kb) * wino::kTile * cols * kLanes;
    float* neg_rows = kEpilogue ? yt_neg + int64_t(kb) * wino::kTile * cols * kLanes : nullptr;
    each_tile(tiles, [&](int32_t b, auto wide) __attribute__((always_inline)) {
      output_tile<kEpilogue, kTall, decltype(wide)::value>(
          tile_rows(m, at, b, lanes_total, int64_t(kb) * kLanes, xi_stride), cols, tiles.start(b), bias, kb, ep, rows,
          neg_rows);
    });
  }
}

// The input transform of one tile of one 16-lane block: its patch rows at `src` (wp x 16
// apart), V's positions through `out`.
template <bool kTall, bool kWide>
__attribute__((always_inline)) inline void input_tile(const float* src, int32_t wp, const TileRows<float> out) {
  for (int sub = 0; sub < kSub; ++sub) {
    Vec tmp[6][6];  // tmp[i][j'] = (d B)[i][j']
    for (int i = 0; i < kSidePoints<kTall>; ++i) {
      const float* from = src + int64_t(i) * wp * kLanes + sub * kWidth;
      Vec d[6];
      for (int j = 0; j < kSidePoints<kWide>; ++j) d[j] = vload(from + j * kLanes);
      if constexpr (kWide) bt6(d, tmp[i]);
      else bt5(d, tmp[i]);
    }
    for (int jj = 0; jj < kSidePoints<kWide>; ++jj) {
      const int j = side_point<kWide>(jj);
      Vec col[6], t[6];
      for (int i = 0; i < kSidePoints<kTall>; ++i) col[i] = tmp[i][j];
      if constexpr (kTall) bt6(col, t);
      else bt5(col, t);
      for (int ii = 0; ii < kSidePoints<kTall>; ++ii) {
        const int i = side_point<kTall>(ii);
        vstore(out.at(i, j) + sub * kWidth, t[i]);
      }
    }
  }
}

template <bool kTall>
void input_row(const float* xt, int32_t blocks, int32_t wp, const wino::Tiling& tiles, float* v,
               const wino::RowIndex& at, int64_t xi_stride, int32_t lanes_total) {
  for (int32_t cb = 0; cb < blocks; ++cb) {
    const float* rows = xt + int64_t(cb) * wino::kPatch * wp * kLanes;
    each_tile(tiles, [&](int32_t b, auto wide) __attribute__((always_inline)) {
      input_tile<kTall, decltype(wide)::value>(rows + int64_t(tiles.start(b)) * kLanes, wp,
                                               tile_rows(v, at, b, lanes_total, int64_t(cb) * kLanes, xi_stride));
    });
  }
}

// The output-gradient transform of one tile of one 16-lane block: dY's rows at `src` (cols x 16
// apart), Z's positions through `out`.
template <bool kTall, bool kWide>
__attribute__((always_inline)) inline void grad_tile(const float* src, int64_t cols, const TileRows<float> out) {
  constexpr int kRows = kTall ? 4 : 3, kCols = kWide ? 4 : 3;
  for (int sub = 0; sub < kSub; ++sub) {
    Vec tmp[4][6];  // tmp[i][j'] = (dY A^T)[i][j']
    for (int i = 0; i < kRows; ++i) {
      Vec e[4];
      for (int j = 0; j < kCols; ++j) e[j] = vload(src + (int64_t(i) * cols + j) * kLanes + sub * kWidth);
      if constexpr (kWide) a4(e, tmp[i]);
      else a3(e, tmp[i]);
    }
    for (int jj = 0; jj < kSidePoints<kWide>; ++jj) {
      const int j = side_point<kWide>(jj);
      Vec col[4], z[6];
      for (int i = 0; i < kRows; ++i) col[i] = tmp[i][j];
      if constexpr (kTall) a4(col, z);
      else a3(col, z);
      for (int ii = 0; ii < kSidePoints<kTall>; ++ii) {
        const int i = side_point<kTall>(ii);
        vstore(out.at(i, j) + sub * kWidth, z[i]);
      }
    }
  }
}

template <bool kTall>
void grad_row(const float* dyt, int32_t blocks, const wino::Tiling& tiles, float* z, const wino::RowIndex& at,
              int64_t xi_stride) {
  const int32_t lanes_total = blocks * kLanes;  // z[xi * xi_stride + row * lanes_total + k]
  const int64_t cols = tiles.covered();
  for (int32_t kb = 0; kb < blocks; ++kb) {
    const float* rows = dyt + int64_t(kb) * wino::kTile * cols * kLanes;
    each_tile(tiles, [&](int32_t b, auto wide) __attribute__((always_inline)) {
      grad_tile<kTall, decltype(wide)::value>(rows + int64_t(tiles.start(b)) * kLanes, cols,
                                              tile_rows(z, at, b, lanes_total, int64_t(kb) * kLanes, xi_stride));
    });
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

void wino4_input_row(const float* xt, int32_t blocks, int32_t wp, const wino::Tiling& tiles, bool tall, float* v,
                     const wino::RowIndex& at, int64_t xi_stride, int32_t lanes_total) {
  // v[xi * xi_stride + row * lanes_total + c]
  if (tall)
    input_row<true>(xt, blocks, wp, tiles, v, at, xi_stride, lanes_total);
  else
    input_row<false>(xt, blocks, wp, tiles, v, at, xi_stride, lanes_total);
}

void wino4_output_row(const float* m, const wino::RowIndex& at, int64_t xi_stride, int32_t blocks,
                      const wino::Tiling& tiles, bool tall, const float* bias, const EpilogueArgs* ep, float* yt,
                      float* yt_neg) {
  if (ep)
    tall ? output_row<true, true>(m, at, xi_stride, blocks, tiles, bias, ep, yt, yt_neg)
         : output_row<true, false>(m, at, xi_stride, blocks, tiles, bias, ep, yt, yt_neg);
  else
    tall ? output_row<false, true>(m, at, xi_stride, blocks, tiles, bias, nullptr, yt, yt_neg)
         : output_row<false, false>(m, at, xi_stride, blocks, tiles, bias, nullptr, yt, yt_neg);
}

void wino4_grad_row(const float* dyt, int32_t blocks, const wino::Tiling& tiles, bool tall, float* z,
                    const wino::RowIndex& at, int64_t xi_stride) {
  if (tall)
    grad_row<true>(dyt, blocks, tiles, z, at, xi_stride);
  else
    grad_row<false>(dyt, blocks, tiles, z, at, xi_stride);
}

}  // namespace rn::RN_ISA_NS
