// The small-GEMM engine the convolution kernels share (compiled per ISA level):
//
//   C[i][j] (+)= sum_seg sum_{kk < seg_len} A[a_off[seg] + i*lda + kk*a_step]
//                                          * B[b_off[seg] + kk*b_step + j]
//
// for i < m ("rows", read as broadcast scalars) and j < n ("columns", a multiple
// of 16 read as vectors). Segments let a direct convolution sum over taps and
// channel blocks whose operands sit at unrelated offsets, in one register tile.
// The register tile is MR rows x NV vectors, sized per level so accumulators,
// the B vectors and a broadcast fit the register file.
#include <immintrin.h>

#include "isa_kernels.h"

namespace rn::RN_ISA_NS {

#include "simd.h"

namespace {

template <int MR, int NV>
inline void micro(const GemmArgs& g, int64_t i0, int64_t j0) {
  Vec acc[MR][NV];
  float* c = g.c + i0 * g.ldc + j0;
  if (g.accumulate) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) acc[i][j] = vload(c + i * g.ldc + j * kWidth);
  } else {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) acc[i][j] = vzero();
  }
  const int64_t lda = g.lda, a_step = g.a_step, b_step = g.b_step;
  for (int32_t seg = 0; seg < g.nseg; ++seg) {
    const float* pa = g.a + (g.a_off ? g.a_off[seg] : 0) + i0 * lda;
    const float* pb = g.b + (g.b_off ? g.b_off[seg] : 0) + j0;
    for (int32_t kk = 0; kk < g.seg_len; ++kk) {
      Vec bv[NV];
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) bv[j] = vload(pb + j * kWidth);
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        const Vec av = vset1(pa[i * lda]);
#pragma GCC unroll 8
        for (int j = 0; j < NV; ++j) acc[i][j] = vfmadd(av, bv[j], acc[i][j]);
      }
      pa += a_step;
      pb += b_step;
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) vstore(c + i * g.ldc + j * kWidth, acc[i][j]);
}

// Rows of a column block: full MR tiles, then one smaller tile for the rest.
template <int MR, int NV>
void column_block(const GemmArgs& g, int64_t j0) {
  int64_t i0 = 0;
  for (; i0 + MR <= g.m; i0 += MR) micro<MR, NV>(g, i0, j0);
  switch (g.m - i0) {
#define RN_TAIL(r) \
  case r:          \
    if constexpr (r < MR) micro<r, NV>(g, i0, j0); \
    break;
    RN_TAIL(1) RN_TAIL(2) RN_TAIL(3) RN_TAIL(4) RN_TAIL(5) RN_TAIL(6) RN_TAIL(7) RN_TAIL(8)
    RN_TAIL(9) RN_TAIL(10) RN_TAIL(11) RN_TAIL(12) RN_TAIL(13)
#undef RN_TAIL
    default:
      break;
  }
}

// Register tiles per level (rows x vectors). Columns come 16 at a time.
#if defined(RN_ISA_LEVEL_avx512)
// 32 zmm registers: 12x1 / 12x2 / 6x4 accumulators.
void columns(const GemmArgs& g) {
  int64_t j0 = 0;
  for (; j0 + 64 <= g.n; j0 += 64) column_block<6, 4>(g, j0);
  for (; j0 + 32 <= g.n; j0 += 32) column_block<12, 2>(g, j0);
  for (; j0 + 16 <= g.n; j0 += 16) column_block<12, 1>(g, j0);
}
#elif defined(RN_ISA_LEVEL_avx2)
// 16 ymm registers: 6x2 / 3x4 accumulators.
void columns(const GemmArgs& g) {
  int64_t j0 = 0;
  for (; j0 + 32 <= g.n; j0 += 32) column_block<3, 4>(g, j0);
  for (; j0 + 16 <= g.n; j0 += 16) column_block<6, 2>(g, j0);
}
#else
// 16 xmm registers: 3x4 accumulators (16 columns).
void columns(const GemmArgs& g) {
  for (int64_t j0 = 0; j0 + 16 <= g.n; j0 += 16) column_block<3, 4>(g, j0);
}
#endif

}  // namespace

void gemm_bcast(const GemmArgs& g) {
  if (g.m <= 0 || g.n <= 0) return;
  columns(g);
}

}  // namespace rn::RN_ISA_NS
