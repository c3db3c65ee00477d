// Conversions between NCHW planes and the channel-blocked rows the conv kernels
// compute on:  out[cb*kb_stride + r*row_stride + c*col_stride + l]
//                = x[cb*16 + l][row0 + r][col0 + c]
// (zero outside the image and for lanes past the channel count); unpack is the
// inverse for the rows and columns inside the output plane. The strides give
// both layouts in use: block-major [CB][rows][cols][16] (Winograd) and
// pixel-major [rows][cols][CB*16] (direct convolution). pack_planar is the plain
// row copy with zero padding, out[(r*C + c)*pitch + j] = x[c][row0 + r][col0 + j] (j < cols;
// zeros up to the pitch where a vector path writes them), the padding left as it is when
// the caller says an earlier call wrote it (a per-thread buffer reused image after image:
// the zeros are the same every time, and were half the stores of a 16-wide dy row);
// crelu_split turns packed channel blocks into their CReLU in place, the negative
// half written right after them (the conv of a CReLU reading its C-channel input);
// interleave2 merges two stride phases of rows, out[2j] = even[j], out[2j+1] = odd[j] (planes x rows of them, the
// inputs contiguous, the outputs at the given strides), and phase_blocks splits rows into
// those two phases, shifted per filter column (the stride-2 forward in pixel lanes). Done a
// few rows at a time,
// inside the kernels, so the data never leaves the cache: NCHW stays the layout
// of the API and of every tensor. Compiled per ISA level; the vector paths are
// 16x16 (AVX-512) / 8x8 (AVX2) register transposes, the generic path is scalar.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "gemm.h"
#include "isa_kernels.h"

namespace rn::RN_ISA_NS {

namespace {

#if defined(RN_ISA_LEVEL_avx2) || defined(RN_ISA_LEVEL_avx512)
// An 8-lane mask with lanes 0 .. n-1 set (none for n <= 0), for masked loads.
inline __m256i first_lanes(int32_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
#endif

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

// 16 channel rows (16 floats each, row l at src[l * stride]) -> 16 columns of 16
// lanes (column j at dst[j * col_stride]).
inline void pack_chunk(const float* src, int64_t stride, float* dst, int64_t col_stride) {
  __m512 r[16];
  for (int l = 0; l < 16; ++l) r[l] = _mm512_loadu_ps(src + l * stride);
  transpose16(r);
  for (int j = 0; j < 16; ++j) _mm512_storeu_ps(dst + j * col_stride, r[j]);
}

// 16 columns of 16 lanes (column j at src[j * col_stride]) -> 16 channel rows (row k
// at dst[k * stride]).
inline void unpack_chunk(const float* src, int64_t col_stride, float* dst, int64_t stride) {
  __m512 r[16];
  for (int j = 0; j < 16; ++j) r[j] = _mm512_loadu_ps(src + j * col_stride);
  transpose16(r);
  for (int k = 0; k < 16; ++k) _mm512_storeu_ps(dst + k * stride, r[k]);
}
// Same for 8 columns (small images): a 16x16 transpose with half the block unused.
constexpr int32_t kHalfChunk = 8;

inline void pack_half_chunk(const float* src, int64_t stride, float* dst, int64_t col_stride) {
  __m512 r[16];
  for (int l = 0; l < 16; ++l) r[l] = _mm512_castps256_ps512(_mm256_loadu_ps(src + l * stride));
  transpose16(r);
  for (int j = 0; j < 8; ++j) _mm512_storeu_ps(dst + j * col_stride, r[j]);
}

inline void unpack_half_chunk(const float* src, int64_t col_stride, float* dst, int64_t stride) {
  __m512 r[16];
  for (int j = 0; j < 8; ++j) r[j] = _mm512_loadu_ps(src + j * col_stride);
  for (int j = 8; j < 16; ++j) r[j] = _mm512_setzero_ps();
  transpose16(r);
  for (int k = 0; k < 16; ++k) _mm256_storeu_ps(dst + k * stride, _mm512_castps512_ps256(r[k]));
}
constexpr bool kShortChunks = false;
inline void pack_short_chunk(const float*, int64_t, float*, int64_t, int32_t) {}
inline void unpack_short_chunk(const float*, int64_t, float*, int64_t, int32_t) {}
#elif defined(RN_ISA_LEVEL_avx2)
constexpr int32_t kChunk = 8;
constexpr int32_t kHalfChunk = 0;
inline void pack_half_chunk(const float*, int64_t, float*, int64_t) {}
inline void unpack_half_chunk(const float*, int64_t, float*, int64_t) {}

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

inline void pack_chunk(const float* src, int64_t stride, float* dst, int64_t col_stride) {
  for (int h = 0; h < 2; ++h) {  // lanes 0-7, then 8-15
    __m256 r[8];
    for (int l = 0; l < 8; ++l) r[l] = _mm256_loadu_ps(src + (h * 8 + l) * stride);
    transpose8(r);
    for (int j = 0; j < 8; ++j) _mm256_storeu_ps(dst + j * col_stride + h * 8, r[j]);
  }
}

inline void unpack_chunk(const float* src, int64_t col_stride, float* dst, int64_t stride) {
  for (int h = 0; h < 2; ++h) {
    __m256 r[8];
    for (int j = 0; j < 8; ++j) r[j] = _mm256_loadu_ps(src + j * col_stride + h * 8);
    transpose8(r);
    for (int k = 0; k < 8; ++k) _mm256_storeu_ps(dst + (h * 8 + k) * stride, r[k]);
  }
}

// The chunks for rows of n < 8 columns (7x7 planes): masked loads of the channel rows (nothing
// past column n is read); unpacked rows stored in 4-, 2- and 1-float pieces (a masked store,
// vmaskmovps, made the 64->64 @7x7 unpack slower than lane by lane on Zen 3: 6.6 -> 10.3 % of
// the conv's samples). The columns are whole 16-lane vectors.
constexpr bool kShortChunks = true;
inline void pack_short_chunk(const float* src, int64_t stride, float* dst, int64_t col_stride, int32_t n) {
  const __m256i mask = first_lanes(n);
  for (int h = 0; h < 2; ++h) {
    __m256 r[8];
    for (int l = 0; l < 8; ++l) r[l] = _mm256_maskload_ps(src + (h * 8 + l) * stride, mask);
    transpose8(r);
    for (int j = 0; j < n; ++j) _mm256_storeu_ps(dst + j * col_stride + h * 8, r[j]);
  }
}
inline void unpack_short_chunk(const float* src, int64_t col_stride, float* dst, int64_t stride, int32_t n) {
  for (int h = 0; h < 2; ++h) {
    __m256 r[8];
    for (int j = 0; j < 8; ++j) r[j] = j < n ? _mm256_loadu_ps(src + j * col_stride + h * 8) : _mm256_setzero_ps();
    transpose8(r);
    for (int k = 0; k < 8; ++k) {  // the first n floats of r[k]
      float* to = dst + (h * 8 + k) * stride;
      __m128 part = _mm256_castps256_ps128(r[k]);
      int32_t left = n;
      if (left >= 4) {
        _mm_storeu_ps(to, part);
        part = _mm256_extractf128_ps(r[k], 1);
        to += 4;
        left -= 4;
      }
      if (left >= 2) {
        _mm_storel_pi(reinterpret_cast<__m64*>(to), part);
        part = _mm_movehl_ps(part, part);
        to += 2;
        left -= 2;
      }
      if (left >= 1) _mm_store_ss(to, part);
    }
  }
}
#else
constexpr int32_t kChunk = 0;  // scalar only
constexpr int32_t kHalfChunk = 0;
constexpr bool kShortChunks = false;
inline void pack_short_chunk(const float*, int64_t, float*, int64_t, int32_t) {}
inline void unpack_short_chunk(const float*, int64_t, float*, int64_t, int32_t) {}
inline void pack_chunk(const float*, int64_t, float*, int64_t) {}
inline void unpack_chunk(const float*, int64_t, float*, int64_t) {}
inline void pack_half_chunk(const float*, int64_t, float*, int64_t) {}
inline void unpack_half_chunk(const float*, int64_t, float*, int64_t) {}
#endif

// The width of the overlapping last chunk (pack_c16, unpack_c16).
constexpr int32_t kTailChunk = kHalfChunk > 0 ? kHalfChunk : kChunk;

}  // namespace

void pack_c16(const float* x, int32_t channels, int32_t h, int32_t w, int32_t row0, int32_t rows, int32_t col0,
              int32_t cols, float* out, const PackStrides& st) {
  const int32_t blocks = lane_blocks(channels);
  const int64_t plane = int64_t(h) * w;
  // columns c in [c_lo, c_hi) come from inside the image
  int32_t c_lo = col0 < 0 ? (-col0 < cols ? -col0 : cols) : 0;
  int32_t c_hi = w - col0 < cols ? w - col0 : cols;
  if (c_hi < c_lo) c_hi = c_lo;
  auto zero_cols = [&](float* dst, int32_t from, int32_t to) {
    for (int32_t c = from; c < to; ++c) std::memset(dst + c * st.col, 0, sizeof(float) * kLanes);
  };
  for (int32_t cb = 0; cb < blocks; ++cb) {
    const int32_t lanes = channels - cb * kLanes < kLanes ? channels - cb * kLanes : kLanes;
    for (int32_t r = 0; r < rows; ++r) {
      float* dst = out + cb * st.block + r * st.row;
      const int32_t ih = row0 + r;
      if (ih < 0 || ih >= h) {
        zero_cols(dst, 0, cols);
        continue;
      }
      zero_cols(dst, 0, c_lo);
      zero_cols(dst, c_hi, cols);
      const float* src = x + int64_t(cb) * kLanes * plane + int64_t(ih) * w + col0;
      int32_t c = c_lo;
      if (kChunk > 0 && lanes == kLanes) {
        for (; c + kChunk <= c_hi; c += kChunk) pack_chunk(src + c, plane, dst + c * st.col, st.col);
        if (kHalfChunk > 0 && c + kHalfChunk <= c_hi) {
          pack_half_chunk(src + c, plane, dst + c * st.col, st.col);
          c += kHalfChunk;
        }
        // The last few columns (rows of 28 or 14 pixels, or 30 with the padding: 4-6 columns
        // after the whole chunks) as one more chunk ending at c_hi, over columns already
        // written (the same values): lane by lane they took more time than the chunks did.
        if (c < c_hi && c_hi - c_lo >= kTailChunk) {
          if (kHalfChunk > 0)
            pack_half_chunk(src + c_hi - kTailChunk, plane, dst + (c_hi - kTailChunk) * st.col, st.col);
          else
            pack_chunk(src + c_hi - kTailChunk, plane, dst + (c_hi - kTailChunk) * st.col, st.col);
          c = c_hi;
        }
        if (kShortChunks && c < c_hi) {  // fewer than a chunk's columns in all
          pack_short_chunk(src + c, plane, dst + c * st.col, st.col, c_hi - c);
          c = c_hi;
        }
      }
      for (; c < c_hi; ++c) {
        float* d = dst + c * st.col;
        for (int32_t l = 0; l < lanes; ++l) d[l] = src[l * plane + c];
        for (int32_t l = lanes; l < kLanes; ++l) d[l] = 0.0f;
      }
    }
  }
}

void pack_planar(const float* x, int32_t channels, int32_t h, int32_t w, int32_t row0, int32_t rows, int32_t col0,
                 int32_t cols, int32_t pitch, float* out, bool padding_written) {
#if defined(RN_ISA_LEVEL_avx512)
  // Whole vectors per row, each a zero-masked load of the source columns it covers: the
  // zero padding comes with the loads (masked-out lanes are not read, so a row's edges
  // need no care), and with a pitch of whole vectors every store is one aligned line.
  // (Rows are short, 8-40 floats: the scalar loops below spent more time on their peel
  // and tail iterations, and on stores split across lines, than on the copy.)
  constexpr int32_t kMaxVectors = 64;
  const int32_t vectors = (cols + 15) / 16;
  if (pitch % 16 == 0 && vectors <= kMaxVectors) {
    __mmask16 lanes[kMaxVectors];
    for (int32_t v = 0; v < vectors; ++v) {
      const int32_t c0 = col0 + 16 * v;  // source column of lane 0
      const int32_t lo = std::max(0, -c0), hi = std::min({16, w - c0, cols - 16 * v});
      lanes[v] = hi > lo ? __mmask16(((1u << hi) - 1) & ~((1u << lo) - 1)) : __mmask16(0);
    }
    for (int32_t r = 0; r < rows; ++r) {
      const int32_t ih = row0 + r;
      const bool inside = ih >= 0 && ih < h;
      for (int32_t c = 0; c < channels; ++c) {
        float* dst = out + (int64_t(r) * channels + c) * pitch;
        if (!inside) {
          if (!padding_written)
            for (int32_t v = 0; v < vectors; ++v) _mm512_storeu_ps(dst + 16 * v, _mm512_setzero_ps());
          continue;
        }
        const float* src = x + (int64_t(c) * h + ih) * w + col0;
        for (int32_t v = 0; v < vectors; ++v)
          if (lanes[v] != 0 || !padding_written)
            _mm512_storeu_ps(dst + 16 * v, _mm512_maskz_loadu_ps(lanes[v], src + 16 * v));
      }
    }
    return;
  }
#endif
  // Rows here are short (8-40 floats): plain loops the vectorizer handles beat
  // three libc calls per row.
  int32_t lo = -col0 < 0 ? 0 : (-col0 > cols ? cols : -col0);
  int32_t hi = w - col0 < lo ? lo : (w - col0 > cols ? cols : w - col0);
  for (int32_t r = 0; r < rows; ++r) {
    const int32_t ih = row0 + r;
    const bool inside = ih >= 0 && ih < h;
    for (int32_t c = 0; c < channels; ++c) {
      float* __restrict dst = out + (int64_t(r) * channels + c) * pitch;
      if (!inside) {
        if (!padding_written)
          for (int32_t j = 0; j < cols; ++j) dst[j] = 0.0f;
        continue;
      }
      const float* __restrict src = x + (int64_t(c) * h + ih) * w + col0;
      for (int32_t j = lo; j < hi; ++j) dst[j] = src[j];
      if (padding_written) continue;
      for (int32_t j = 0; j < lo; ++j) dst[j] = 0.0f;
      for (int32_t j = hi; j < cols; ++j) dst[j] = 0.0f;
    }
  }
}

// A vector stored, or streamed past the caches (p then aligned to the vector's width).
#if defined(RN_ISA_LEVEL_avx512)
inline void store_vector(float* p, __m512 v, bool stream) { stream ? _mm512_stream_ps(p, v) : _mm512_storeu_ps(p, v); }
#elif defined(RN_ISA_LEVEL_avx2)
inline void store_vector(float* p, __m256 v, bool stream) { stream ? _mm256_stream_ps(p, v) : _mm256_storeu_ps(p, v); }
#endif

void interleave2(const float* even, const float* odd, int32_t n, int32_t rows, int32_t planes,
                 int64_t plane_stride_out, int64_t row_stride_out, float* out, bool stream) {
#if defined(RN_ISA_LEVEL_avx512)
  const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
#endif
  for (int32_t plane = 0; plane < planes; ++plane)
    for (int32_t row = 0; row < rows; ++row, even += n, odd += n) {
      float* dst = out + plane * plane_stride_out + row * row_stride_out;
      int32_t j = 0;
#if defined(RN_ISA_LEVEL_avx512)
      for (; j + 16 <= n; j += 16) {
        const __m512 e = _mm512_loadu_ps(even + j), o = _mm512_loadu_ps(odd + j);
        store_vector(dst + 2 * j, _mm512_permutex2var_ps(e, lo, o), stream);
        store_vector(dst + 2 * j + 16, _mm512_permutex2var_ps(e, hi, o), stream);
      }
#elif defined(RN_ISA_LEVEL_avx2)
      for (; j + 8 <= n; j += 8) {
        // unpack interleaves within each 128-bit half: lo = [e0 o0 e1 o1 | e4 o4 e5 o5],
        // hi = [e2 o2 e3 o3 | e6 o6 e7 o7]; the 128-bit permutes put the halves in order.
        const __m256 e = _mm256_loadu_ps(even + j), o = _mm256_loadu_ps(odd + j);
        const __m256 l = _mm256_unpacklo_ps(e, o), h = _mm256_unpackhi_ps(e, o);
        store_vector(dst + 2 * j, _mm256_permute2f128_ps(l, h, 0x20), stream);
        store_vector(dst + 2 * j + 8, _mm256_permute2f128_ps(l, h, 0x31), stream);
      }
#endif
      for (; j < n; ++j) {
        dst[2 * j] = even[j];
        dst[2 * j + 1] = odd[j];
      }
    }
}

#if defined(RN_ISA_LEVEL_avx2) || defined(RN_ISA_LEVEL_avx512)
// The even (a = 0) or odd (a = 1) columns of src[0, 16) as 8 lanes: shuffle_ps picks them within
// each 128-bit half ([lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6]), the 64-bit permute puts the pairs in order.
inline __m256 split_phase(__m256 lo, __m256 hi, int32_t a) {
  const __m256 half = a == 0 ? _mm256_shuffle_ps(lo, hi, 0x88) : _mm256_shuffle_ps(lo, hi, 0xDD);
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(half), 0xD8));
}

// phase_blocks for shifts of -1, 0 and 1 (every 3x3 and 5x5 filter) and rows of NV vectors a
// phase: the row's two phases split once, in registers, and a shifted vector made of its
// neighbours' lanes rotated in. (Loading and splitting each vector once per block instead, as
// the general path below does, cost 6 cycles a vector: a fifth of the conv with x in L2.)
template <int NV>
void phase_blocks_small_shifts(const float* x, int32_t channels, int64_t plane, int32_t blocks, const int32_t* phase,
                               const int32_t* shift, float* out, int64_t block_stride, int64_t c_pitch) {
  const __m256i rot_right = _mm256_setr_epi32(7, 0, 1, 2, 3, 4, 5, 6);  // lane j <- j - 1
  const __m256i rot_left = _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 0);   // lane j <- j + 1
  for (int32_t c = 0; c < channels; ++c) {
    const float* src = x + c * plane;
    __m256 ph[2][NV + 2];  // per phase: zero, the NV vectors, zero
#pragma GCC unroll 8
    for (int a = 0; a < 2; ++a) ph[a][0] = ph[a][NV + 1] = _mm256_setzero_ps();
#pragma GCC unroll 8
    for (int i = 0; i < NV; ++i) {
      const __m256 lo = _mm256_loadu_ps(src + 16 * i), hi = _mm256_loadu_ps(src + 16 * i + 8);
      ph[0][i + 1] = split_phase(lo, hi, 0);
      ph[1][i + 1] = split_phase(lo, hi, 1);
    }
    for (int32_t b = 0; b < blocks; ++b) {
      const __m256* v = phase[b] == 0 ? ph[0] + 1 : ph[1] + 1;
      float* to = out + b * block_stride + int64_t(c) * c_pitch;
      if (shift[b] < 0) {
#pragma GCC unroll 8
        for (int i = 0; i < NV; ++i)  // [v[i-1][7], v[i][0..6]]
          _mm256_storeu_ps(to + 8 * i, _mm256_blend_ps(_mm256_permutevar8x32_ps(v[i], rot_right),
                                                       _mm256_permutevar8x32_ps(v[i - 1], rot_right), 0x01));
      } else if (shift[b] > 0) {
#pragma GCC unroll 8
        for (int i = 0; i < NV; ++i)  // [v[i][1..7], v[i+1][0]]
          _mm256_storeu_ps(to + 8 * i, _mm256_blend_ps(_mm256_permutevar8x32_ps(v[i], rot_left),
                                                       _mm256_permutevar8x32_ps(v[i + 1], rot_left), 0x80));
      } else {
#pragma GCC unroll 8
        for (int i = 0; i < NV; ++i) _mm256_storeu_ps(to + 8 * i, v[i]);
      }
    }
  }
}

// phase_blocks for the blocks of a 3x3 filter with padding 1 (every stride-2 transition of a
// ResNet): (phase 1, shift -1), (phase 0, shift 0), (phase 1, shift 0). The general version above
// picks each block's phase and shift at run time, which kept its split vectors on the stack (a
// store and a reload per vector and block): at 16->32 @32x32, batch 128, the copy took 12.5 % of
// the forward's samples, 8.4 % with this one (`perf record`, Zen 3, 2 threads).
//
// TAIL: rows whose phases are not whole vectors (q = 7 or 14: the 28x28 Fashion-MNIST
// transitions; NV = ceil(q / 8)). The last vector of each phase holds q - 8 (NV - 1) lanes, and
// its source columns are read with a masked load (nothing past the row's 2q floats is read). Its
// stores are whole vectors: they reach up to 7 floats past the row's end, into the next row of
// the plane (which the caller writes after this one) or, after a channel's last row, into the
// slack that PhasePlanes leaves (kPhaseRowSlack). With masked stores (vmaskmovps, slow on Zen 3)
// the copy ran 10-25 % slower. The general path below did these rows lane by lane: 38 % of the
// 16->32 @28x28 forward's samples (`perf record`, batch 128, 2 threads).
template <int NV, bool TAIL>
void phase_blocks_3x3_pad1(const float* x, int32_t channels, int64_t plane, int32_t q, float* out,
                           int64_t block_stride, int64_t c_pitch) {
  const __m256i rot_right = _mm256_setr_epi32(7, 0, 1, 2, 3, 4, 5, 6);  // lane j <- j - 1
  const __m256 zero = _mm256_setzero_ps();
  const int32_t w = 2 * q, last = 16 * (NV - 1);  // the last vector pair's first source column
  const __m256i lo_mask = first_lanes(w - last), hi_mask = first_lanes(w - last - 8);  // (TAIL only)
  for (int32_t c = 0; c < channels; ++c) {
    const float* src = x + c * plane;
    float* to = out + int64_t(c) * c_pitch;
    __m256 even[NV], odd[NV], odd_right[NV];
#pragma GCC unroll 4
    for (int i = 0; i < NV; ++i) {
      const bool masked = TAIL && i == NV - 1;
      const __m256 lo = masked ? _mm256_maskload_ps(src + last, lo_mask) : _mm256_loadu_ps(src + 16 * i);
      const __m256 hi = masked ? _mm256_maskload_ps(src + last + 8, hi_mask) : _mm256_loadu_ps(src + 16 * i + 8);
      even[i] = split_phase(lo, hi, 0);
      odd[i] = split_phase(lo, hi, 1);
      odd_right[i] = _mm256_permutevar8x32_ps(odd[i], rot_right);
    }
#pragma GCC unroll 4
    for (int i = 0; i < NV; ++i) {  // block 0: [odd[i-1][7], odd[i][0..6]], zero left of the row
      _mm256_storeu_ps(to + 8 * i, _mm256_blend_ps(odd_right[i], i > 0 ? odd_right[i - 1] : zero, 0x01));
      _mm256_storeu_ps(to + block_stride + 8 * i, even[i]);
      _mm256_storeu_ps(to + 2 * block_stride + 8 * i, odd[i]);
    }
  }
}
#endif

void phase_blocks(const float* x, int32_t channels, int64_t plane, int32_t q, int32_t blocks, const int32_t* phase,
                  const int32_t* shift, float* out, int64_t block_stride, int64_t c_pitch) {
  const int32_t w = 2 * q;
#if defined(RN_ISA_LEVEL_avx2) || defined(RN_ISA_LEVEL_avx512)
  // (AVX2 code at the AVX-512 level too: the conv runs this path below AVX-512 only.)
  if (blocks == 3 && phase[0] == 1 && shift[0] == -1 && phase[1] == 0 && shift[1] == 0 && phase[2] == 1 &&
      shift[2] == 0) {
    if (q == 8) return phase_blocks_3x3_pad1<1, false>(x, channels, plane, q, out, block_stride, c_pitch);
    if (q == 16) return phase_blocks_3x3_pad1<2, false>(x, channels, plane, q, out, block_stride, c_pitch);
    if (q == 32) return phase_blocks_3x3_pad1<4, false>(x, channels, plane, q, out, block_stride, c_pitch);
    if (q < 8) return phase_blocks_3x3_pad1<1, true>(x, channels, plane, q, out, block_stride, c_pitch);
    if (q < 16) return phase_blocks_3x3_pad1<2, true>(x, channels, plane, q, out, block_stride, c_pitch);
    if (q < 24) return phase_blocks_3x3_pad1<3, true>(x, channels, plane, q, out, block_stride, c_pitch);
    if (q < 32) return phase_blocks_3x3_pad1<4, true>(x, channels, plane, q, out, block_stride, c_pitch);
  }
  bool small_shifts = true;
  for (int32_t b = 0; b < blocks; ++b) small_shifts = small_shifts && shift[b] >= -1 && shift[b] <= 1;
  if (small_shifts && q == 8)
    return phase_blocks_small_shifts<1>(x, channels, plane, blocks, phase, shift, out, block_stride, c_pitch);
  if (small_shifts && q == 16)
    return phase_blocks_small_shifts<2>(x, channels, plane, blocks, phase, shift, out, block_stride, c_pitch);
  if (small_shifts && q == 32)
    return phase_blocks_small_shifts<4>(x, channels, plane, blocks, phase, shift, out, block_stride, c_pitch);
#endif
  // Any shift: each vector loaded from its source columns 2 (j + shift) + phase ... (two
  // vectors' worth from 2 (j + shift) on), the ones outside the row masked off (a masked
  // load reads nothing there, so no padded copy of x is needed).
  for (int32_t blk = 0; blk < blocks; ++blk) {
    const int32_t a = phase[blk], e = shift[blk];
    for (int32_t c = 0; c < channels; ++c) {
      const float* src = x + c * plane;
      float* to = out + blk * block_stride + int64_t(c) * c_pitch;
      int32_t j = 0;
#if defined(RN_ISA_LEVEL_avx2) || defined(RN_ISA_LEVEL_avx512)
      for (; j + 8 <= q; j += 8) {
        const int32_t col = 2 * (j + e);  // source columns [col, col + 16)
        __m256 lo, hi;
        if (col >= 0 && col + 16 <= w) {
          lo = _mm256_loadu_ps(src + col);
          hi = _mm256_loadu_ps(src + col + 8);
        } else {
          auto inside = [&](int32_t from) {  // all-ones in lanes l with 0 <= from + l < w
            const __m256i cols = _mm256_add_epi32(_mm256_set1_epi32(from), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
            return _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_setzero_si256(), cols),
                                       _mm256_cmpgt_epi32(_mm256_set1_epi32(w), cols));
          };
          lo = _mm256_maskload_ps(src + col, inside(col));
          hi = _mm256_maskload_ps(src + col + 8, inside(col + 8));
        }
        _mm256_storeu_ps(to + j, split_phase(lo, hi, a));
      }
#endif
      for (; j < q; ++j) {
        const int32_t col = 2 * (j + e) + a;
        to[j] = col >= 0 && col < w ? src[col] : 0.0f;
      }
    }
  }
}

void unpack_c16(const float* in, const PackStrides& st, int32_t channels, int32_t rows, int32_t cols, int32_t p,
                int32_t q, int32_t row0, float* y) {
  const int32_t blocks = lane_blocks(channels);
  const int64_t plane = int64_t(p) * q;
  const int32_t valid_rows = p - row0 < rows ? p - row0 : rows;
  const int32_t valid_cols = q < cols ? q : cols;
  for (int32_t kb = 0; kb < blocks; ++kb) {
    const int32_t lanes = channels - kb * kLanes < kLanes ? channels - kb * kLanes : kLanes;
    for (int32_t r = 0; r < valid_rows; ++r) {
      const float* src = in + kb * st.block + r * st.row;
      float* dst = y + int64_t(kb) * kLanes * plane + int64_t(row0 + r) * q;
      int32_t c = 0;
      if (kChunk > 0 && lanes == kLanes) {
        for (; c + kChunk <= valid_cols; c += kChunk) unpack_chunk(src + c * st.col, st.col, dst + c, plane);
        if (kHalfChunk > 0 && c + kHalfChunk <= valid_cols) {
          unpack_half_chunk(src + c * st.col, st.col, dst + c, plane);
          c += kHalfChunk;
        }
        if (c < valid_cols && valid_cols >= kTailChunk) {  // as in pack_c16: a last chunk, overlapping
          const int32_t at = valid_cols - kTailChunk;
          if (kHalfChunk > 0)
            unpack_half_chunk(src + at * st.col, st.col, dst + at, plane);
          else
            unpack_chunk(src + at * st.col, st.col, dst + at, plane);
          c = valid_cols;
        }
        if (kShortChunks && c < valid_cols) {
          unpack_short_chunk(src + c * st.col, st.col, dst + c, plane, valid_cols - c);
          c = valid_cols;
        }
      }
      for (; c < valid_cols; ++c) {
        const float* s = src + c * st.col;
        for (int32_t l = 0; l < lanes; ++l) dst[l * plane + c] = s[l];
      }
    }
  }
}

void crelu_split(float* pos, int64_t count) {
  float* neg = pos + count;
  // !(v <= 0): NaN passes into both halves, as in the fused batch norm + CReLU
  // (the compiler vectorizes this loop at each level's width)
  for (int64_t i = 0; i < count; ++i) {
    const float v = pos[i];
    neg[i] = !(-v <= 0.0f) ? -v : 0.0f;
    pos[i] = !(v <= 0.0f) ? v : 0.0f;
  }
}

}  // namespace rn::RN_ISA_NS
