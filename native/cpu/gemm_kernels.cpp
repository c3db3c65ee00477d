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

#include <type_traits>

#include "isa_kernels.h"

namespace rn::RN_ISA_NS {

#include "simd.h"

namespace {

// LDA > 0: the A row stride is that compile-time constant (the broadcasts then use
// constant displacements instead of one register per row); 0: g.lda at run time.
// Offset of register vector j (kWidth floats) from the start of a column tile,
// with 16-column blocks `block` floats apart.
inline int64_t vec_offset(int j, int64_t block) { return (j * kWidth) / 16 * block + (j * kWidth) % 16; }

// GRP: the rows come in groups of four at their own offsets (GemmArgs::a_grp, c_grp; i0 = 0).
template <int MR, int NV, int LDA, bool GRP = false>
inline void micro(const GemmArgs& g, int64_t i0, int64_t j0) {
  Vec acc[MR][NV];
  float* c = g.c + i0 * g.ldc + j0 / 16 * g.c_block;
  const int64_t bb = g.b_block, cb = g.c_block;
  auto c_row = [&](int i) __attribute__((always_inline)) {
    return GRP ? c + g.c_grp[i / 4] + (i % 4) * g.ldc : c + i * g.ldc;
  };
  if (g.accumulate) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) acc[i][j] = vload(c_row(i) + vec_offset(j, cb));
  } else {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) acc[i][j] = vzero();
  }
  const int64_t lda = LDA > 0 ? LDA : g.lda, a_step = g.a_step, b_step = g.b_step;
  // Rows are addressed as group base + {0, 1, 2, 3} * lda: with a run-time lda that
  // keeps the row addresses in a few registers (base pointers, lda, 3*lda) instead
  // of one register (or a spill) per row.
  constexpr int kGroups = (MR + 3) / 4;
  const int64_t lda3 = 3 * lda;
  for (int32_t seg = 0; seg < g.nseg; ++seg) {
    if (g.prefetch != nullptr) g.prefetch->advance(int64_t(MR) * NV * kWidth * g.seg_len);
    const float* pa = g.a + (g.a_off ? g.a_off[seg] : 0) + i0 * lda;
    const float* pb = g.b + (g.b_off ? g.b_off[seg] : 0) + j0 / 16 * bb;
    const float* base[kGroups];
#pragma GCC unroll 4
    for (int q = 0; q < kGroups; ++q) base[q] = pa + (GRP ? g.a_grp[q] : 4 * q * lda);
    auto step = [&]() __attribute__((always_inline)) {  // one reduction step
      Vec bv[NV];
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) bv[j] = vload(pb + vec_offset(j, bb));
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        const float* row = base[i / 4];
        const float* at = (i % 4) == 0 ? row : (i % 4) == 1 ? row + lda : (i % 4) == 2 ? row + 2 * lda : row + lda3;
        const Vec av = vset1(*at);
#pragma GCC unroll 8
        for (int j = 0; j < NV; ++j) acc[i][j] = vfmadd(av, bv[j], acc[i][j]);
      }
#pragma GCC unroll 4
      for (int q = 0; q < kGroups; ++q) base[q] += a_step;
      pb += b_step;
    };
    // Segments of 8 steps (the filter gradients of 8x8 output planes) fully unrolled, the
    // rest by 4: the loop's own bookkeeping was up to 12 % of such a gradient (measured:
    // the 3x3/2 32->64 filter gradient 253-257 -> 282-290 GFLOP/s on 2 threads, Winograd
    // gradients 3-6 %; a plain unroll-by-4 pragma alone lost the 8-step gain).
    if (g.seg_len == 8) {
#pragma GCC unroll 8
      for (int32_t kk = 0; kk < 8; ++kk) step();
    } else {
#pragma GCC unroll 4
      for (int32_t kk = 0; kk < g.seg_len; ++kk) step();
    }
  }
  if (g.stream) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) vstream(c_row(i) + vec_offset(j, cb), acc[i][j]);
    return;
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) vstore(c_row(i) + vec_offset(j, cb), acc[i][j]);
}

template <int NV, int LDA>
void rows_of(const GemmArgs& g, int64_t i0, int64_t j0, int mr) {
  switch (mr) {
#define RN_ROWS(r) \
  case r:          \
    micro<r, NV, LDA>(g, i0, j0); \
    break;
    RN_ROWS(1) RN_ROWS(2) RN_ROWS(3) RN_ROWS(4) RN_ROWS(5) RN_ROWS(6) RN_ROWS(7) RN_ROWS(8)
#if defined(RN_ISA_LEVEL_avx512)
    RN_ROWS(9) RN_ROWS(10) RN_ROWS(11) RN_ROWS(12) RN_ROWS(13) RN_ROWS(14) RN_ROWS(15) RN_ROWS(16)
#endif
#undef RN_ROWS
    default:
      break;
  }
}

// The rows of one column block, in tiles of at most MAX_MR rows, balanced so that
// no tile is much shorter than the others (16 rows run as 8 + 8, not 12 + 4).
template <int MAX_MR, int NV, int LDA>
void column_block_lda(const GemmArgs& g, int64_t j0) {
  const int64_t tiles = (g.m + MAX_MR - 1) / MAX_MR;
  const int64_t base = g.m / tiles, extra = g.m % tiles;  // `extra` tiles get one more row
  int64_t i0 = 0;
  for (int64_t t = 0; t < tiles; ++t) {
    const int mr = int(base + (t < extra ? 1 : 0));
    rows_of<NV, LDA>(g, i0, j0, mr);
    i0 += mr;
  }
}

template <int MAX_MR, int NV>
void column_block(const GemmArgs& g, int64_t j0) {
  switch (g.lda) {
    case 1: column_block_lda<MAX_MR, NV, 1>(g, j0); break;
    case 2: column_block_lda<MAX_MR, NV, 2>(g, j0); break;
    default: column_block_lda<MAX_MR, NV, 0>(g, j0); break;
  }
}

// Register tiles per level (rows x vectors). Columns come 16 at a time.
#if defined(RN_ISA_LEVEL_avx512)
// 32 zmm registers: up to 16x1 / 12x2 / 6x4 accumulators. 6x4 only pays when it
// gets whole tiles; for a few rows 12x2 keeps 16+ accumulators busy and streams
// half as much of B per row tile.
void columns(const GemmArgs& g) {
  int64_t j0 = 0;
  if (g.m >= 12)
    for (; j0 + 64 <= g.n; j0 += 64) column_block<6, 4>(g, j0);
  for (; j0 + 32 <= g.n; j0 += 32) column_block<12, 2>(g, j0);
  for (; j0 + 16 <= g.n; j0 += 16) column_block<16, 1>(g, j0);
}
#elif defined(RN_ISA_LEVEL_avx2)
// 16 ymm registers: 6x2 accumulators, the 2 B vectors and a broadcast. (A 3x4 tile
// needs 17: GCC kept one accumulator on the stack, a store-to-load round trip in its
// dependency chain every step; the stride-2 transitions ran 10-30 % slower with it.)
void columns(const GemmArgs& g) {
  for (int64_t j0 = 0; j0 + 16 <= g.n; j0 += 16) column_block<6, 2>(g, j0);
}
#else
// 16 xmm registers: up to 3x4 accumulators (16 columns).
void columns(const GemmArgs& g) {
  for (int64_t j0 = 0; j0 + 16 <= g.n; j0 += 16) column_block<3, 4>(g, j0);
}
#endif

#if defined(RN_ISA_LEVEL_avx512)
// gemm_bcast_phases2's register tile: MR rows x NV column blocks, for both phases
// (2 * MR * NV accumulators), interleaved in registers on the way out.
template <int MR, int NV>
inline void micro_phases2(const GemmArgs& even, const GemmArgs& odd, int64_t i0, int64_t v0) {
  __m512 acc[2][MR][NV];
#pragma GCC unroll 2
  for (int ph = 0; ph < 2; ++ph)
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
      for (int j = 0; j < NV; ++j) acc[ph][i][j] = _mm512_setzero_ps();
  // a_step, b_step, b_block and seg_len are the same for both phases (gemm_bcast_phases2).
  const int64_t a_step = even.a_step, b_step = even.b_step, bb = even.b_block;
  // One reduction step of phase PH: acc[PH] += broadcast(pa[i]) x the vectors at pb.
  auto step = [&](auto ph, const float* pa, const float* pb) __attribute__((always_inline)) {
    constexpr int PH = decltype(ph)::value;
    __m512 bv[NV];
#pragma GCC unroll 2
    for (int j = 0; j < NV; ++j) bv[j] = _mm512_loadu_ps(pb + j * bb);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const __m512 av = _mm512_set1_ps(pa[i]);
#pragma GCC unroll 2
      for (int j = 0; j < NV; ++j) acc[PH][i][j] = _mm512_fmadd_ps(av, bv[j], acc[PH][i][j]);
    }
  };
  using Even = std::integral_constant<int, 0>;
  using Odd = std::integral_constant<int, 1>;
  // The segments both phases have run in lockstep, both phases' accumulators live in the
  // loop (2 * MR * NV of them, not MR * NV): at 16 channels a phase alone keeps 10-12 FMA
  // chains, too few to cover the broadcasts' loads. Each accumulator still sums its own
  // segments in order, so the floats are those of phase after phase.
  const int32_t both = even.nseg < odd.nseg ? even.nseg : odd.nseg;
  for (int32_t seg = 0; seg < both; ++seg) {
    const float* pa0 = even.a + even.a_off[seg] + i0;  // lda == 1
    const float* pb0 = even.b + even.b_off[seg] + v0 * bb;
    const float* pa1 = odd.a + odd.a_off[seg] + i0;
    const float* pb1 = odd.b + odd.b_off[seg] + v0 * bb;
    for (int32_t kk = 0; kk < even.seg_len; ++kk, pa0 += a_step, pb0 += b_step, pa1 += a_step, pb1 += b_step) {
      step(Even{}, pa0, pb0);
      step(Odd{}, pa1, pb1);
    }
  }
  auto rest = [&](auto ph, const GemmArgs& g) __attribute__((always_inline)) {  // segments one phase has
    for (int32_t seg = both; seg < g.nseg; ++seg) {
      const float* pa = g.a + g.a_off[seg] + i0;
      const float* pb = g.b + g.b_off[seg] + v0 * bb;
      for (int32_t kk = 0; kk < g.seg_len; ++kk, pa += a_step, pb += b_step) step(ph, pa, pb);
    }
  };
  rest(Even{}, even);
  rest(Odd{}, odd);
  const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
    for (int j = 0; j < NV; ++j) {
      float* out = even.c + (i0 + i) * even.ldc + (v0 + j) * even.c_block;
      _mm512_storeu_ps(out, _mm512_permutex2var_ps(acc[0][i][j], lo, acc[1][i][j]));
      _mm512_storeu_ps(out + 16, _mm512_permutex2var_ps(acc[0][i][j], hi, acc[1][i][j]));
    }
}

template <int NV>
void phases2_rows(const GemmArgs& even, const GemmArgs& odd, int64_t i0, int64_t v0, int mr) {
  switch (mr) {
#define RN_ROWS(r) \
  case r:          \
    micro_phases2<r, NV>(even, odd, i0, v0); \
    break;
    RN_ROWS(1) RN_ROWS(2) RN_ROWS(3) RN_ROWS(4) RN_ROWS(5) RN_ROWS(6)
    RN_ROWS(7) RN_ROWS(8) RN_ROWS(9) RN_ROWS(10) RN_ROWS(11) RN_ROWS(12)
#undef RN_ROWS
    default:
      break;
  }
}

// Rows in balanced tiles of at most MAX_MR (24 accumulators either way).
template <int MAX_MR, int NV>
void phases2_block(const GemmArgs& even, const GemmArgs& odd, int64_t v0) {
  const int64_t tiles = (even.m + MAX_MR - 1) / MAX_MR;
  const int64_t base = even.m / tiles, extra = even.m % tiles;
  int64_t i0 = 0;
  for (int64_t t = 0; t < tiles; ++t) {
    const int mr = int(base + (t < extra ? 1 : 0));
    phases2_rows<NV>(even, odd, i0, v0, mr);
    i0 += mr;
  }
}
#endif

}  // namespace

void gemm_bcast(const GemmArgs& g) {
  if (g.m <= 0 || g.n <= 0) return;
  columns(g);
}

bool gemm_bcast_grouped(const GemmArgs& g) {
#if defined(RN_ISA_LEVEL_avx512)
  // 12 rows x 2 vectors: the 12x2 tile of gemm_bcast, its rows in three groups.
  if (g.m <= 0) return true;
  if (g.m != 12 || g.n % 32 != 0 || g.a_grp == nullptr || g.c_grp == nullptr) return false;
  for (int64_t j0 = 0; j0 < g.n; j0 += 32) micro<12, 2, 0, true>(g, 0, j0);
  return true;
#else
  (void)g;
  return false;  // the 12-row tile needs 24 accumulators: the caller runs the taps apart
#endif
}

bool gemm_bcast_phases2(const GemmArgs& even, const GemmArgs& odd) {
#if defined(RN_ISA_LEVEL_avx512)
  // The two GEMMs must differ only in their segments (see the declaration).
  if (even.accumulate || odd.accumulate || even.lda != 1 || odd.lda != 1 || even.m != odd.m || even.n != odd.n ||
      even.n % 16 != 0 || even.a != odd.a || even.b != odd.b || even.a_step != odd.a_step ||
      even.b_step != odd.b_step || even.b_block != odd.b_block || even.seg_len != odd.seg_len ||
      (even.nseg > 0 && (even.a_off == nullptr || even.b_off == nullptr)) ||
      (odd.nseg > 0 && (odd.a_off == nullptr || odd.b_off == nullptr)))
    return false;
  if (even.m <= 0 || even.n <= 0) return true;
  const int64_t blocks = even.n / 16;
  int64_t v0 = 0;
  for (; v0 + 2 <= blocks; v0 += 2) phases2_block<6, 2>(even, odd, v0);
  for (; v0 < blocks; ++v0) phases2_block<12, 1>(even, odd, v0);
  return true;
#else
  (void)even;
  (void)odd;
  return false;  // the caller computes the phases apart and interleaves them (interleave2)
#endif
}

}  // namespace rn::RN_ISA_NS
