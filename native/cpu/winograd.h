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
#pragma once

#include <cstdint>

namespace rn::wino {

constexpr int kPositions = 36;  // 6x6 transform domain
constexpr int kTile = 4;        // outputs per tile side
constexpr int kPatch = 6;       // inputs per tile side

// Floats from one transform-domain plane to the next for planes of `floats` floats: a
// whole, odd number of 64-byte lines (see the layouts above).
constexpr int64_t plane_stride(int64_t floats) {
  const int64_t lines = (floats + 15) / 16;
  return (lines % 2 == 0 ? lines + 1 : lines) * 16;
}

}  // namespace rn::wino
