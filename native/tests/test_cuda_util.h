// Harness for the CUDA-vs-CPU tests: device buffers with NaN poison and sentinel guards
// (the device twin of rntest::Buffer), the CPU kernel's result as the reference, and the
// skip rule: without a CUDA device a test prints "skipped: no CUDA device" and exits
// with kSkipCode (ctest SKIP_RETURN_CODE), unless RESNORM_REQUIRE_CUDA=1 is set (the
// GPU check script sets it: there a missing device is a failure, not a skip).
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "conv_case.h"
#include "resnorm/cuda.h"
#include "test_util.h"

namespace rntest::cuda {

constexpr int kSkipCode = 77;
constexpr double kFp32Tol = 1e-5;  // ||gpu - cpu|| / ||cpu||, float32 math on both sides
constexpr double kTf32Tol = 5e-3;  // the GEMM operands rounded to TF32 (10-bit mantissa)

#define RN_CUDA_EXPECT_OK(call) RN_EXPECT((call) == RN_STATUS_OK, "status != OK")

// The context of device 0, or exit: skip (no device) or fail (RESNORM_REQUIRE_CUDA=1).
inline rn_cuda_context* context_or_skip(const char* suite) {
  rn_cuda_context* ctx = nullptr;
  const int st = rn_cuda_context_create(0, &ctx);
  if (st == RN_STATUS_UNSUPPORTED) {
    const char* require = std::getenv("RESNORM_REQUIRE_CUDA");
    if (require != nullptr && std::strcmp(require, "1") == 0) {
      std::printf("%s: FAILED: no CUDA device (rn_cuda_device_count = %d) and RESNORM_REQUIRE_CUDA=1\n", suite,
                  rn_cuda_device_count());
      std::exit(1);
    }
    std::printf("%s: skipped: no CUDA device (rn_cuda_device_count = %d)\n", suite, rn_cuda_device_count());
    std::exit(kSkipCode);
  }
  if (st != RN_STATUS_OK || ctx == nullptr) {
    std::printf("%s: FAILED: rn_cuda_context_create returned %d\n", suite, st);
    std::exit(1);
  }
  std::printf("%s: device %s\n", suite, rn_cuda_context_device_name(ctx));
  return ctx;
}

// Device memory for n elements of T (float or int32) plus a guard of sentinels.
template <class T>
class DevArray {
 public:
  static constexpr size_t kGuard = 16;
  static constexpr uint32_t kSentinel = 0x7fc0beefu;  // a tagged quiet NaN

  DevArray(rn_cuda_context* ctx, size_t n) : ctx_(ctx), n_(n) {
    void* p = nullptr;
    if (rn_cuda_malloc(ctx, (n + kGuard) * sizeof(T), &p) != RN_STATUS_OK) {
      std::fprintf(stderr, "rn_cuda_malloc failed\n");
      std::exit(2);
    }
    data_ = static_cast<T*>(p);
    poison();
  }
  ~DevArray() { rn_cuda_free(ctx_, data_); }
  DevArray(const DevArray&) = delete;
  DevArray& operator=(const DevArray&) = delete;

  T* data() { return data_; }
  size_t size() const { return n_; }

  // Payload = NaN (all-ones bytes for int32: -1), guard = sentinels.
  void poison() {
    static_assert(sizeof(T) == 4, "float or int32");
    std::vector<uint32_t> host(n_ + kGuard, std::is_same<T, float>::value ? 0x7fc00000u : 0xffffffffu);
    for (size_t i = n_; i < n_ + kGuard; ++i) host[i] = kSentinel;
    upload_raw(host.data(), (n_ + kGuard) * sizeof(T));
  }
  void upload(const T* host) { upload_raw(host, n_ * sizeof(T)); }
  void upload(const Buffer& b) { upload_raw(b.data(), n_ * sizeof(T)); }
  void upload(const std::vector<T>& v) { upload_raw(v.data(), n_ * sizeof(T)); }
  // Payload and guard.
  std::vector<T> download_all() const {
    std::vector<T> host(n_ + kGuard);
    if (rn_cuda_copy_to_host(ctx_, host.data(), data_, (n_ + kGuard) * sizeof(T)) != RN_STATUS_OK) {
      std::fprintf(stderr, "rn_cuda_copy_to_host failed (a kernel fault?)\n");
      std::exit(2);
    }
    return host;
  }
  std::vector<T> download() const {
    std::vector<T> host = download_all();
    host.resize(n_);
    return host;
  }
  bool guard_intact(const std::vector<T>& all) const {
    for (size_t i = n_; i < n_ + kGuard; ++i) {
      uint32_t v;
      std::memcpy(&v, &all[i], 4);
      if (v != kSentinel) return false;
    }
    return true;
  }

 private:
  void upload_raw(const void* host, size_t bytes) {
    if (rn_cuda_copy_to_device(ctx_, data_, host, bytes) != RN_STATUS_OK) {
      std::fprintf(stderr, "rn_cuda_copy_to_device failed\n");
      std::exit(2);
    }
  }
  rn_cuda_context* ctx_;
  size_t n_;
  T* data_ = nullptr;
};

using DevBuffer = DevArray<float>;
using DevInts = DevArray<int32_t>;

// Waits for the device; an execution error or a recorded argument error fails the check.
inline void expect_sync(rn_cuda_context* ctx, const std::string& what) {
  const int st = rn_cuda_synchronize(ctx);
  RN_EXPECT(st == RN_STATUS_OK, "%s: rn_cuda_synchronize returned %d", what.c_str(), st);
}

// The device output against the CPU kernel's output (the reference): fully written
// (no NaN poison left), nothing written past the end, ||gpu - cpu|| / ||cpu|| < tol, and
// no single element off by more than 20 * tol of the output's RMS: over a large output the
// norm alone would let a few wrong values through (one of 65536 elements off by its own size
// is a relative error of 0.004, inside the TF32 bound), while a wrong value is off by about
// the RMS itself and rounding, even cuDNN's FFT and Winograd algorithms' in FP32, stays far
// below 20 * tol.
inline void expect_match(rn_cuda_context* ctx, const std::string& what, const DevBuffer& gpu, const float* cpu,
                         double tol) {
  expect_sync(ctx, what);
  const std::vector<float> all = gpu.download_all();
  RN_EXPECT(gpu.guard_intact(all), "%s: wrote past the end of its output", what.c_str());
  size_t bad = 0;
  for (size_t i = 0; i < gpu.size(); ++i) bad += !std::isfinite(all[i]) && std::isfinite(cpu[i]);
  RN_EXPECT(bad == 0, "%s: %zu element(s) not written or not finite", what.c_str(), bad);
  double num = 0.0, den = 0.0, worst_err = 0.0;
  size_t worst = 0;
  for (size_t i = 0; i < gpu.size(); ++i) {
    const double d = double(all[i]) - double(cpu[i]);
    num += d * d;
    den += double(cpu[i]) * cpu[i];
    if (std::fabs(d) > worst_err) worst_err = std::fabs(d), worst = i;
  }
  const double err = den == 0.0 ? std::sqrt(num) : std::sqrt(num / den);
  RN_EXPECT(err < tol, "%s: relative error %.3g >= %.3g (n=%zu)", what.c_str(), err, tol, gpu.size());
  const double rms = gpu.size() > 0 ? std::sqrt(den / double(gpu.size())) : 0.0;
  RN_EXPECT(worst_err <= 20.0 * tol * rms + 1e-30, "%s: element %zu is %.9g, the CPU's %.9g (off by %.3g of the RMS %.3g)",
            what.c_str(), worst, double(all[worst]), double(cpu[worst]), rms > 0 ? worst_err / rms : worst_err, rms);
}
inline void expect_match(rn_cuda_context* ctx, const std::string& what, const DevBuffer& gpu, const Buffer& cpu,
                         double tol) {
  expect_match(ctx, what, gpu, cpu.data(), tol);
}
inline void expect_match(rn_cuda_context* ctx, const std::string& what, const DevBuffer& gpu,
                         const std::vector<float>& cpu, double tol) {
  expect_match(ctx, what, gpu, cpu.data(), tol);
}

// Exact equality (integer outputs, selections).
inline void expect_equal(rn_cuda_context* ctx, const std::string& what, const DevInts& gpu, const int32_t* cpu) {
  expect_sync(ctx, what);
  const std::vector<int32_t> all = gpu.download_all();
  RN_EXPECT(gpu.guard_intact(all), "%s: wrote past the end of its output", what.c_str());
  size_t diff = 0;
  for (size_t i = 0; i < gpu.size(); ++i) diff += all[i] != cpu[i];
  RN_EXPECT(diff == 0, "%s: %zu of %zu entries differ", what.c_str(), diff, gpu.size());
}

// Exact equality of float outputs that select rather than compute (max pooling), NaN equal
// to NaN: the output is filled with a finite sentinel first, so NaN poison left over cannot
// stand in for a NaN the kernel should have written.
inline void expect_same_floats(rn_cuda_context* ctx, const std::string& what, const DevBuffer& gpu, const float* cpu) {
  expect_sync(ctx, what);
  const std::vector<float> all = gpu.download_all();
  RN_EXPECT(gpu.guard_intact(all), "%s: wrote past the end of its output", what.c_str());
  size_t diff = 0;
  for (size_t i = 0; i < gpu.size(); ++i) diff += !(all[i] == cpu[i] || (std::isnan(all[i]) && std::isnan(cpu[i])));
  RN_EXPECT(diff == 0, "%s: %zu of %zu values differ", what.c_str(), diff, gpu.size());
}

inline std::vector<float> random_floats(std::mt19937_64& rng, size_t n, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& f : v) f = u(rng);
  return v;
}

inline int finish_cuda(const char* suite, rn_cuda_context* ctx, rn_context* cpu) {
  rn_cuda_context_destroy(ctx);
  rn_context_destroy(cpu);
  return finish(suite);
}

// Conv cases of the CUDA conv tests (test_cuda_conv.cpp, test_cuda_cudnn.cpp).
namespace conv {

using conv_shapes::Case;
using conv_shapes::make;

inline size_t xsize(const rn_conv2d_desc& d) { return size_t(d.n) * d.c * d.h * d.w; }
inline size_t wsize(const rn_conv2d_desc& d) { return size_t(d.k) * d.c * d.r * d.s; }
inline size_t ysize(const rn_conv2d_desc& d) { return size_t(d.n) * d.k * d.p * d.q; }

}  // namespace conv

}  // namespace rntest::cuda
