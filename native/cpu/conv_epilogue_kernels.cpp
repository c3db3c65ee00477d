// epilogue_grad is its derivative for backward: du = dL/du from dy and the
// epilogue's output y, the sign of u read off y against post_shift (ReLU: u > 0
// where y > post_shift; CReLU: the positive half feeds u > 0, the negative half,
// negated, u < 0).
//
// The fused conv forward epilogue on channel-blocked output (see EpilogueArgs in
// gemm.h): per-channel scale and bias, then ReLU / CReLU / none, then NormProp's
// post-activation affine map. Runs on a thread's packed output rows while they
// are in L1/L2, just before unpack_c16 writes them to NCHW, so fusing costs no
// pass over memory. Compiled per ISA level.
#include <immintrin.h>

#include "gemm.h"
#include "isa_kernels.h"

namespace rn::RN_ISA_NS {

#include "simd.h"
#include "epilogue_simd.h"

void epilogue_c16(float* data, float* neg, const PackStrides& st, int32_t blocks, int32_t rows, int32_t cols,
                  const EpilogueArgs& ep) {
  constexpr int kSub = kLanes / kWidth;
  for (int32_t kb = 0; kb < blocks; ++kb)
    for (int sub = 0; sub < kSub; ++sub) {
      const LaneEpilogue lanes(ep, kb * kLanes + sub * kWidth);
      for (int32_t r = 0; r < rows; ++r)
        for (int32_t c = 0; c < cols; ++c) {
          const int64_t at = kb * st.block + r * st.row + c * st.col + sub * kWidth;
          lanes.store(vload(data + at), data + at, neg + at);
        }
    }
}

double epilogue_grad(int32_t act, float post_scale, float post_shift, int64_t count, const float* y_pos,
                     const float* y_neg, const float* dy_pos, const float* dy_neg, float* du) {
  // The sum of du (for dbeta) rides along: float vector partials, flushed into double every
  // kFlush vectors (at most kFlush values per lane in float), so the caller needs no second
  // pass over du.
  constexpr int kFlush = 64;
  const Vec a = vset1(post_scale), t = vset1(post_shift);
  Vec part = vzero();
  double sum = 0.0;
  int flush = 0;
  int64_t i = 0;
  for (; i + kWidth <= count; i += kWidth) {
    Vec g = vload(dy_pos + i);
    if (act != 0) g = vkeep_gt(g, vload(y_pos + i), t);
    if (act == 2) g = vsub(g, vkeep_gt(vload(dy_neg + i), vload(y_neg + i), t));
    const Vec d = vmul(a, g);
    vstore(du + i, d);
    part = vadd(part, d);
    if (++flush == kFlush) {
      sum += vhsum(part);
      part = vzero();
      flush = 0;
    }
  }
  sum += vhsum(part);
  for (; i < count; ++i) {
    float g = act == 0 || y_pos[i] > post_shift ? dy_pos[i] : 0.0f;
    if (act == 2 && y_neg[i] > post_shift) g -= dy_neg[i];
    du[i] = post_scale * g;
    sum += du[i];
  }
  return sum;
}

}  // namespace rn::RN_ISA_NS
