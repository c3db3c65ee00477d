// conv2d by direct convolution on channel-blocked data: any kernel size, stride
// and padding, all three directions, with the shared broadcast micro-kernel
// (gemm_kernels.cpp) doing every multiply-add.
//
// Forward, below AVX-512, puts the output pixels in the lanes where its stride-2 output rows
// are whole vectors (forward_pixel_lanes: weights broadcast, x from a ring of rows split into
// column phases, y's NCHW rows as the result), and reads x from "phase planes" where shorter
// stride-2 rows read every input column (forward_phase_planes: one GEMM of all the image's
// pixels). Otherwise it reads its broadcast operand straight from the NCHW input, with separate
// GEMMs for the border pixels whose taps reach into the padding (or, for shapes that
// are mostly border, from a zero-padded "row-planar" copy, [row][channel][col]), and
// produces pixel-major results with the channels in 16-lane blocks
// ([row][col][C16]), which one register-transpose pass turns back into NCHW.
// Backward-filter broadcasts x from its NCHW planes (or, for stride-2 output rows of up to 8 pixels
// below AVX-512, from the forward's phase planes: one segment per image and tap, not per output
// row) and reads dy from a copy with the output channels in 16-lane blocks (block-major, or
// pixel-major at AVX-512).
// Backward-data puts the input pixels in the lanes when its rows are whole vectors
// (backward_data_pixel_lanes: weights broadcast, dy rows as the vectors from a padded
// copy, dx rows as the result), else the channels like forward, broadcasting dy from
// NCHW in the same border GEMMs (or from a padded copy where the phases are mostly border).
//
//   forward:  for each output row p, C[q][k] = sum over taps (r, s) and channels c
//             of x[c][p*sh + r][q*sw + s] * W[r][s][c][k]: one GEMM, one segment per tap.
//   backward-data: input pixels split by phase (ih mod sh, iw mod sw); each phase is
//             a stride-1 correlation of dy with the taps of that phase, written
//             straight into its interleaved place (GEMM row stride sw pixels).
//   backward-filter: per tap (r, s), dW^T[c][k] += sum over output pixels of
//             x[c][p*sh + r][q*sw + s] * dy[p][q][k]: one segment per output row, the
//             rows and columns whose tap falls in the padding left out.
#include <algorithm>
#include <cstring>

#include <immintrin.h>

#include "conv2d_impl.h"
#include "isa_kernels.h"

namespace rn::conv {

namespace {

struct Geometry {
  const rn_conv2d_desc& d;
  int32_t cb, kb, c16, k16;
  explicit Geometry(const rn_conv2d_desc& desc)
      : d(desc), cb(lane_blocks(desc.c)), kb(lane_blocks(desc.k)), c16(cb * kLanes), k16(kb * kLanes) {}
  int32_t taps() const { return d.r * d.s; }
  // padded input extent the forward and filter passes read, from (-pad_h, -pad_w)
  int32_t in_rows() const { return (d.p - 1) * d.stride_h + d.r; }
  int32_t in_cols() const { return (d.q - 1) * d.stride_w + d.s; }
};

// Floats between the rows of a row-planar pack holding `cols` columns: a whole number of
// vectors, so pack_planar stores whole lines (its peel and tail loops and its stores split
// across lines cost more than the copy: 12-16 % of a stride-2 conv before).
int32_t planar_pitch(int32_t cols) { return (cols + kLanes - 1) / kLanes * kLanes; }

// The layout of weights regrouped tap-major (tap_major_weights) for GEMMs that read them as their
// B operand: `rows` rows a tap plane, `cols` columns, in whole rows ([tap][row][cols]) or, with
// column_blocks (cols a multiple of 16), block by block ([col / 16][tap][row][16]), so that a
// GEMM pass over one 16-column block (the AVX2 tile's width) reads consecutive lines, not one
// line in every cols / 16 (such a stride maps the pass onto that fraction of L1's sets: at 32->64
// the 18 KiB a pass reads would have 8 KiB of L1 to itself). Zen 3, 2 threads, batch 128,
// forward, medians of four to six alternations, ms: 3x3/2 32->64 @16x16 3.14 -> 2.99 (8 images in
// L2 on one thread 0.303 -> 0.272), 64->128 @16x16 11.2 -> 9.1, 128->256 @8x8 15.6 -> 13.0,
// 64->128 @56x56 at batch 32 38.9 -> 34.2. AVX-512's 32-column tiles read two blocks a step.
struct TapWeights {
  bool column_blocks;
  int32_t taps, rows, cols;
  int64_t tap_offset(int32_t t) const { return int64_t(t) * rows * (column_blocks ? kLanes : cols); }
  int64_t b_step() const { return column_blocks ? kLanes : cols; }  // from one row to the next
  int64_t b_block() const { return column_blocks ? int64_t(taps) * rows * kLanes : kLanes; }
  int64_t offset(int32_t t, int32_t row, int32_t col) const {
    return tap_offset(t) + row * b_step() + col / kLanes * b_block() + col % kLanes;
  }
};

// w[k][c][r][s] regrouped tap-major for the GEMMs, zero in the lane padding, laid out as `layout`
// says (its rows and columns at least w's):
// k_rows = false: c rows, k columns, out[layout.offset(t, c, k)];
// k_rows = true:  k rows, c columns, out[layout.offset(t, k, c)].
// A block of 16 columns at a time, all taps: it reads the block's filters, each a few lines of
// w (its taps contiguous), and writes one line of each tap plane. (Writing in w's order spread
// each output line's stores over the whole copy: at 32->64, 11 % of a forward with 8 images;
// writing each tap plane in turn re-read all of w per tap: at 128->256, 1.2 MB from L3 nine
// times, 28 % of a forward with 8 images.)
// Split over the pool by plane rows where it is large (the 1.2 MB of a 128->256 conv).
void tap_major_weights(ThreadPool& pool, const rn_conv2d_desc& d, const float* w, bool k_rows,
                       const TapWeights& layout, float* out) {
  const int32_t taps = d.r * d.s;
  const int64_t k_stride = int64_t(d.c) * taps;  // w's floats from one output channel to the next
  const int32_t rows = layout.rows, cols = layout.cols;  // of each tap plane
  const int32_t real_rows = k_rows ? d.k : d.c, real_cols = k_rows ? d.c : d.k;
  // w's floats from one plane row / column to the next
  const int64_t row_step = k_rows ? k_stride : taps, col_step = k_rows ? taps : k_stride;
  constexpr int64_t kFloatsPerThread = 32 << 10;  // below this, a pool dispatch costs more than it saves
  const int64_t min_rows = std::max<int64_t>(1, kFloatsPerThread / (int64_t(cols) * taps));
  pool.parallel_for(rows, min_rows, [&](int64_t b, int64_t e, int) {
    for (int32_t i = int32_t(b); i < int32_t(e); ++i)
      for (int32_t j0 = 0; j0 < cols; j0 += kLanes) {
        const int32_t j1 = std::min(cols, j0 + kLanes), real_j1 = std::min(real_cols, j1);
        for (int32_t t = 0; t < taps; ++t) {
          float* to = out + layout.offset(t, i, j0) - j0;  // to[j] for the columns j of this block
          int32_t j = j0;
          if (i < real_rows) {
            const float* from = w + i * row_step + t;
            for (; j < real_j1; ++j) to[j] = from[j * col_step];
          }
          for (; j < j1; ++j) to[j] = 0.0f;
        }
      }
  });
}

// Hands images to the pool's threads one at a time (WorkShares: each thread its own run of
// images first, then the others' leftovers, taken as they come, as the two cores of a VM are
// rarely equally fast); body(n, tid). (The next image's input used to be prefetched into L2
// in bursts of software prefetches while n was computed: on this machine that measured no
// faster than leaving it to the hardware, and the bursts stalled the core on full fill
// buffers, so it went; forward packs its next image between GEMM rows instead.)
template <class Body>
void for_each_image(rn_context* ctx, int threads, int32_t images, const Body& body) {
  WorkShares claims(images, threads);
  ctx->pool.run_each(threads, [&](int tid, int) {
    for (int32_t n = claims.claim(tid); n >= 0; n = claims.claim(tid)) body(n, tid);
  });
}

// Whether a result of `floats` floats at `out`, that nothing reads back in the kernel, is
// written with non-temporal stores (no read of each line before its first store): where it is
// larger than 1 MiB per thread, so would not stay in the threads' L2 (512 KiB on Zen 3) until
// the next op reads it anyway, and aligned for whole-line vector stores.
bool streams_result(const float* out, int64_t floats, int threads) {
  constexpr size_t kStreamBytesPerThread = size_t(1) << 20;
  return reinterpret_cast<uintptr_t>(out) % 64 == 0 &&
         sizeof(float) * size_t(floats) >= kStreamBytesPerThread * size_t(threads);
}

// for_each_image, each thread claiming its next image before it computes the current one, so
// that it can prefetch that image's input meanwhile: body(n, next, tid), next = -1 at the end.
template <class Body>
void for_each_image_ahead(rn_context* ctx, int threads, int32_t images, const Body& body) {
  WorkShares claims(images, threads);
  ctx->pool.run_each(threads, [&](int tid, int) {
    for (int32_t n = claims.claim(tid); n >= 0;) {
      const int32_t next = claims.claim(tid);
      body(n, next, tid);
      n = next;
    }
  });
}

}  // namespace

namespace {

// The forward pass's per-call set-up, shared by its two ways of reading x: the
// weights regrouped tap-major [r][s][c16][k16] for the GEMMs and the lane-padded
// bias; and its per-image ending: the epilogue, then the pixel-major result
// ([p][q][k16], plus the CReLU's negative half) transposed into y's NCHW planes.
struct ForwardCommon {
  const rn_conv2d_desc& d;
  const IsaKernels& kern;
  const Geometry g;
  const Epilogue* ep;
  float* wt = nullptr;
  float* bias16 = nullptr;  // null: no bias (the GEMMs start from zero)
  size_t yt_bytes, neg_bytes;
  const TapWeights layout;  // of wt: c16 rows, k16 columns a tap

  ForwardCommon(rn_context* ctx, const rn_conv2d_desc& desc, const Epilogue* epilogue)
      : d(desc), kern(isa_kernels(ctx->isa)), g(desc), ep(epilogue), layout{b_in_column_blocks(ctx), g.taps(), g.c16, g.k16}, pool_(ctx->pool) {
    yt_bytes = ScratchCarver::round_up(sizeof(float) * d.p * d.q * g.k16);
    neg_bytes = ep && ep->crelu() ? yt_bytes : 0;  // the CReLU epilogue's negative half
  }
  void plan(ScratchPlan& plan) {
    wt_at_ = plan.add_array<float>(size_t(g.taps()) * g.c16 * g.k16);
    bias_at_ = plan.add_array<float>(g.k16);
  }
  void set_up(void* base, const float* w, const float* bias) {
    wt = at_offset<float>(base, wt_at_);
    tap_major_weights(pool_, d, w, false, layout, wt);
    if (bias) {
      bias16 = at_offset<float>(base, bias_at_);
      std::memset(bias16, 0, sizeof(float) * g.k16);
      std::memcpy(bias16, bias, sizeof(float) * d.k);
    }
  }
  // GEMM arguments every row of a forward GEMM shares: C = the k16 output channels,
  // the reduction over the C input channels of one tap per segment.
  GemmArgs gemm_args() const {
    GemmArgs ga;
    ga.n = g.k16;
    ga.seg_len = d.c;
    ga.b = wt;
    ga.b_step = layout.b_step();
    ga.b_block = layout.b_block();
    ga.accumulate = bias16 != nullptr;  // C starts as the bias
    return ga;
  }
  void fill_bias(float* yt, int64_t pixels) const {
    if (bias16)
      for (int64_t i = 0; i < pixels; ++i) std::memcpy(yt + i * g.k16, bias16, sizeof(float) * g.k16);
  }
  void finish_image(int32_t n, float* yt, float* yt_neg, float* y) const {
    const PackStrides st = PackStrides::pixel_major(d.q, g.kb);
    float* y_img = y + n * (ep ? ep->image(d) : int64_t(d.k) * d.p * d.q);
    if (ep) kern.epilogue_c16(yt, yt_neg, st, g.kb, d.p, d.q, ep->args);
    kern.unpack_c16(yt, st, d.k, d.p, d.q, d.p, d.q, 0, y_img);
    if (ep && ep->crelu()) kern.unpack_c16(yt_neg, st, d.k, d.p, d.q, d.p, d.q, 0, y_img + int64_t(d.k) * d.p * d.q);
  }

 private:
  ThreadPool& pool_;
  size_t wt_at_ = 0, bias_at_ = 0;
};

// One GEMM of a pass that broadcasts straight from an NCHW image (PlaneTaps in
// conv2d_impl.h): m outputs from (o, u) on, lda floats of the image apart (along
// a row: stride_c; down a column: stride_r rows), ldc floats of the result apart; its
// segments (taps) are the offsets at seg .. seg + nseg.
struct BorderGemm {
  int64_t m, lda, ldc, c_at;
  int32_t nseg, seg;
};

// Covers an out_rows x out_cols grid with BorderGemms: one per output row over the columns
// whose taps all read inside, one per remaining column down the rows whose taps all do,
// one per remaining (corner) output, each summing just the taps that read inside. The
// result offset of output (o, u) is c_at + o * c_row + u * c_col.
class BorderGemms {
 public:
  BorderGemms(const PlaneTaps& taps, int32_t out_rows, int32_t out_cols)
      : taps_(taps), rows_(out_rows), cols_(out_cols), rows_in_(taps.inside(out_rows, true)),
        cols_in_(taps.inside(out_cols, false)) {}
  int32_t max_gemms() const {
    const int32_t border_rows = rows_ - rows_in_.size(), border_cols = cols_ - cols_in_.size();
    return rows_ + border_cols + border_rows * border_cols;
  }
  int32_t max_segments() const { return max_gemms() * taps_.count; }
  // Appends the GEMMs to out (returns how many) and their segments to a_off / b_off from *segs on.
  int32_t build(int64_t c_at, int64_t c_row, int64_t c_col, BorderGemm* out, int64_t* a_off, int64_t* b_off,
                int32_t* segs) const {
    int32_t count = 0;
    auto add = [&](int32_t o, int32_t u, int64_t m, int64_t lda, int64_t ldc) {
      BorderGemm& gm = out[count++];
      gm = {m, lda, ldc, c_at + o * c_row + u * c_col, 0, *segs};
      for (int32_t i = 0; i < taps_.count; ++i) {
        const int32_t ih = o * taps_.stride_r + taps_.row[i], iw = u * taps_.stride_c + taps_.col[i];
        if (ih < 0 || ih >= taps_.in_h || iw < 0 || iw >= taps_.in_w) continue;
        a_off[*segs] = int64_t(ih) * taps_.in_w + iw;
        b_off[*segs] = taps_.b_at[i];
        ++*segs;
        ++gm.nseg;  // none: the GEMM writes zeros (or leaves C's start value, when it accumulates)
      }
    };
    for (int32_t o = 0; o < rows_; ++o) add(o, cols_in_.lo, cols_in_.size(), taps_.stride_c, c_col);
    for (int32_t u = 0; u < cols_; ++u) {
      if (cols_in_.has(u)) continue;
      add(rows_in_.lo, u, rows_in_.size(), int64_t(taps_.stride_r) * taps_.in_w, c_row);
      for (int32_t o = 0; o < rows_; ++o)
        if (!rows_in_.has(o)) add(o, u, 1, 1, c_col);
    }
    return count;
  }

 private:
  const PlaneTaps& taps_;
  int32_t rows_, cols_;
  Span rows_in_, cols_in_;
};

// Runs the BorderGemms gemms[0, count) of one image: ga carries what they share.
void run_border_gemms(const IsaKernels& kern, GemmArgs ga, const BorderGemm* gemms, int32_t count,
                      const int64_t* a_off, const int64_t* b_off, float* c) {
  for (int32_t i = 0; i < count; ++i) {
    const BorderGemm& gm = gemms[i];
    ga.m = gm.m;
    ga.lda = gm.lda;
    ga.ldc = gm.ldc;
    ga.c = c + gm.c_at;
    ga.nseg = gm.nseg;
    ga.a_off = a_off + gm.seg;
    ga.b_off = b_off + gm.seg;
    kern.gemm_bcast(ga);
  }
}

// Forward reading the broadcast operand straight from x's NCHW planes (no copy of the
// input), in BorderGemms. The row-planar copy this replaces took 13-15 % of a stride-2
// conv's samples even with the batch in L2 (its stores miss L1: the copy of one image is
// 100 KiB); reading NCHW costs the micro-kernel little, as the channel planes it
// broadcasts from are read a line at a time.
int forward_from_nchw(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* w, const float* bias,
                      float* y, const Epilogue* ep) {
  ForwardCommon fc(ctx, d, ep);
  const Geometry& g = fc.g;
  const int32_t taps = g.taps();
  const int threads = std::min<int>(ctx->pool.size(), d.n);
  PlaneTaps plane = forward_plane_taps(d);
  const BorderGemms border(plane, d.p, d.q);

  ScratchPlan plan;
  fc.plan(plan);
  const size_t rows_at = plan.add_array<int32_t>(taps), cols_at = plan.add_array<int32_t>(taps);
  const size_t tap_b_at = plan.add_array<int64_t>(taps);
  const size_t gemms_at = plan.add_array<BorderGemm>(border.max_gemms());
  const size_t aoff_at = plan.add_array<int64_t>(border.max_segments());
  const size_t boff_at = plan.add_array<int64_t>(border.max_segments());
  const Regions per_thread = plan.add_regions(fc.yt_bytes + fc.neg_bytes, threads);
  void* base = ctx->workspace.require(plan.total());
  fc.set_up(base, w, bias);

  BorderGemm* gemms = at_offset<BorderGemm>(base, gemms_at);
  int64_t* a_off = at_offset<int64_t>(base, aoff_at);
  int64_t* b_off = at_offset<int64_t>(base, boff_at);
  plane.row = at_offset<int32_t>(base, rows_at);
  plane.col = at_offset<int32_t>(base, cols_at);
  plane.b_at = at_offset<int64_t>(base, tap_b_at);
  for (int32_t t = 0; t < taps; ++t) {
    plane.row[t] = t / d.s - d.pad_h;
    plane.col[t] = t % d.s - d.pad_w;
    plane.b_at[t] = fc.layout.tap_offset(t);
  }
  int32_t segs = 0;
  const int32_t count = border.build(0, int64_t(d.q) * g.k16, g.k16, gemms, a_off, b_off, &segs);

  const int64_t x_image = int64_t(d.c) * d.h * d.w;
  for_each_image(ctx, threads, d.n, [&](int32_t n, int tid) {
    char* scratch = at_offset<char>(base, per_thread.of(tid));
    float* yt = reinterpret_cast<float*>(scratch);
    float* yt_neg = reinterpret_cast<float*>(scratch + fc.yt_bytes);
    fc.fill_bias(yt, int64_t(d.p) * d.q);
    GemmArgs ga = fc.gemm_args();
    ga.a = x + n * x_image;
    ga.a_step = in_plane(d);
    run_border_gemms(fc.kern, ga, gemms, count, a_off, b_off, yt);
    fc.finish_image(n, yt, yt_neg, y);
  });
  return RN_STATUS_OK;
}

// Forward from a zero-padded row-planar copy of each image ([row][channel][col]):
// for shapes whose padding covers much of the output (small images, large kernels),
// where reading NCHW would split into many small border GEMMs.
int forward_from_planar(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* w, const float* bias,
                        float* y, const Epilogue* ep) {
  ForwardCommon fc(ctx, d, ep);
  const Geometry& g = fc.g;
  const IsaKernels& kern = fc.kern;
  const int32_t rows = g.in_rows(), cols = g.in_cols(), taps = g.taps();
  const int32_t pitch = planar_pitch(cols);
  const int threads = std::min<int>(ctx->pool.size(), d.n);
  ScratchPlan plan;
  fc.plan(plan);
  const size_t aoff_at = plan.add_array<int64_t>(taps), boff_at = plan.add_array<int64_t>(taps);
  const size_t xt_bytes = ScratchCarver::round_up(sizeof(float) * rows * pitch * d.c);
  // xt: this image's and the next's
  const Regions per_thread = plan.add_regions(2 * xt_bytes + fc.yt_bytes + fc.neg_bytes, threads);
  void* base = ctx->workspace.require(plan.total());
  fc.set_up(base, w, bias);
  int64_t* a_off = at_offset<int64_t>(base, aoff_at);
  int64_t* b_off = at_offset<int64_t>(base, boff_at);
  for (int32_t t = 0; t < taps; ++t) {
    a_off[t] = int64_t(t / d.s) * d.c * pitch + t % d.s;
    b_off[t] = fc.layout.tap_offset(t);
  }

  const int64_t x_image = int64_t(d.c) * d.h * d.w;
  const int64_t xt_row = int64_t(d.c) * pitch;  // floats per packed input row
  // Each thread claims its next image before computing the current one and packs it
  // (the rows of one output row's worth at a time) between the current image's GEMM
  // rows, so that its loads from L3 or memory overlap the multiply-adds (measured: up to
  // 8 % faster on one thread, the same on two, against packing each image when it comes;
  // it took the place of a software prefetch of the next image).
  WorkShares claims(d.n, threads);
  ctx->pool.run_each(threads, [&](int tid, int) {
    auto claim = [&] {  // d.n: none left
      const int32_t n = claims.claim(tid);
      return n >= 0 ? n : d.n;
    };
    char* scratch = at_offset<char>(base, per_thread.of(tid));
    float* xt_buf[2] = {reinterpret_cast<float*>(scratch), reinterpret_cast<float*>(scratch + xt_bytes)};
    float* yt = reinterpret_cast<float*>(scratch + 2 * xt_bytes);
    float* yt_neg = reinterpret_cast<float*>(scratch + 2 * xt_bytes + fc.yt_bytes);
    GemmArgs ga = fc.gemm_args();
    ga.m = d.q;
    ga.nseg = taps;
    ga.a_off = a_off;
    ga.b_off = b_off;
    ga.lda = d.stride_w;
    ga.a_step = pitch;
    ga.ldc = g.k16;
    int cur = 0;  // xt_buf[cur] holds image n: the first packed here, each later one during its predecessor
    bool padded[2] = {false, false};  // the buffer holds its zero padding (written once)
    int32_t n = claim();
    if (n < d.n)
      kern.pack_planar(x + n * x_image, d.c, d.h, d.w, -d.pad_h, rows, -d.pad_w, cols, pitch, xt_buf[0], false);
    padded[0] = true;
    while (n < d.n) {
      const int32_t next = claim();
      float* xt = xt_buf[cur];
      fc.fill_bias(yt, int64_t(d.p) * d.q);
      for (int32_t p = 0; p < d.p; ++p) {
        ga.a = xt + int64_t(p) * d.stride_h * xt_row;
        ga.c = yt + int64_t(p) * d.q * g.k16;
        kern.gemm_bcast(ga);
        if (next < d.n) {  // the next image's packed rows [r0, r1)
          const int32_t r0 = int32_t(int64_t(rows) * p / d.p), r1 = int32_t(int64_t(rows) * (p + 1) / d.p);
          kern.pack_planar(x + next * x_image, d.c, d.h, d.w, r0 - d.pad_h, r1 - r0, -d.pad_w, cols, pitch,
                           xt_buf[cur ^ 1] + r0 * xt_row, padded[cur ^ 1]);
        }
      }
      if (next < d.n) padded[cur ^ 1] = true;
      fc.finish_image(n, yt, yt_neg, y);
      n = next;
      cur ^= 1;
    }
  });
  return RN_STATUS_OK;
}

// Forward with the output pixels in the lanes, for stride-2 columns whose output rows are
// whole vectors and read every input column (W = 2Q; direct_forward_in_pixel_lanes):
//   y[k][p][q] = sum over taps (r, s) and c of W[r][s][c][k] * x[c][p*sh + r - pad_h][2q + s - pad_w],
// the weights broadcast and y's NCHW rows written straight from the register tile (no
// transposes on the way out, no border GEMMs). x is read from a copy of its rows in
// "phase blocks": per filter column s, the row's columns 2q + s - pad_w for q < Q, zero
// outside the image ([row][block][c][q]; filter columns with the same phase and shift
// share a block). So a tap's operand is C x Q contiguous floats, and one output row's
// GEMM reads R * blocks * C * Q floats (9 KiB at 16 channels) besides the weights: both fit
// L1, where reading the rows phase-split but unshifted (one copy a phase, the taps at
// offsets) spread the same operands over 1.5x the lines and ran the GEMMs at 2/3 of the
// rate (Zen 3). The copy is a ring of R rows (packed row i in slot i mod R), each row
// copied just before the first GEMM that reads it, so that all of it stays in L1; x is
// prefetched two output rows ahead.
constexpr int32_t kPrefetchRows = 2;

int forward_pixel_lanes(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* w, const float* bias,
                        float* y, const Epilogue* ep) {
  const IsaKernels& kern = isa_kernels(ctx->isa);
  const int32_t taps = d.r * d.s, q = d.q, sh = d.stride_h;
  const PhaseColumnBlocks col_blocks(d);
  const int32_t ring = d.r;  // packed row pr (input row pr - pad_h) sits in slot pr mod ring
  const int64_t block_stride = int64_t(d.c) * q, row_pitch = col_blocks.blocks * block_stride;
  const int threads = std::min<int>(ctx->pool.size(), d.n);

  ScratchPlan plan;
  const size_t wt_at = plan.add_array<float>(size_t(taps) * d.c * d.k);  // [r][s][c][k]
  const size_t aoff_at = plan.add_array<int64_t>(taps);
  const size_t xt_bytes = ScratchCarver::round_up(sizeof(float) * ring * row_pitch);
  const size_t boff_bytes = ScratchCarver::round_up(sizeof(int64_t) * taps);  // per thread: this row's offsets
  const Regions per_thread = plan.add_regions(xt_bytes + boff_bytes, threads);
  void* base = ctx->workspace.require(plan.total());
  float* wt = at_offset<float>(base, wt_at);
  tap_major_weights(ctx->pool, d, w, false, TapWeights{false, taps, d.c, d.k}, wt);
  int64_t* a_off = at_offset<int64_t>(base, aoff_at);
  for (int32_t t = 0; t < taps; ++t) a_off[t] = int64_t(t) * d.c * d.k;
  // A bias alone runs as an epilogue too (after the GEMMs, on the image's planes in cache).
  Epilogue bias_only;
  bias_only.bias = bias;
  const Epilogue* finish = ep ? ep : bias ? &bias_only : nullptr;

  const int64_t x_image = int64_t(d.c) * d.h * d.w, hw = in_plane(d), pq = out_plane(d);
  // y written past the caches (no read of its lines before the stores) where it is larger than
  // the threads' L2 could keep and nothing reads it back here (no epilogue). Measured on Zen 3
  // at batch 128 (y 4 MiB, best / median ms of five alternations): 2.78 / 3.9-5.7 streamed,
  // 3.34 / 4.8-6.9 not; one thread 4.75 / 7.1-7.2 against 5.75 / 8.9-9.6.
  const bool stream_y = !finish && pq % kLanes == 0 && streams_result(y, int64_t(d.n) * d.k * pq, threads);
  // Software prefetches of the x rows the copy will read, kPrefetchRows output rows ahead, into
  // the next image at the end of one (each thread claims its next image before it computes the
  // current one). The rows' channel planes are 4 KiB apart: 16+ concurrent streams. Measured
  // on Zen 3 (2 threads, median ms of three alternations): none 4.2-5.4, x rows 3.4-4.4, x and
  // y rows 3.2-4.8, so y is left to the hardware. (always_inline: see PacedPrefetch.)
  for_each_image_ahead(ctx, threads, d.n, [&](int32_t n, int32_t next, int tid) {
    char* scratch = at_offset<char>(base, per_thread.of(tid));
    float* xt = reinterpret_cast<float*>(scratch);
    int64_t* b_off = reinterpret_cast<int64_t*>(scratch + xt_bytes);
    // Prefetches the x rows new to output row p of image n (nothing past the batch).
    auto prefetch_x = [&](int32_t n, int32_t p) __attribute__((always_inline)) {
      if (n < 0) return;
      const float* xn = x + n * x_image;
      const int32_t lo = std::max(0, p * sh - d.pad_h), hi = std::min(d.h, p * sh + d.r - d.pad_h);
      for (int32_t ih = std::max(lo, (p - 1) * sh + d.r - d.pad_h); ih < hi; ++ih)
        for (int32_t c = 0; c < d.c; ++c)
          for (int32_t j = 0; j < d.w; j += 16) __builtin_prefetch(xn + c * hw + int64_t(ih) * d.w + j, 0, 3);
    };
    // (again, if the thread's previous image prefetched them: a few dozen instructions)
    for (int32_t p = 0; p < std::min(kPrefetchRows, d.p); ++p) prefetch_x(n, p);
    const float* xn = x + n * x_image;
    float* yn = y + n * (ep ? ep->image(d) : int64_t(d.k) * pq);
    GemmArgs ga;
    ga.m = d.k;  // rows: output channels, broadcast from the weights
    ga.seg_len = d.c;
    ga.nseg = taps;
    ga.a = wt;
    ga.lda = 1;
    ga.a_step = d.k;
    ga.a_off = a_off;
    ga.b = xt;
    ga.b_off = b_off;
    ga.b_step = q;
    ga.ldc = pq;
    ga.stream = stream_y;
    int32_t packed = 0;  // packed rows [0, packed) are this image's
    for (int32_t p = 0; p < d.p; ++p) {  // one GEMM per output row
      const int32_t ahead = p + kPrefetchRows;
      if (ahead < d.p)
        prefetch_x(n, ahead);
      else
        prefetch_x(next, ahead - d.p);
      const int32_t need = p * sh + d.r;  // packed rows the GEMM reads: [p * sh, need)
      for (packed = std::max(packed, p * sh); packed < need; ++packed) {
        float* slot = xt + (packed % ring) * row_pitch;
        const int32_t ih = packed - d.pad_h;
        if (ih < 0 || ih >= d.h)
          std::memset(slot, 0, sizeof(float) * row_pitch);  // a row of the padding
        else
          kern.phase_blocks(xn + int64_t(ih) * d.w, d.c, hw, q, col_blocks.blocks, col_blocks.phase, col_blocks.shift,
                            slot, block_stride, q);
      }
      for (int32_t t = 0; t < taps; ++t)
        b_off[t] = ((p * sh + t / d.s) % ring) * row_pitch + col_blocks.of_col[t % d.s] * block_stride;
      ga.n = q;
      ga.c = yn + int64_t(p) * q;
      kern.gemm_bcast(ga);
    }
    if (finish) epilogue_planes(d, *finish, yn);
    if (stream_y) _mm_sfence();  // the streamed stores reach memory before the pool reports done
  });
  return RN_STATUS_OK;
}

// One image of x (xn, NCHW) copied into its phase planes (PhasePlanes, conv2d_impl.h) at xt.
void pack_phase_planes(const IsaKernels& kern, const rn_conv2d_desc& d, const PhasePlanes& pl, const float* xn,
                       float* xt) {
  const int64_t hw = in_plane(d);
  for (int a = 0; a < 2; ++a) {
    if (!pl.row_phase_used[a]) continue;
    for (int32_t j = 0; j < pl.rows; ++j) {
      float* to = xt + a * pl.row_phase_stride + j * pl.q;
      const int32_t ih = pl.input_row(a, j);
      if (ih >= 0 && ih < d.h) {
        kern.phase_blocks(xn + int64_t(ih) * d.w, d.c, hw, d.q, pl.cols.blocks, pl.cols.phase, pl.cols.shift, to,
                          pl.block_stride, pl.c_pitch);
        continue;
      }
      for (int32_t b = 0; b < pl.cols.blocks; ++b)  // a row of the padding
        for (int32_t c = 0; c < d.c; ++c) std::fill_n(to + b * pl.block_stride + c * pl.c_pitch, pl.q, 0.0f);
    }
  }
}

// Forward from phase planes (PhasePlanes in conv2d_impl.h; direct_forward_in_phase_planes):
// each image's x copied once into planes in which every tap reads output pixel i = p * Q + q
// at its own offset + i, so one GEMM of P * Q rows (lda 1, a segment per tap) computes the
// image, in register tiles of 6 pixels that run on across output rows. Reading NCHW instead
// splits the 32->64 transition's 8-pixel rows into GEMMs of 7 interior pixels (tiles of 4 + 3
// rows, too few accumulators to cover the FMA latency) and border GEMMs of 1 to 7.
int forward_phase_planes(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* w, const float* bias,
                         float* y, const Epilogue* ep) {
  ForwardCommon fc(ctx, d, ep);
  const Geometry& g = fc.g;
  const IsaKernels& kern = fc.kern;
  const PhasePlanes pl(d);
  const int32_t taps = g.taps();
  const int threads = std::min<int>(ctx->pool.size(), d.n);
  ScratchPlan plan;
  fc.plan(plan);
  const size_t aoff_at = plan.add_array<int64_t>(taps), boff_at = plan.add_array<int64_t>(taps);
  const size_t xt_bytes = ScratchCarver::round_up(sizeof(float) * pl.floats);
  const Regions per_thread = plan.add_regions(xt_bytes + fc.yt_bytes + fc.neg_bytes, threads);
  void* base = ctx->workspace.require(plan.total());
  fc.set_up(base, w, bias);
  int64_t* a_off = at_offset<int64_t>(base, aoff_at);
  int64_t* b_off = at_offset<int64_t>(base, boff_at);
  for (int32_t t = 0; t < taps; ++t) {
    a_off[t] = pl.tap_offset(d, t / d.s, t % d.s);
    b_off[t] = fc.layout.tap_offset(t);
  }
  const int64_t x_image = int64_t(d.c) * d.h * d.w, pixels = out_plane(d);
  // Paced over each image's GEMM (PacedPrefetch), the next image's x, which the copy would
  // otherwise wait for (a fifth of the samples at batch 128 on one thread, against a tenth with
  // the batch in L2), and this image's y, which the transposing unpack writes after the GEMM
  // (each line read before its first store). Zen 3, batch 128, best / medians of four to six
  // alternations, ms: one thread, none 4.94 / 6.5-8.3, x 4.17 / 5.5-6.7, x and y 3.94 / 4.1-5.9;
  // two threads, none 2.74 / 3.3-4.6, x 2.23 / 2.7-4.1, x and y 2.08 / 2.5-4.0.
  const bool prefetch = prefetches_next_image(ctx);
  const int64_t image_work = pixels * g.k16 * d.c * taps;  // the GEMM's multiply-adds, as PacedPrefetch counts them
  const int64_t y_image = ep ? ep->image(d) : int64_t(d.k) * pixels;
  for_each_image_ahead(ctx, threads, d.n, [&](int32_t n, int32_t next, int tid) {
    char* scratch = at_offset<char>(base, per_thread.of(tid));
    float* xt = reinterpret_cast<float*>(scratch);
    float* yt = reinterpret_cast<float*>(scratch + xt_bytes);
    float* yt_neg = reinterpret_cast<float*>(scratch + xt_bytes + fc.yt_bytes);
    pack_phase_planes(kern, d, pl, x + n * x_image, xt);
    PacedPrefetch paced;
    if (prefetch)
      paced.start(next >= 0 ? x + next * x_image : nullptr, x_image, y + n * y_image, y_image, image_work);
    fc.fill_bias(yt, pixels);
    GemmArgs ga = fc.gemm_args();
    ga.m = pixels;
    ga.nseg = taps;
    ga.a = xt;
    ga.lda = 1;
    ga.a_step = pl.c_pitch;
    ga.a_off = a_off;
    ga.b_off = b_off;
    ga.c = yt;
    ga.ldc = g.k16;
    ga.prefetch = prefetch ? &paced : nullptr;
    kern.gemm_bcast(ga);
    fc.finish_image(n, yt, yt_neg, y);
  });
  return RN_STATUS_OK;
}

}  // namespace

int direct_forward(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* w, const float* bias,
                   float* y, const Epilogue* ep) {
  if (direct_forward_in_phase_planes(d, ctx->isa)) return forward_phase_planes(ctx, d, x, w, bias, y, ep);
  if (direct_forward_in_pixel_lanes(d, ctx->isa)) return forward_pixel_lanes(ctx, d, x, w, bias, y, ep);
  return direct_forward_reads_nchw(d) ? forward_from_nchw(ctx, d, x, w, bias, y, ep)
                                      : forward_from_planar(ctx, d, x, w, bias, y, ep);
}

namespace {

// Padding of dy so that every (phase, tap) of backward-data reads inside it: input
// row ih = i*sh + ah gets tap r when (ah + pad_h - r) is a multiple of sh, from
// output row p = i + dr, dr = (ah + pad_h - r) / sh. The padding is exactly what
// the taps need (no more), which keeps the most common tap offsets vector-aligned.
struct DyPadding {
  int32_t top, left, rows, cols;
  explicit DyPadding(const rn_conv2d_desc& d) {
    // (lowest, highest) output row / column any input row / column reaches
    auto reach = [](int32_t in, int32_t out, int32_t taps, int32_t stride, int32_t pad, int32_t* lo, int32_t* hi) {
      *lo = 0;
      *hi = out - 1;
      for (int32_t a = 0; a < std::min(stride, in); ++a) {
        const int32_t last = (in - 1 - a) / stride;  // last phase index i with i*stride + a < in
        for (int32_t t = 0; t < taps; ++t) {
          if ((a + pad - t) % stride != 0) continue;
          const int32_t delta = floor_div(a + pad - t, stride);
          *lo = std::min(*lo, delta);
          *hi = std::max(*hi, last + delta);
        }
      }
    };
    int32_t lo_r, hi_r, lo_c, hi_c;
    reach(d.h, d.p, d.r, d.stride_h, d.pad_h, &lo_r, &hi_r);
    reach(d.w, d.q, d.s, d.stride_w, d.pad_w, &lo_c, &hi_c);
    top = -lo_r;
    left = -lo_c;
    rows = top + hi_r + 1;
    cols = left + hi_c + 1;
  }
};

// Backward-data with the input pixels in the lanes, for rows of whole 16-pixel
// vectors per stride phase (W a multiple of 16 * sw, sw <= 2):
//   dxph[c][j] = sum over the phase's taps and k of W[r][s][k][c] * dy[k][i + dr][j + ds],
// the weights broadcast, dy read as plain rows (no transposes), two phase rows per
// register tile when a row is one vector; the two column phases are then
// interleaved straight into dx's NCHW rows.
int backward_data_pixel_lanes(rn_context* ctx, const rn_conv2d_desc& d, const float* dy, const float* w, float* dx) {
  const IsaKernels& kern = isa_kernels(ctx->isa);
  const int32_t sh = d.stride_h, sw = d.stride_w, taps = d.r * d.s;
  DyPadding pad(d);
  // Row pitch a multiple of 16 floats: the B vectors of unshifted taps stay on one
  // cache line (a vector across two lines costs two loads).
  pad.cols = planar_pitch(pad.cols);
  const int32_t nj = d.w / sw;  // input columns per phase, a multiple of 16
  const int32_t pair = nj == kLanes ? 2 : 1;  // phase rows per register tile
  const int32_t phases_h = std::min(sh, d.h);
  const int threads = std::min<int>(ctx->pool.size(), d.n);

  ScratchPlan plan;
  const size_t wt_at = plan.add_array<float>(size_t(taps) * d.k * d.c);  // [r][s][k][c]
  const size_t count_at = plan.add_array<int32_t>(phases_h * sw);
  const size_t aoff_at = plan.add_array<int64_t>(size_t(phases_h) * sw * taps);
  const size_t boff_at = plan.add_array<int64_t>(size_t(phases_h) * sw * taps);
  const size_t dyt_bytes = ScratchCarver::round_up(sizeof(float) * pad.rows * pad.cols * d.k);
  const size_t tmp_bytes = ScratchCarver::round_up(sizeof(float) * sw * d.c * pair * nj);  // [aw][c][row][j]
  const Regions per_thread = plan.add_regions(dyt_bytes + tmp_bytes, threads);
  const size_t padded_at = plan.add_array<uint8_t>(threads);  // per thread: its dy copy's zero padding written
  void* base = ctx->workspace.require(plan.total());
  uint8_t* padded = at_offset<uint8_t>(base, padded_at);
  std::memset(padded, 0, threads);

  float* wt = at_offset<float>(base, wt_at);
  tap_major_weights(ctx->pool, d, w, true, TapWeights{false, taps, d.k, d.c}, wt);
  int32_t* tap_count = at_offset<int32_t>(base, count_at);
  int64_t* a_off = at_offset<int64_t>(base, aoff_at);
  int64_t* b_off = at_offset<int64_t>(base, boff_at);
  for (int32_t ah = 0; ah < phases_h; ++ah)
    for (int32_t aw = 0; aw < sw; ++aw) {
      const int32_t ph = ah * sw + aw;
      tap_count[ph] = for_each_phase_tap(d, ah, aw, [&](int32_t i, int32_t t, int32_t dr, int32_t ds) {
        a_off[ph * taps + i] = int64_t(t) * d.k * d.c;
        b_off[ph * taps + i] = int64_t(dr + pad.top) * d.k * pad.cols + ds + pad.left;
      });
    }

  const int64_t dy_image = int64_t(d.k) * d.p * d.q, hw = int64_t(d.h) * d.w;
  // dx written past the caches where the stride phases are interleaved in a pass of their own
  // and dx is larger than the threads' L2 could keep (as the forward's y). Measured on Zen 3,
  // the 16->32 transition at batch 128 (dx 8 MiB), 2 threads, best / median ms of four
  // alternations: 2.91 / 3.8-4.9 streamed, 3.91 / 5.3-6.0 not (with interleave2's AVX2 path,
  // new then too: it was scalar below AVX-512).
  const bool stream_dx = sw == 2 && streams_result(dx, int64_t(d.n) * d.c * hw, threads);
  // The next image's dy is prefetched in step with this one's GEMMs (PacedPrefetch): its copy
  // at the start of an image otherwise waited on memory, a quarter of the conv's samples at
  // batch 128. The GEMMs' multiply-adds per image: per phase row pair, m = C rows, n = the
  // pair's columns, a segment of K per tap.
  const bool prefetch_next = prefetches_next_image(ctx);
  int64_t image_work = 0;
  for (int32_t ah = 0; ah < phases_h; ++ah)
    for (int32_t i = 0; i < phase_rows(d, ah); i += pair)
      for (int32_t aw = 0; aw < sw; ++aw)
        image_work += int64_t(d.c) * std::min(pair, phase_rows(d, ah) - i) * nj * d.k * tap_count[ah * sw + aw];
  for_each_image_ahead(ctx, threads, d.n, [&](int32_t n, int32_t next, int tid) {
    char* scratch = at_offset<char>(base, per_thread.of(tid));
    PacedPrefetch prefetch;
    if (prefetch_next && next >= 0) prefetch.start(dy + next * dy_image, dy_image, nullptr, 0, image_work);
    float* dyt = reinterpret_cast<float*>(scratch);
    float* tmp = reinterpret_cast<float*>(scratch + dyt_bytes);
    // The copy's zero padding is written by this thread's first image only (at the 16->32
    // transition half of every row: 16 columns of dy, then 16 of zeros).
    kern.pack_planar(dy + n * dy_image, d.k, d.p, d.q, -pad.top, pad.rows, -pad.left, pad.cols, pad.cols, dyt,
                     padded[tid] != 0);
    if (padded[tid] == 0) padded[tid] = 1;  // (once: the flags share a line, which a store per image would bounce between cores)
    float* dxn = dx + int64_t(n) * d.c * hw;
    GemmArgs ga;
    ga.m = d.c;  // rows: input channels, broadcast from the weights
    ga.seg_len = d.k;
    ga.a = wt;
    ga.lda = 1;
    ga.a_step = d.c;
    ga.b_step = pad.cols;
    // Column blocks: with pair == 2 the second vector is the next phase row; else the
    // row's next 16 pixels.
    ga.b_block = pair == 2 ? int64_t(d.k) * pad.cols : kLanes;
    ga.prefetch = prefetch_next ? &prefetch : nullptr;
    for (int32_t ah = 0; ah < phases_h; ++ah) {
      const int32_t ni = phase_rows(d, ah);
      for (int32_t i = 0; i < ni; i += pair) {
        const int32_t rows = std::min(pair, ni - i);
        if (sw == 2) {
          // Both column phases in one register tile, interleaved on the way out: straight
          // into dx, no tmp round trip (where the ISA level has that kernel).
          GemmArgs even = ga, odd = ga;
          even.n = odd.n = int64_t(rows) * nj;
          even.b = odd.b = dyt + int64_t(i) * d.k * pad.cols;
          even.c = odd.c = dxn + int64_t(i * sh + ah) * d.w;
          even.ldc = odd.ldc = hw;
          even.c_block = odd.c_block = pair > 1 ? int64_t(sh) * d.w : 2 * kLanes;
          even.nseg = tap_count[ah * sw];
          even.a_off = a_off + (ah * sw) * taps;
          even.b_off = b_off + (ah * sw) * taps;
          odd.nseg = tap_count[ah * sw + 1];
          odd.a_off = a_off + (ah * sw + 1) * taps;
          odd.b_off = b_off + (ah * sw + 1) * taps;
          if (kern.gemm_bcast_phases2(even, odd)) continue;
        }
        for (int32_t aw = 0; aw < sw; ++aw) {
          const int32_t ph = ah * sw + aw;
          ga.n = int64_t(rows) * nj;
          ga.nseg = tap_count[ph];  // no taps: the GEMM writes zeros
          ga.a_off = a_off + ph * taps;
          ga.b_off = b_off + ph * taps;
          ga.b = dyt + int64_t(i) * d.k * pad.cols;
          if (sw == 1) {  // the phase row is the dx row
            ga.c = dxn + int64_t(i * sh + ah) * d.w;
            ga.ldc = hw;
            ga.c_block = pair == 2 ? int64_t(sh) * d.w : kLanes;
          } else {
            ga.c = tmp + int64_t(aw) * d.c * pair * nj;
            ga.ldc = int64_t(pair) * nj;
            ga.c_block = pair == 2 ? nj : kLanes;
          }
          kern.gemm_bcast(ga);
        }
        if (sw == 2) {
          if (rows == pair) {  // tmp is [aw][c][rr][j]: all of it in one call
            kern.interleave2(tmp, tmp + int64_t(d.c) * pair * nj, nj, rows, d.c, hw, int64_t(sh) * d.w,
                             dxn + int64_t(i * sh + ah) * d.w, stream_dx);
          } else {
            for (int32_t c = 0; c < d.c; ++c) {
              const float* even = tmp + int64_t(c) * pair * nj;
              kern.interleave2(even, even + int64_t(d.c) * pair * nj, nj, rows, 1, 0, int64_t(sh) * d.w,
                               dxn + int64_t(c) * hw + int64_t(i * sh + ah) * d.w, stream_dx);
            }
          }
        }
      }
    }
    if (stream_dx) _mm_sfence();  // the streamed stores reach memory before the pool reports done
  });
  return RN_STATUS_OK;
}

// Backward-data with the input channels in the lanes, broadcasting dy straight from its
// NCHW planes: per stride phase, BorderGemms over the phase's input pixels (a stride-1
// correlation of dy with the phase's taps), into a pixel-major dx tile that one
// transposing pass turns into NCHW. (The zero-padded copy of dy it saves was 6.6 % of
// the 32->64 stride-2 transition's gradient.)
int backward_data_from_nchw(rn_context* ctx, const rn_conv2d_desc& d, const float* dy, const float* w, float* dx) {
  const IsaKernels& kern = isa_kernels(ctx->isa);
  const Geometry g(d);
  const int32_t sh = d.stride_h, sw = d.stride_w, taps = g.taps();
  const int32_t phases_h = std::min(sh, d.h), phases_w = std::min(sw, d.w);
  const int threads = std::min<int>(ctx->pool.size(), d.n);
  int32_t max_gemms = 0, max_segments = 0;
  for (int32_t ah = 0; ah < phases_h; ++ah)
    for (int32_t aw = 0; aw < phases_w; ++aw) {
      const PlaneTaps pt = backward_data_phase_taps(d, ah, aw);
      const BorderGemms border(pt, phase_rows(d, ah), phase_cols(d, aw));
      max_gemms += border.max_gemms();
      max_segments += border.max_segments();
    }

  ScratchPlan plan;
  const size_t wt_at = plan.add_array<float>(size_t(taps) * g.k16 * g.c16);  // [r][s][k16][c16]
  const size_t rows_at = plan.add_array<int32_t>(taps), cols_at = plan.add_array<int32_t>(taps);
  const size_t tap_b_at = plan.add_array<int64_t>(taps);
  const size_t gemms_at = plan.add_array<BorderGemm>(max_gemms);
  const size_t aoff_at = plan.add_array<int64_t>(max_segments), boff_at = plan.add_array<int64_t>(max_segments);
  const size_t dxt_bytes = ScratchCarver::round_up(sizeof(float) * d.h * d.w * g.c16);
  const Regions per_thread = plan.add_regions(dxt_bytes, threads);
  void* base = ctx->workspace.require(plan.total());

  float* wt = at_offset<float>(base, wt_at);
  const TapWeights layout{b_in_column_blocks(ctx), taps, g.k16, g.c16};
  tap_major_weights(ctx->pool, d, w, true, layout, wt);
  BorderGemm* gemms = at_offset<BorderGemm>(base, gemms_at);
  int64_t* a_off = at_offset<int64_t>(base, aoff_at);
  int64_t* b_off = at_offset<int64_t>(base, boff_at);
  int32_t count = 0, segs = 0;
  for (int32_t ah = 0; ah < phases_h; ++ah)
    for (int32_t aw = 0; aw < phases_w; ++aw) {
      PlaneTaps pt = backward_data_phase_taps(d, ah, aw);
      pt.row = at_offset<int32_t>(base, rows_at);
      pt.col = at_offset<int32_t>(base, cols_at);
      pt.b_at = at_offset<int64_t>(base, tap_b_at);
      for_each_phase_tap(d, ah, aw, [&](int32_t i, int32_t t, int32_t dr, int32_t ds) {
        pt.row[i] = dr;
        pt.col[i] = ds;
        pt.b_at[i] = layout.tap_offset(t);
      });
      // phase pixel (i, j) is dx pixel (i*sh + ah, j*sw + aw) of the pixel-major tile
      const BorderGemms border(pt, phase_rows(d, ah), phase_cols(d, aw));
      count += border.build((int64_t(ah) * d.w + aw) * g.c16, int64_t(sh) * d.w * g.c16, int64_t(sw) * g.c16,
                            gemms + count, a_off, b_off, &segs);
    }

  // Paced over each image's GEMMs (PacedPrefetch): the next image's dy and this image's dx,
  // which the transposing unpack writes after them (each line read before its first store).
  // Zen 3, 32->64 at batch 128, best / medians of four alternations, ms: one thread, none
  // 4.39 / 5.0-7.4, dx 4.04 / 5.3-5.4, dx and dy 3.83 / 4.8-5.5; two threads 2.59 / 2.8-3.5,
  // 2.23 / 2.5-3.1, 2.03 / 2.4-2.9. (The next dy alone measured no faster in the ninth session.)
  const bool prefetch = prefetches_next_image(ctx);
  int64_t image_work = 0;  // the GEMMs' multiply-adds, as PacedPrefetch counts them
  for (int32_t i = 0; i < count; ++i) image_work += gemms[i].m * gemms[i].nseg * int64_t(g.c16) * d.k;
  const int64_t dy_image = int64_t(d.k) * d.p * d.q, dx_image = int64_t(d.c) * d.h * d.w;
  for_each_image_ahead(ctx, threads, d.n, [&](int32_t n, int32_t next, int tid) {
    float* dxt = at_offset<float>(base, per_thread.of(tid));
    PacedPrefetch paced;
    if (prefetch)
      paced.start(next >= 0 ? dy + next * dy_image : nullptr, dy_image, dx + n * dx_image, dx_image, image_work);
    GemmArgs ga;
    ga.prefetch = prefetch ? &paced : nullptr;
    ga.n = g.c16;
    ga.seg_len = d.k;
    ga.a = dy + n * dy_image;
    ga.a_step = int64_t(d.p) * d.q;  // one dy plane per output channel
    ga.b = wt;
    ga.b_step = layout.b_step();
    ga.b_block = layout.b_block();
    run_border_gemms(kern, ga, gemms, count, a_off, b_off, dxt);
    kern.unpack_c16(dxt, PackStrides::pixel_major(d.w, g.cb), d.c, d.h, d.w, d.h, d.w, 0,
                    dx + int64_t(n) * d.c * d.h * d.w);
  });
  return RN_STATUS_OK;
}

// Backward-data with the input channels in the lanes, broadcasting dy from a zero-padded
// row-planar copy: for shapes whose stride phases are mostly border.
int backward_data_from_planar(rn_context* ctx, const rn_conv2d_desc& d, const float* dy, const float* w, float* dx) {
  const IsaKernels& kern = isa_kernels(ctx->isa);
  const Geometry g(d);
  const int32_t sh = d.stride_h, sw = d.stride_w, taps = g.taps();
  const DyPadding pad(d);
  const int32_t pad_t = pad.top, pad_l = pad.left, rows = pad.rows, cols = pad.cols;
  const int32_t pitch = planar_pitch(cols);
  const int32_t phases_h = std::min(sh, d.h), phases_w = std::min(sw, d.w);
  const int32_t phases = phases_h * phases_w;
  const int threads = std::min<int>(ctx->pool.size(), d.n);

  ScratchPlan plan;
  const size_t wt_at = plan.add_array<float>(size_t(taps) * g.k16 * g.c16);  // [r][s][k16][c16]
  // Per phase: its tap count and up to `taps` offsets into dy / the weights.
  const size_t count_at = plan.add_array<int32_t>(phases);
  const size_t aoff_at = plan.add_array<int64_t>(size_t(phases) * taps);
  const size_t boff_at = plan.add_array<int64_t>(size_t(phases) * taps);
  const size_t dyt_bytes = ScratchCarver::round_up(sizeof(float) * rows * pitch * d.k);
  const size_t dxt_bytes = ScratchCarver::round_up(sizeof(float) * d.h * d.w * g.c16);
  const Regions per_thread = plan.add_regions(dyt_bytes + dxt_bytes, threads);
  const size_t padded_at = plan.add_array<uint8_t>(threads);  // per thread: its dy copy's zero padding written
  void* base = ctx->workspace.require(plan.total());
  uint8_t* padded = at_offset<uint8_t>(base, padded_at);
  std::memset(padded, 0, threads);

  float* wt = at_offset<float>(base, wt_at);
  const TapWeights layout{b_in_column_blocks(ctx), taps, g.k16, g.c16};
  tap_major_weights(ctx->pool, d, w, true, layout, wt);
  int32_t* tap_count = at_offset<int32_t>(base, count_at);
  int64_t* a_off = at_offset<int64_t>(base, aoff_at);
  int64_t* b_off = at_offset<int64_t>(base, boff_at);
  for (int32_t ah = 0; ah < phases_h; ++ah)
    for (int32_t aw = 0; aw < phases_w; ++aw) {
      const int32_t ph = ah * phases_w + aw;
      tap_count[ph] = for_each_phase_tap(d, ah, aw, [&](int32_t i, int32_t t, int32_t dr, int32_t ds) {
        a_off[ph * taps + i] = int64_t(dr + pad_t) * d.k * pitch + ds + pad_l;
        b_off[ph * taps + i] = layout.tap_offset(t);
      });
    }

  for_each_image(ctx, threads, d.n, [&](int32_t n, int tid) {
    char* scratch = at_offset<char>(base, per_thread.of(tid));
    float* dyt = reinterpret_cast<float*>(scratch);
    float* dxt = reinterpret_cast<float*>(scratch + dyt_bytes);
    kern.pack_planar(dy + int64_t(n) * d.k * d.p * d.q, d.k, d.p, d.q, -pad_t, rows, -pad_l, cols, pitch, dyt,
                     padded[tid] != 0);
    if (padded[tid] == 0) padded[tid] = 1;  // (once: the flags share a line, which a store per image would bounce between cores)
    for (int32_t ah = 0; ah < phases_h; ++ah)
      for (int32_t aw = 0; aw < phases_w; ++aw) {
        const int32_t ph = ah * phases_w + aw;
        GemmArgs ga;
        ga.m = phase_cols(d, aw);
        ga.n = g.c16;
        ga.nseg = tap_count[ph];          // no taps: the GEMM writes zeros
        ga.seg_len = d.k;
        ga.a_off = a_off + ph * taps;
        ga.b_off = b_off + ph * taps;
        ga.lda = 1;
        ga.a_step = pitch;
        ga.b = wt;
        ga.b_step = layout.b_step();
        ga.b_block = layout.b_block();
        ga.ldc = int64_t(sw) * g.c16;
        for (int32_t i = 0; i < phase_rows(d, ah); ++i) {
          ga.a = dyt + int64_t(i) * d.k * pitch;
          ga.c = dxt + (int64_t(i * sh + ah) * d.w + aw) * g.c16;
          kern.gemm_bcast(ga);
        }
      }
    kern.unpack_c16(dxt, PackStrides::pixel_major(d.w, g.cb), d.c, d.h, d.w, d.h, d.w, 0,
                    dx + int64_t(n) * d.c * d.h * d.w);
  });
  return RN_STATUS_OK;
}

}  // namespace

int direct_backward_data(rn_context* ctx, const rn_conv2d_desc& d, const float* dy, const float* w, float* dx) {
  if (direct_backward_data_in_pixel_lanes(d)) return backward_data_pixel_lanes(ctx, d, dy, w, dx);
  return direct_backward_data_reads_nchw(d) ? backward_data_from_nchw(ctx, d, dy, w, dx)
                                           : backward_data_from_planar(ctx, d, dy, w, dx);
}

int direct_backward_filter(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* dy, float* dw,
                           float* dbias) {
  const IsaKernels& kern = isa_kernels(ctx->isa);
  const Geometry g(d);
  const int32_t taps = g.taps();
  const int threads = std::min<int>(ctx->pool.size(), d.n);
  const int64_t acc_floats = int64_t(taps) * d.c * g.k16;
  GemmArgs probe;  // m = 0: asks whether this ISA level has the grouped tile (see below)
  const bool grouped = direct_backward_filter_groups_row_taps(d) && kern.gemm_bcast_grouped(probe);
  // x from phase planes (direct_backward_filter_in_phase_planes): one segment an image per tap
  const bool planes = !grouped && direct_backward_filter_in_phase_planes(d, ctx->isa);
  const PhasePlanes pl(d);
  // Images per GEMM call (chunk): where an image has few output pixels, each call sums several
  // images' (the segments run image after image, so every sum keeps its order), so that a tap's
  // accumulator tile is loaded and stored once per chunk rather than once per image.
  const int32_t chunk = grouped ? 1 : std::clamp<int32_t>(int32_t(kFilterChunkPixels / out_plane(d)), 1, d.n);
  // Per thread: dy of one chunk (dyt_strides below); per group: acc[r][s][c][k16] (dW transposed).
  const int64_t dyt_image = out_plane(d) * g.k16;
  const size_t dyt_bytes = ScratchCarver::round_up(sizeof(float) * dyt_image * chunk);
  // where `planes`: x of one chunk, an image's phase planes every xt_image floats
  const int64_t xt_image = planes ? int64_t(ScratchCarver::round_up(sizeof(float) * pl.floats) / sizeof(float)) : 0;
  const size_t xt_bytes = ScratchCarver::round_up(sizeof(float) * xt_image * chunk);
  // Determinism: images in fixed ranges, each summed into its own accumulator in image
  // order, the ranges added in group order (WorkGroups): same inputs and thread count =>
  // bit-identical dW, hence reproducible training, while threads take ranges dynamically
  // (the two cores of a VM are rarely equally fast).
  const WorkGroups split(d.n, threads,
                         WorkGroups::min_units_for(d.n, threads, acc_floats, double(filter_size(d)) * d.k * d.p * d.q));
  const int groups = split.count();
  const size_t acc_bytes = ScratchCarver::round_up(sizeof(float) * acc_floats);
  ScratchPlan plan;
  // Per tap: the output rows whose input row is inside the image (one segment each) and
  // the columns likewise (every segment's length): the padding contributes nothing, so
  // the taps just skip it.
  // Per tap, a chunk's segments: (image, output row) in that order, seg_stride apart.
  const int64_t seg_stride = int64_t(chunk) * d.p;
  const size_t aoff_at = plan.add_array<int64_t>(size_t(taps) * seg_stride);
  const size_t boff_at = plan.add_array<int64_t>(size_t(taps) * seg_stride);
  const size_t nseg_at = plan.add_array<int32_t>(taps), len_at = plan.add_array<int32_t>(taps);
  const Regions per_thread = plan.add_regions(dyt_bytes + xt_bytes, threads);
  const Regions accumulators = plan.add_regions(acc_bytes, groups);
  void* base = ctx->workspace.require(plan.total());
  int64_t* a_off = at_offset<int64_t>(base, aoff_at);
  int64_t* b_off = at_offset<int64_t>(base, boff_at);
  int32_t* nseg = at_offset<int32_t>(base, nseg_at);
  int32_t* seg_len = at_offset<int32_t>(base, len_at);
  const int64_t x_image = int64_t(d.c) * d.h * d.w, dy_image = int64_t(d.k) * d.p * d.q;
  // dy's copy, per image: below AVX-512 block-major ([k block][pixel][16]), so that a GEMM over
  // one 16-column block (the AVX2 tile's width) reads consecutive lines of it, not every second
  // line of a pixel-major copy (a stride that maps the pass onto half of L1's sets; see
  // TapWeights). Zen 3, 2 threads,
  // batch 128, medians of six alternations, ms: 16->32 @32x32 2.65 -> 2.56 (6 of 6 rounds won),
  // 32->64 @16x16 2.84 -> 2.65, 64->128 @16x16 13.6 -> 12.2; the 7x7/2 ImageNet stem at batch 16
  // 52.4 -> 44.1. AVX-512's 32-column tile reads both blocks of a pixel at once: pixel-major.
  const PackStrides dyt_strides =
      b_in_column_blocks(ctx) ? PackStrides::block_major(d.p, d.q) : PackStrides::pixel_major(d.q, g.kb);
  const int64_t dyt_pixel = dyt_strides.col;  // floats from one pixel to the next within a block
  for (int32_t r = 0; r < d.r; ++r)
    for (int32_t s = 0; s < d.s; ++s) {
      const int32_t t = r * d.s + s;
      if (planes) {  // all P * Q output pixels in one segment; where the tap falls in the padding
                     // it reads the planes' zeros (products of 0, so the sums are as without them)
        seg_len[t] = d.p * d.q;
        nseg[t] = 1;
        for (int32_t j = 0; j < chunk; ++j) {
          a_off[t * seg_stride + j] = j * xt_image + pl.tap_offset(d, r, s);
          b_off[t * seg_stride + j] = j * dyt_image;
        }
        continue;
      }
      const Span rows = inside_outputs(d.p, d.h, 1, d.stride_h, d.pad_h - r);  // output rows tap r reads inside
      const Span cols = inside_outputs(d.q, d.w, 1, d.stride_w, d.pad_w - s);
      seg_len[t] = cols.size();
      nseg[t] = cols.size() > 0 ? rows.size() : 0;
      for (int32_t j = 0; j < chunk; ++j)
        for (int32_t i = 0; i < nseg[t]; ++i) {
          const int32_t p = rows.lo + i;
          const int64_t at = t * seg_stride + int64_t(j) * nseg[t] + i;
          a_off[at] = j * x_image + int64_t(p * d.stride_h - d.pad_h + r) * d.w + (cols.lo * d.stride_w - d.pad_w + s);
          b_off[at] = j * dyt_image + (int64_t(p) * d.q + cols.lo) * dyt_pixel;
        }
    }
  auto acc_of = [&](int group) { return at_offset<float>(base, accumulators.of(group)); };

  // With three filter rows and channels in fours, the three row taps of a column tap s
  // share one 12x2 register tile (gemm_bcast_grouped: four channels of each row tap, the
  // dy vectors loaded once for the three) over the output rows all three read inside; the
  // rows only some of them read go through the per-tap GEMMs, before and after, so every
  // sum still runs over the output rows in order. Only where the per-tap GEMMs' tiles are
  // small (direct_backward_filter_groups_row_taps, conv2d_impl.h): at 16 channels they are
  // 8x2 (16 accumulators, 10 loads per 16 FMAs, against 24 and 14 per 24 here), and the
  // 16->32 transition's filter gradient ran 20 % faster grouped; at 32 channels they are
  // 11x2 and it ran 10 % slower (the rows only some taps read cost GEMMs of their own).
  Span tap_rows[3] = {}, common = {0, 0};  // the output rows row tap r reads inside; all three do
  if (grouped) {
    common = {0, d.p};
    for (int32_t r = 0; r < 3; ++r) {
      tap_rows[r] = inside_outputs(d.p, d.h, 1, d.stride_h, d.pad_h - r);
      common = {std::max(common.lo, tap_rows[r].lo), std::min(common.hi, tap_rows[r].hi)};
    }
    if (common.hi < common.lo) common = {0, 0};
  }

  // dW^T[t][c][k] += sum over output pixels of x[c][pixel + tap t] * dy[k][pixel]: the
  // input channels are the rows, broadcast straight from x's NCHW planes (a row tile
  // reads one line of each of its planes per 16 / stride_w pixels), dy's copy as the
  // vectors. (x used to be packed pixel-major too, one 16x16 transpose per 16
  // pixels of 16 channels: up to 19 % of a stride-2 filter gradient.)
  // The group's next image (x and dy) is prefetched in step with this one's GEMMs
  // (PacedPrefetch): its first GEMMs otherwise waited on memory for x's lines and its dy copy
  // for dy's. (Slices of it between GEMM calls, 170 lines each at 16->32, stalled the core on
  // full miss buffers: 2.56 / 3.4-4.3 ms -> 2.10 / 2.7-3.4, best / medians of four
  // alternations, 2 threads on Zen 3; about the time with x the same image every time.) At a
  // group's last chunk the thread claims its next group and prefetches that group's first
  // chunk (without, a group's first images waited on memory: 128 images make 13 groups on 2 threads).
  // Zen 3, batch 128, 2 threads, medians of 8-12 alternations, ms: 32->64 @16x16 2.92 / 2.61,
  // 3.38 / 3.47, 2.94 / 2.89; 16->32 @32x32 3.14 / 2.99, 3.28 / 3.19: 2-5 %, at the edge of the noise.
  const bool prefetch_next = prefetches_next_image(ctx);
  int64_t image_work = 0;  // the GEMMs' multiply-adds per image: C x K16 per tap, row and column
  for (int32_t t = 0; t < taps; ++t) image_work += int64_t(d.c) * g.k16 * nseg[t] * seg_len[t];
  WorkShares in_order(groups, 1);  // one share: the groups in increasing order (WorkGroups' sizes shrink toward the end)
  ctx->pool.run_each(threads, [&](int tid, int) {
    float* dyt = at_offset<float>(base, per_thread.of(tid));
    float* xt = at_offset<float>(base, per_thread.of(tid) + dyt_bytes);
    PacedPrefetch prefetch;
    GemmArgs ga;
    ga.m = d.c;  // rows: input channels
    ga.n = g.k16;
    ga.lda = planes ? pl.c_pitch : in_plane(d);
    ga.a_step = planes ? 1 : d.stride_w;
    ga.b = dyt;
    ga.b_step = dyt_pixel;
    ga.b_block = dyt_strides.block;
    ga.ldc = g.k16;
    ga.prefetch = prefetch_next ? &prefetch : nullptr;
    // Tap t's GEMM over its segments [from, to) (its rows in order, image after image; all of
    // them: 0, images * nseg[t]).
    auto tap_gemm = [&](int32_t t, float* acc, int32_t from, int32_t to) {
      ga.nseg = to - from;  // none: the tap's rows of acc are written zero (or left as they are)
      ga.seg_len = seg_len[t];
      ga.a_off = a_off + t * seg_stride + from;
      ga.b_off = b_off + t * seg_stride + from;
      ga.c = acc + int64_t(t) * d.c * g.k16;
      kern.gemm_bcast(ga);
    };
    GemmArgs g3 = ga;  // the grouped tiles: rows (r, c) for r < 3 and 4 channels from c0
    g3.m = 12;
    int64_t a_grp[3], c_grp[3];
    for (int32_t r = 0; r < 3; ++r) a_grp[r] = int64_t(r) * d.w;
    g3.a_grp = a_grp;
    g3.c_grp = c_grp;
    ShareClaims claims(in_order, tid, groups);
    for (int32_t group = int32_t(claims.next()); group < groups; group = int32_t(claims.next())) {
      float* acc = acc_of(group);
      const int32_t first = int32_t(split.begin(group)), last = int32_t(split.end(group));
      // grouped: acc starts at zero and every GEMM adds (a tap's rows come in up to three GEMMs)
      if (grouped) std::memset(acc, 0, sizeof(float) * acc_floats);
      for (int32_t n = first; n < last;) {
        const int32_t images = std::min(chunk, last - n);
        // the images of the thread's next chunk: this group's, or after its last chunk the first
        // of the group it claims now (groups are summed in group order, whoever runs them)
        int32_t ahead_at = n + images, ahead = std::min(chunk, last - ahead_at);
        if (prefetch_next && ahead == 0) {
          const int64_t next_group = claims.claim_ahead();
          if (next_group < groups) {
            ahead_at = int32_t(split.begin(int(next_group)));
            ahead = std::min<int32_t>(chunk, int32_t(split.end(int(next_group))) - ahead_at);
          }
        }
        ga.accumulate = grouped || n > first;  // else the group's first chunk writes acc (every float of it)
        ga.a = planes ? xt : x + n * x_image;
        if (prefetch_next && ahead > 0)
          prefetch.start(x + ahead_at * x_image, ahead * x_image, dy + ahead_at * dy_image, ahead * dy_image,
                         images * image_work);
        else
          prefetch.stop();
        for (int32_t j = 0; j < images; ++j) {
          kern.pack_c16(dy + (n + j) * dy_image, d.k, d.p, d.q, 0, d.p, 0, d.q, dyt + j * dyt_image, dyt_strides);
          if (planes) pack_phase_planes(kern, d, pl, x + (n + j) * x_image, xt + j * xt_image);
        }
        for (int32_t s = 0; s < d.s; ++s) {
          if (common.size() == 0 || seg_len[s] == 0) {  // not grouped, or nothing all three taps read
            for (int32_t r = 0; r < d.r; ++r) tap_gemm(r * d.s + s, acc, 0, images * nseg[r * d.s + s]);
            continue;
          }
          for (int32_t r = 0; r < 3; ++r)  // rows before the common ones
            if (common.lo > tap_rows[r].lo) tap_gemm(r * d.s + s, acc, 0, common.lo - tap_rows[r].lo);
          // tap (0, s)'s segments from output row common.lo on: every tap (r, s) reads the same
          // columns, a_grp[r] rows further down
          const int32_t t0 = s;
          g3.accumulate = true;
          g3.nseg = common.size();
          g3.seg_len = seg_len[t0];
          g3.a_off = a_off + t0 * seg_stride + (common.lo - tap_rows[0].lo);  // (chunk 1 when grouped)
          g3.b_off = b_off + t0 * seg_stride + (common.lo - tap_rows[0].lo);
          for (int32_t r = 0; r < 3; ++r) c_grp[r] = int64_t(r * d.s + s) * d.c * g.k16;
          for (int32_t c0 = 0; c0 < d.c; c0 += 4) {
            g3.a = ga.a + int64_t(c0) * in_plane(d);
            g3.c = acc + int64_t(c0) * g.k16;
            kern.gemm_bcast_grouped(g3);
          }
          for (int32_t r = 0; r < 3; ++r)  // rows after them
            if (tap_rows[r].hi > common.hi)
              tap_gemm(r * d.s + s, acc, common.hi - tap_rows[r].lo, tap_rows[r].size());
        }
        n += images;
      }
    }
  });
  // dw[k][c][r][s] = sum over groups of acc[r][s][c][k], in group order: first the sums,
  // contiguous (vectorized), into group 0's accumulator, then one transposing copy, a lane block
  // of k at a time: it reads acc a whole line at a time and writes 16 rows of dw, each in order.
  // (Taking k in dw's order instead read one float of each line, which at 128->256 (acc 1.2 MB,
  // past L2) missed on nearly every read: 38 % of a filter gradient over 8 images.)
  const float* total = sum_group_accumulators(ctx->pool, groups, acc_floats, acc_of);
  ctx->pool.parallel_for(int64_t(g.kb) * d.c, 8, [&](int64_t b, int64_t e, int) {
    for (int64_t idx = b; idx < e; ++idx) {
      const int32_t k0 = int32_t(idx / d.c) * kLanes, c = int32_t(idx % d.c), lanes = std::min(kLanes, d.k - k0);
      for (int32_t t = 0; t < taps; ++t) {
        const float* from = total + (int64_t(t) * d.c + c) * g.k16 + k0;
        float* to = dw + (int64_t(k0) * d.c + c) * taps + t;
        for (int32_t kk = 0; kk < lanes; ++kk) to[kk * int64_t(d.c) * taps] = from[kk];
      }
    }
  });
  if (dbias != nullptr) bias_gradient(ctx, d, dy, dbias);
  return RN_STATUS_OK;
}

}  // namespace rn::conv
