// The pool through the public API: many small back-to-back jobs (the pattern of a
// training step), several contexts at once, and contexts used from several threads.
#include <thread>

#include "test_util.h"

using namespace rntest;

int main() {
  const int64_t n = 1 << 20;
  Buffer src(n), dst(n);
  std::mt19937_64 rng(3);
  src.fill_random(rng);
  rn_context* ctx = rn_context_create(4);
  RN_EXPECT(rn_context_num_threads(ctx) == 4, "thread count");
  // dst poisoned before every call: each call must write its whole range (every thread's
  // chunk), and nothing past it (the element after the range keeps its poison).
  for (int rep = 0; rep < 2000; ++rep) {
    int64_t len = (rep * 7919) % n + 1;
    const int64_t poisoned = len < n ? len + 1 : n;
    for (int64_t i = 0; i < poisoned; ++i) dst[i] = std::nanf("");
    RN_EXPECT_OK(rn_copy_floats(ctx, len, src.data(), dst.data()));
    if (std::memcmp(src.data(), dst.data(), size_t(len) * 4) != 0 || (len < n && !std::isnan(dst[len]))) {
      RN_EXPECT(false, "copy mismatch at rep %d (len %lld)", rep, (long long)len);
      break;
    }
  }
  RN_EXPECT(dst.intact(), "copy wrote past the buffer");
  // One context shared by several caller threads: calls serialize, and each caller's job
  // copies its own source into its own destination (a job handed to the wrong caller's
  // buffers would show).
  std::vector<std::thread> callers;
  std::vector<Buffer*> ins, outs;
  std::vector<int> failed_calls(4, 0);
  for (int t = 0; t < 4; ++t) {
    ins.push_back(new Buffer(n));
    ins[t]->fill_random(rng);
    outs.push_back(new Buffer(n));
  }
  for (int t = 0; t < 4; ++t)
    callers.emplace_back([&, t] {
      for (int rep = 0; rep < 50; ++rep) {
        outs[t]->poison();
        if (rn_copy_floats(ctx, n, ins[t]->data(), outs[t]->data()) != RN_STATUS_OK) ++failed_calls[t];
        if (std::memcmp(ins[t]->data(), outs[t]->data(), size_t(n) * 4) != 0) ++failed_calls[t];
      }
    });
  for (auto& c : callers) c.join();
  for (int t = 0; t < 4; ++t) {
    RN_EXPECT(failed_calls[t] == 0, "shared context: caller %d had %d failed or wrong copies", t, failed_calls[t]);
    RN_EXPECT(outs[t]->intact(), "shared context: caller %d's copy wrote past its buffer", t);
    delete ins[t];
    delete outs[t];
  }
  rn_context_destroy(ctx);
  // Create/destroy churn must not leak threads or hang.
  for (int i = 0; i < 50; ++i) rn_context_destroy(rn_context_create(3));
  RN_EXPECT(rn_context_set_isa(nullptr, 0) == RN_STATUS_BAD_ARGUMENT, "null ctx");
  // The experiment value (bench_conv_ab): 0 until set, per context, null rejected.
  {
    rn_context* one = rn_context_create(1);
    rn_context* two = rn_context_create(1);
    RN_EXPECT(rn_context_experiment(one) == 0, "experiment starts at 0");
    RN_EXPECT_OK(rn_context_set_experiment(one, 3));
    RN_EXPECT(rn_context_experiment(one) == 3 && rn_context_experiment(two) == 0, "experiment is per context");
    RN_EXPECT(rn_context_set_experiment(nullptr, 1) == RN_STATUS_BAD_ARGUMENT && rn_context_experiment(nullptr) == 0,
              "experiment on a null ctx");
    rn_context_destroy(one);
    rn_context_destroy(two);
  }
  // rn_alloc's live-memory counters: a block counts its 64-rounded size until it is freed,
  // and a context's workspace is returned on destroy.
  {
    int64_t bytes0 = rn_live_bytes(), blocks0 = rn_live_blocks();
    void* a = rn_alloc(100);
    void* b = rn_alloc(0);
    RN_EXPECT(reinterpret_cast<uintptr_t>(a) % 64 == 0 && reinterpret_cast<uintptr_t>(b) % 64 == 0, "alignment");
    RN_EXPECT(rn_live_bytes() - bytes0 == 128 + 64 && rn_live_blocks() - blocks0 == 2, "live after alloc: %lld",
              (long long)(rn_live_bytes() - bytes0));
    std::memset(a, 1, 100);
    rn_free(a);
    rn_free(b);
    rn_free(nullptr);
    RN_EXPECT(rn_live_bytes() == bytes0 && rn_live_blocks() == blocks0, "live after free");
    rn_context* c = rn_context_create(2);
    Buffer big(1 << 20), out(1 << 20);
    int64_t with_buffers = rn_live_bytes();
    RN_EXPECT_OK(rn_copy_floats(c, 1 << 20, big.data(), out.data()));
    rn_context_destroy(c);
    RN_EXPECT(rn_live_bytes() == with_buffers, "a context leaves nothing behind");
  }
  return finish("test_thread_pool");
}
