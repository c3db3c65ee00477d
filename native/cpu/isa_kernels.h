// Kernels compiled once per ISA level (see cmake/ResnormIsa.cmake) and the
// table the entry points dispatch through. A kernel file defines its functions
// inside namespace rn::RN_ISA_NS; this header declares them for every level.
#pragma once

#include <cstdint>

#include "resnorm/sgd.h"
#include "gemm.h"
#include "winograd.h"

#define RN_ISA_KERNEL_DECLARATIONS                                                              \
  /* sgd_kernels.cpp */                                                                         \
  void sgd_step(const rn_sgd_params& p, int64_t count, float* param, const float* grad,         \
                float* velocity);                                                             \
  void sgd_step_unfused(const rn_sgd_params& p, int64_t count, float* param, const float* grad, \
                        float* velocity, float* scratch);                                       \
  /* gemm_kernels.cpp */                                                                        \
  void gemm_bcast(const GemmArgs& g);                                                           \
  /* Two GEMMs that differ only in their segments (nseg, a_off, b_off; lda 1, no accumulate), \
     the results interleaved column by column into even's C: C[i][32v + 2t] = even's [i][16v+t], \
     C[i][32v + 2t + 1] = odd's, 32-float blocks c_block apart. Returns false (nothing done)   \
     where this level has no such kernel or the arguments do not fit it. */                      \
  bool gemm_bcast_phases2(const GemmArgs& even, const GemmArgs& odd);                           \
  /* gemm_bcast with row groups (GemmArgs::a_grp, c_grp): m = 12 (three groups of four rows), \
     n a multiple of 32. Returns false (nothing done) where this level has no such kernel (a   \
     call with m = 0 asks, doing nothing either way). */                                       \
  bool gemm_bcast_grouped(const GemmArgs& g);                                                   \
  /* pack_kernels.cpp */                                                                        \
  void pack_c16(const float* x, int32_t channels, int32_t h, int32_t w, int32_t row0,           \
                int32_t rows, int32_t col0, int32_t cols, float* out, const PackStrides& st);   \
  void pack_planar(const float* x, int32_t channels, int32_t h, int32_t w, int32_t row0,        \
                   int32_t rows, int32_t col0, int32_t cols, int32_t pitch, float* out,          \
                   bool padding_written);                                                       \
  /* stream: out written with non-temporal stores (out, the strides and the vectors' offsets  \
     aligned to the vector width; the caller fences) */                                          \
  void interleave2(const float* even, const float* odd, int32_t n, int32_t rows, int32_t planes,  \
                   int64_t plane_stride_out, int64_t row_stride_out, float* out, bool stream);  \
  /* One input row (x: channel 0's, planes `plane` floats apart, 2q columns) split into its    \
     column phases: out[blk * block_stride + c * c_pitch + j] = x[c][2 (j + shift[blk]) +       \
     phase[blk]], zero where that column is outside [0, 2q) (x is not read there). Where q is  \
     not a multiple of 8, up to kPhaseRowSlack floats past each block row (j >= q) may be       \
     written too: the caller writes a plane's rows in order and leaves that slack after the     \
     last. */                                                                                   \
  void phase_blocks(const float* x, int32_t channels, int64_t plane, int32_t q, int32_t blocks,   \
                    const int32_t* phase, const int32_t* shift, float* out, int64_t block_stride,   \
                    int64_t c_pitch);                                                             \
  void unpack_c16(const float* in, const PackStrides& st, int32_t channels, int32_t rows,       \
                  int32_t cols, int32_t p, int32_t q, int32_t row0, float* y);                  \
  /* CReLU of packed data in place: pos[i] = relu(pos[i]) and pos[count + i] = relu(-pos[i]) */ \
  void crelu_split(float* pos, int64_t count);                                                  \
  /* winograd_kernels.cpp: see winograd.h */                                                    \
  /* xi_stride: floats from one transform position's plane to the next (winograd.h) */      \
  /* One tile row (tiles: its column tiling; tall: 4 output rows, else 3) from its packed     \
     patch rows xt ([blocks][6][wp][16]) into V: tile b's position xi = 6i + j at               \
     v[xi * xi_stride + (base + b) * lanes_total + c], base the member of `at` for the          \
     position's class (wino::RowIndex; positions a 3-wide or 3-tall tile lacks: not written) */ \
  void wino4_input_row(const float* xt, int32_t blocks, int32_t wp, const wino::Tiling& tiles,  \
                       bool tall, float* v, const wino::RowIndex& at, int64_t xi_stride,        \
                       int32_t lanes_total);                                                    \
  /* The output transform of one tile row from M (indexed as V) into yt ([blocks][4][cols][16], \
     cols = tiles.covered(); rows past a 3-tall row's 3 not written). ep: null, or the fused    \
     epilogue applied as the values are stored (CReLU's negative half into yt_neg, laid out as  \
     yt) */                                                                                     \
  void wino4_output_row(const float* m, const wino::RowIndex& at, int64_t xi_stride,            \
                        int32_t blocks, const wino::Tiling& tiles, bool tall, const float* bias, \
                        const EpilogueArgs* ep, float* yt, float* yt_neg);                      \
  /* dY's rows of one tile row (dyt, laid out as yt above) into Z (indexed as V) */             \
  void wino4_grad_row(const float* dyt, int32_t blocks, const wino::Tiling& tiles, bool tall,    \
                      float* z, const wino::RowIndex& at, int64_t xi_stride);                   \
  /* u[xi * u_plane + i * i_stride + o / 16 * block_stride + o % 16] = (G g_io G^T)[xi] for i in \
     [i0, i1), all o < cout16, from g[(i * 9 + tap) * cout16 + o] (zero past the real output    \
     channels); rows whole: i_stride cout16, block_stride 16 */                                  \
  void wino4_filters(const float* g, int32_t i0, int32_t i1, int32_t cout16, float* u,          \
                     int64_t u_plane, int64_t i_stride, int64_t block_stride);                  \
  /* dw[(k * cin + c) * 9 + tap] = (G^T S_kc G)[tap] for k in [k0, k1), c < cin, where          \
     S_kc[xi] = s[xi * s_plane + k * cin16 + c] (backward-filter's inverse transform) */        \
  void wino4_filter_grads(const float* s, int64_t s_plane, int32_t k0, int32_t k1, int32_t cin, \
                          int32_t cin16, float* dw);                                            \
  /* conv_epilogue_kernels.cpp */                                                               \
  void epilogue_c16(float* data, float* neg, const PackStrides& st, int32_t blocks, int32_t rows, \
                    int32_t cols, const EpilogueArgs& ep);                                      \
  /* returns the sum of the du it writes (float partial sums combined in double) */           \
  double epilogue_grad(int32_t act, float post_scale, float post_shift, int64_t count,          \
                     const float* y_pos, const float* y_neg, const float* dy_pos,               \
                     const float* dy_neg, float* du);

namespace rn {
namespace generic { RN_ISA_KERNEL_DECLARATIONS }
namespace avx2 { RN_ISA_KERNEL_DECLARATIONS }
namespace avx512 { RN_ISA_KERNEL_DECLARATIONS }

struct IsaKernels {
  const char* name;
  decltype(&generic::sgd_step) sgd_step;
  decltype(&generic::sgd_step_unfused) sgd_step_unfused;
  decltype(&generic::gemm_bcast) gemm_bcast;
  decltype(&generic::gemm_bcast_phases2) gemm_bcast_phases2;
  decltype(&generic::gemm_bcast_grouped) gemm_bcast_grouped;
  decltype(&generic::pack_c16) pack_c16;
  decltype(&generic::pack_planar) pack_planar;
  decltype(&generic::interleave2) interleave2;
  decltype(&generic::phase_blocks) phase_blocks;
  decltype(&generic::unpack_c16) unpack_c16;
  decltype(&generic::crelu_split) crelu_split;
  decltype(&generic::wino4_input_row) wino4_input_row;
  decltype(&generic::wino4_output_row) wino4_output_row;
  decltype(&generic::wino4_grad_row) wino4_grad_row;
  decltype(&generic::wino4_filters) wino4_filters;
  decltype(&generic::wino4_filter_grads) wino4_filter_grads;
  decltype(&generic::epilogue_c16) epilogue_c16;
  decltype(&generic::epilogue_grad) epilogue_grad;
};

// The kernel table of an ISA level (RN_ISA_*); the caller has checked the CPU has it.
const IsaKernels& isa_kernels(int isa);

}  // namespace rn
