// Runs the CUDA kernel sources of native/cuda on the host, so that every kernel's index
// math, tiling, bounds handling, reductions and synchronization can be checked against
// the CPU kernels on a machine without a GPU. Included before a kernel source that the
// host compiler then compiles (RN_LAUNCH in cuda_impl.cuh becomes rn_emulation::launch).
//
// A launch runs the grid's blocks one after another; a block's threads are either
//   - fibers (default): user-level contexts on the calling thread, switched round-robin
//     at every __syncthreads and warp shuffle. Deterministic and fast; a barrier is the
//     point where every live thread has yielded (the kernels' control flow is uniform
//     at their barriers, as CUDA requires), or
//   - host threads (RN_EMULATION_THREADS=1): real concurrency, slow, for hunting races
//     between barriers.
// __shared__ arrays are function statics (one block at a time); the arithmetic
// intrinsics are their IEEE host twins (__fmaf_rn -> fma). What it cannot check is the
// GPU itself: the TF32 tensor-core path, timing, the device compiler's code.
#pragma once

#define RN_CUDA_HOST_EMULATION 1
#define __shared__ static
#define __launch_bounds__(...)

#include <cuda_runtime.h>
#include <ucontext.h>

#include <array>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

inline thread_local uint3 threadIdx;
inline thread_local uint3 blockIdx;
inline thread_local dim3 blockDim;
inline thread_local dim3 gridDim;

namespace rn_emulation {

// ---------------------------------------------------------------- host-thread mode

class Barrier {
 public:
  explicit Barrier(unsigned n) : n_(n) {}
  void wait() {
    std::unique_lock<std::mutex> lock(m_);
    const uint64_t gen = gen_;
    if (++waiting_ == n_) {
      waiting_ = 0;
      ++gen_;
      cv_.notify_all();
    } else {
      cv_.wait(lock, [&] { return gen_ != gen; });
    }
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  unsigned n_, waiting_ = 0;
  uint64_t gen_ = 0;
};

// ---------------------------------------------------------------- fiber mode

// A block's threads as fibers with CUDA's barrier semantics: a fiber at __syncthreads
// resumes once every live fiber of the block is there; a fiber at a warp exchange once
// every live fiber of its warp is. A state where nothing can run is a divergent barrier
// (a kernel bug): reported and aborted.
struct Fibers {
  static constexpr size_t kStack = 256 * 1024;
  enum State : char { kReady, kAtBlock, kAtWarp, kDone };
  ucontext_t scheduler;
  std::vector<ucontext_t> ctx;
  std::vector<char> state;
  std::vector<unsigned> warp_live, warp_arrived;
  unsigned live = 0, block_arrived = 0, current = 0;
  const void* body = nullptr;
  void (*run)(const void*) = nullptr;

  void wait(State s) {
    state[current] = s;
    if (s == kAtBlock) ++block_arrived;
    if (s == kAtWarp) ++warp_arrived[current / 32];
    swapcontext(&ctx[current], &scheduler);
  }
  // After fiber t stopped: release the barriers that are complete.
  void release(unsigned t) {
    const unsigned w = t / 32;
    if (warp_live[w] > 0 && warp_arrived[w] == warp_live[w]) {
      for (unsigned k = w * 32; k < w * 32 + 32 && k < state.size(); ++k)
        if (state[k] == kAtWarp) state[k] = kReady;
      warp_arrived[w] = 0;
    }
    if (live > 0 && block_arrived == live) {
      for (char& st : state)
        if (st == kAtBlock) st = kReady;
      block_arrived = 0;
    }
  }
};

inline Fibers*& fibers() {
  static Fibers* f = nullptr;
  return f;
}

inline void fiber_entry() {
  Fibers& f = *fibers();
  f.run(f.body);
  f.state[f.current] = Fibers::kDone;
  swapcontext(&f.ctx[f.current], &f.scheduler);
}

// Fiber stacks, kept for the next launch (allocating them per launch costs more than
// the kernels).
inline char* fiber_stack(unsigned t) {
  static std::vector<std::unique_ptr<char[]>> stacks;
  while (stacks.size() <= t) stacks.emplace_back(new char[Fibers::kStack]);
  return stacks[t].get();
}

// Not inline into launch(): getcontext "returns twice" as far as the compiler knows.
[[gnu::noinline]] inline void make_fiber(ucontext_t* ctx, char* stack) {
  getcontext(ctx);
  ctx->uc_stack.ss_sp = stack;
  ctx->uc_stack.ss_size = Fibers::kStack;
  ctx->uc_link = nullptr;
  makecontext(ctx, fiber_entry, 0);
}

// ---------------------------------------------------------------- both

struct Block {
  bool threads = false;             // host-thread mode
  Barrier* barrier = nullptr;       // host-thread mode: the block barrier
  std::vector<std::unique_ptr<Barrier>> warp_barriers;
  std::vector<std::array<uint64_t, 32>> slots;  // warp exchange slots
};

inline Block*& block() {
  static Block* b = nullptr;
  return b;
}

// Block-wide barrier: in fiber mode, hand over to the next live fiber; the scheduler
// comes back here once every live fiber has yielded.
inline void block_sync() {
  Block& b = *block();
  if (b.threads)
    b.barrier->wait();
  else
    fibers()->wait(Fibers::kAtBlock);
}

// Warp-wide barrier: the lanes of one warp.
inline void warp_sync() {
  Block& b = *block();
  if (b.threads)
    b.warp_barriers[threadIdx.x / 32]->wait();
  else
    fibers()->wait(Fibers::kAtWarp);
}

// Every lane publishes `bits`, then reads lane src_of(lane)'s (its own when out of range).
template <class Src>
inline uint64_t warp_exchange(uint64_t bits, const Src& src_of) {
  const unsigned lane = threadIdx.x % 32, w = threadIdx.x / 32;
  Block& b = *block();
  b.slots[w][lane] = bits;
  warp_sync();
  const unsigned src = src_of(lane);
  const uint64_t got = src < 32 ? b.slots[w][src] : bits;
  warp_sync();
  return got;
}

inline bool warp_any(bool pred) {
  const unsigned lane = threadIdx.x % 32, w = threadIdx.x / 32;
  Block& b = *block();
  b.slots[w][lane] = pred;
  warp_sync();
  bool any = false;
  for (unsigned k = 0; k < 32; ++k) any |= b.slots[w][k] != 0;
  warp_sync();
  return any;
}

inline uint3 thread_index(unsigned t, dim3 blk) {
  return uint3{t % blk.x, (t / blk.x) % blk.y, t / (blk.x * blk.y)};
}

// Runs body() as the kernel of a <<<grid, block>>> launch.
template <class Body>
void launch(dim3 grid, dim3 blk, const Body& body) {
  const unsigned nt = blk.x * blk.y * blk.z;
  Block state;
  const char* mode = std::getenv("RN_EMULATION_THREADS");
  state.threads = mode != nullptr && std::strcmp(mode, "1") == 0;
  state.slots.resize((nt + 31) / 32);
  block() = &state;
  gridDim = grid;
  blockDim = blk;
  if (state.threads) {
    Barrier barrier(nt);
    state.barrier = &barrier;
    for (unsigned w = 0; w < (nt + 31) / 32; ++w) state.warp_barriers.emplace_back(new Barrier(32));
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < nt; ++t)
      threads.emplace_back([&, t] {
        threadIdx = thread_index(t, blk);
        blockDim = blk;
        gridDim = grid;
        for (unsigned z = 0; z < grid.z; ++z)
          for (unsigned y = 0; y < grid.y; ++y)
            for (unsigned x = 0; x < grid.x; ++x) {
              blockIdx = uint3{x, y, z};
              body();
              barrier.wait();  // the block's statics are reused by the next block
            }
      });
    for (std::thread& th : threads) th.join();
  } else {
    Fibers f;
    const unsigned warps = (nt + 31) / 32;
    f.ctx.resize(nt);
    f.body = &body;
    f.run = [](const void* b) { (*static_cast<const Body*>(b))(); };
    Fibers* outer = fibers();
    fibers() = &f;
    for (unsigned z = 0; z < grid.z; ++z)
      for (unsigned y = 0; y < grid.y; ++y)
        for (unsigned x = 0; x < grid.x; ++x) {
          blockIdx = uint3{x, y, z};
          f.state.assign(nt, Fibers::kReady);
          f.warp_live.assign(warps, 0);
          f.warp_arrived.assign(warps, 0);
          for (unsigned t = 0; t < nt; ++t) ++f.warp_live[t / 32];
          f.live = nt;
          f.block_arrived = 0;
          for (unsigned t = 0; t < nt; ++t) make_fiber(&f.ctx[t], fiber_stack(t));
          while (f.live > 0) {
            bool ran = false;
            for (unsigned t = 0; t < nt; ++t) {
              if (f.state[t] != Fibers::kReady) continue;
              ran = true;
              f.current = t;
              threadIdx = thread_index(t, blk);
              swapcontext(&f.scheduler, &f.ctx[t]);
              if (f.state[t] == Fibers::kDone) {
                --f.live;
                --f.warp_live[t / 32];
              }
              f.release(t);
            }
            if (!ran) {
              std::fprintf(stderr, "host emulation: divergent barrier (no thread can run) in block %u,%u,%u\n", x,
                           y, z);
              std::abort();
            }
          }
        }
    fibers() = outer;
  }
  block() = nullptr;
}

}  // namespace rn_emulation

inline void __syncthreads() { rn_emulation::block_sync(); }
inline float __ldg(const float* p) { return *p; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }

template <class T>
inline T __shfl_down_sync(unsigned, T v, unsigned delta) {
  static_assert(sizeof(T) <= 8, "shuffle of at most 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  bits = rn_emulation::warp_exchange(bits, [&](unsigned lane) { return lane + delta; });
  std::memcpy(&v, &bits, sizeof(T));
  return v;
}
template <class T>
inline T __shfl_xor_sync(unsigned, T v, int mask) {
  static_assert(sizeof(T) <= 8, "shuffle of at most 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  bits = rn_emulation::warp_exchange(bits, [&](unsigned lane) { return lane ^ unsigned(mask); });
  std::memcpy(&v, &bits, sizeof(T));
  return v;
}
inline int __any_sync(unsigned, int pred) { return rn_emulation::warp_any(pred != 0); }
inline unsigned int atomicOr(unsigned int* p, unsigned int v) { return __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST); }
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) {
  return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
}
using std::isfinite;
using std::isnan;

// The wmma subset of tf32_block (m16n16k8, TF32 inputs, float accumulation). Every
// emulated thread holds the whole tile of a fragment; lane 0 computes and stores the
// warp's result (no warp barriers: each lane works on its own copy, and the kernel's
// __syncthreads orders the stores before the reads). The semantics are those of the
// CUDA documentation:
// matrix_a is M x K, matrix_b K x N, col_major element (i, j) at p[i + j*ldm],
// row_major at p[i*ldm + j].
namespace nvcuda::wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
namespace precision {
struct tf32 {};
}  // namespace precision
enum layout_t { mem_row_major, mem_col_major };

template <class Use, int M, int N, int K, class T, class Layout = void>
struct fragment {
  static constexpr int kRows = std::is_same<Use, matrix_b>::value ? K : M;
  static constexpr int kCols = std::is_same<Use, matrix_a>::value ? K : N;
  static constexpr int num_elements = kRows * kCols;
  float x[num_elements] = {};  // row-major tile
};

// Rounds to TF32 (10 explicit mantissa bits), to nearest.
inline float __float_to_tf32(float v) {
  if (!std::isfinite(v)) return v;
  uint32_t b;
  std::memcpy(&b, &v, 4);
  b = (b + 0x1000u) & ~0x1fffu;
  std::memcpy(&v, &b, 4);
  return v;
}

template <class Use, int M, int N, int K, class T, class Layout>
inline void load_matrix_sync(fragment<Use, M, N, K, T, Layout>& f, const float* p, unsigned ldm) {
  using F = fragment<Use, M, N, K, T, Layout>;
  if (threadIdx.x % 32 != 0) return;  // only lane 0's fragments are used
  for (int i = 0; i < F::kRows; ++i)
    for (int j = 0; j < F::kCols; ++j)
      f.x[i * F::kCols + j] = std::is_same<Layout, col_major>::value ? p[i + size_t(j) * ldm] : p[size_t(i) * ldm + j];
}

template <int M, int N, int K>
inline void fill_fragment(fragment<accumulator, M, N, K, float>& f, float v) {
  for (float& e : f.x) e = v;
}

template <int M, int N, int K, class T, class LA, class LB>
inline void mma_sync(fragment<accumulator, M, N, K, float>& d, const fragment<matrix_a, M, N, K, T, LA>& a,
                     const fragment<matrix_b, M, N, K, T, LB>& b, const fragment<accumulator, M, N, K, float>& c) {
  // Only lane 0's accumulators are ever read (store_matrix_sync writes from lane 0).
  if (threadIdx.x % 32 == 0) {
    float out[M * N];
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j) {
        float s = c.x[i * N + j];
        for (int k = 0; k < K; ++k) s = std::fma(a.x[i * K + k], b.x[k * N + j], s);
        out[i * N + j] = s;
      }
    std::memcpy(d.x, out, sizeof out);
  }
}

template <int M, int N, int K>
inline void store_matrix_sync(float* p, const fragment<accumulator, M, N, K, float>& f, unsigned ldm, layout_t layout) {
  if (threadIdx.x % 32 == 0)  // one lane writes the warp's tile
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j)
        (layout == mem_row_major ? p[size_t(i) * ldm + j] : p[i + size_t(j) * ldm]) = f.x[i * N + j];
}

}  // namespace nvcuda::wmma
