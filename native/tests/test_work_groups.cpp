// Backward-filter's deterministic work split (WorkGroups, native/cpu/conv2d_impl.h):
// the ranges tile the work exactly, shrink toward the end, respect the least size and
// the group cap, and depend only on their arguments; and the filter gradients that use
// it give the same dW, bit for bit, call after call on a context with several threads.
#include <thread>
#include <vector>

#include "conv2d_impl.h"
#include "test_util.h"

using namespace rntest;
using rn::conv::WorkGroups;

namespace {

// WorkShares: every unit handed out exactly once, whether the threads claim one after
// another or at once on a pool; a thread alone takes its own share front to back first.
void check_work_shares(int32_t count, int threads) {
  char what[64];
  std::snprintf(what, sizeof what, "WorkShares(%d, %d)", count, threads);
  {
    rn::conv::WorkShares claims(count, threads);
    const int32_t own_hi = threads <= rn::conv::WorkShares::kMaxShares ? int32_t(int64_t(count) / std::max(threads, 1))
                                                                           : count;
    std::vector<int> seen(size_t(count), 0);
    int32_t expect = 0, taken = 0;  // thread 0's own share is [0, own_hi)
    for (int32_t n = claims.claim(0); n >= 0; n = claims.claim(0), ++taken) {
      RN_EXPECT(n < count, "%s: image %d out of range", what, n);
      if (n >= count) break;
      ++seen[size_t(n)];
      if (expect < own_hi) {
        RN_EXPECT(n == expect, "%s: thread 0 took %d before its own %d", what, n, expect);
        ++expect;
      }
    }
    RN_EXPECT(taken == count, "%s: one thread took %d images", what, taken);
    for (int32_t n = 0; n < count; ++n) RN_EXPECT(seen[size_t(n)] == 1, "%s: image %d taken %d times", what, n, seen[size_t(n)]);
  }
  // at once, a std::thread per claimer, started together
  rn::conv::WorkShares claims(count, threads);
  std::vector<std::atomic<int>> seen(static_cast<size_t>(count));
  for (auto& c : seen) c.store(0);
  std::atomic<int> bad{0}, ready{0};
  std::vector<std::thread> claimers;
  for (int tid = 0; tid < threads; ++tid)
    claimers.emplace_back([&, tid] {
      ready.fetch_add(1);
      while (ready.load() < threads) std::this_thread::yield();
      for (int32_t n = claims.claim(tid); n >= 0; n = claims.claim(tid)) {
        if (n >= count) {
          bad.fetch_add(1);
          break;
        }
        seen[size_t(n)].fetch_add(1);
      }
    });
  for (auto& t : claimers) t.join();
  RN_EXPECT(bad.load() == 0, "%s: images out of range at once", what);
  for (int32_t n = 0; n < count; ++n)
    RN_EXPECT(seen[size_t(n)].load() == 1, "%s: image %d taken %d times at once", what, n, seen[size_t(n)].load());
}

void check_split(int64_t units, int threads, int64_t min_units) {
  const WorkGroups g(units, threads, min_units);
  const int64_t least = min_units > 0 ? min_units : 1;
  char what[96];
  std::snprintf(what, sizeof what, "units %lld threads %d min %lld", (long long)units, threads, (long long)min_units);
  if (units <= 0) {
    RN_EXPECT(g.count() == 0, "%s: no work, no groups", what);
    return;
  }
  RN_EXPECT(g.count() >= 1 && g.count() <= WorkGroups::kMaxGroups, "%s: count %d", what, g.count());
  RN_EXPECT(g.begin(0) == 0 && g.end(g.count() - 1) == units, "%s: covers [0, units)", what);
  const int64_t share = 2 * int64_t(threads);
  int64_t at = 0;
  for (int i = 0; i < g.count(); ++i) {
    const int64_t size = g.end(i) - g.begin(i);
    RN_EXPECT(g.begin(i) == at, "%s: group %d starts where %d ends", what, i, i - 1);
    at = g.end(i);
    const bool last = i == g.count() - 1;
    // every group but the last: at least `least` (or all that is left), about a
    // share-th of what remains; the last one no sliver unless all of it is one
    if (!last) {
      RN_EXPECT(size >= least, "%s: group %d of %lld under the least size", what, i, (long long)size);
      const int64_t remaining = units - g.begin(i);
      RN_EXPECT(size == std::max<int64_t>(least, (remaining + share - 1) / share), "%s: group %d size %lld", what,
                i, (long long)size);
    } else {
      RN_EXPECT(size >= std::min<int64_t>(least, units) || g.count() == WorkGroups::kMaxGroups, "%s: tail %lld",
                what, (long long)size);
    }
  }
  // Same arguments, same ranges.
  const WorkGroups again(units, threads, min_units);
  RN_EXPECT(again.count() == g.count(), "%s: deterministic count", what);
  for (int i = 0; i < g.count() && i < again.count(); ++i)
    RN_EXPECT(again.end(i) == g.end(i), "%s: deterministic group %d", what, i);
}

}  // namespace

int main() {
  for (int32_t count : {0, 1, 2, 3, 7, 64, 127, 128, 1000})
    for (int threads : {1, 2, 3, 8, 70})
      for (int rep = 0; rep < 5; ++rep) check_work_shares(count, threads);

  for (int64_t units : {0, 1, 2, 3, 7, 13, 64, 127, 128, 129, 1000, 100000})
    for (int threads : {1, 2, 3, 8})
      for (int64_t min_units : {0, 1, 2, 4, 17}) check_split(units, threads, min_units);

  // 128 images on 2 threads with the least size a 32nd of a thread's share: the tail is
  // 2 images, where eight equal ranges of 16 left a thread waiting up to 16.
  const WorkGroups images(128, 2, WorkGroups::min_units_for(128, 2, 4608, 1.18e6));
  RN_EXPECT(images.end(images.count() - 1) - images.begin(images.count() - 1) <= 3, "tail of 128 images: %lld",
            (long long)(images.end(images.count() - 1) - images.begin(images.count() - 1)));
  RN_EXPECT(images.end(0) == 32, "first range a quarter of 128 images on 2 threads: %lld", (long long)images.end(0));
  // A big accumulator (Winograd 64->64: 36 planes of 64x64) against little work per unit
  // raises the least size: no group does less work than twice the sum of its accumulator.
  const int64_t acc = 36 * 64 * 64;
  const double work = 36.0 * 64 * 64 * 4;  // one image of 8x8 tiles: 4 tiles
  const int64_t least = WorkGroups::min_units_for(128, 2, acc, work);
  RN_EXPECT(least * work >= 2 * 32.0 * acc, "least size %lld too small for the accumulator", (long long)least);
  RN_EXPECT(WorkGroups::min_units_for(128, 2, 0, 1e6) == 2, "tail rule alone: %lld",
            (long long)WorkGroups::min_units_for(128, 2, 0, 1e6));

  // dW bit for bit the same on repeated calls, 2 and 3 threads, direct (stride 2) and
  // Winograd, with batches that make several shrinking groups.
  std::mt19937_64 rng(7);
  for (int threads : {2, 3}) {
    rn_context* ctx = rn_context_create(threads);
    for (int stride : {1, 2}) {
      rn_conv2d_desc d{};
      d.n = 37; d.c = 16; d.h = 12; d.w = 10; d.k = 16; d.r = 3; d.s = 3;
      d.stride_h = d.stride_w = stride;
      d.pad_h = d.pad_w = 1;
      d.p = (d.h + 2 - 3) / stride + 1;
      d.q = (d.w + 2 - 3) / stride + 1;
      d.algo = stride == 1 ? RN_CONV_ALGO_WINOGRAD : RN_CONV_ALGO_DIRECT;
      Buffer x(size_t(d.n) * d.c * d.h * d.w), dy(size_t(d.n) * d.k * d.p * d.q);
      Buffer dw1(size_t(d.k) * d.c * 9), dw2(size_t(d.k) * d.c * 9);
      x.fill_random(rng);
      dy.fill_random(rng);
      dw1.poison();
      RN_EXPECT_OK(rn_conv2d_backward_filter(ctx, &d, x.data(), dy.data(), dw1.data(), nullptr));
      for (int rep = 0; rep < 20; ++rep) {
        dw2.poison();
        RN_EXPECT_OK(rn_conv2d_backward_filter(ctx, &d, x.data(), dy.data(), dw2.data(), nullptr));
        if (std::memcmp(dw1.data(), dw2.data(), dw1.size() * sizeof(float)) != 0) {
          RN_EXPECT(false, "threads %d stride %d: dW differs on call %d", threads, stride, rep + 2);
          break;
        }
      }
      RN_EXPECT(dw1.intact() && dw2.intact(), "threads %d stride %d: wrote past dW", threads, stride);
    }
    rn_context_destroy(ctx);
  }
  return finish("test_work_groups");
}
