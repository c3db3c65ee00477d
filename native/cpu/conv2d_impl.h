// Internal interface between the conv2d entry points (conv2d.cpp) and the
// algorithm files (conv2d_im2col.cpp, conv2d_winograd.cpp).
#pragma once

#include <algorithm>
#include <atomic>

#include "context_impl.h"
#include "gemm.h"
#include "resnorm/conv2d.h"

namespace rn::conv {

inline int64_t in_plane(const rn_conv2d_desc& d) { return int64_t(d.h) * d.w; }
inline int64_t out_plane(const rn_conv2d_desc& d) { return int64_t(d.p) * d.q; }
inline int64_t filter_size(const rn_conv2d_desc& d) { return int64_t(d.c) * d.r * d.s; }

// A fused forward epilogue (rn_conv2d_forward_epilogue), as the algorithms get it:
// args for epilogue_c16 (lane-padded scale/bias), the unpadded vectors for the
// im2col path, and where each image's output starts in y.
struct Epilogue {
  EpilogueArgs args;
  const float* scale = nullptr;  // [k] or null
  const float* bias = nullptr;   // [k] or null
  bool crelu() const { return args.act == RN_ACT_CRELU; }
  // floats from one image of y to the next: k (or 2k with CReLU) planes
  int64_t image(const rn_conv2d_desc& d) const { return (crelu() ? 2 : 1) * int64_t(d.k) * d.p * d.q; }
};

// The entry points' work without the checks and the context lock, for ops built
// on the conv (weightnorm_conv.cpp): validate with check(), then call inside one
// rn_guarded. The algorithm is resolved as rn_conv2d_resolve_algo says.
int check(const rn_conv2d_desc* d);
int forward(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* w, const float* bias, float* y,
            const Epilogue* ep);
int forward_epilogue(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* w,
                     const rn_conv2d_epilogue& e, float* y);
// The algorithms' form of e in *ep (lane-padded copies of scale and bias in the context's
// channel_params block, valid until the next call that takes it); false when e is only a
// bias, which the plain conv adds (pass e.bias as the conv's bias, no epilogue).
bool prepare_epilogue(rn_context* ctx, const rn_conv2d_desc& d, const rn_conv2d_epilogue& e, Epilogue* ep);
int backward_data(rn_context* ctx, const rn_conv2d_desc& d, const float* dy, const float* w, float* dx);
int backward_filter(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* dy, float* dw,
                    float* dbias);

// The epilogue on one image's NCHW output planes (k of them, pq each) in place,
// the CReLU negative half written k planes further on.
void epilogue_planes(const rn_conv2d_desc& d, const Epilogue& ep, float* y_image);

// True for the shapes the Winograd F(4x4,3x3) path handles: 3x3, stride 1.
bool winograd_applicable(const rn_conv2d_desc& d);

// Whether the GEMMs' B operands with more than 16 columns (the direct convs' regrouped weights,
// backward-filter's copy of dy, Winograd's transformed filters) are stored in 16-column blocks:
// below AVX-512, whose 16-column register tiles then read consecutive lines of them in each
// block's pass (TapWeights in conv2d_direct.cpp). AVX-512's 32-column tiles read two blocks a step.
inline bool b_in_column_blocks(const rn_context* ctx) { return ctx->isa != RN_ISA_AVX512; }

// Whether the conv kernels prefetch the next image's (or block's) input while computing the
// current one: measured on Zen 3 (AVX2 level) only. On the AVX-512 machine the kernels were tuned
// on, a prefetch of the next image measured no faster (see for_each_image in conv2d_direct.cpp),
// so that level goes without until measured there.
inline bool prefetches_next_image(const rn_context* ctx) { return ctx->isa != RN_ISA_AVX512; }

// Sum of count floats (vectorized partial sums, combined in double).
double plane_sum(const float* v, int64_t count);

// dbias[k] = sum of dy over n, p, q (in double), split over k across the pool.
void bias_gradient(rn_context* ctx, const rn_conv2d_desc& d, const float* dy, float* dbias);

// Backward-filter's deterministic split of its work: `count()` fixed contiguous ranges
// ("groups") of work units (images, Winograd row blocks), one accumulator each, that
// the threads take dynamically (an atomic counter) and that are then summed in group
// order (sum_group_accumulators), so dW depends only on the inputs and the thread
// count, never on which thread took which range. The ranges shrink toward the end
// (guided: each about a 2*threads-th of what remains, never under min_units), so the
// threads finish close together: with equal ranges a thread could wait up to a whole
// range at the end (measured: one thread idle ~12 % of a 2-thread stride-2 16->32
// filter gradient with eight ranges of 16 images). min_units (callers size it so a
// group's work outweighs summing its accumulator) also bounds the count.
class WorkGroups {
 public:
  static constexpr int kMaxGroups = 64;
  WorkGroups(int64_t units, int threads, int64_t min_units) {
    const int64_t share = 2 * int64_t(threads > 0 ? threads : 1);
    const int64_t least = min_units > 0 ? min_units : 1;
    bounds_[0] = 0;
    int64_t at = 0;
    while (at < units) {
      int64_t size = (units - at + share - 1) / share;
      if (size < least) size = least;
      // the last group takes whatever is left rather than leave a sliver (or pass kMaxGroups)
      if (units - at - size < least || count_ == kMaxGroups - 1) size = units - at;
      at += size;
      bounds_[++count_] = at;
    }
  }
  int count() const { return count_; }
  int64_t begin(int group) const { return bounds_[group]; }
  int64_t end(int group) const { return bounds_[group + 1]; }

  // min_units for groups whose accumulators hold acc_floats floats, with work_per_unit
  // multiply-adds per unit: summing a float costs about as much as ~32 of the kernels'
  // multiply-adds on this kind of machine, and a group should do at least twice the
  // work of summing its accumulator; and no group smaller than units / (32 * threads)
  // (a 32nd of a thread's share: a tail that short idles a thread ~1.5 % on average).
  static int64_t min_units_for(int64_t units, int threads, int64_t acc_floats, double work_per_unit) {
    const int64_t by_tail = units / (32 * int64_t(threads > 0 ? threads : 1));
    const int64_t by_sum = work_per_unit > 0 ? int64_t(2.0 * 32.0 * double(acc_floats) / work_per_unit) + 1 : 1;
    return by_tail > by_sum ? by_tail : by_sum;
  }

 private:
  int64_t bounds_[kMaxGroups + 1];
  int count_ = 0;
};

// Hands the work units [0, count) (images, Winograd blocks) to `threads` threads, each unit
// once: thread t takes its own contiguous share from the front, one unit at a time; a thread
// whose share is done takes from the back of the share with the most units left. With
// threads = 1 (or more than kMaxShares) there is one share, taken front to back by every
// thread: one counter, units in increasing order. With one counter for all threads, they
// would write neighbouring images of the output at the same time, and each core's
// prefetchers, running on past the end of the image it writes, pull the lines of the next
// image from the core writing those (as between scratch regions, kRegionGuardBytes); with
// shares the threads meet once or twice a call. Still dynamic: the VM's two cores are rarely
// equally fast. Zen 3 VM, batch 128, 2 threads, alternating processes, the 3x3/2 transitions'
// forward and backward-data, new / old time: 0.946-0.990 while the vCPUs sat on different L3s,
// 0.974-1.015 with them on one.
class WorkShares {
 public:
  static constexpr int kMaxShares = 64;

  WorkShares(int32_t count, int threads) : shares_(threads <= kMaxShares ? std::max(threads, 1) : 1) {
    for (int s = 0; s < shares_; ++s)
      share_[s].ends.store(pack(int32_t(int64_t(count) * s / shares_), int32_t(int64_t(count) * (s + 1) / shares_)),
                           std::memory_order_relaxed);
  }
  WorkShares(const WorkShares&) = delete;
  WorkShares& operator=(const WorkShares&) = delete;

  // The next image for thread tid, or -1 when every image is taken.
  int32_t claim(int tid) {
    if (shares_ == 1) return take(share_[0], true);
    const int32_t own = take(share_[tid], true);
    if (own >= 0) return own;
    for (;;) {  // the share with the most left, from its back
      int best = -1;
      int32_t most = 0;
      for (int s = 0; s < shares_; ++s) {
        const uint64_t e = share_[s].ends.load(std::memory_order_relaxed);
        if (hi(e) - lo(e) > most) most = hi(e) - lo(e), best = s;
      }
      if (best < 0) return -1;
      const int32_t n = take(share_[best], false);
      if (n >= 0) return n;
    }
  }

 private:
  struct alignas(64) Share {  // [lo, hi) left: lo in the low half, hi in the high (a line each: claims do not share lines)
    std::atomic<uint64_t> ends{0};
  };
  static uint64_t pack(int32_t l, int32_t h) { return uint64_t(uint32_t(l)) | (uint64_t(uint32_t(h)) << 32); }
  static int32_t lo(uint64_t e) { return int32_t(uint32_t(e)); }
  static int32_t hi(uint64_t e) { return int32_t(uint32_t(e >> 32)); }
  // The front (or back) image of share s, or -1 when it is empty.
  static int32_t take(Share& s, bool front) {
    uint64_t e = s.ends.load(std::memory_order_relaxed);
    for (;;) {
      const int32_t l = lo(e), h = hi(e);
      if (l >= h) return -1;
      const uint64_t want = front ? pack(l + 1, h) : pack(l, h - 1);
      if (s.ends.compare_exchange_weak(e, want, std::memory_order_relaxed)) return front ? l : h - 1;
    }
  }

  const int shares_;
  Share share_[kMaxShares];
};

// One thread's turn at the units of a WorkShares (Winograd's blocks of tile rows, the filter
// gradients' groups). A thread that prefetches the input of its next unit claims that unit
// before finishing the current one (claim_ahead); next() then returns it instead of taking
// another. Both return `count` when none is left. (For the filter gradients, which thread runs
// a group changes no bit: the groups are summed in group order.)
class ShareClaims {
 public:
  ShareClaims(WorkShares& shares, int tid, int64_t count) : shares_(shares), tid_(tid), count_(count) {}
  int64_t claim_ahead() { return ahead_ = take(); }
  int64_t next() {
    const int64_t unit = ahead_ >= 0 ? ahead_ : take();
    ahead_ = -1;
    return unit;
  }

 private:
  int64_t take() {
    const int32_t unit = shares_.claim(tid_);
    return unit >= 0 ? unit : count_;
  }
  WorkShares& shares_;
  const int tid_;
  const int64_t count_;
  int64_t ahead_ = -1;
};

// Backward-filter's deterministic reduction: adds the accumulators of groups 1 .. groups-1
// (floats each, acc_of(group) gives one) into group 0's, in group order, and returns it.
template <class AccOf>
float* sum_group_accumulators(ThreadPool& pool, int groups, int64_t floats, const AccOf& acc_of) {
  float* total = acc_of(0);
  if (groups > 1) {
    pool.parallel_for(floats, 4096, [&](int64_t b, int64_t e, int) {
      for (int group = 1; group < groups; ++group) {
        const float* a = acc_of(group);
        for (int64_t i = b; i < e; ++i) total[i] += a[i];
      }
    });
  }
  return total;
}

// im2col + GEMM: every shape. 1x1 stride-1 unpadded convs skip the im2col copy.
int im2col_forward(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* w,
                   const float* bias, float* y, const Epilogue* ep = nullptr);
int im2col_backward_data(rn_context* ctx, const rn_conv2d_desc& d, const float* dy, const float* w,
                         float* dx);
int im2col_backward_filter(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* dy,
                           float* dw, float* dbias);

// Winograd F(4x4,3x3): 3x3, stride 1 (winograd_applicable). With crelu_input, x holds
// d.c/2 channels and the conv reads [relu(x), relu(-x)], formed as each tile row is
// packed; only where winograd_crelu_input_applicable (d.c/2 a multiple of 16).
bool winograd_crelu_input_applicable(const rn_conv2d_desc& d);
int winograd_forward(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* w,
                     const float* bias, float* y, const Epilogue* ep = nullptr, bool crelu_input = false);
// With crelu_u (x of a CReLU-input conv: d.c/2 channels, winograd_crelu_input_applicable), dx is
// the gradient with respect to crelu_u: dX[:, c]·[u > 0] - dX[:, c + C]·[u < 0] (d.c/2 channels),
// formed from each tile row's 2C-channel gradient in cache.
int winograd_backward_data(rn_context* ctx, const rn_conv2d_desc& d, const float* dy, const float* w,
                           float* dx, const float* crelu_u = nullptr);
int winograd_backward_filter(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* dy,
                             float* dw, float* dbias, bool crelu_input = false);

// a / b rounded toward minus infinity (b > 0).
inline int32_t floor_div(int32_t a, int32_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// A half-open range of output indices or of taps.
struct Span {
  int32_t lo, hi;
  int32_t size() const { return hi - lo; }
  bool has(int32_t i) const { return i >= lo && i < hi; }
};

// The output indices o < out (rows or columns) all of whose taps read inside the input:
// o*stride - pad >= 0 and o*stride - pad + taps - 1 <= in - 1. (pad may be negative:
// with taps = 1 and pad = pad - t, the outputs whose tap t reads inside.)
inline Span inside_outputs(int32_t out, int32_t in, int32_t taps, int32_t stride, int32_t pad) {
  const int32_t lo = std::min(out, std::max(0, -floor_div(-pad, stride)));  // ceil(pad / stride)
  const int32_t hi = std::min(out, floor_div(in - taps + pad, stride) + 1);
  return {lo, std::max(lo, hi)};
}

// Taps of a direct pass that broadcasts straight from an NCHW image plane (in_h x in_w):
// output (o, u) reads, for tap i, (o * stride_r + row[i], u * stride_c + col[i]), with the
// weights at b_at[i]; the taps that read outside the plane are left out of that output's
// sum, which is what zero padding amounts to. The extremes of row[] and col[] come first:
// they decide whether to read this way and size the scratch the arrays then go in.
struct PlaneTaps {
  int32_t count = 0;
  int32_t stride_r = 1, stride_c = 1;
  int32_t in_h = 0, in_w = 0;
  int32_t row_lo = 0, row_hi = 0, col_lo = 0, col_hi = 0;  // extremes of row[] and col[]
  int32_t* row = nullptr;
  int32_t* col = nullptr;
  int64_t* b_at = nullptr;

  void extend(int32_t r, int32_t c) {  // one more tap, into the extremes
    row_lo = count == 0 ? r : std::min(row_lo, r);
    row_hi = count == 0 ? r : std::max(row_hi, r);
    col_lo = count == 0 ? c : std::min(col_lo, c);
    col_hi = count == 0 ? c : std::max(col_hi, c);
    ++count;
  }
  // The outputs along one axis whose every tap reads inside (all of them without taps).
  Span inside(int32_t out, bool rows) const {
    if (count == 0) return {0, out};
    return rows ? inside_outputs(out, in_h, row_hi - row_lo + 1, stride_r, -row_lo)
                : inside_outputs(out, in_w, col_hi - col_lo + 1, stride_c, -col_lo);
  }
  // At least half the rows and half the columns of an out_rows x out_cols grid read inside
  // with every tap, so that the GEMMs of the border outputs stay few.
  bool mostly_inside(int32_t out_rows, int32_t out_cols) const {
    const Span r = inside(out_rows, true), c = inside(out_cols, false);
    return r.size() > 0 && c.size() > 0 && 2 * r.size() >= out_rows && 2 * c.size() >= out_cols;
  }
};

// The forward's taps over x (extremes only).
inline PlaneTaps forward_plane_taps(const rn_conv2d_desc& d) {
  PlaneTaps pt;
  pt.stride_r = d.stride_h;
  pt.stride_c = d.stride_w;
  pt.in_h = d.h;
  pt.in_w = d.w;
  pt.extend(-d.pad_h, -d.pad_w);  // the first and last taps span the extremes
  pt.extend(d.r - 1 - d.pad_h, d.s - 1 - d.pad_w);
  pt.count = d.r * d.s;  // (extend counted only those two)
  return pt;
}

// Backward-data of input phase (ah, aw) (input pixels ih = i*sh + ah, iw = j*sw + aw):
// calls fn(i, t, dr, ds) for the phase's i-th tap t = r*S + s, which reads dy at
// (i + dr, j + ds). Returns the number of taps (0 when the stride skips the phase).
template <class Fn>
int32_t for_each_phase_tap(const rn_conv2d_desc& d, int32_t ah, int32_t aw, const Fn& fn) {
  int32_t count = 0;
  for (int32_t r = 0; r < d.r; ++r) {
    if ((ah + d.pad_h - r) % d.stride_h != 0) continue;
    const int32_t dr = floor_div(ah + d.pad_h - r, d.stride_h);
    for (int32_t s = 0; s < d.s; ++s) {
      if ((aw + d.pad_w - s) % d.stride_w != 0) continue;
      fn(count++, r * d.s + s, dr, floor_div(aw + d.pad_w - s, d.stride_w));
    }
  }
  return count;
}

// Input pixels of phase (ah, aw) per column / per row.
inline int32_t phase_cols(const rn_conv2d_desc& d, int32_t aw) { return (d.w - aw + d.stride_w - 1) / d.stride_w; }
inline int32_t phase_rows(const rn_conv2d_desc& d, int32_t ah) { return (d.h - ah + d.stride_h - 1) / d.stride_h; }

// Backward-data phase (ah, aw)'s taps over dy, a stride-1 correlation (extremes only).
inline PlaneTaps backward_data_phase_taps(const rn_conv2d_desc& d, int32_t ah, int32_t aw) {
  PlaneTaps pt;
  pt.in_h = d.p;
  pt.in_w = d.q;
  for_each_phase_tap(d, ah, aw, [&](int32_t, int32_t, int32_t dr, int32_t ds) { pt.extend(dr, ds); });
  return pt;
}

// The ways the direct kernels read their broadcast operand, decided per shape (inline for
// the tests, which cover each way):
// - forward puts the output pixels in the lanes for stride-2 columns whose output rows are
//   whole vectors and read every input column (W = 2Q): x's rows split into their two
//   column phases, the weights broadcast, y's NCHW rows written straight from the tile
//   (below AVX-512: measured on Zen 3's AVX2; the AVX-512 level keeps the NCHW reads it was
//   tuned with, not measured against this path); else it broadcasts x, straight from its
//   NCHW planes where most outputs read inside the image, else from a zero-padded copy of
//   each image;
// - backward-data puts the input pixels in the lanes where a stride phase's rows are whole
//   vectors (dy rows are then the vectors, from a zero-padded copy); else it broadcasts dy,
//   straight from NCHW where every phase reads mostly inside, else from a padded copy.
constexpr int32_t kMaxPixelLaneFilterCols = 32;  // (the forward's per-column tables are fixed arrays)
inline bool direct_forward_in_pixel_lanes(const rn_conv2d_desc& d, int isa) {
  return isa != RN_ISA_AVX512 && d.stride_w == 2 && d.q % kLanes == 0 && d.w == 2 * d.q &&
         d.s <= kMaxPixelLaneFilterCols;
}

// The column blocks of a stride-2 forward that reads x split by column phase (the pixel lanes'
// phase blocks, the phase planes' columns): input column 2q + s - pad_w = 2 (q + shift) + phase
// for filter column s, the filter columns with the same (phase, shift) sharing a block
// (`phase_blocks` in isa_kernels.h copies a row into them). 3 blocks for 3x3 pad 1.
struct PhaseColumnBlocks {
  int32_t blocks = 0;
  int32_t phase[kMaxPixelLaneFilterCols] = {}, shift[kMaxPixelLaneFilterCols] = {};
  int32_t of_col[kMaxPixelLaneFilterCols] = {};  // filter column s -> its block
  explicit PhaseColumnBlocks(const rn_conv2d_desc& d) {
    for (int32_t s = 0; s < d.s && s < kMaxPixelLaneFilterCols; ++s) {
      const int32_t a = (s - d.pad_w) & 1, e = floor_div(s - d.pad_w, 2);
      int32_t b = 0;
      while (b < blocks && (phase[b] != a || shift[b] != e)) ++b;
      if (b == blocks) {
        phase[b] = a;
        shift[b] = e;
        ++blocks;
      }
      of_col[s] = b;
    }
  }
};

// The layout of the stride-2 forward's "phase planes" (forward_phase_planes in conv2d_direct.cpp):
// x copied once per image into planes of Q-column rows, one per (column block, row phase), so
// that every tap reads output pixel (p, q)'s operand at that tap's offset + p * Q + q, for all
// P * Q pixels alike: one GEMM of P * Q rows an image, no border GEMMs.
//   columns: the PhaseColumnBlocks;
//   rows:    input row 2p + r - pad_h = 2 (p + e) + a; plane row j of row phase a holds input
//            row 2 (j + row_lo[a]) + a, so tap r reads plane row p + e - row_lo[a].
// Layout [block][row phase][c][rows][Q] (zero where the input row or column is outside x).
// Floats that phase_blocks may write past the end of a block row whose length is not a whole
// number of 8-lane vectors (isa_kernels.h).
constexpr int32_t kPhaseRowSlack = 8;

struct PhasePlanes {
  PhaseColumnBlocks cols;
  bool row_phase_used[2] = {false, false};
  int32_t row_lo[2] = {0, 0};  // per row phase: the lowest row shift e of its taps
  int32_t rows = 0;            // plane rows: P + the widest spread of row shifts in one phase
  int64_t q = 0, c_pitch = 0, row_phase_stride = 0, block_stride = 0, floats = 0;

  explicit PhasePlanes(const rn_conv2d_desc& d) : cols(d) {
    q = d.q;
    int32_t row_hi[2] = {0, 0};
    for (int32_t r = 0; r < d.r; ++r) {
      const int32_t a = (r - d.pad_h) & 1, e = floor_div(r - d.pad_h, 2);
      row_lo[a] = row_phase_used[a] ? std::min(row_lo[a], e) : e;
      row_hi[a] = row_phase_used[a] ? std::max(row_hi[a], e) : e;
      row_phase_used[a] = true;
    }
    int32_t spread = 0;
    for (int a = 0; a < 2; ++a)
      if (row_phase_used[a]) spread = std::max(spread, row_hi[a] - row_lo[a]);
    rows = d.p + spread;
    // phase_blocks may write past a row's end where q is not a multiple of 8 (kPhaseRowSlack).
    c_pitch = int64_t(rows) * q + (q % 8 != 0 ? kPhaseRowSlack : 0);
    row_phase_stride = int64_t(d.c) * c_pitch;
    block_stride = 2 * row_phase_stride;
    floats = cols.blocks * block_stride;
  }
  // Where tap (r, s) reads output pixel (0, 0)'s operand of channel 0.
  int64_t tap_offset(const rn_conv2d_desc& d, int32_t r, int32_t s) const {
    const int32_t a = (r - d.pad_h) & 1, e = floor_div(r - d.pad_h, 2);
    return cols.of_col[s] * block_stride + a * row_phase_stride + int64_t(e - row_lo[a]) * q;
  }
  // The input row plane row j of row phase a holds (maybe outside x).
  int32_t input_row(int32_t a, int32_t j) const { return 2 * (j + row_lo[a]) + a; }
};

// Phase planes of at most this size (per thread; the weights stay in L2 beside them).
constexpr int64_t kPhasePlaneMaxBytes = int64_t(256) << 10;
// Forward in phase planes: stride-2 rows that read every input column (W = 2Q), below AVX-512
// (the channel-lane forward there was tuned with the per-row GEMMs), where the planes are small
// enough; the forward then takes this path before the pixel lanes. (At 16->32 on 32x32, where
// both apply, the two ran alike with the batch in L2 and the phase planes faster at batch 128:
// best / medians of six alternations on two threads, 2.16 / 2.3-2.7 ms against 2.36 / 2.5-3.5.)
inline bool direct_forward_in_phase_planes(const rn_conv2d_desc& d, int isa) {
  if (isa == RN_ISA_AVX512 || d.stride_h != 2 || d.stride_w != 2 || d.w != 2 * d.q || d.s > kMaxPixelLaneFilterCols)
    return false;
  return int64_t(sizeof(float)) * PhasePlanes(d).floats <= kPhasePlaneMaxBytes;
}
// Backward-filter reads x from the forward's phase planes (copied per image) where their rows are
// short: each tap's GEMM then sums an image's P * Q pixels in one segment, where from NCHW it
// runs a segment per output row of Q pixels, each with its own set-up. Zen 3, 2 threads, batch
// 128, bench_conv_ab (calls alternating), planes / NCHW time, medians of three rounds: Q = 4
// (64->128 @8x8) 0.93, Q = 7 (32->64 @14x14) 0.95, Q = 8 (32->64 @16x16) 0.93, 0.93, 0.95,
// (64->128 @16x16) 0.90; but Q = 14 (16->32 @28x28) 1.06 and Q = 16 (16->32 @32x32) 1.01, 1.03,
// 1.02: with 16-pixel rows the copy costs more than the segments save.
constexpr int32_t kFilterPlaneMaxCols = 8;
inline bool direct_backward_filter_in_phase_planes(const rn_conv2d_desc& d, int isa) {
  return d.q <= kFilterPlaneMaxCols && direct_forward_in_phase_planes(d, isa);
}
inline bool direct_forward_reads_nchw(const rn_conv2d_desc& d) { return forward_plane_taps(d).mostly_inside(d.p, d.q); }
inline bool direct_backward_data_in_pixel_lanes(const rn_conv2d_desc& d) {
  return d.stride_w <= 2 && d.w % (kLanes * d.stride_w) == 0;
}
inline bool direct_backward_data_reads_nchw(const rn_conv2d_desc& d) {
  if (direct_backward_data_in_pixel_lanes(d)) return false;
  for (int32_t ah = 0; ah < std::min(d.stride_h, d.h); ++ah)
    for (int32_t aw = 0; aw < std::min(d.stride_w, d.w); ++aw)
      if (!backward_data_phase_taps(d, ah, aw).mostly_inside(phase_rows(d, ah), phase_cols(d, aw))) return false;
  return true;
}

// - backward-filter runs a 3x3 filter's three row taps in one register tile (four
//   channels of each) where its per-tap tiles would have at most 8 rows (the channels) and
//   the output channels fill 32-lane blocks (AVX-512 only; the other levels run the taps apart).
// Backward-filter sums the images of a chunk in one GEMM call per tap where an image has fewer
// output pixels than this (a chunk of at least this many pixels; conv2d_direct.cpp).
constexpr int64_t kFilterChunkPixels = 64;
inline bool direct_backward_filter_groups_row_taps(const rn_conv2d_desc& d) {
  const int32_t plain_tiles = (d.c + 11) / 12, plain_rows = (d.c + plain_tiles - 1) / plain_tiles;
  return d.r == 3 && d.s == 3 && d.c % 4 == 0 && plain_rows <= 8 && lane_blocks(d.k) % 2 == 0;
}

// Direct convolution on channel-blocked data: every shape.
int direct_forward(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* w,
                   const float* bias, float* y, const Epilogue* ep = nullptr);
int direct_backward_data(rn_context* ctx, const rn_conv2d_desc& d, const float* dy, const float* w,
                         float* dx);
int direct_backward_filter(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* dy,
                           float* dw, float* dbias);

}  // namespace rn::conv
