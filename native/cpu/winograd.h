// Winograd F(2x2,3x3) convolution: geometry shared by the driver
// (conv2d_winograd.cpp) and the per-ISA kernels (winograd_kernels.cpp).
//
// Each 2x2 block of outputs ("tile") is computed from the 4x4 input patch that
// covers it: Y = A^T [ (G g G^T) (.) (B^T d B) ] A. The 16 positions xi of the
// 4x4 transform domain are independent, so summing over input channels becomes
// 16 small GEMMs per block of tiles:  M[xi] (K x T) = U[xi] (K x C) * V[xi] (C x T).
//
// Tiles are numbered row-major within an image, images one after another; a
// block is a run of whole tile rows, padded to a multiple of kTileAlign columns
// so the GEMM kernels never see a partial vector.
#pragma once

#include <cstdint>

namespace rn::wino {

constexpr int kTileAlign = 64;
constexpr int kPositions = 16;  // 4x4 transform domain

struct Geometry {
  int32_t n, c, h, w;    // input of the forward-form convolution
  int32_t k, p, q;       // its output
  int32_t pad_h, pad_w;  // 0..2
  int32_t th, tw;        // tile rows / columns per image: ceil(p/2), ceil(q/2)
  int32_t rows_per_block;
  int32_t tb;            // tile columns per block (>= rows_per_block * tw, multiple of kTileAlign)
  int64_t total_rows() const { return int64_t(n) * th; }
};

// Floats of scratch one thread needs for wino_input_transform / wino_output_transform.
inline int64_t row_scratch_floats(const Geometry& g) { return 16 * int64_t(g.tw) + 2 * int64_t(g.tw) + 16; }

}  // namespace rn::wino
