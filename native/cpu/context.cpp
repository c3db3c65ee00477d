// rn_context lifecycle, aligned memory, version strings, copy bandwidth helper.
#include <atomic>
#include <cstdlib>
#include <cstring>

#include <sys/mman.h>

#include "blas.h"
#include "context_impl.h"

namespace rn {

Workspace::~Workspace() { release(); }

void* Workspace::require(size_t bytes) {
  if (bytes <= capacity_) return data_;
  release();
  // Grow geometrically-ish so a sequence of slightly larger requests does not
  // reallocate every time.
  size_t want = bytes + bytes / 8;
  // rn_alloc aligns to 64 bytes: a page more, to start data_ on a page
  void* p = rn_alloc(want + kPageBytes - 64);
  if (p == nullptr) throw std::bad_alloc();
  block_ = p;
  data_ = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(p) + kPageBytes - 1) & ~uintptr_t(kPageBytes - 1));
  capacity_ = want;
  return data_;
}

void Workspace::release() {
  rn_free(block_);
  block_ = nullptr;
  data_ = nullptr;
  capacity_ = 0;
}

}  // namespace rn

extern "C" {

rn_context* rn_context_create(int num_threads) {
  rn::blas::pin_single_threaded();
  int threads = num_threads > 0 ? num_threads : rn_cpu_count();
  try {
    auto* ctx = new rn_context(threads);
    ctx->isa = rn_cpu_best_isa();
    return ctx;
  } catch (...) {
    return nullptr;
  }
}

void rn_context_destroy(rn_context* ctx) { delete ctx; }

int rn_context_num_threads(const rn_context* ctx) { return ctx ? ctx->pool.size() : 0; }

int rn_context_isa(const rn_context* ctx) { return ctx ? ctx->isa : -1; }

int rn_context_set_isa(rn_context* ctx, int isa) {
  if (ctx == nullptr || isa < RN_ISA_GENERIC || isa > RN_ISA_AVX512) return RN_STATUS_BAD_ARGUMENT;
  if (isa > rn_cpu_best_isa()) return RN_STATUS_UNSUPPORTED;
  std::lock_guard<std::mutex> lock(ctx->mu);
  ctx->isa = isa;
  return RN_STATUS_OK;
}

int rn_context_set_experiment(rn_context* ctx, int value) {
  if (ctx == nullptr) return RN_STATUS_BAD_ARGUMENT;
  std::lock_guard<std::mutex> lock(ctx->mu);
  ctx->experiment = value;
  return RN_STATUS_OK;
}

int rn_context_experiment(const rn_context* ctx) {
  if (ctx == nullptr) return 0;
  std::lock_guard<std::mutex> lock(const_cast<rn_context*>(ctx)->mu);
  return ctx->experiment;
}

size_t rn_context_workspace_bytes(const rn_context* ctx) {
  if (ctx == nullptr) return 0;
  std::lock_guard<std::mutex> lock(const_cast<rn_context*>(ctx)->mu);
  return ctx->workspace.capacity() + ctx->staging.capacity();
}

void rn_context_trim(rn_context* ctx) {
  if (ctx == nullptr) return;
  std::lock_guard<std::mutex> lock(ctx->mu);
  ctx->workspace.release();
  ctx->staging.release();
}

// Live tensor memory, for leak tests and `bench`: each block carries its size in a 64-byte
// header (keeping the 64-byte alignment), so rn_free can subtract it. Atomics, not a lock: the
// counters are only ever added to and read.
namespace {
constexpr size_t kHeader = 64;
std::atomic<int64_t> g_live_bytes{0};
std::atomic<int64_t> g_live_blocks{0};

// Blocks of 2 MiB or more (a batch's tensors, the workspaces) ask for transparent huge pages
// on their 2 MiB-aligned interior: a batch-128 conv streams 4-12 MiB, 1000-3000 4 KiB pages,
// a TLB miss each. Zen 3, 2 threads, batch 128, `bench_conv`, medians of six alternations:
// the 3x3/2 16->32 forward 3.76 -> 3.58 ms, backward-data 3.15 -> 2.97, backward-filter 3.82
// -> 3.45 (5 or 6 rounds of 6 won each). Advice only: where THP is off ("never") nothing
// changes. RESNORM_HUGE_PAGES=0 in the environment turns it off (read once).
constexpr size_t kHugePage = size_t(2) << 20;

bool huge_pages_wanted() {
  static const bool wanted = [] {
    const char* v = std::getenv("RESNORM_HUGE_PAGES");
    return v == nullptr || std::strcmp(v, "0") != 0;
  }();
  return wanted;
}

void advise_huge_pages(void* block, size_t bytes) {
  if (bytes < kHugePage || !huge_pages_wanted()) return;
  const uintptr_t start = reinterpret_cast<uintptr_t>(block);
  const uintptr_t lo = (start + kHugePage - 1) & ~uintptr_t(kHugePage - 1);
  const uintptr_t hi = (start + bytes) & ~uintptr_t(kHugePage - 1);
  if (hi > lo) (void)madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);  // advice: failure is harmless
}
}  // namespace

void* rn_alloc(size_t bytes) {
  if (bytes == 0) bytes = 64;
  if (bytes > SIZE_MAX - 2 * kHeader) return nullptr;
  size_t body = (bytes + 63) & ~static_cast<size_t>(63);
  void* p = nullptr;
  if (posix_memalign(&p, 64, body + kHeader) != 0) return nullptr;
  advise_huge_pages(p, body + kHeader);
  *static_cast<size_t*>(p) = body;
  g_live_bytes.fetch_add(static_cast<int64_t>(body), std::memory_order_relaxed);
  g_live_blocks.fetch_add(1, std::memory_order_relaxed);
  return static_cast<char*>(p) + kHeader;
}

void rn_free(void* p) {
  if (p == nullptr) return;
  char* base = static_cast<char*>(p) - kHeader;
  g_live_bytes.fetch_sub(static_cast<int64_t>(*reinterpret_cast<size_t*>(base)), std::memory_order_relaxed);
  g_live_blocks.fetch_sub(1, std::memory_order_relaxed);
  std::free(base);
}

int64_t rn_live_bytes(void) { return g_live_bytes.load(std::memory_order_relaxed); }

int64_t rn_live_blocks(void) { return g_live_blocks.load(std::memory_order_relaxed); }

const char* rn_version(void) { return RN_VERSION_STRING; }

const char* rn_compiler(void) {
#if defined(__clang__)
  return "clang " __clang_version__;
#elif defined(__GNUC__)
  return "g++ " __VERSION__;
#else
  return "unknown";
#endif
}

int rn_copy_floats(rn_context* ctx, int64_t n, const float* src, float* dst) {
  if (n < 0 || (n > 0 && (!src || !dst))) return RN_STATUS_BAD_ARGUMENT;
  return rn_guarded(ctx, [&] {
    ctx->pool.parallel_for(n, 1 << 16, [&](int64_t b, int64_t e, int) {
      std::memcpy(dst + b, src + b, static_cast<size_t>(e - b) * sizeof(float));
    });
    return RN_STATUS_OK;
  });
}

}  // extern "C"
