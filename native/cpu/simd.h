// A minimal SIMD vocabulary over one register type, chosen by the ISA level this
// file is compiled for (see cmake/ResnormIsa.cmake): __m512 (AVX-512), __m256
// (AVX2+FMA) or __m128 (baseline SSE2, no FMA). vfmadd(a, b, c) = a*b + c,
// vfnmadd(a, b, c) = c - a*b, vrelu(a) = max(0, a) with NaN passed through (maxps
// returns its second operand when either is NaN), vkeep_gt(d, y, t) = y > t ? d : 0
// (false for NaN y). Include it only from kernel
// files, inside namespace rn::RN_ISA_NS (so each level gets its own copy), and
// after <immintrin.h> has been included at file scope.
#pragma once

#ifndef _IMMINTRIN_H_INCLUDED
#error "include <immintrin.h> at file scope before simd.h"
#endif

#if defined(RN_ISA_LEVEL_avx512)
struct Vec {
  __m512 v;
};
constexpr int kWidth = 16;
inline Vec vzero() { return {_mm512_setzero_ps()}; }
inline Vec vset1(float x) { return {_mm512_set1_ps(x)}; }
inline Vec vload(const float* p) { return {_mm512_loadu_ps(p)}; }
inline void vstore(float* p, Vec a) { _mm512_storeu_ps(p, a.v); }
inline void vstream(float* p, Vec a) { _mm512_stream_ps(p, a.v); }  // p 64-byte aligned
inline Vec vadd(Vec a, Vec b) { return {_mm512_add_ps(a.v, b.v)}; }
inline Vec vsub(Vec a, Vec b) { return {_mm512_sub_ps(a.v, b.v)}; }
inline Vec vmul(Vec a, Vec b) { return {_mm512_mul_ps(a.v, b.v)}; }
inline Vec vfmadd(Vec a, Vec b, Vec c) { return {_mm512_fmadd_ps(a.v, b.v, c.v)}; }
inline Vec vfnmadd(Vec a, Vec b, Vec c) { return {_mm512_fnmadd_ps(a.v, b.v, c.v)}; }
inline float vhsum(Vec a) { return _mm512_reduce_add_ps(a.v); }
inline Vec vrelu(Vec a) { return {_mm512_max_ps(_mm512_setzero_ps(), a.v)}; }
inline Vec vkeep_gt(Vec d, Vec y, Vec t) { return {_mm512_maskz_mov_ps(_mm512_cmp_ps_mask(y.v, t.v, _CMP_GT_OQ), d.v)}; }
#elif defined(RN_ISA_LEVEL_avx2)
struct Vec {
  __m256 v;
};
constexpr int kWidth = 8;
inline Vec vzero() { return {_mm256_setzero_ps()}; }
inline Vec vset1(float x) { return {_mm256_set1_ps(x)}; }
inline Vec vload(const float* p) { return {_mm256_loadu_ps(p)}; }
inline void vstore(float* p, Vec a) { _mm256_storeu_ps(p, a.v); }
inline void vstream(float* p, Vec a) { _mm256_stream_ps(p, a.v); }  // p 32-byte aligned
inline Vec vadd(Vec a, Vec b) { return {_mm256_add_ps(a.v, b.v)}; }
inline Vec vsub(Vec a, Vec b) { return {_mm256_sub_ps(a.v, b.v)}; }
inline Vec vmul(Vec a, Vec b) { return {_mm256_mul_ps(a.v, b.v)}; }
inline Vec vfmadd(Vec a, Vec b, Vec c) { return {_mm256_fmadd_ps(a.v, b.v, c.v)}; }
inline Vec vfnmadd(Vec a, Vec b, Vec c) { return {_mm256_fnmadd_ps(a.v, b.v, c.v)}; }
inline Vec vrelu(Vec a) { return {_mm256_max_ps(_mm256_setzero_ps(), a.v)}; }
inline Vec vkeep_gt(Vec d, Vec y, Vec t) { return {_mm256_and_ps(d.v, _mm256_cmp_ps(y.v, t.v, _CMP_GT_OQ))}; }
inline float vhsum(Vec a) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(a.v), _mm256_extractf128_ps(a.v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
#else
struct Vec {
  __m128 v;
};
constexpr int kWidth = 4;
inline Vec vzero() { return {_mm_setzero_ps()}; }
inline Vec vset1(float x) { return {_mm_set1_ps(x)}; }
inline Vec vload(const float* p) { return {_mm_loadu_ps(p)}; }
inline void vstore(float* p, Vec a) { _mm_storeu_ps(p, a.v); }
inline void vstream(float* p, Vec a) { _mm_stream_ps(p, a.v); }  // p 16-byte aligned
inline Vec vadd(Vec a, Vec b) { return {_mm_add_ps(a.v, b.v)}; }
inline Vec vsub(Vec a, Vec b) { return {_mm_sub_ps(a.v, b.v)}; }
inline Vec vmul(Vec a, Vec b) { return {_mm_mul_ps(a.v, b.v)}; }
inline Vec vfmadd(Vec a, Vec b, Vec c) { return {_mm_add_ps(_mm_mul_ps(a.v, b.v), c.v)}; }
inline Vec vfnmadd(Vec a, Vec b, Vec c) { return {_mm_sub_ps(c.v, _mm_mul_ps(a.v, b.v))}; }
inline Vec vrelu(Vec a) { return {_mm_max_ps(_mm_setzero_ps(), a.v)}; }
inline Vec vkeep_gt(Vec d, Vec y, Vec t) { return {_mm_and_ps(d.v, _mm_cmpgt_ps(y.v, t.v))}; }
inline float vhsum(Vec a) {
  __m128 s = _mm_add_ps(a.v, _mm_movehl_ps(a.v, a.v));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}
#endif
