// Runs CUDA kernel source on the host, for the kernels that need no warp-level
// primitives (the GEMM engine of native/cuda/gemm.cuh with its conv and linear
// problems): compiled by the host compiler, a block's threads are real host threads,
// __syncthreads is a barrier among them, __shared__ arrays are function statics (one
// block runs at a time), and the arithmetic intrinsics are their IEEE host twins.
// What it checks is the index math, the tiling, the bounds handling and the
// synchronization of the kernels as written, on a machine without a GPU; what it
// cannot check is anything about the GPU itself (the TF32 path, timing, the compiler's
// device code generation), which the CUDA-vs-CPU tests cover on a device.
#pragma once

#define RN_CUDA_HOST_EMULATION 1
#define __shared__ static
#define __launch_bounds__(...)

#include <cuda_runtime.h>

#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

inline thread_local uint3 threadIdx;
inline thread_local uint3 blockIdx;
inline thread_local dim3 blockDim;
inline thread_local dim3 gridDim;

namespace rn_emulation {

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

inline Barrier*& block_barrier() {
  static Barrier* b = nullptr;
  return b;
}

// Runs body() as the kernel of a <<<grid, block>>> launch: block.x*y*z host threads
// walk the blocks in order together (a barrier between blocks).
template <class Body>
void launch(dim3 grid, dim3 block, const Body& body) {
  const unsigned nt = block.x * block.y * block.z;
  Barrier barrier(nt);
  block_barrier() = &barrier;
  std::vector<std::thread> threads;
  threads.reserve(nt);
  for (unsigned t = 0; t < nt; ++t)
    threads.emplace_back([&, t] {
      threadIdx = uint3{t % block.x, (t / block.x) % block.y, t / (block.x * block.y)};
      blockDim = block;
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
  block_barrier() = nullptr;
}

}  // namespace rn_emulation

inline void __syncthreads() { rn_emulation::block_barrier()->wait(); }
inline float __ldg(const float* p) { return *p; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
