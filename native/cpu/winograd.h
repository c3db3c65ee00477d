// Winograd F(4x4,3x3) convolution: the scheme and the layouts shared by the
// driver (conv2d_winograd.cpp) and the per-ISA transforms (winograd_kernels.cpp).
//
// Each 4x4 block of outputs ("tile") is computed from the 6x6 input patch that
// covers it:  Y = A^T [ (G g G^T) (.) (B^T d B) ] A.  The 36 positions xi of the
// 6x6 transform domain are independent, so the sum over input channels becomes
// 36 GEMMs per block of tiles:  M[xi] (T x K) = V[xi] (T x C) * U[xi] (C x K).
//
// Layouts (16 = channels per lane block, rn::kLanes):
//   xt  [CB][6][wp][16]    six packed input rows of one tile row, wp = 4*tw + 2
//   v   [36][T][CB*16]     transformed input, one row per tile of the block
//   u   [36][CB*16][KB*16] transformed filters (zero past C and K), planes u_plane apart;
//       below AVX-512 each plane block by block, [KB][CB*16][16] (Plan::u_blocks)
//   m   [36][T][KB*16]     GEMM result
//   yt  [KB][4][4*tw][16]  four packed output rows of one tile row
// The 36 planes of v, m and u (and of backward-filter's accumulators) sit plane_stride()
// floats apart, not T*16*CB (C16*K16 for u): a transform writes (reads) one 64-byte line
// in each of the 36 planes per tile and channel block, and with a plane size that is a
// multiple of 4 KiB (128 tiles x 16 channels is 8 KiB) all 36 lines fall in one L1 set,
// which holds 12: every access would miss. An odd number of cache lines per plane
// spreads consecutive planes over all the sets.
// Float32 error of F(4x4,3x3) with points 0, +-1, +-2 stays at or below 3.2e-6 relative
// against float64 over test_conv2d's shapes, inside the 1e-5 bound; computing the filter
// transforms in float32 (16 channels per vector) instead of float64 did not change it.
//
// Mixed tiles: where an output side is not a multiple of 4 (14, 7: the Fashion-MNIST and
// ImageNet late stages), its last tiles may be 3 outputs wide, F(3,3) over the points 0, +-1, 2,
// inf: a subset of F(4x4,3x3)'s six, so those tiles share the transformed filters U, and their
// 5x5 (or 6x5, 5x6) transform domains are positions of the same 6x6 grid, the -2 point left out.
// F(3,3)'s filter transform would scale each point differently from F(4,3)'s (the Lagrange
// denominators: 1/2, -1/2, -1/6, 1/6 against 1/4, -1/6, -1/6, 1/24); the ratios 2, 3, 1, 4 are
// folded into the 3-wide input transform instead (bt5 in winograd_kernels.cpp). A 3-wide tile
// then contributes to 25 (or 30) positions' GEMMs instead of 36, and a 14-pixel side takes 22
// points (4 + 4 + 3 + 3) where four 4-wide tiles took 24, a 7-pixel side 11 where two took 12.
// Each position's GEMM runs over the tiles that have it: V and M rows are numbered per position
// class (RowIndex below), so each GEMM's rows are contiguous.
#pragma once

#include <cstdint>

namespace rn::wino {

constexpr int kPositions = 36;  // 6x6 transform domain
constexpr int kTile = 4;        // outputs per tile side
constexpr int kPatch = 6;       // inputs per tile side
constexpr int kNarrowPoint = 4; // the point (-2) that 3-wide tiles leave out

// One side's tiles: n4 tiles of 4 outputs, then n3 of 3 (covering at least the side).
struct Tiling {
  int32_t n4 = 0, n3 = 0;
  int32_t tiles() const { return n4 + n3; }
  int32_t covered() const { return 4 * n4 + 3 * n3; }
  int32_t start(int32_t b) const { return b < n4 ? 4 * b : 4 * n4 + 3 * (b - n4); }
  bool wide(int32_t b) const { return b < n4; }
  // Transform-domain points per side (6 for a 4-wide tile, 5 for a 3-wide one): the work.
  int32_t points() const { return 6 * n4 + 5 * n3; }
};

// The tiling of a side of `outputs` with the fewest points (ties: more 4-wide tiles). Zen 3,
// batch 128, 2 threads, against 4-wide tiles only (bench_conv_ab, medians of three rounds of
// 120 calls, new / old time, forward / backward-data / backward-filter): 32->32 @14x14 0.897 /
// 0.901 / 0.955, 64->32 @14x14 0.904 / 0.876 / 0.951, 64->64 @7x7 0.899 / 0.901 / 0.904,
// 128->64 @7x7 0.880 / 0.871 / 0.918.
inline Tiling tiling_for(int32_t outputs) {
  Tiling best{(outputs + 3) / 4, 0};
  for (int32_t n3 = 1; n3 <= 3; ++n3) {
    const int32_t rest = outputs - 3 * n3;
    const Tiling t{rest > 0 ? (rest + 3) / 4 : 0, n3};
    if (t.points() < best.points()) best = t;
  }
  return best;
}

// Where tile b of a tile row goes in each position's plane of V and M: row base + b, the base
// chosen by the position's class (whether its row point and its column point are the -2
// point, which only 4-tall rows and 4-wide tiles have). A position whose column point is -2
// has a row for each of the row's n4 wide tiles only; one whose row point is -2, rows for
// tile rows of height 4 only.
struct RowIndex {
  int64_t all = 0;     // neither point -2: every tile of every tile row
  int64_t cols4 = 0;   // column point -2: the 4-wide tiles of every tile row
  int64_t rows4 = 0;   // row point -2: every tile of the 4-tall tile rows
  int64_t both4 = 0;   // both: the 4-wide tiles of the 4-tall tile rows
};

// Floats from one transform-domain plane to the next for planes of `floats` floats: a
// whole, odd number of 64-byte lines (see the layouts above).
constexpr int64_t plane_stride(int64_t floats) {
  const int64_t lines = (floats + 15) / 16;
  return (lines % 2 == 0 ? lines + 1 : lines) * 16;
}

}  // namespace rn::wino
