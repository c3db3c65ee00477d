// The next-image prefetch pacing of the direct kernels (PacedPrefetch, native/cpu/gemm.h):
// the lines it issues follow the reported multiply-adds evenly, all of them are issued by
// the time the announced work is reported, none past it, and the addresses run over the
// first region's lines, then the second's, never outside them.
#include <algorithm>

#include "gemm.h"
#include "test_util.h"

using namespace rntest;
using rn::PacedPrefetch;

namespace {

// Reports `work` multiply-adds in chunks like a GEMM's register tiles (rows x 16 lanes x a
// segment's steps), checking after each that exactly the lines due are issued.
void check_pace(int64_t a_floats, int64_t b_floats, int64_t work, std::mt19937_64& rng) {
  static float a_buf[1], b_buf[1];  // the regions' addresses only (nothing is read)
  char what[96];
  std::snprintf(what, sizeof what, "a %lld b %lld work %lld", (long long)a_floats, (long long)b_floats,
                (long long)work);
  PacedPrefetch pf;
  pf.start(a_floats ? a_buf : nullptr, a_floats, b_floats ? b_buf : nullptr, b_floats, work);
  const int64_t lines_a = (a_floats * 4 + 63) / 64, lines_b = (b_floats * 4 + 63) / 64, total = lines_a + lines_b;
  RN_EXPECT(pf.lines[0] == lines_a && pf.lines[1] == lines_b, "%s: line counts %lld + %lld", what,
            (long long)pf.lines[0], (long long)pf.lines[1]);
  const int64_t per_line = std::max<int64_t>(1, work / std::max<int64_t>(1, total));
  std::uniform_int_distribution<int> rows(1, 6), steps(1, 16);
  int64_t done = 0, last_line = 0;
  while (done < work) {
    const int64_t chunk = std::min<int64_t>(work - done, int64_t(rows(rng)) * 16 * steps(rng));
    pf.advance(chunk);
    done += chunk;
    const int64_t due = std::min(total, done / per_line);
    if (pf.line != due) {
      RN_EXPECT(false, "%s: %lld lines issued after %lld of the work, %lld due", what, (long long)pf.line,
                (long long)done, (long long)due);
      return;
    }
    RN_EXPECT(pf.line >= last_line, "%s: went back", what);
    last_line = pf.line;
  }
  if (work >= total) RN_EXPECT(pf.line == total, "%s: %lld of %lld lines issued", what, (long long)pf.line,
                               (long long)total);
  pf.advance(work);  // more work than announced: nothing past the regions
  RN_EXPECT(pf.line == std::min(total, 2 * work / per_line), "%s: past the end", what);
  // addresses: region a line by line, then region b, each inside its region's bytes
  for (int64_t i = 0; i < total; ++i) {
    const char* want = i < lines_a ? reinterpret_cast<const char*>(a_buf) + 64 * i
                                   : reinterpret_cast<const char*>(b_buf) + 64 * (i - lines_a);
    if (pf.address(i) != want) {
      RN_EXPECT(false, "%s: line %lld at the wrong address", what, (long long)i);
      break;
    }
  }
  if (lines_a > 0) RN_EXPECT(64 * (lines_a - 1) < a_floats * 4, "%s: last line of a outside it", what);
  if (lines_b > 0) RN_EXPECT(64 * (lines_b - 1) < b_floats * 4, "%s: last line of b outside it", what);
}

}  // namespace

int main() {
  std::mt19937_64 rng(7);
  // the 16->32 transition's filter gradient on AVX2 (x and dy of an image, its work), odd
  // sizes, one region, lines that do not divide the work, work under the line count
  check_pace(16 * 32 * 32, 32 * 16 * 16, 16 * 32 * 9 * 16 * 16, rng);
  check_pace(16 * 32 * 32 + 3, 32 * 16 * 16 + 5, 1234567, rng);
  check_pace(0, 64 * 8 * 8, 64 * 32 * 4 * 16 * 8, rng);
  check_pace(17, 0, 1000, rng);
  check_pace(1000, 1000, 97, rng);
  PacedPrefetch idle;  // never started, or stopped: nothing to issue
  idle.advance(1 << 20);
  RN_EXPECT(idle.line == 0, "an idle prefetch issued %lld lines", (long long)idle.line);
  idle.start(nullptr, 0, nullptr, 0, 100);
  idle.advance(100);
  RN_EXPECT(idle.line == 0, "an empty prefetch issued %lld lines", (long long)idle.line);
  return finish("test_paced_prefetch");
}
