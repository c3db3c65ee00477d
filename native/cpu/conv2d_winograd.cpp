// conv2d by Winograd F(2x2,3x3) for 3x3 stride-1 convolutions (the ones that
// dominate ResNets). See winograd.h for the scheme.
//
//   forward:         Y = A^T [ U (.) V ] A, U = G g G^T, V = B^T d B, summed over C
//   backward-data:   the forward scheme on dy with the filters rotated by 180
//                    degrees and K/C swapped (padding 2 - pad): a stride-1
//                    correlation's adjoint is again a correlation.
//   backward-filter: the adjoint of the forward map in g, tile by tile:
//                    dW = G^T [ sum_tiles (A dY A^T) (.) V ] G, the sum over tiles
//                    being 16 GEMMs that reduce over the tile axis.
// Work is split across the pool by blocks of tile rows (an atomic counter
// hands them out); each thread transforms, multiplies and writes back its block
// while it is in cache.
#include <algorithm>
#include <atomic>
#include <cstring>

#include "conv2d_impl.h"
#include "isa_kernels.h"
#include "winograd.h"

namespace rn::conv {

bool winograd_applicable(const rn_conv2d_desc& d) {
  return d.r == 3 && d.s == 3 && d.stride_h == 1 && d.stride_w == 1 && d.pad_h <= 2 && d.pad_w <= 2;
}

namespace {

// Tiles per block aimed at: enough columns for full-width GEMM micro-tiles,
// few enough that V and M of a block stay in L2.
constexpr int32_t kTargetTiles = 64;

wino::Geometry make_geometry(int32_t n, int32_t c, int32_t h, int32_t w, int32_t k, int32_t p, int32_t q,
                             int32_t pad_h, int32_t pad_w) {
  wino::Geometry g{};
  g.n = n; g.c = c; g.h = h; g.w = w; g.k = k; g.p = p; g.q = q;
  g.pad_h = pad_h;
  g.pad_w = pad_w;
  g.th = (p + 1) / 2;
  g.tw = (q + 1) / 2;
  int64_t rows = std::max<int64_t>(1, kTargetTiles / g.tw);
  rows = std::min<int64_t>(rows, g.total_rows());
  g.rows_per_block = int32_t(rows);
  int64_t tiles = rows * g.tw;
  g.tb = int32_t((tiles + wino::kTileAlign - 1) / wino::kTileAlign * wino::kTileAlign);
  return g;
}

int64_t block_count(const wino::Geometry& g) {
  return (g.total_rows() + g.rows_per_block - 1) / g.rows_per_block;
}

// U[xi][out][in] = G g G^T. Forward: out = k, in = c, g = w[k][c]. For
// backward-data (rotated = true): out = c, in = k, g = w[k][c] rotated 180.
void transform_filters(ThreadPool& pool, const float* w, int32_t k, int32_t c, bool rotated, float* u) {
  const int32_t outs = rotated ? c : k, ins = rotated ? k : c;
  pool.parallel_for(int64_t(k) * c, 256, [&](int64_t b, int64_t e, int) {
    for (int64_t idx = b; idx < e; ++idx) {
      const int32_t kk = int32_t(idx / c), cc = int32_t(idx % c);
      const float* src = w + idx * 9;
      float gm[3][3];
      for (int r = 0; r < 3; ++r)
        for (int s = 0; s < 3; ++s) gm[r][s] = rotated ? src[(2 - r) * 3 + (2 - s)] : src[r * 3 + s];
      float t[4][3];  // G g
      for (int s = 0; s < 3; ++s) {
        t[0][s] = gm[0][s];
        t[1][s] = 0.5f * (gm[0][s] + gm[1][s] + gm[2][s]);
        t[2][s] = 0.5f * (gm[0][s] - gm[1][s] + gm[2][s]);
        t[3][s] = gm[2][s];
      }
      const int64_t o = rotated ? cc : kk, i = rotated ? kk : cc;
      for (int a = 0; a < 4; ++a) {  // (G g) G^T
        float v[4] = {t[a][0], 0.5f * (t[a][0] + t[a][1] + t[a][2]), 0.5f * (t[a][0] - t[a][1] + t[a][2]), t[a][2]};
        for (int bb = 0; bb < 4; ++bb) u[((a * 4 + bb) * int64_t(outs) + o) * ins + i] = v[bb];
      }
    }
  });
}

// Runs the forward scheme: y = conv(x, filters whose transform is u) + bias.
int run_forward_form(rn_context* ctx, const wino::Geometry& g, const float* x, const float* w, bool rotated,
                     const float* bias, float* y) {
  const IsaKernels& kern = isa_kernels(ctx->isa);
  const int64_t blocks = block_count(g);
  const int threads = int(std::min<int64_t>(ctx->pool.size(), blocks));
  const size_t u_bytes = ScratchCarver::round_up(sizeof(float) * wino::kPositions * g.k * g.c);
  const size_t per_thread = ScratchCarver::round_up(sizeof(float) * wino::kPositions * int64_t(g.c) * g.tb) +
                            ScratchCarver::round_up(sizeof(float) * wino::kPositions * int64_t(g.k) * g.tb) +
                            ScratchCarver::round_up(sizeof(float) * wino::row_scratch_floats(g));
  char* base = static_cast<char*>(ctx->workspace.require(u_bytes + per_thread * threads));
  float* u = reinterpret_cast<float*>(base);
  transform_filters(ctx->pool, w, rotated ? g.c : g.k, rotated ? g.k : g.c, rotated, u);

  std::atomic<int64_t> next{0};
  ctx->pool.run_each(threads, [&](int tid, int) {
    ScratchCarver carve(base + u_bytes + per_thread * tid);
    float* v = carve.take<float>(size_t(wino::kPositions) * g.c * g.tb);
    float* m = carve.take<float>(size_t(wino::kPositions) * g.k * g.tb);
    float* scratch = carve.take<float>(wino::row_scratch_floats(g));
    for (int64_t b = next.fetch_add(1); b < blocks; b = next.fetch_add(1)) {
      const int64_t row0 = b * g.rows_per_block;
      const int32_t rows = int32_t(std::min<int64_t>(g.rows_per_block, g.total_rows() - row0));
      kern.wino_input_transform(g, x, row0, rows, v, scratch);
      kern.wino_gemm(g.k, g.c, g.tb, u, v, m);
      kern.wino_output_transform(g, m, bias, row0, rows, y, scratch);
    }
  });
  return RN_STATUS_OK;
}

}  // namespace

int winograd_forward(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* w, const float* bias,
                     float* y) {
  wino::Geometry g = make_geometry(d.n, d.c, d.h, d.w, d.k, d.p, d.q, d.pad_h, d.pad_w);
  return run_forward_form(ctx, g, x, w, false, bias, y);
}

int winograd_backward_data(rn_context* ctx, const rn_conv2d_desc& d, const float* dy, const float* w, float* dx) {
  // dx = correlation of dy (K channels, P x Q) with the rotated filters, padding 2 - pad: output H x W.
  wino::Geometry g = make_geometry(d.n, d.k, d.p, d.q, d.c, d.h, d.w, 2 - d.pad_h, 2 - d.pad_w);
  return run_forward_form(ctx, g, dy, w, true, nullptr, dx);
}

int winograd_backward_filter(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* dy, float* dw,
                             float* dbias) {
  const IsaKernels& kern = isa_kernels(ctx->isa);
  wino::Geometry g = make_geometry(d.n, d.c, d.h, d.w, d.k, d.p, d.q, d.pad_h, d.pad_w);
  const int64_t blocks = block_count(g);
  const int threads = int(std::min<int64_t>(ctx->pool.size(), blocks));
  const int64_t acc_floats = int64_t(wino::kPositions) * g.k * g.c;
  const size_t per_thread = ScratchCarver::round_up(sizeof(float) * wino::kPositions * int64_t(g.c) * g.tb) +
                            ScratchCarver::round_up(sizeof(float) * wino::kPositions * int64_t(g.k) * g.tb) +
                            ScratchCarver::round_up(sizeof(float) * wino::row_scratch_floats(g)) +
                            ScratchCarver::round_up(sizeof(float) * acc_floats);
  char* base = static_cast<char*>(ctx->workspace.require(per_thread * threads));
  auto accumulator = [&](int t) {
    ScratchCarver carve(base + per_thread * t);
    carve.take<float>(size_t(wino::kPositions) * g.c * g.tb);
    carve.take<float>(size_t(wino::kPositions) * g.k * g.tb);
    carve.take<float>(wino::row_scratch_floats(g));
    return carve.take<float>(acc_floats);
  };

  std::atomic<int64_t> next{0};
  ctx->pool.run_each(threads, [&](int tid, int) {
    ScratchCarver carve(base + per_thread * tid);
    float* v = carve.take<float>(size_t(wino::kPositions) * g.c * g.tb);
    float* z = carve.take<float>(size_t(wino::kPositions) * g.k * g.tb);
    float* scratch = carve.take<float>(wino::row_scratch_floats(g));
    float* acc = carve.take<float>(acc_floats);
    std::memset(acc, 0, sizeof(float) * acc_floats);
    for (int64_t b = next.fetch_add(1); b < blocks; b = next.fetch_add(1)) {
      const int64_t row0 = b * g.rows_per_block;
      const int32_t rows = int32_t(std::min<int64_t>(g.rows_per_block, g.total_rows() - row0));
      kern.wino_input_transform(g, x, row0, rows, v, scratch);
      kern.wino_grad_transform(g, dy, row0, rows, z);
      kern.wino_gemm_acc_nt(g.k, g.c, g.tb, z, v, acc);
    }
  });

  // Sum the per-thread accumulators in thread order, then dW = G^T S G per filter.
  float* total = accumulator(0);
  ctx->pool.parallel_for(acc_floats, 4096, [&](int64_t b, int64_t e, int) {
    for (int t = 1; t < threads; ++t) {
      const float* a = accumulator(t);
      for (int64_t i = b; i < e; ++i) total[i] += a[i];
    }
  });
  const int64_t kc = int64_t(g.k) * g.c;
  ctx->pool.parallel_for(kc, 256, [&](int64_t b, int64_t e, int) {
    for (int64_t idx = b; idx < e; ++idx) {
      float s[4][4];
      for (int xi = 0; xi < wino::kPositions; ++xi) s[xi / 4][xi % 4] = total[xi * kc + idx];
      float t[3][4];  // G^T S
      for (int j = 0; j < 4; ++j) {
        t[0][j] = s[0][j] + 0.5f * (s[1][j] + s[2][j]);
        t[1][j] = 0.5f * (s[1][j] - s[2][j]);
        t[2][j] = 0.5f * (s[1][j] + s[2][j]) + s[3][j];
      }
      float* out = dw + idx * 9;
      for (int r = 0; r < 3; ++r) {  // (G^T S) G
        out[r * 3 + 0] = t[r][0] + 0.5f * (t[r][1] + t[r][2]);
        out[r * 3 + 1] = 0.5f * (t[r][1] - t[r][2]);
        out[r * 3 + 2] = 0.5f * (t[r][1] + t[r][2]) + t[r][3];
      }
    }
  });

  if (dbias != nullptr) {
    const int64_t pq = int64_t(d.p) * d.q;
    ctx->pool.parallel_for(d.k, 1, [&](int64_t b, int64_t e, int) {
      for (int64_t k = b; k < e; ++k) {
        double sum = 0.0;
        for (int32_t n = 0; n < d.n; ++n) {
          const float* plane = dy + (int64_t(n) * d.k + k) * pq;
          for (int64_t i = 0; i < pq; ++i) sum += plane[i];
        }
        dbias[k] = float(sum);
      }
    });
  }
  return RN_STATUS_OK;
}

}  // namespace rn::conv
