// The GEMM engine of the convolutions and the linear layer: C[M x N] = A[M x K] * B[K x N]
// where A and B are never materialized. A problem type supplies the operands element by
// element from the tensors as they are (implicit GEMM: the im2col matrix of a conv is
// read straight from NCHW x), and consumes each output element (the epilogue):
//
//   struct Problem {
//     int32_t M, N, K;
//     struct Col {...};                          // per output column constants
//     __device__ Col col(int32_t n) const;        // 0 <= n < N
//     __device__ float a(int32_t m, int32_t k) const;          // 0 <= m < M, 0 <= k < K
//     __device__ float b(const Col& c, int32_t k) const;       // 0 <= k < K
//     __device__ void store(int32_t m, const Col& c, float v, int32_t split) const;
//   };
//
// Tiles: a block computes a BM x BN tile of C, stepping over K in BK slices staged in
// shared memory (double-buffered: the next slice's global loads are in flight while the
// current one is multiplied). gemm_split: gridDim.z splits K into chunks of k_chunk
// (split-K); store gets the split index and the problem decides where the partial sums go.
// gemm_parts: several GEMMs of one M in one grid, gridDim.z choosing the GEMM.
//   simt_block: float32 FMA, each thread a TM x TN register tile (rows and columns
//               strided by BM/TM and BN/TN: conflict-free shared reads, coalesced stores).
//   tf32_block: TF32 tensor cores (wmma m16n16k8, float32 accumulation), sm_80+: the
//               operands are rounded to TF32 (10-bit mantissa) as they enter the MMA.
#pragma once

#ifndef RN_CUDA_HOST_EMULATION
#include <mma.h>  // (the host emulation brings its own nvcuda::wmma)
#endif

#include "cuda_impl.cuh"

namespace rn::cuda {

template <int BM_, int BN_, int BK_, int TM_, int TN_>
struct SimtTile {
  static constexpr int BM = BM_, BN = BN_, BK = BK_, TM = TM_, TN = TN_;
  static constexpr int kThreads = (BM / TM) * (BN / TN);
};

// WM x WN: one warp's tile (multiples of 16). launch_gemm's tiles have 8 warps, as the SIMT
// tiles have 256 threads: the operand loads, not the MMAs, bound these small-channel GEMMs,
// and 4 warps left too few loads in flight (TF32 ran slower than FP32 on most ResNet-110
// shapes on an H200 with 4; as fast or faster with 8).
template <int BM_, int BN_, int WM_, int WN_>
struct TcTile {
  static constexpr int BM = BM_, BN = BN_, BK = 16;
  static constexpr int WM = WM_, WN = WN_;
  static constexpr int kWarpsM = BM / WM, kWarpsN = BN / WN;
  static constexpr int kThreads = 32 * kWarpsM * kWarpsN;
  static constexpr int FM = WM / 16, FN = WN / 16;  // 16x16 fragments per warp
  static_assert(WM % 16 == 0 && WN % 16 == 0 && BM % WM == 0 && BN % WN == 0, "warp tile");
};

// Global -> register staging of one BK slice, and register -> shared. Shared layout:
// As[k][m] (A transposed: a column of A is contiguous) and Bs[k][n].
template <int BM, int BN, int BK, int NT, class P>
struct TileLoader {
  static constexpr int kBStep = NT / BN;  // B rows per pass (each thread owns one column)
  static constexpr int kBLoads = BK / kBStep;
  static constexpr int kALoads = BM * BK / NT;
  static_assert(NT % BN == 0 && BK % kBStep == 0 && (BM * BK) % NT == 0, "tile shape");

  float ra[kALoads], rb[kBLoads];
  int32_t b_col, b_row;
  bool b_ok;
  typename P::Col bci;

  __device__ __forceinline__ TileLoader(const P& prob, int32_t n0) {
    b_col = threadIdx.x % BN;
    b_row = threadIdx.x / BN;
    b_ok = n0 + b_col < prob.N;
    bci = prob.col(b_ok ? n0 + b_col : 0);
  }
  __device__ __forceinline__ void fetch(const P& prob, int32_t m0, int32_t k0, int32_t k_end) {
#pragma unroll
    for (int l = 0; l < kALoads; ++l) {
      const int i = threadIdx.x + l * NT, ak = i % BK, am = i / BK;
      const int32_t gm = m0 + am, gk = k0 + ak;
      ra[l] = gm < prob.M && gk < k_end ? prob.a(gm, gk) : 0.0f;
    }
#pragma unroll
    for (int l = 0; l < kBLoads; ++l) {
      const int32_t gk = k0 + b_row + l * kBStep;
      rb[l] = b_ok && gk < k_end ? prob.b(bci, gk) : 0.0f;
    }
  }
  template <int LDA, int LDB>
  __device__ __forceinline__ void stash(float (*as)[LDA], float (*bs)[LDB]) const {
#pragma unroll
    for (int l = 0; l < kALoads; ++l) {
      const int i = threadIdx.x + l * NT;
      as[i % BK][i / BK] = ra[l];
    }
#pragma unroll
    for (int l = 0; l < kBLoads; ++l) bs[b_row + l * kBStep][b_col] = rb[l];
  }
};

// One block's BM x BN tile of C from (m0, n0), summing k over [k_begin, k_end); store gets `split`.
template <class T, class P>
__device__ __forceinline__ void simt_block(const P& prob, int32_t m0, int32_t n0, int32_t k_begin, int32_t k_end,
                                           int32_t split) {
  constexpr int BM = T::BM, BN = T::BN, BK = T::BK, TM = T::TM, TN = T::TN, NT = T::kThreads;
  constexpr int kCols = BN / TN, kRowStep = BM / TM;
  __shared__ __align__(16) float As[2][BK][BM + 4];
  __shared__ __align__(16) float Bs[2][BK][BN + 4];

  TileLoader<BM, BN, BK, NT, P> ld(prob, n0);

  float acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;
  const int tx = threadIdx.x % kCols, ty = threadIdx.x / kCols;

  if (k_begin < k_end) {
    ld.fetch(prob, m0, k_begin, k_end);
    ld.stash(As[0], Bs[0]);
  }
  __syncthreads();
  int buf = 0;
  for (int32_t k0 = k_begin; k0 < k_end; k0 += BK) {
    const bool more = k0 + BK < k_end;
    if (more) ld.fetch(prob, m0, k0 + BK, k_end);  // in flight while this slice is multiplied
#pragma unroll
    for (int kk = 0; kk < BK; ++kk) {
      float av[TM], bv[TN];
#pragma unroll
      for (int i = 0; i < TM; ++i) av[i] = As[buf][kk][ty + i * kRowStep];
#pragma unroll
      for (int j = 0; j < TN; ++j) bv[j] = Bs[buf][kk][tx + j * kCols];
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    }
    // The other buffer was last read before the previous barrier: safe to overwrite.
    if (more) ld.stash(As[buf ^ 1], Bs[buf ^ 1]);
    __syncthreads();
    buf ^= 1;
  }
#pragma unroll
  for (int j = 0; j < TN; ++j) {
    const int32_t n = n0 + tx + j * kCols;
    if (n >= prob.N) continue;
    const typename P::Col c = prob.col(n);
#pragma unroll
    for (int i = 0; i < TM; ++i) {
      const int32_t m = m0 + ty + i * kRowStep;
      if (m < prob.M) prob.store(m, c, acc[i][j], split);
    }
  }
}

// The TF32 twin of simt_block.
template <class T, class P>
__device__ __forceinline__ void tf32_block(const P& prob, int32_t m0, int32_t n0, int32_t k_begin, int32_t k_end,
                                           int32_t split) {
#if (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800) || defined(RN_CUDA_HOST_EMULATION)
  using namespace nvcuda;
  constexpr int BM = T::BM, BN = T::BN, BK = T::BK, NT = T::kThreads;
  constexpr int FM = T::FM, FN = T::FN;
  // wmma needs 32-byte aligned fragment pointers and leading dimensions that are a
  // multiple of 4 floats: BM + 4 and BN + 4 keep both (BM, BN multiples of 16).
  __shared__ __align__(32) float As[2][BK][BM + 4];
  __shared__ __align__(32) float Bs[2][BK][BN + 4];
  __shared__ __align__(32) float Cs[BM][BN + 4];

  TileLoader<BM, BN, BK, NT, P> ld(prob, n0);
  const int warp = threadIdx.x / 32;
  const int wm = (warp / T::kWarpsN) * T::WM, wn = (warp % T::kWarpsN) * T::WN;

  wmma::fragment<wmma::accumulator, 16, 16, 8, float> fc[FM][FN];
#pragma unroll
  for (int i = 0; i < FM; ++i)
#pragma unroll
    for (int j = 0; j < FN; ++j) wmma::fill_fragment(fc[i][j], 0.0f);

  if (k_begin < k_end) {
    ld.fetch(prob, m0, k_begin, k_end);
    ld.stash(As[0], Bs[0]);
  }
  __syncthreads();
  int buf = 0;
  for (int32_t k0 = k_begin; k0 < k_end; k0 += BK) {
    const bool more = k0 + BK < k_end;
    if (more) ld.fetch(prob, m0, k0 + BK, k_end);
#pragma unroll
    for (int kk = 0; kk < BK; kk += 8) {
      wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::col_major> fa[FM];
      wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fb[FN];
#pragma unroll
      for (int i = 0; i < FM; ++i) {
        wmma::load_matrix_sync(fa[i], &As[buf][kk][wm + i * 16], BM + 4);
#pragma unroll
        for (int e = 0; e < fa[i].num_elements; ++e) fa[i].x[e] = wmma::__float_to_tf32(fa[i].x[e]);
      }
#pragma unroll
      for (int j = 0; j < FN; ++j) {
        wmma::load_matrix_sync(fb[j], &Bs[buf][kk][wn + j * 16], BN + 4);
#pragma unroll
        for (int e = 0; e < fb[j].num_elements; ++e) fb[j].x[e] = wmma::__float_to_tf32(fb[j].x[e]);
      }
#pragma unroll
      for (int i = 0; i < FM; ++i)
#pragma unroll
        for (int j = 0; j < FN; ++j) wmma::mma_sync(fc[i][j], fa[i], fb[j], fc[i][j]);
    }
    if (more) ld.stash(As[buf ^ 1], Bs[buf ^ 1]);
    __syncthreads();
    buf ^= 1;
  }
#pragma unroll
  for (int i = 0; i < FM; ++i)
#pragma unroll
    for (int j = 0; j < FN; ++j)
      wmma::store_matrix_sync(&Cs[wm + i * 16][wn + j * 16], fc[i][j], BN + 4, wmma::mem_row_major);
  __syncthreads();
  for (int idx = threadIdx.x; idx < BM * BN; idx += NT) {
    const int mi = idx / BN, ni = idx % BN;
    const int32_t m = m0 + mi, n = n0 + ni;
    if (m < prob.M && n < prob.N) prob.store(m, prob.col(n), Cs[mi][ni], split);
  }
#else
  (void)prob, (void)m0, (void)n0, (void)k_begin, (void)k_end, (void)split;
#endif
}

// One GEMM, split-K in gridDim.z: block z sums k over [z * k_chunk, (z + 1) * k_chunk).
template <class T, class P, bool kTf32>
__global__ void __launch_bounds__(T::kThreads) gemm_split(const P prob, int32_t k_chunk) {
  const int32_t k_begin = int32_t(blockIdx.z) * k_chunk;
  const int32_t k_end = prob.K - k_begin < k_chunk ? prob.K : k_begin + k_chunk;
  const int32_t m0 = int32_t(blockIdx.y) * T::BM, n0 = int32_t(blockIdx.x) * T::BN, split = int32_t(blockIdx.z);
  if constexpr (kTf32)
    tf32_block<T>(prob, m0, n0, k_begin, k_end, split);
  else
    simt_block<T>(prob, m0, n0, k_begin, k_end, split);
}

// Up to kMaxParts GEMMs of one problem type and one M in a single launch, gridDim.z choosing
// the part (no split-K): the phases of a strided conv's backward-data, which launched one
// after another each left the device short of blocks (a 3x3/2 32->64 conv at batch 128 on
// an H200: four GEMMs of 128 blocks on 132 SMs, 0.49x cuDNN's time).
template <class P, int kMaxParts>
struct GemmParts {
  P part[kMaxParts];
  int32_t count = 0;
};

// The grid covers the widest part; a part's blocks past its own N (or M) return at once.
template <class T, class P, int kMaxParts, bool kTf32>
__global__ void __launch_bounds__(T::kThreads) gemm_parts(const GemmParts<P, kMaxParts> parts) {
  const P& prob = parts.part[blockIdx.z];
  const int32_t m0 = int32_t(blockIdx.y) * T::BM, n0 = int32_t(blockIdx.x) * T::BN;
  if (m0 >= prob.M || n0 >= prob.N) return;  // the whole block: no barrier is left waiting
  if constexpr (kTf32)
    tf32_block<T>(prob, m0, n0, 0, prob.K, 0);
  else
    simt_block<T>(prob, m0, n0, 0, prob.K, 0);
}

// One GEMM on the context's stream with `splits` K-chunks of k_chunk (a multiple of 16;
// splits * k_chunk >= K): what launch_tiled launches for launch_gemm.
template <class P>
struct SplitGemm {
  const P& prob;
  int32_t splits, k_chunk;
  template <class T>
  int64_t blocks() const {
    return int64_t(blocks_for(prob.N, T::BN)) * blocks_for(prob.M, T::BM) * splits;
  }
  template <class T>
  dim3 grid() const {
    return dim3(blocks_for(prob.N, T::BN), blocks_for(prob.M, T::BM), splits);
  }
  template <class T, bool kTf32>
  int launch(rn_cuda_context* ctx) const {
    const dim3 g = grid<T>();
    if (g.y > 65535u || splits > 65535) return RN_STATUS_UNSUPPORTED;
    RN_LAUNCH((gemm_split<T, P, kTf32>), g, T::kThreads, ctx->stream, prob, k_chunk);
    RN_CUDA_CHECK_LAUNCH();
    return RN_STATUS_OK;
  }
};

// Several GEMMs of one M in one launch (GemmParts): what launch_tiled launches for launch_parts.
template <class P, int kMaxParts>
struct PartGemms {
  const GemmParts<P, kMaxParts>& parts;
  template <class T>
  int64_t blocks() const {
    int64_t sum = 0;
    for (int32_t i = 0; i < parts.count; ++i)
      sum += int64_t(blocks_for(parts.part[i].N, T::BN)) * blocks_for(parts.part[i].M, T::BM);
    return sum;
  }
  // The widest part's blocks (gemm_parts: the others' extra blocks return at once).
  template <class T>
  dim3 grid() const {
    int32_t widest = 0;
    for (int32_t i = 0; i < parts.count; ++i) widest = parts.part[i].N > widest ? parts.part[i].N : widest;
    return dim3(blocks_for(widest, T::BN), blocks_for(parts.part[0].M, T::BM), parts.count);
  }
  template <class T, bool kTf32>
  int launch(rn_cuda_context* ctx) const {
    const dim3 g = grid<T>();
    if (g.y > 65535u) return RN_STATUS_UNSUPPORTED;
    RN_LAUNCH((gemm_parts<T, P, kMaxParts, kTf32>), g, T::kThreads, ctx->stream, parts);
    RN_CUDA_CHECK_LAUNCH();
    return RN_STATUS_OK;
  }
};

// Tile Big, or Small (half as wide) where Big would leave the device short of blocks: the
// ResNet-110 GEMMs are small (a 64->64 conv at 8x8 px, batch 128, is 128 blocks of 64x64
// on 132 SMs), and with fewer than ~3 blocks per SM too few warps hide the operand loads'
// latency (ncu on an H200: 12-23 % achieved occupancy, 0.24-0.48 waves).
template <class Big, class Small, bool kTf32, class G>
int launch_sized(rn_cuda_context* ctx, const G& gemm) {
  if (gemm.template blocks<Big>() < int64_t(3) * ctx->sm_count) return gemm.template launch<Small, kTf32>(ctx);
  return gemm.template launch<Big, kTf32>(ctx);
}

// Picks the tile by M (the output channels of a conv: 16, 32, 64 in the CIFAR ResNets),
// the math mode and the block count (launch_sized), and launches `gemm` (SplitGemm or
// PartGemms) with it; n: the columns in all. Every tile has 256 threads but TF32's 16x64,
// which has 128 (four warps of 16x16, the smallest wmma tile).
template <class G>
int launch_tiled(rn_cuda_context* ctx, int32_t m, int64_t n, const G& gemm) {
  if (ctx->math == RN_CUDA_MATH_TF32) {
    using Tc16 = TcTile<16, 128, 16, 16>;
    using Tc32 = TcTile<32, 128, 16, 32>;
    using Tc64 = TcTile<64, 64, 16, 32>;
    if (m <= 16) return launch_sized<Tc16, TcTile<16, 64, 16, 16>, true>(ctx, gemm);
    if (m <= 32) return launch_sized<Tc32, TcTile<32, 64, 16, 16>, true>(ctx, gemm);
    return launch_sized<Tc64, TcTile<64, 32, 16, 16>, true>(ctx, gemm);
  }
  using Simt16 = SimtTile<16, 128, 16, 2, 4>;
  using Simt32 = SimtTile<32, 128, 16, 4, 4>;
  using Simt64 = SimtTile<64, 64, 16, 4, 4>;
  if (m <= 16) return launch_sized<Simt16, SimtTile<16, 64, 16, 1, 4>, false>(ctx, gemm);
  if (m <= 32) return launch_sized<Simt32, SimtTile<32, 64, 16, 2, 4>, false>(ctx, gemm);
  if (m <= 64 || n < 4096) return launch_sized<Simt64, SimtTile<64, 32, 16, 4, 2>, false>(ctx, gemm);
  return gemm.template launch<SimtTile<128, 128, 16, 8, 8>, false>(ctx);
}

// Launches the GEMM for `prob` on the context's stream with `splits` K-chunks of k_chunk
// (a multiple of 16; splits * k_chunk >= K).
template <class P>
int launch_gemm(rn_cuda_context* ctx, const P& prob, int32_t splits = 1, int32_t k_chunk = 0) {
  // K = 0 is an empty sum: the tiles store zeros (a backward-data phase no tap reaches).
  if (prob.M <= 0 || prob.N <= 0 || prob.K < 0) return RN_STATUS_BAD_ARGUMENT;
  if (splits <= 1) {
    splits = 1;
    k_chunk = prob.K;
  }
  return launch_tiled(ctx, prob.M, prob.N, SplitGemm<P>{prob, splits, k_chunk});
}

// Launches the parts' GEMMs (1 to kMaxParts, all with the same M) as one grid.
template <class P, int kMaxParts>
int launch_parts(rn_cuda_context* ctx, const GemmParts<P, kMaxParts>& parts) {
  if (parts.count < 1 || parts.count > kMaxParts) return RN_STATUS_BAD_ARGUMENT;
  int64_t n = 0;
  for (int32_t i = 0; i < parts.count; ++i) {
    const P& p = parts.part[i];
    if (p.M <= 0 || p.N <= 0 || p.K < 0 || p.M != parts.part[0].M) return RN_STATUS_BAD_ARGUMENT;
    n += p.N;
  }
  return launch_tiled(ctx, parts.part[0].M, n, PartGemms<P, kMaxParts>{parts});
}

// Split-K plan for a GEMM whose output is too small to fill the device (the conv's
// backward-filter: M x N = k x c*r*s, K = n*p*q): about 8 blocks per SM (ncu: 4 left
// the SMs at 31 % achieved occupancy), each split at least 8 slices of 16.
struct SplitK {
  int32_t splits, chunk;
};
inline SplitK plan_split_k(const rn_cuda_context* ctx, int32_t m, int32_t n, int32_t k) {
  const int64_t tiles = int64_t(blocks_for(n, 64)) * blocks_for(m, 64);
  int64_t splits = (int64_t(8) * ctx->sm_count + tiles - 1) / tiles;
  const int64_t by_size = (int64_t(k) + 127) / 128;
  if (splits > by_size) splits = by_size;
  if (splits > 1024) splits = 1024;
  if (splits < 1) splits = 1;
  int64_t chunk = (int64_t(k) + splits - 1) / splits;
  chunk = (chunk + 15) & ~int64_t(15);
  splits = (int64_t(k) + chunk - 1) / chunk;
  return SplitK{int32_t(splits), int32_t(chunk)};
}

}  // namespace rn::cuda
