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

  // Returns at least `bytes` bytes, 64-byte aligned. Throws std::bad_alloc.
  void* require(size_t bytes);
  size_t capacity() const { return capacity_; }
  void release();

 private:
  void* data_ = nullptr;
  size_t capacity_ = 0;
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
  size_t total() const { return total_; }

 private:
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
