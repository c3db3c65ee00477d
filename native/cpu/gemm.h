// Arguments of the small-GEMM engine (gemm_kernels.cpp), shared by the
// convolution drivers. See gemm_kernels.cpp for the exact formula.
#pragma once

#include <algorithm>
#include <cstdint>

namespace rn {

// Prefetches up to three memory regions (the next image's inputs) a line at a time, in step with
// the GEMMs computing the current image: start() names the regions and the multiply-adds the
// GEMMs will do meanwhile; the GEMMs report theirs (GemmArgs::prefetch), and a line is issued
// per equal share of them. (Issued in slices between GEMM calls instead, a hundred lines and
// more at a time, the prefetches stalled the core on full miss buffers.) advance() is
// always_inline: as a call, GCC finds it free of side effects, prefetches being none to it,
// and deletes it.
struct PacedPrefetch {
  const char* region[3] = {nullptr, nullptr, nullptr};
  int64_t lines[3] = {0, 0, 0};
  int64_t total = 0;          // lines[0] + lines[1] + lines[2]
  int64_t line = 0;           // the next line, counted over region 0, then 1, then 2
  int64_t work_per_line = 1;  // multiply-adds between two prefetches
  int64_t credit = 0;         // multiply-adds reported since the last one

  void start(const float* a, int64_t a_floats, const float* b, int64_t b_floats, int64_t work,
             const float* c = nullptr, int64_t c_floats = 0) {
    const float* r[3] = {a, b, c};
    const int64_t f[3] = {a_floats, b_floats, c_floats};
    total = 0;
    for (int i = 0; i < 3; ++i) {
      region[i] = reinterpret_cast<const char*>(r[i]);
      lines[i] = r[i] ? (f[i] * int64_t(sizeof(float)) + 63) / 64 : 0;
      total += lines[i];
    }
    line = 0;
    credit = 0;
    work_per_line = std::max<int64_t>(1, work / std::max<int64_t>(1, total));
  }
  void stop() { start(nullptr, 0, nullptr, 0, 0); }
  // Reports `work` multiply-adds done: issues the lines due by now. (With `work` at start() at
  // least the lines, every line is issued by the time all of it is reported; a GEMM smaller
  // than its prefetch leaves the rest to the hardware.)
  __attribute__((always_inline)) inline void advance(int64_t work) {
    for (credit += work; credit >= work_per_line && line < total; credit -= work_per_line, ++line)
      __builtin_prefetch(address(line), 0, 3);
  }
  // Where line i starts: region 0's lines, then region 1's, then region 2's.
  const char* address(int64_t i) const {
    if (i < lines[0]) return region[0] + 64 * i;
    i -= lines[0];
    return i < lines[1] ? region[1] + 64 * i : region[2] + 64 * (i - lines[1]);
  }
};

struct GemmArgs {
  int64_t m = 0;            // rows of C (A is read as broadcast scalars)
  int64_t n = 0;            // columns of C, a multiple of 16 (B is read as vectors)
  int32_t nseg = 1;         // segments summed into the same C
  int32_t seg_len = 0;      // reduction steps per segment
  const int64_t* a_off = nullptr;  // per-segment offsets into A / B (nullptr: 0)
  const int64_t* b_off = nullptr;
  const float* a = nullptr;
  int64_t lda = 0;          // A stride between rows of C
  int64_t a_step = 1;       // A stride per reduction step
  const float* b = nullptr;
  int64_t b_step = 0;       // B stride per reduction step (columns are contiguous)
  float* c = nullptr;
  int64_t ldc = 0;
  bool accumulate = false;  // C += instead of C =
  // C written with non-temporal stores (past the caches, no read of the lines first): every C
  // vector aligned to the ISA's vector width; the caller fences (_mm_sfence) before C is read
  // by another thread. For results too large to stay in cache.
  bool stream = false;
  // Columns come in blocks of 16; block b of B / C starts b * b_block / c_block
  // floats after block 0 (16: plain contiguous columns). Lets one register tile
  // span, say, two image rows that are not adjacent in memory.
  int64_t b_block = 16;
  int64_t c_block = 16;
  // Row groups, for gemm_bcast_grouped only: rows 4q .. 4q+3 of the tile read A from
  // a + a_grp[q] + (i % 4) * lda (plus the segment's offset) and write C at
  // c + c_grp[q] + (i % 4) * ldc, in place of a + i * lda and c + i * ldc. Lets one
  // register tile hold, say, three filter taps of four channels.
  const int64_t* a_grp = nullptr;
  const int64_t* c_grp = nullptr;
  // Told of each register tile's multiply-adds segment by segment (gemm_bcast and
  // gemm_bcast_grouped: m * n * seg_len per segment over a call), null: no prefetches.
  PacedPrefetch* prefetch = nullptr;
};

// Lanes of the channel-blocked layouts the conv kernels pack into. (static:
// this header is also compiled into the per-ISA kernel files, see ResnormIsa.cmake.)
constexpr int kLanes = 16;
static inline int32_t lane_blocks(int32_t channels) { return (channels + kLanes - 1) / kLanes; }

// Where lane block cb, row r and column c of a packed (16-lane) layout start, in
// floats: cb*block + r*row + c*col; the 16 lanes follow contiguously.
struct PackStrides {
  int64_t block, row, col;
  // [blocks][rows][cols][16]
  static PackStrides block_major(int64_t rows, int64_t cols) { return {rows * cols * kLanes, cols * kLanes, kLanes}; }
  // [rows][cols][blocks*16]
  static PackStrides pixel_major(int64_t cols, int32_t blocks) {
    return {kLanes, cols * blocks * kLanes, int64_t(blocks) * kLanes};
  }
};

// A fused conv epilogue on channel-blocked output (epilogue_c16):
//   u = scale * acc + bias (per channel; scale16/bias16 lane-padded, null: 1 / 0)
//   act NONE: out = u; RELU: out = max(u, 0); CRELU: out = max(u, 0), neg = max(-u, 0)
//   then out (and neg) = post_scale * out + post_shift.
struct EpilogueArgs {
  const float* scale16 = nullptr;
  const float* bias16 = nullptr;
  int32_t act = 0;  // RN_ACT_*
  float post_scale = 1.0f;
  float post_shift = 0.0f;
};

}  // namespace rn
