// Internal definition of rn_context and the helpers every C entry point uses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>

#include "resnorm/context.h"
#include "thread_pool.h"

namespace rn {

// Scratch memory owned by a context. Grows to the largest request seen and is
// reused by every later call, so kernels do not allocate per call. Contents do
// not survive between calls.
class Workspace {
 public:
  Workspace() = default;
  ~Workspace();
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

  // Returns at least `bytes` bytes, starting on a page boundary (kPageBytes), so that the
  // page-aligned offsets of a ScratchPlan are page-aligned in memory. Throws std::bad_alloc.
  void* require(size_t bytes);
  size_t capacity() const { return capacity_; }
  void release();

 private:
  void* block_ = nullptr;  // as rn_alloc returned it (data_ rounded up to a page)
  void* data_ = nullptr;
  size_t capacity_ = 0;
};

constexpr size_t kPageBytes = 4096;

// Left unused after each region of scratch that one thread writes while others write the
// regions beside it (ScratchPlan::add_regions). A core's hardware prefetchers run on past the
// end of the buffer it streams through, into the first few KiB of the next region, and pull
// those lines away from the core that is writing them, which then waits for them to come
// back: a cross-core transfer, ~0.2 us where the VM's two vCPUs sit on different L3s (a
// ping-pong round trip of 400-500 ns rather than ~100). Zen 3 VM, 3x3/2 32->64 @16x16 forward,
// batch 128, 2 threads, us per image on the thread whose phase planes came second (the first's
// ran at 27.5-29.5 throughout): next to the first thread's region 35-40, a 6 KiB gap 30, 10 KiB
// 27.6, 1 MiB 27.6-27.8; the whole call 140 -> 165 GFLOP/s in that state. On adjacent vCPUs
// (round trip ~100 ns) the cost was 1-2 us per image.
constexpr size_t kRegionGuardBytes = size_t(16) << 10;

// Equal regions of a ScratchPlan, one per thread or per work group: region i at of(i).
struct Regions {
  size_t at = 0;      // offset of region 0 in the block
  size_t stride = 0;  // bytes from one region to the next
  size_t of(int i) const { return at + stride * size_t(i); }
};

// Carves 64-byte aligned pieces out of one workspace block.
class ScratchCarver {
 public:
  explicit ScratchCarver(void* base) : cursor_(static_cast<char*>(base)) {}
  template <class T>
  T* take(size_t count) {
    T* p = reinterpret_cast<T*>(cursor_);
    cursor_ += round_up(count * sizeof(T));
    return p;
  }
  static size_t round_up(size_t bytes) { return (bytes + 63) & ~static_cast<size_t>(63); }

 private:
  char* cursor_;
};

// Plans one workspace block: add() returns each piece's 64-byte aligned offset,
// total() the bytes to require. Lets a kernel take all its scratch in one call.
class ScratchPlan {
 public:
  size_t add(size_t bytes) {
    size_t at = total_;
    total_ += ScratchCarver::round_up(bytes);
    return at;
  }
  template <class T>
  size_t add_array(size_t count) { return add(count * sizeof(T)); }
  // `count` regions of `bytes` each that different threads write at the same time: where there
  // are several, each starts on a page of its own and is followed by kRegionGuardBytes that
  // nothing uses (see there); one region is added as add() would.
  Regions add_regions(size_t bytes, int count) {
    if (count <= 1) return Regions{add(bytes), ScratchCarver::round_up(bytes)};
    total_ = round_up_to_page(total_);
    const Regions r{total_, round_up_to_page(bytes) + kRegionGuardBytes};
    total_ += r.stride * size_t(count);
    return r;
  }
  size_t total() const { return total_; }

 private:
  static size_t round_up_to_page(size_t bytes) { return (bytes + kPageBytes - 1) & ~(kPageBytes - 1); }
  size_t total_ = 0;
};

template <class T>
T* at_offset(void* base, size_t offset) {
  return reinterpret_cast<T*>(static_cast<char*>(base) + offset);
}

}  // namespace rn

struct rn_context {
  explicit rn_context(int threads) : pool(threads) {}
  std::mutex mu;  // one call at a time per context: guards workspace and pool
  rn::ThreadPool pool;
  int isa = RN_ISA_GENERIC;
  int experiment = 0;  // rn_context_set_experiment: read only by a change under measurement
  rn::Workspace workspace;
  // Scratch of ops composed of other kernels (conv2d_crelu_input.cpp, weightnorm_conv.cpp): held across
  // their calls into kernels that take `workspace` for themselves.
  rn::Workspace staging;
  // Per-channel constants (k floats) of the fused conv epilogue (conv2d.cpp forward_epilogue),
  // read by the conv kernels while they take `workspace`, under an op that may hold `staging`.
  rn::Workspace channel_params;
};

// Runs body() with the context locked, turning C++ exceptions into status codes
// (nothing may unwind through the C ABI into the JVM).
template <class Body>
int rn_guarded(rn_context* ctx, const Body& body) {
  if (ctx == nullptr) return RN_STATUS_BAD_ARGUMENT;
  try {
    std::lock_guard<std::mutex> lock(ctx->mu);
    return body();
  } catch (const std::bad_alloc&) {
    return RN_STATUS_OUT_OF_MEMORY;
  } catch (...) {
    return RN_STATUS_INTERNAL;
  }
}
