// The layout of per-call scratch (context_impl.h): ScratchPlan::add_regions gives the regions
// that threads write side by side pages of their own with a guard gap after each (one region:
// no padding), without overlapping anything else in the plan. (That a workspace block starts on
// a page, which makes page-aligned offsets page-aligned addresses, is Workspace::require's,
// whose symbols the library does not export.)

#include "context_impl.h"
#include "test_util.h"

using namespace rntest;

namespace {

bool page_aligned(size_t offset) { return offset % rn::kPageBytes == 0; }

void check_regions(size_t before, size_t bytes, int count) {
  char what[96];
  std::snprintf(what, sizeof what, "%zu bytes before, %d regions of %zu", before, count, bytes);
  rn::ScratchPlan plan;
  const size_t first = plan.add(before);
  const rn::Regions r = plan.add_regions(bytes, count);
  const size_t after = plan.add(100);
  RN_EXPECT(first == 0, "%s: the first piece at %zu", what, first);
  RN_EXPECT(r.at >= rn::ScratchCarver::round_up(before), "%s: region 0 at %zu overlaps the piece before", what, r.at);
  RN_EXPECT(r.at % 64 == 0 && r.stride % 64 == 0, "%s: at %zu, stride %zu not 64-byte aligned", what, r.at, r.stride);
  if (count <= 1) {
    RN_EXPECT(r.at == rn::ScratchCarver::round_up(before) && r.stride == rn::ScratchCarver::round_up(bytes),
              "%s: one region padded (at %zu, stride %zu)", what, r.at, r.stride);
  } else {
    RN_EXPECT(page_aligned(r.at) && page_aligned(r.stride), "%s: at %zu, stride %zu not page-aligned", what, r.at,
              r.stride);
    RN_EXPECT(r.stride >= bytes + rn::kRegionGuardBytes, "%s: stride %zu leaves under %zu bytes of guard", what,
              r.stride, rn::kRegionGuardBytes);
    RN_EXPECT(r.stride < bytes + rn::kRegionGuardBytes + rn::kPageBytes, "%s: stride %zu wastes pages", what,
              r.stride);
  }
  for (int i = 1; i < count; ++i)
    RN_EXPECT(r.of(i) == r.of(i - 1) + r.stride && r.of(i) >= r.of(i - 1) + bytes, "%s: region %d at %zu", what, i,
              r.of(i));
  const size_t end = count > 0 ? r.of(count - 1) + bytes + (count > 1 ? rn::kRegionGuardBytes : 0) : r.at;
  RN_EXPECT(after >= end, "%s: the piece after at %zu, inside the last region or its guard (ends %zu)", what, after,
            end);
  RN_EXPECT(plan.total() >= after + 100, "%s: total %zu short of the last piece", what, plan.total());
}

}  // namespace

int main() {
  for (size_t before : {size_t(0), size_t(72), size_t(4096), size_t(74048)})
    for (size_t bytes : {size_t(64), size_t(1000), size_t(4096), size_t(71680), size_t(1) << 20})
      for (int count : {0, 1, 2, 3, 16}) check_regions(before, bytes, count);

  return finish("test_scratch_plan");
}
