// conv2d by Winograd F(4x4,3x3) for 3x3 stride-1 convolutions (the ones that
// dominate ResNets), with F(3,3) tiles at the ends of sides that are not multiples of 4.
// See winograd.h for the scheme and the layouts.
//
//   forward:         Y = A^T [ U (.) V ] A with U = G g G^T, V = B^T d B, summed over C
//   backward-data:   the forward scheme on dy with the filters rotated by 180 degrees
//                    and K/C swapped (padding 2 - pad): the adjoint of a stride-1
//                    correlation is again a correlation.
//   backward-filter: the adjoint of the forward map in g, tile by tile:
//                    dW = G^T [ sum over tiles (A dY A^T) (.) V ] G, the sum over
//                    tiles being 36 GEMMs that reduce over the tile axis.
//
// Work: blocks of whole tile rows (of one or several images), handed to the pool's
// threads by an atomic counter. Each thread packs the rows a tile row needs into
// channel-blocked form, transforms, multiplies and writes back while the block is
// in cache, so NCHW stays the layout everywhere outside this file.
#include <algorithm>
#include <cstring>

#include "conv2d_impl.h"
#include "isa_kernels.h"
#include "norm_kernels.h"
#include "winograd.h"

namespace rn::conv {

bool winograd_applicable(const rn_conv2d_desc& d) {
  return d.r == 3 && d.s == 3 && d.stride_h == 1 && d.stride_w == 1 && d.pad_h <= 2 && d.pad_w <= 2;
}

namespace {

using wino::kPatch;
using wino::kPositions;
using wino::kTile;

// A forward-form problem: out[n][cout][p][q] = sum over cin of a 3x3 correlation.
struct Plan {
  int32_t n, cin, h, w, cout, p, q, pad_h, pad_w;
  int32_t cblocks, kblocks, cin16, cout16;
  wino::Tiling rows_t, cols_t;  // the tiles down and across an image (winograd.h)
  int32_t th, tw, wp;     // tiles per image (rows, columns); packed row width cols_t.covered() + 2
  int32_t rows_per_block; // tile rows per block
  int64_t tiles;          // rows_per_block * tw: rows of V and M
  int64_t v_stride, m_stride;  // floats between the planes of V and of M (wino::plane_stride)
  int64_t u_plane;             // floats between the planes of U
  // U's planes block by block ([cout block][cin16][16]; u_row, u_block the strides) or in whole
  // rows ([cin16][cout16]), as b_in_column_blocks (conv2d_impl.h) says. Zen 3, 2 threads, batch
  // 128, means of five medians, ms: 64->64 @8x8 forward 1.99 -> 1.83 (5 of 5 rounds), backward-
  // data 1.90 -> 1.81; CReLU 128->64 @8x8 backward-data 4.33 -> 3.76, forward alike (4.0-4.1).
  // Backward-filter's GEMMs read U not at all.
  bool u_blocks = false;
  int64_t u_row() const { return u_blocks ? kLanes : cout16; }
  int64_t u_block() const { return u_blocks ? int64_t(cin16) * kLanes : kLanes; }
  // x holds cin/2 channels and the conv reads their CReLU [relu(x), relu(-x)] (cin/2 a
  // multiple of 16, so the negative half starts on a channel block of its own)
  bool crelu_input = false;
  // backward-data of a CReLU-input conv: the output's 2C channels (cout) are folded onto u,
  // a tile row at a time, from a buffer of cout x 4 rows x q floats (run_forward_form)
  bool crelu_fold = false;
  int32_t x_channels() const { return crelu_input ? cin / 2 : cin; }
  int64_t total_rows() const { return int64_t(n) * th; }
  // Tile rows of height 4 among tile rows [0, grow) of the whole batch.
  int64_t tall_rows_before(int64_t grow) const {
    return grow / th * rows_t.n4 + std::min<int64_t>(grow % th, rows_t.n4);
  }
  // Where tile row grow = row0 + ri of the block starting at tile row row0 puts its tiles in
  // each position class's rows (wino::RowIndex).
  wino::RowIndex row_index(int64_t row0, int32_t ri) const {
    const int64_t tall = tall_rows_before(row0 + ri) - tall_rows_before(row0);
    return {int64_t(ri) * tw, int64_t(ri) * cols_t.n4, tall * tw, tall * cols_t.n4};
  }
  // The rows of position (i, j)'s GEMM in a block of `rows` tile rows from row0: the block's
  // tiles that have that position.
  int64_t position_rows(int64_t row0, int32_t rows, int i, int j) const {
    const int64_t tall = i == wino::kNarrowPoint ? tall_rows_before(row0 + rows) - tall_rows_before(row0) : rows;
    return tall * (j == wino::kNarrowPoint ? cols_t.n4 : tw);
  }
  int64_t blocks() const { return (total_rows() + rows_per_block - 1) / rows_per_block; }
};

// Bytes of V and M a block may use: about half of a typical 1-2 MiB L2.
constexpr int64_t kBlockBytes = 768 << 10;

Plan make_plan(int32_t n, int32_t cin, int32_t h, int32_t w, int32_t cout, int32_t p, int32_t q, int32_t pad_h,
               int32_t pad_w) {
  Plan pl{};
  pl.n = n; pl.cin = cin; pl.h = h; pl.w = w; pl.cout = cout; pl.p = p; pl.q = q;
  pl.pad_h = pad_h; pl.pad_w = pad_w;
  pl.cblocks = lane_blocks(cin);
  pl.kblocks = lane_blocks(cout);
  pl.cin16 = pl.cblocks * kLanes;
  pl.cout16 = pl.kblocks * kLanes;
  pl.rows_t = wino::tiling_for(p);  // 3-wide tiles at the end where they save points (winograd.h)
  pl.cols_t = wino::tiling_for(q);
  pl.th = pl.rows_t.tiles();
  pl.tw = pl.cols_t.tiles();
  pl.wp = pl.cols_t.covered() + 2;
  const int64_t per_tile = int64_t(kPositions) * (pl.cin16 + pl.cout16) * sizeof(float);
  const int64_t want = std::clamp<int64_t>(kBlockBytes / per_tile, 16, 128);
  int64_t rows = std::max<int64_t>(1, want / pl.tw);
  pl.rows_per_block = int32_t(std::min<int64_t>(rows, pl.total_rows()));
  pl.tiles = int64_t(pl.rows_per_block) * pl.tw;
  pl.v_stride = wino::plane_stride(pl.tiles * pl.cin16);
  pl.m_stride = wino::plane_stride(pl.tiles * pl.cout16);
  pl.u_plane = wino::plane_stride(int64_t(pl.cin16) * pl.cout16);
  return pl;
}

// u[xi][i][o] = (G g G^T)[xi] for input channel i, output channel o (zero past the
// real channel counts). Forward: g = w[o][i]. Backward-data (rotated): the "input"
// channels are the conv's K, the outputs its C, and g = w[i][o] rotated 180 degrees.
// Each thread regroups its input channels' filters output-channel-contiguous into g
// ([i][tap][cout16], in scratch) so the transform runs 16 output channels per vector.
void transform_filters(ThreadPool& pool, const IsaKernels& kern, const Plan& pl, const float* w, bool rotated,
                       float* u, float* g) {
  for (int xi = 0; xi < kPositions; ++xi)  // rows past cin
    for (int32_t ob = 0; ob < (pl.u_blocks ? pl.kblocks : 1); ++ob)
      std::memset(u + xi * pl.u_plane + ob * pl.u_block() + int64_t(pl.cin) * pl.u_row(), 0,
                  sizeof(float) * (pl.cin16 - pl.cin) * (pl.u_blocks ? kLanes : pl.cout16));
  pool.parallel_for(pl.cin, 1, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) {
      float* gi = g + i * 9 * pl.cout16;
      std::memset(gi, 0, sizeof(float) * 9 * pl.cout16);
      for (int64_t o = 0; o < pl.cout; ++o) {
        const float* src = rotated ? w + (i * pl.cout + o) * 9 : w + (o * pl.cin + i) * 9;
        for (int tap = 0; tap < 9; ++tap) gi[tap * pl.cout16 + o] = src[rotated ? 8 - tap : tap];
      }
    }
    kern.wino4_filters(g, int32_t(b), int32_t(e), pl.cout16, u, pl.u_plane, pl.u_row(), pl.u_block());
  });
}

struct ThreadBuffers {
  float* xt;  // packed input rows of one tile row
  float* v;   // transformed input of a block
  float* m;   // GEMM output (forward) or transformed output gradient (backward-filter)
  float* yt;  // packed output rows (forward) or output-gradient rows (backward-filter)
  float* yt_neg;  // forward with a CReLU epilogue: the negative half of yt
  float* rows;    // backward-data of a CReLU input: one tile row's 2C-channel gradient, NCHW
};

size_t thread_bytes(const Plan& pl) {
  return ScratchCarver::round_up(sizeof(float) * pl.cblocks * kPatch * pl.wp * kLanes) +
         ScratchCarver::round_up(sizeof(float) * kPositions * pl.v_stride) +
         ScratchCarver::round_up(sizeof(float) * kPositions * pl.m_stride) +
         2 * ScratchCarver::round_up(sizeof(float) * pl.kblocks * kTile * kTile * pl.tw * kLanes) +
         (pl.crelu_fold ? ScratchCarver::round_up(sizeof(float) * pl.cout * kTile * pl.q) : 0);
}

ThreadBuffers carve(const Plan& pl, char* base) {
  ScratchCarver c(base);
  ThreadBuffers t;
  t.xt = c.take<float>(size_t(pl.cblocks) * kPatch * pl.wp * kLanes);
  t.v = c.take<float>(size_t(kPositions) * pl.v_stride);
  t.m = c.take<float>(size_t(kPositions) * pl.m_stride);
  t.yt = c.take<float>(size_t(pl.kblocks) * kTile * kTile * pl.tw * kLanes);
  t.yt_neg = c.take<float>(size_t(pl.kblocks) * kTile * kTile * pl.tw * kLanes);
  t.rows = pl.crelu_fold ? c.take<float>(size_t(pl.cout) * kTile * pl.q) : nullptr;
  return t;
}

// Packs and transforms the input of tile rows [row0, row0 + rows) into t.v.
void input_block(const IsaKernels& kern, const Plan& pl, const float* x, int64_t row0, int32_t rows,
                 const ThreadBuffers& t) {
  for (int32_t ri = 0; ri < rows; ++ri) {
    const int64_t grow = row0 + ri, img = grow / pl.th;
    const int32_t a = int32_t(grow % pl.th);
    const bool tall = pl.rows_t.wide(a);
    const PackStrides st = PackStrides::block_major(kPatch, pl.wp);
    // (a 3-tall tile row reads 5 patch rows; the sixth keeps whatever an earlier row left there,
    // which crelu_split below passes over too, and nothing reads)
    kern.pack_c16(x + img * pl.x_channels() * int64_t(pl.h) * pl.w, pl.x_channels(), pl.h, pl.w,
                  pl.rows_t.start(a) - pl.pad_h, tall ? kPatch : kPatch - 1, -pl.pad_w, pl.wp, t.xt, st);
    // CReLU input: the packed blocks of x become relu(x), the blocks after them relu(-x)
    // (zero padding stays zero in both), here in cache instead of a 2C tensor in memory.
    if (pl.crelu_input) kern.crelu_split(t.xt, int64_t(pl.cblocks / 2) * st.block);
    kern.wino4_input_row(t.xt, pl.cblocks, pl.wp, pl.cols_t, tall, t.v, pl.row_index(row0, ri), pl.v_stride,
                         pl.cin16);
  }
}

// The images that block nb reads and the block of tile rows [row0, row0 + rows) has not (the
// ones after this block's last where nb comes later, before its first where nb comes earlier,
// as when a thread takes from the back of another's share): what a thread prefetches for its
// next block. Empty past the last block.
struct ImageRange {
  int64_t first = 0, count = 0;
};
ImageRange images_not_read(const Plan& pl, int64_t row0, int32_t rows, int64_t nb) {
  if (nb < 0 || nb >= pl.blocks()) return {};
  const int64_t first_read = row0 / pl.th, last_read = (row0 + rows - 1) / pl.th;
  const int64_t n0 = nb * pl.rows_per_block;
  const int64_t n1 = std::min<int64_t>(n0 + pl.rows_per_block, pl.total_rows()) - 1;
  int64_t i0 = n0 / pl.th, i1 = n1 / pl.th;
  if (n0 > row0)
    i0 = std::max(i0, last_read + 1);
  else
    i1 = std::min(i1, first_read - 1);
  return i1 >= i0 ? ImageRange{i0, i1 - i0 + 1} : ImageRange{};
}

// y = conv(x, filters transformed into u) + bias (bias: cout16 floats or null),
// then the fused epilogue if there is one (y_image: floats per image of y).
// crelu_u (backward-data of a CReLU-input conv, no bias or epilogue): the forward form's output
// is the gradient of [relu(u), relu(-u)] (cout = 2C channels); y gets the gradient of u instead,
// y[c] = out[c]·[u > 0] - out[C + c]·[u < 0] (C channels, y_image = C planes), each tile row's
// 2C channels unpacked to a cache-resident buffer first (t.rows) instead of to memory.
void run_forward_form(rn_context* ctx, const Plan& pl, const float* x, const float* u, const float* bias16,
                      float* y, int64_t y_image, const Epilogue* ep, char* base, const Regions& per_thread,
                      const float* crelu_u = nullptr) {
  const IsaKernels& kern = isa_kernels(ctx->isa);
  const rn::NormKernels& norm = rn::norm_kernels(ctx->isa);
  const int64_t blocks = pl.blocks();
  const int threads = int(std::min<int64_t>(ctx->pool.size(), blocks));
  // Paced over each block's GEMMs (PacedPrefetch, as in the direct convs): the input images of
  // the block this thread takes next that this block has not read (pack_c16 waited on memory for
  // them), and this block's output images (the unpack's stores read each line first). Zen 3,
  // batch 128, 2 threads, forward and backward-data medians summed over 16->16 @32x32, @28x28 and
  // 32->32 @16x16, ms: 55.0 -> 49.0 and 55.5 -> 54.2 in two rounds of three alternations; x alone
  // 55.2, y alone 56.6 in the second. `perf` (16->16 @32x32 forward): pack_c16 18.8 -> 14.0 % of
  // the samples, unpack_c16 14.4 -> 11.4 %.
  const bool prefetch = prefetches_next_image(ctx);
  const int64_t x_image = int64_t(pl.x_channels()) * pl.h * pl.w;
  // Blocks in per-thread shares (WorkShares): neighbouring blocks write neighbouring rows of
  // every output plane, whose lines each core's prefetchers pull from the other.
  WorkShares shares(int32_t(blocks), threads);
  ctx->pool.run_each(threads, [&](int tid, int) {
    const ThreadBuffers t = carve(pl, base + per_thread.of(tid));
    PacedPrefetch paced;
    ShareClaims claims(shares, tid, blocks);
    for (int64_t b = claims.next(); b < blocks; b = claims.next()) {
      // the block after this one, claimed now where its input is prefetched (else as usual, when
      // this one is done: a claimed block waits for its thread)
      const int64_t after = prefetch ? claims.claim_ahead() : -1;
      const int64_t row0 = b * pl.rows_per_block;
      const int32_t rows = int32_t(std::min<int64_t>(pl.rows_per_block, pl.total_rows() - row0));
      input_block(kern, pl, x, row0, rows, t);
      if (prefetch) {
        const int64_t img0 = row0 / pl.th, img1 = (row0 + rows - 1) / pl.th;
        const ImageRange ahead = images_not_read(pl, row0, rows, after);
        // (with crelu_u, also this block's images of u, which the fold reads after the GEMMs)
        paced.start(ahead.count ? x + ahead.first * x_image : nullptr, ahead.count * x_image, y + img0 * y_image,
                    (img1 - img0 + 1) * y_image, int64_t(kPositions) * rows * pl.tw * pl.cout16 * pl.cin,
                    crelu_u ? crelu_u + img0 * y_image : nullptr, (img1 - img0 + 1) * y_image);
      }
      GemmArgs g;
      g.prefetch = prefetch ? &paced : nullptr;
      g.m = int64_t(rows) * pl.tw;
      g.n = pl.cout16;
      g.seg_len = pl.cin;  // lanes past cin are zero in both operands
      g.lda = pl.cin16;
      g.a_step = 1;
      g.b_step = pl.u_row();
      g.b_block = pl.u_block();
      g.ldc = pl.cout16;
      for (int xi = 0; xi < kPositions; ++xi) {
        g.m = pl.position_rows(row0, rows, xi / 6, xi % 6);  // (none: M's plane is not read either)
        g.a = t.v + xi * pl.v_stride;
        g.b = u + xi * pl.u_plane;
        g.c = t.m + xi * pl.m_stride;
        kern.gemm_bcast(g);
      }
      for (int32_t ri = 0; ri < rows; ++ri) {
        const int64_t grow = row0 + ri, img = grow / pl.th;
        const int32_t a = int32_t(grow % pl.th);
        const bool tall = pl.rows_t.wide(a);
        const int32_t cols = pl.cols_t.covered(), out_rows = tall ? kTile : kTile - 1, out_row0 = pl.rows_t.start(a);
        // the epilogue (if any) applied as the output transform stores each value
        kern.wino4_output_row(t.m, pl.row_index(row0, ri), pl.m_stride, pl.kblocks, pl.cols_t, tall, bias16,
                              ep ? &ep->args : nullptr, t.yt, t.yt_neg);
        const PackStrides st = PackStrides::block_major(kTile, cols);
        float* y_img = y + img * y_image;
        if (crelu_u != nullptr) {
          // planes of `rows_in` x q in t.rows, then each channel's rows in one run (the plane's
          // rows out_row0 .. out_row0 + rows_in - 1 are contiguous in u and y too). rows_in, not
          // out_rows: where 3-tall tiles cover more than the side (1, 2 and 5 rows: 3, 3 and 6),
          // the last tile row reaches past the plane, and its run would fold the next channel's
          // first row (or memory past the tensor) against the wrong u.
          const int32_t rows_in = std::min(out_rows, pl.p - out_row0);
          kern.unpack_c16(t.yt, st, pl.cout, rows_in, cols, rows_in, pl.q, 0, t.rows);
          const int32_t half = pl.cout / 2;
          const int64_t run = int64_t(rows_in) * pl.q, plane = int64_t(pl.p) * pl.q, at = int64_t(out_row0) * pl.q;
          const float* u_img = crelu_u + img * y_image;
          for (int32_t c = 0; c < half; ++c)
            norm.crelu_backward(run, u_img + c * plane + at, t.rows + c * run, t.rows + (half + c) * run,
                                y_img + c * plane + at);
          continue;
        }
        kern.unpack_c16(t.yt, st, pl.cout, out_rows, cols, pl.p, pl.q, out_row0, y_img);
        if (ep && ep->crelu())
          kern.unpack_c16(t.yt_neg, st, pl.cout, out_rows, cols, pl.p, pl.q, out_row0,
                          y_img + pl.cout * int64_t(pl.p) * pl.q);
      }
    }
  });
}

int forward_form(rn_context* ctx, const Plan& pl, const float* x, const float* w, bool rotated, const float* bias,
                 float* y, int64_t y_image, const Epilogue* ep, const float* crelu_u = nullptr) {
  const size_t u_bytes = ScratchCarver::round_up(sizeof(float) * kPositions * pl.u_plane);
  const size_t bias_bytes = ScratchCarver::round_up(sizeof(float) * pl.cout16);
  const size_t g_bytes = ScratchCarver::round_up(sizeof(float) * pl.cin * 9 * pl.cout16);
  const int threads = int(std::min<int64_t>(ctx->pool.size(), pl.blocks()));
  ScratchPlan plan;
  const size_t u_at = plan.add(u_bytes), bias_at = plan.add(bias_bytes);
  const Regions per_thread = plan.add_regions(thread_bytes(pl), threads);
  // g (regrouped filters) shares the threads' regions: it is dead before they start
  const size_t g_at = per_thread.at;
  char* base = static_cast<char*>(ctx->workspace.require(std::max(plan.total(), g_at + g_bytes)));
  float* u = at_offset<float>(base, u_at);
  transform_filters(ctx->pool, isa_kernels(ctx->isa), pl, w, rotated, u, at_offset<float>(base, g_at));
  float* bias16 = nullptr;
  if (bias != nullptr) {
    bias16 = at_offset<float>(base, bias_at);
    std::memset(bias16, 0, sizeof(float) * pl.cout16);
    std::memcpy(bias16, bias, sizeof(float) * pl.cout);
  }
  run_forward_form(ctx, pl, x, u, bias16, y, y_image, ep, base, per_thread, crelu_u);
  return RN_STATUS_OK;
}

}  // namespace

bool winograd_crelu_input_applicable(const rn_conv2d_desc& d) {
  return winograd_applicable(d) && d.c % (2 * kLanes) == 0;
}

int winograd_forward(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* w, const float* bias,
                     float* y, const Epilogue* ep, bool crelu_input) {
  Plan pl = make_plan(d.n, d.c, d.h, d.w, d.k, d.p, d.q, d.pad_h, d.pad_w);
  pl.u_blocks = b_in_column_blocks(ctx);
  pl.crelu_input = crelu_input;
  return forward_form(ctx, pl, x, w, false, bias, y, ep ? ep->image(d) : int64_t(d.k) * d.p * d.q, ep);
}

int winograd_backward_data(rn_context* ctx, const rn_conv2d_desc& d, const float* dy, const float* w, float* dx,
                           const float* crelu_u) {
  // dx = correlation of dy (K channels, P x Q) with the rotated filters, padding 2 - pad: H x W.
  Plan pl = make_plan(d.n, d.k, d.p, d.q, d.c, d.h, d.w, 2 - d.pad_h, 2 - d.pad_w);
  pl.u_blocks = b_in_column_blocks(ctx);
  pl.crelu_fold = crelu_u != nullptr;
  const int64_t dx_image = int64_t(crelu_u ? d.c / 2 : d.c) * d.h * d.w;
  return forward_form(ctx, pl, dy, w, true, nullptr, dx, dx_image, nullptr, crelu_u);
}

int winograd_backward_filter(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* dy, float* dw,
                             float* dbias, bool crelu_input) {
  const IsaKernels& kern = isa_kernels(ctx->isa);
  Plan pl = make_plan(d.n, d.c, d.h, d.w, d.k, d.p, d.q, d.pad_h, d.pad_w);
  pl.crelu_input = crelu_input;
  const int64_t blocks = pl.blocks();
  const int threads = int(std::min<int64_t>(ctx->pool.size(), blocks));
  const int64_t acc_plane = wino::plane_stride(int64_t(pl.cout) * pl.cin16);  // acc[xi][k][c], planes apart
  const int64_t acc_floats = kPositions * acc_plane;
  // Determinism (as direct_backward_filter): fixed contiguous groups of row blocks, one
  // accumulator each, summed in group order; threads take whole groups dynamically. A
  // block's work: the 36 transform-domain GEMMs over its tiles.
  const double block_work = double(kPositions) * pl.cout * pl.cin * pl.rows_per_block * pl.tw;
  const WorkGroups split(blocks, threads, WorkGroups::min_units_for(blocks, threads, acc_floats, block_work));
  const int groups = split.count();
  const size_t acc_bytes = ScratchCarver::round_up(sizeof(float) * acc_floats);
  ScratchPlan plan;
  const Regions per_thread = plan.add_regions(thread_bytes(pl), threads);
  const Regions accumulators = plan.add_regions(acc_bytes, groups);
  char* base = static_cast<char*>(ctx->workspace.require(plan.total()));
  auto accumulator = [&](int group) { return at_offset<float>(base, accumulators.of(group)); };

  // Paced over each block's GEMMs, as in the forward form: the images of x and dy that the
  // thread's next block reads and this one has not (both packs waited on memory for them:
  // pack_c16 took 18-20 % of the samples of the 128->64 @7x7 gradient at batch 128, and did not
  // show with 8 images in cache). At a group's last block the thread claims its next group
  // ahead, so that group's first block is prefetched too; which thread sums a group changes
  // nothing, the groups being added in group order. Zen 3, batch 128, 2 threads, medians of
  // eight alternations, ms, before / after: 64->32 @14x14 5.74 / 4.31, 32->32 @16x16 2.64 / 2.20,
  // 32->16 @32x32 6.27 / 5.85, 16->16 @32x32 3.61 / 3.49, 128->64 @7x7 5.59 / 5.45, 64->64 @8x8
  // 2.45 / 2.56 (within the noise).
  const bool prefetch = prefetches_next_image(ctx);
  const int64_t x_image = int64_t(pl.x_channels()) * pl.h * pl.w, dy_image = int64_t(pl.cout) * pl.p * pl.q;
  WorkShares in_order(groups, 1);  // one share: the groups in increasing order (WorkGroups' sizes shrink toward the end)
  ctx->pool.run_each(threads, [&](int tid, int) {
    const ThreadBuffers t = carve(pl, base + per_thread.of(tid));
    PacedPrefetch paced;
    GemmArgs g;
    g.prefetch = prefetch ? &paced : nullptr;
    g.m = pl.cout;      // rows: output channels k
    g.n = pl.cin16;     // columns: input channels c
    g.lda = 1;          // A = Z[xi] read as (k, t): k contiguous
    g.a_step = pl.cout16;
    g.b_step = pl.cin16;
    g.ldc = pl.cin16;
    ShareClaims claims(in_order, tid, groups);
    for (int64_t group = claims.next(); group < groups; group = claims.next()) {
      float* acc = accumulator(int(group));
      for (int64_t b = split.begin(int(group)); b < split.end(int(group)); ++b) {
        // The group's first block writes acc (no memset; the floats between planes stay
        // unwritten and unread but for the plain sum of the groups).
        g.accumulate = b > split.begin(int(group));
        const int64_t row0 = b * pl.rows_per_block;
        const int32_t rows = int32_t(std::min<int64_t>(pl.rows_per_block, pl.total_rows() - row0));
        input_block(kern, pl, x, row0, rows, t);
        for (int32_t ri = 0; ri < rows; ++ri) {
          const int64_t grow = row0 + ri, img = grow / pl.th;
          const int32_t a = int32_t(grow % pl.th);
          // dY's rows of this tile row (4 or 3), zero past p and q
          const bool tall = pl.rows_t.wide(a);
          const int32_t cols = pl.cols_t.covered();
          kern.pack_c16(dy + img * pl.cout * int64_t(pl.p) * pl.q, pl.cout, pl.p, pl.q, pl.rows_t.start(a),
                        tall ? kTile : kTile - 1, 0, cols, t.yt, PackStrides::block_major(kTile, cols));
          kern.wino4_grad_row(t.yt, pl.kblocks, pl.cols_t, tall, t.m, pl.row_index(row0, ri), pl.m_stride);
        }
        if (prefetch) {
          int64_t nb = b + 1;
          if (nb == split.end(int(group))) {  // the group's last block: the next group's first
            const int64_t ahead = claims.claim_ahead();
            nb = ahead < groups ? split.begin(int(ahead)) : -1;
          }
          const ImageRange ahead = images_not_read(pl, row0, rows, nb);
          paced.start(ahead.count ? x + ahead.first * x_image : nullptr, ahead.count * x_image,
                      ahead.count ? dy + ahead.first * dy_image : nullptr, ahead.count * dy_image,
                      int64_t(kPositions) * pl.cout * pl.cin16 * rows * pl.tw);  // (an upper bound)
        }
        for (int xi = 0; xi < kPositions; ++xi) {
          // the block's tiles that have the position (none: a first block writes the plane zero)
          g.seg_len = int32_t(pl.position_rows(row0, rows, xi / 6, xi % 6));
          g.a = t.m + xi * pl.m_stride;
          g.b = t.v + xi * pl.v_stride;
          g.c = acc + xi * acc_plane;
          kern.gemm_bcast(g);
        }
      }
    }
  });

  // Sum the groups' accumulators in group order, then dW = G^T S G per filter.
  const float* total = sum_group_accumulators(ctx->pool, groups, acc_floats, accumulator);
  ctx->pool.parallel_for(d.k, 1, [&](int64_t b, int64_t e, int) {
    kern.wino4_filter_grads(total, acc_plane, int32_t(b), int32_t(e), d.c, pl.cin16, dw);
  });

  if (dbias != nullptr) bias_gradient(ctx, d, dy, dbias);
  return RN_STATUS_OK;
}

}  // namespace rn::conv
