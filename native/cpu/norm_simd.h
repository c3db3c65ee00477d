// Activation helpers over simd.h's Vec, for the norm/activation kernel files. Include
// inside namespace rn::RN_ISA_NS after simd.h.
//   (vrelu is in simd.h)
//   vkeep_pos(d, u) = u > 0 ? d : 0        vkeep_neg(d, u) = u < 0 ? d : 0
//   vlast(a, n) = a with only its last n lanes (a run's overlapping last vector, below)
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

// vlast(a, n): a's last n lanes kept, the others zeroed (0 < n < kWidth). The tail of a run of
// len >= kWidth floats that is not whole vectors is read as the run's last whole vector, at
// len - kWidth, overlapping the vector before it; reductions keep only its new lanes.
#if defined(RN_ISA_LEVEL_avx512)
inline Vec vlast(Vec a, int n) { return {_mm512_maskz_mov_ps(__mmask16(0xFFFFu << (16 - n)), a.v)}; }
#elif defined(RN_ISA_LEVEL_avx2)
alignas(64) inline constexpr int32_t kLastLanes[16] = {0, 0, 0, 0, 0, 0, 0, 0, -1, -1, -1, -1, -1, -1, -1, -1};
inline Vec vlast(Vec a, int n) {
  const __m256i keep = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kLastLanes + n));
  return {_mm256_and_ps(a.v, _mm256_castsi256_ps(keep))};
}
#else
alignas(32) inline constexpr int32_t kLastLanes[8] = {0, 0, 0, 0, -1, -1, -1, -1};
inline Vec vlast(Vec a, int n) {
  const __m128i keep = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kLastLanes + n));
  return {_mm_and_ps(a.v, _mm_castsi128_ps(keep))};
}
#endif
