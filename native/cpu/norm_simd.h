// Activation helpers over simd.h's Vec, for the norm/activation kernel files. Include
// inside namespace rn::RN_ISA_NS after simd.h.
//   (vrelu is in simd.h)
//   vkeep_pos(d, u) = u > 0 ? d : 0        vkeep_neg(d, u) = u < 0 ? d : 0
#pragma once

#if defined(RN_ISA_LEVEL_avx512)
inline Vec vkeep_pos(Vec d, Vec u) {
  return {_mm512_maskz_mov_ps(_mm512_cmp_ps_mask(u.v, _mm512_setzero_ps(), _CMP_GT_OQ), d.v)};
}
inline Vec vkeep_neg(Vec d, Vec u) {
  return {_mm512_maskz_mov_ps(_mm512_cmp_ps_mask(u.v, _mm512_setzero_ps(), _CMP_LT_OQ), d.v)};
}
#elif defined(RN_ISA_LEVEL_avx2)
inline Vec vkeep_pos(Vec d, Vec u) { return {_mm256_and_ps(d.v, _mm256_cmp_ps(u.v, _mm256_setzero_ps(), _CMP_GT_OQ))}; }
inline Vec vkeep_neg(Vec d, Vec u) { return {_mm256_and_ps(d.v, _mm256_cmp_ps(u.v, _mm256_setzero_ps(), _CMP_LT_OQ))}; }
#else
inline Vec vkeep_pos(Vec d, Vec u) { return {_mm_and_ps(d.v, _mm_cmpgt_ps(u.v, _mm_setzero_ps()))}; }
inline Vec vkeep_neg(Vec d, Vec u) { return {_mm_and_ps(d.v, _mm_cmplt_ps(u.v, _mm_setzero_ps()))}; }
#endif
