// Conversions between NCHW planes and the channel-blocked rows the conv kernels
// compute on: out[cb][r][c][l] = x[cb*16 + l][row0 + r][col0 + c] (zero outside
// the image and for lanes past the channel count). Done a few rows at a time,
// inside the kernels, so the data never leaves the cache: NCHW stays the layout
// of the API and of every tensor. Compiled per ISA level; the vector paths are
// 16x16 (AVX-512) / 8x8 (AVX2) register transposes, the generic path is scalar.
#include <immintrin.h>

#include <cstring>

#include "gemm.h"
#include "isa_kernels.h"

namespace rn::RN_ISA_NS {

namespace {

#if defined(RN_ISA_LEVEL_avx512)
constexpr int32_t kChunk = 16;  // columns per register transpose

// r[i][j] -> r[j][i] for a 16x16 block held in 16 registers.
inline void transpose16(__m512 r[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // u[4i + j]: 128-bit lane L holds rows 4i..4i+3 of column 4L + j
  for (int i = 0; i < 4; ++i) {
    __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 2]);
    __m512d c = _mm512_castps_pd(t[4 * i + 1]), d = _mm512_castps_pd(t[4 * i + 3]);
    u[4 * i + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
    u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
    u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(c, d));
    u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(c, d));
  }
  for (int j = 0; j < 4; ++j) {
    __m512 s_lo = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x44);      // a.L0 a.L1 b.L0 b.L1
    __m512 s_hi = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xEE);      // a.L2 a.L3 b.L2 b.L3
    __m512 s1_lo = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x44);
    __m512 s1_hi = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xEE);
    r[0 + j] = _mm512_shuffle_f32x4(s_lo, s1_lo, 0x88);
    r[4 + j] = _mm512_shuffle_f32x4(s_lo, s1_lo, 0xDD);
    r[8 + j] = _mm512_shuffle_f32x4(s_hi, s1_hi, 0x88);
    r[12 + j] = _mm512_shuffle_f32x4(s_hi, s1_hi, 0xDD);
  }
}

// 16 channel rows (16 floats each, row l at src[l * stride]) -> 16 columns of 16 lanes.
inline void pack_chunk(const float* src, int64_t stride, float* dst) {
  __m512 r[16];
  for (int l = 0; l < 16; ++l) r[l] = _mm512_loadu_ps(src + l * stride);
  transpose16(r);
  for (int j = 0; j < 16; ++j) _mm512_storeu_ps(dst + j * kLanes, r[j]);
}

// 16 columns of 16 lanes -> 16 channel rows (row k at dst[k * stride]).
inline void unpack_chunk(const float* src, float* dst, int64_t stride) {
  __m512 r[16];
  for (int j = 0; j < 16; ++j) r[j] = _mm512_loadu_ps(src + j * kLanes);
  transpose16(r);
  for (int k = 0; k < 16; ++k) _mm512_storeu_ps(dst + k * stride, r[k]);
}
#elif defined(RN_ISA_LEVEL_avx2)
constexpr int32_t kChunk = 8;

inline void transpose8(__m256 r[8]) {
  __m256 t[8], s[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 2; ++i) {
    s[4 * i + 0] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    s[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    s[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    s[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (int j = 0; j < 4; ++j) {
    r[j] = _mm256_permute2f128_ps(s[j], s[4 + j], 0x20);
    r[4 + j] = _mm256_permute2f128_ps(s[j], s[4 + j], 0x31);
  }
}

inline void pack_chunk(const float* src, int64_t stride, float* dst) {
  for (int h = 0; h < 2; ++h) {  // lanes 0-7, then 8-15
    __m256 r[8];
    for (int l = 0; l < 8; ++l) r[l] = _mm256_loadu_ps(src + (h * 8 + l) * stride);
    transpose8(r);
    for (int j = 0; j < 8; ++j) _mm256_storeu_ps(dst + j * kLanes + h * 8, r[j]);
  }
}

inline void unpack_chunk(const float* src, float* dst, int64_t stride) {
  for (int h = 0; h < 2; ++h) {
    __m256 r[8];
    for (int j = 0; j < 8; ++j) r[j] = _mm256_loadu_ps(src + j * kLanes + h * 8);
    transpose8(r);
    for (int k = 0; k < 8; ++k) _mm256_storeu_ps(dst + (h * 8 + k) * stride, r[k]);
  }
}
#else
constexpr int32_t kChunk = 0;  // scalar only
inline void pack_chunk(const float*, int64_t, float*) {}
inline void unpack_chunk(const float*, float*, int64_t) {}
#endif

}  // namespace

void pack_c16(const float* x, int32_t channels, int32_t h, int32_t w, int32_t row0, int32_t rows, int32_t col0,
              int32_t cols, float* out) {
  const int32_t blocks = lane_blocks(channels);
  const int64_t plane = int64_t(h) * w;
  // columns c in [c_lo, c_hi) come from inside the image
  int32_t c_lo = col0 < 0 ? (-col0 < cols ? -col0 : cols) : 0;
  int32_t c_hi = w - col0 < cols ? w - col0 : cols;
  if (c_hi < c_lo) c_hi = c_lo;
  for (int32_t cb = 0; cb < blocks; ++cb) {
    const int32_t lanes = channels - cb * kLanes < kLanes ? channels - cb * kLanes : kLanes;
    for (int32_t r = 0; r < rows; ++r) {
      float* dst = out + (int64_t(cb) * rows + r) * cols * kLanes;
      const int32_t ih = row0 + r;
      if (ih < 0 || ih >= h) {
        std::memset(dst, 0, sizeof(float) * cols * kLanes);
        continue;
      }
      std::memset(dst, 0, sizeof(float) * c_lo * kLanes);
      std::memset(dst + int64_t(c_hi) * kLanes, 0, sizeof(float) * (cols - c_hi) * kLanes);
      const float* src = x + int64_t(cb) * kLanes * plane + int64_t(ih) * w + col0;
      int32_t c = c_lo;
      if (kChunk > 0 && lanes == kLanes)
        for (; c + kChunk <= c_hi; c += kChunk) pack_chunk(src + c, plane, dst + int64_t(c) * kLanes);
      for (; c < c_hi; ++c) {
        float* d = dst + int64_t(c) * kLanes;
        for (int32_t l = 0; l < lanes; ++l) d[l] = src[l * plane + c];
        for (int32_t l = lanes; l < kLanes; ++l) d[l] = 0.0f;
      }
    }
  }
}

void unpack_c16(const float* in, int32_t channels, int32_t rows, int32_t cols, int32_t p, int32_t q, int32_t row0,
                float* y) {
  const int32_t blocks = lane_blocks(channels);
  const int64_t plane = int64_t(p) * q;
  const int32_t valid_rows = p - row0 < rows ? p - row0 : rows;
  const int32_t valid_cols = q < cols ? q : cols;
  for (int32_t kb = 0; kb < blocks; ++kb) {
    const int32_t lanes = channels - kb * kLanes < kLanes ? channels - kb * kLanes : kLanes;
    for (int32_t r = 0; r < valid_rows; ++r) {
      const float* src = in + (int64_t(kb) * rows + r) * cols * kLanes;
      float* dst = y + int64_t(kb) * kLanes * plane + int64_t(row0 + r) * q;
      int32_t c = 0;
      if (kChunk > 0 && lanes == kLanes)
        for (; c + kChunk <= valid_cols; c += kChunk) unpack_chunk(src + int64_t(c) * kLanes, dst + c, plane);
      for (; c < valid_cols; ++c) {
        const float* s = src + int64_t(c) * kLanes;
        for (int32_t l = 0; l < lanes; ++l) dst[l * plane + c] = s[l];
      }
    }
  }
}

}  // namespace rn::RN_ISA_NS
