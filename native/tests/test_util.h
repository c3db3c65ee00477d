// Minimal test harness for the native kernels (no framework dependency):
// guarded buffers with NaN poison and sentinels, float64 references, error norms.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include "resnorm/resnorm.h"

namespace rntest {

inline int& failures() {
  static int f = 0;
  return f;
}

#define RN_EXPECT(cond, ...)                                              \
  do {                                                                    \
    if (!(cond)) {                                                        \
      std::fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                  \
      std::fprintf(stderr, "\n");                                         \
      ++rntest::failures();                                               \
    }                                                                     \
  } while (0)

#define RN_EXPECT_OK(call) RN_EXPECT((call) == RN_STATUS_OK, "status != OK")

// A float buffer with `kGuard` sentinel floats after the payload: a kernel that
// writes past the end is caught by intact().
class Buffer {
 public:
  static constexpr size_t kGuard = 16;
  static constexpr uint32_t kSentinel = 0x7fc0dead;  // a quiet NaN with a tag

  explicit Buffer(size_t n) : n_(n), data_(static_cast<float*>(rn_alloc((n + kGuard) * sizeof(float)))) {
    if (!data_) { std::fprintf(stderr, "rn_alloc failed\n"); std::exit(2); }
    poison();
    for (size_t i = 0; i < kGuard; ++i) std::memcpy(data_ + n_ + i, &kSentinel, 4);
  }
  ~Buffer() { rn_free(data_); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  float* data() { return data_; }
  const float* data() const { return data_; }
  size_t size() const { return n_; }
  float& operator[](size_t i) { return data_[i]; }
  float operator[](size_t i) const { return data_[i]; }

  void poison() { for (size_t i = 0; i < n_; ++i) data_[i] = std::nanf(""); }
  void fill_random(std::mt19937_64& rng, float lo = -1.0f, float hi = 1.0f) {
    std::uniform_real_distribution<float> u(lo, hi);
    for (size_t i = 0; i < n_; ++i) data_[i] = u(rng);
  }
  bool intact() const {
    for (size_t i = 0; i < kGuard; ++i) {
      uint32_t v;
      std::memcpy(&v, data_ + n_ + i, 4);
      if (v != kSentinel) return false;
    }
    return true;
  }
  bool all_finite() const {
    for (size_t i = 0; i < n_; ++i) if (!std::isfinite(data_[i])) return false;
    return true;
  }
  std::vector<double> to_double() const { return std::vector<double>(data_, data_ + n_); }

 private:
  size_t n_;
  float* data_;
};

// ||out - ref|| / ||ref||
inline double rel_error(const float* out, const std::vector<double>& ref) {
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < ref.size(); ++i) {
    double d = double(out[i]) - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
  }
  return den == 0.0 ? std::sqrt(num) : std::sqrt(num / den);
}

// Checks a kernel's output: fully written (finite), inside its bounds, close to ref.
inline void expect_close(const char* what, const Buffer& out, const std::vector<double>& ref, double tol) {
  RN_EXPECT(out.intact(), "%s: wrote past the end of its output", what);
  RN_EXPECT(out.all_finite(), "%s: output not fully written (NaN poison left) or not finite", what);
  double err = rel_error(out.data(), ref);
  RN_EXPECT(err < tol, "%s: relative error %.3g >= %.3g", what, err, tol);
}

// A test's fuzz mode: `--fuzz COUNT SEED` as its arguments (COUNT random shapes from SEED instead
// of its fixed list). False without them; anything else on the command line is a usage error.
inline bool fuzz_args(int argc, char** argv, int* count, uint64_t* seed) {
  if (argc == 1) return false;
  if (argc == 4 && std::string(argv[1]) == "--fuzz") {
    char* end = nullptr;
    *count = int(std::strtol(argv[2], &end, 10));
    const bool count_ok = *end == '\0' && *count >= 1;
    *seed = std::strtoull(argv[3], &end, 10);
    if (count_ok && *end == '\0' && argv[3][0] != '\0') return true;
  }
  std::fprintf(stderr, "usage: %s [--fuzz COUNT SEED]  (COUNT >= 1 random shapes from SEED)\n", argv[0]);
  std::exit(2);
}

// One of `values`, uniformly (the fuzz modes' shape generators).
inline int pick_one(std::mt19937_64& rng, std::initializer_list<int> values) {
  return *(values.begin() + rng() % values.size());
}

// The ISA levels this CPU can run: every test runs on each.
inline std::vector<int> isa_levels() {
  std::vector<int> v;
  for (int isa = RN_ISA_GENERIC; isa <= rn_cpu_best_isa(); ++isa) v.push_back(isa);
  return v;
}

inline int finish(const char* suite) {
  if (failures() == 0) {
    std::printf("%s: all checks passed\n", suite);
    return 0;
  }
  std::printf("%s: %d check(s) FAILED\n", suite, failures());
  return 1;
}

}  // namespace rntest
