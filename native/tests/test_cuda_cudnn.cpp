// cuDNN (loaded at run time, include/resnorm/cuda_cudnn.h) against the native CUDA conv:
// forward (+bias), backward-data and backward-filter (+bias) on odd shapes (1x1, 3x3,
// 7x7, non-square, strides, padding) and the ResNet-110 shapes at batch 128, both
// outputs NaN-poisoned and guarded, FP32 (relative error < 1e-5) and TF32 (< 5e-3); the
// conv entry points of a context switched to cuDNN (rn_cuda_context_set_conv_impl).
//
// The API's behaviour without cuDNN is checked first and needs neither a GPU nor cuDNN:
// calls before a successful load return RN_STATUS_UNSUPPORTED, a load from a missing file
// fails with a message. Then, without a CUDA device, or without a loadable cuDNN, the test
// prints why and exits with 77 (ctest: Skipped); RESNORM_REQUIRE_CUDA=1 /
// RESNORM_REQUIRE_CUDNN=1 make those failures (scripts/gpu-check.sh sets them on a GPU
// machine, the second only where it found cuDNN).
#include <cstring>

#include "resnorm/cuda_cudnn.h"
#include "test_cuda_util.h"

using namespace rntest;
using namespace rntest::cuda;
using namespace rntest::cuda::conv;

namespace {


bool env_is_1(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && std::strcmp(v, "1") == 0;
}

// ------------------------------------------------------------ without cuDNN (runs everywhere)

void api_before_load() {
  float host[64] = {};
  float* p = host;  // host memory: must never reach cuDNN or a kernel
  rn_conv2d_desc d = make({1, 1, 3, 3, 1, 3, 3, 1, 1, 1, 1});
  const int unsupported = RN_STATUS_UNSUPPORTED, bad = RN_STATUS_BAD_ARGUMENT;
  RN_EXPECT(rn_cudnn_loaded() == 0 && rn_cudnn_version() == 0, "nothing loaded yet");
  RN_EXPECT(rn_cudnn_library_path()[0] == '\0' && rn_cudnn_info()[0] == '\0', "no path before a load");
  RN_EXPECT(rn_cudnn_conv2d_forward(nullptr, &d, p, p, p, p) == unsupported, "forward before load");
  RN_EXPECT(std::strstr(rn_cudnn_error(), "not loaded") != nullptr, "message: '%s'", rn_cudnn_error());
  RN_EXPECT(rn_cudnn_conv2d_backward_data(nullptr, &d, p, p, p) == unsupported, "backward-data before load");
  RN_EXPECT(rn_cudnn_conv2d_backward_filter(nullptr, &d, p, p, p, p) == unsupported, "backward-filter before load");
  rn_cudnn_algo_info info;
  RN_EXPECT(rn_cudnn_conv2d_algo(nullptr, &d, 0, &info) == unsupported, "algo before load");
  // Argument errors come first, as everywhere in the API.
  RN_EXPECT(rn_cudnn_conv2d_forward(nullptr, &d, nullptr, p, p, p) == bad, "x null");
  RN_EXPECT(rn_cudnn_conv2d_backward_filter(nullptr, &d, p, p, nullptr, p) == bad, "dw null");
  RN_EXPECT(rn_cudnn_conv2d_algo(nullptr, &d, 3, &info) == bad, "direction 3");
  RN_EXPECT(rn_cudnn_conv2d_algo(nullptr, &d, 0, nullptr) == bad, "info null");
  rn_conv2d_desc wrong = d;
  wrong.p += 1;
  RN_EXPECT(rn_cudnn_conv2d_backward_data(nullptr, &wrong, p, p, p) == bad, "inconsistent desc");
  RN_EXPECT(rn_cudnn_conv2d_forward(nullptr, nullptr, p, p, p, p) == bad, "desc null");
  RN_EXPECT(rn_cuda_context_set_conv_impl(nullptr, RN_CUDA_CONV_IMPL_CUDNN) == bad, "set_conv_impl(NULL)");
  RN_EXPECT(rn_cuda_context_conv_impl(nullptr) == -1, "conv_impl(NULL)");

  // A load that cannot succeed says why and leaves nothing loaded.
  RN_EXPECT(rn_cudnn_load("/nonexistent/libcudnn.so.9") == unsupported, "load of a missing file");
  const std::string why = rn_cudnn_error();
  RN_EXPECT(why.find("/nonexistent/libcudnn.so.9") != std::string::npos, "message names the file: '%s'", why.c_str());
  std::printf("cuda cudnn: load of a missing file: %s\n", why.c_str());
  RN_EXPECT(rn_cudnn_loaded() == 0 && rn_cudnn_version() == 0, "still nothing loaded");
  RN_EXPECT(rn_cudnn_conv2d_forward(nullptr, &d, p, p, p, p) == unsupported, "forward after a failed load");
}

void api_with_context_before_load(rn_cuda_context* g) {
  RN_EXPECT(rn_cuda_context_conv_impl(g) == RN_CUDA_CONV_IMPL_NATIVE, "native by default");
  RN_EXPECT(rn_cuda_context_set_conv_impl(g, RN_CUDA_CONV_IMPL_CUDNN) == RN_STATUS_UNSUPPORTED,
            "cuDNN impl before load");
  RN_EXPECT(rn_cuda_context_set_conv_impl(g, 7) == RN_STATUS_BAD_ARGUMENT, "impl 7");
  RN_EXPECT(rn_cuda_context_set_conv_impl(g, RN_CUDA_CONV_IMPL_NATIVE) == RN_STATUS_OK, "native");
  RN_EXPECT(rn_cuda_context_conv_impl(g) == RN_CUDA_CONV_IMPL_NATIVE, "still native");
}

// ------------------------------------------------------------ with cuDNN and a device

// cuDNN's output as the reference: fully written (no NaN poison left), nothing past the end.
std::vector<float> reference(rn_cuda_context* g, const std::string& what, const DevBuffer& out) {
  expect_sync(g, what);
  std::vector<float> all = out.download_all();
  RN_EXPECT(out.guard_intact(all), "%s: cuDNN wrote past the end of its output", what.c_str());
  size_t bad = 0;
  for (size_t i = 0; i < out.size(); ++i) bad += !std::isfinite(all[i]);
  RN_EXPECT(bad == 0, "%s: %zu element(s) of cuDNN's output not written or not finite", what.c_str(), bad);
  all.resize(out.size());
  return all;
}

// Bit-for-bit equal (the same cuDNN algorithm on the same data, when it is deterministic).
void expect_identical(rn_cuda_context* g, const std::string& what, const DevBuffer& out,
                      const std::vector<float>& ref) {
  expect_sync(g, what);
  const std::vector<float> got = out.download();
  RN_EXPECT(std::memcmp(got.data(), ref.data(), ref.size() * sizeof(float)) == 0, "%s: not identical",
            what.c_str());
}

const char* kDirectionNames[] = {"fwd", "bwd-data", "bwd-filter"};

// The algorithm cuDNN chose for direction (printed; returns whether it is deterministic).
bool emulated = false;  // the host emulation with tests/fake_cudnn_functional.cpp as cuDNN

bool report_algo(rn_cuda_context* g, const rn_conv2d_desc& d, int direction, const std::string& label) {
  rn_cudnn_algo_info info;
  const int st = rn_cudnn_conv2d_algo(g, &d, direction, &info);
  RN_EXPECT(st == RN_STATUS_OK, "%s: no algorithm recorded for %s (status %d)", label.c_str(),
            kDirectionNames[direction], st);
  if (st != RN_STATUS_OK) return false;
  if (emulated) {
    // The stand-in's search lists a failure, a tensor-core result, then algorithm 3:
    // FP32 must skip the tensor-core one, TF32 may take it.
    const bool tf32 = rn_cuda_context_math(g) == RN_CUDA_MATH_TF32;
    RN_EXPECT(info.algo == (tf32 ? 4 : 3) && info.math_type == (tf32 ? 1 : 3) &&
                  info.workspace_bytes == size_t(info.algo) * 4096,
              "%s %s: chose algorithm %d (math %d, workspace %zu)", label.c_str(), kDirectionNames[direction],
              info.algo, info.math_type, info.workspace_bytes);
  }
  std::printf("  %-60s %-10s %-22s math %d %s %.3f ms, workspace %zu B\n", label.c_str(), kDirectionNames[direction],
              info.name, info.math_type, info.deterministic ? "det" : "non-det", double(info.find_ms),
              info.workspace_bytes);
  return info.deterministic != 0;
}

std::string label_of(const rn_conv2d_desc& d, const char* mode) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s n=%d c=%d %dx%d k=%d %dx%d stride=%d,%d pad=%d,%d", mode, d.n, d.c, d.h, d.w, d.k,
                d.r, d.s, d.stride_h, d.stride_w, d.pad_h, d.pad_w);
  return buf;
}

void compare_case(rn_cuda_context* g, std::mt19937_64& rng, const Case& cs, double tol, const char* mode) {
  const rn_conv2d_desc d = make(cs);
  RN_EXPECT(rn_conv2d_check(&d) == RN_STATUS_OK, "bad test case");
  const std::string l = label_of(d, mode);
  DevBuffer X(g, xsize(d)), W(g, wsize(d)), B(g, d.k), DY(g, ysize(d));
  X.upload(random_floats(rng, xsize(d)));
  W.upload(random_floats(rng, wsize(d)));
  B.upload(random_floats(rng, d.k));
  DY.upload(random_floats(rng, ysize(d)));

  // Forward, with and without bias: native against cuDNN.
  std::vector<float> y_ref;
  for (bool with_bias : {false, true}) {
    const std::string what = l + (with_bias ? " forward+bias" : " forward");
    DevBuffer YN(g, ysize(d)), YC(g, ysize(d));
    RN_CUDA_EXPECT_OK(rn_cudnn_conv2d_forward(g, &d, X.data(), W.data(), with_bias ? B.data() : nullptr, YC.data()));
    RN_CUDA_EXPECT_OK(rn_cuda_conv2d_forward(g, &d, X.data(), W.data(), with_bias ? B.data() : nullptr, YN.data()));
    y_ref = reference(g, what + " (cuDNN)", YC);
    expect_match(g, what, YN, y_ref, tol);
  }
  const bool fwd_det = report_algo(g, d, 0, l);
  // Backward-data.
  std::vector<float> dx_ref;
  {
    DevBuffer DXN(g, xsize(d)), DXC(g, xsize(d));
    RN_CUDA_EXPECT_OK(rn_cudnn_conv2d_backward_data(g, &d, DY.data(), W.data(), DXC.data()));
    RN_CUDA_EXPECT_OK(rn_cuda_conv2d_backward_data(g, &d, DY.data(), W.data(), DXN.data()));
    dx_ref = reference(g, l + " backward_data (cuDNN)", DXC);
    expect_match(g, l + " backward_data", DXN, dx_ref, tol);
  }
  const bool data_det = report_algo(g, d, 1, l);
  // Backward-filter, with and without the bias gradient.
  std::vector<float> dw_ref, db_ref;
  for (bool with_bias : {false, true}) {
    const std::string what = l + (with_bias ? " backward_filter+bias" : " backward_filter");
    DevBuffer DWN(g, wsize(d)), DWC(g, wsize(d)), DBN(g, d.k), DBC(g, d.k);
    RN_CUDA_EXPECT_OK(rn_cudnn_conv2d_backward_filter(g, &d, X.data(), DY.data(), DWC.data(),
                                                      with_bias ? DBC.data() : nullptr));
    RN_CUDA_EXPECT_OK(rn_cuda_conv2d_backward_filter(g, &d, X.data(), DY.data(), DWN.data(),
                                                     with_bias ? DBN.data() : nullptr));
    dw_ref = reference(g, what + " (cuDNN)", DWC);
    expect_match(g, what, DWN, dw_ref, tol);
    if (with_bias) {
      db_ref = reference(g, what + " dbias (cuDNN)", DBC);
      expect_match(g, what + " dbias", DBN, db_ref, kFp32Tol);  // a plain sum: no TF32 in it
    }
  }
  const bool filter_det = report_algo(g, d, 2, l);

  // The same context switched to cuDNN: its conv entry points run cuDNN's chosen
  // algorithms (identical results where cuDNN says they are deterministic).
  RN_CUDA_EXPECT_OK(rn_cuda_context_set_conv_impl(g, RN_CUDA_CONV_IMPL_CUDNN));
  RN_EXPECT(rn_cuda_context_conv_impl(g) == RN_CUDA_CONV_IMPL_CUDNN, "impl");
  {
    DevBuffer Y(g, ysize(d)), DX(g, xsize(d)), DW(g, wsize(d)), DB(g, d.k);
    RN_CUDA_EXPECT_OK(rn_cuda_conv2d_forward(g, &d, X.data(), W.data(), B.data(), Y.data()));
    RN_CUDA_EXPECT_OK(rn_cuda_conv2d_backward_data(g, &d, DY.data(), W.data(), DX.data()));
    RN_CUDA_EXPECT_OK(rn_cuda_conv2d_backward_filter(g, &d, X.data(), DY.data(), DW.data(), DB.data()));
    if (fwd_det) expect_identical(g, l + " routed forward+bias", Y, y_ref);
    else expect_match(g, l + " routed forward+bias", Y, y_ref, tol);
    if (data_det) expect_identical(g, l + " routed backward_data", DX, dx_ref);
    else expect_match(g, l + " routed backward_data", DX, dx_ref, tol);
    if (filter_det) expect_identical(g, l + " routed backward_filter", DW, dw_ref);
    else expect_match(g, l + " routed backward_filter", DW, dw_ref, tol);
    expect_match(g, l + " routed backward_filter dbias", DB, db_ref, kFp32Tol);
  }
  RN_CUDA_EXPECT_OK(rn_cuda_context_set_conv_impl(g, RN_CUDA_CONV_IMPL_NATIVE));
}

// A second context: its own cuDNN handle and plans, released by rn_cuda_context_destroy.
void second_context(std::mt19937_64& rng) {
  rn_cuda_context* h = nullptr;
  RN_CUDA_EXPECT_OK(rn_cuda_context_create(0, &h));
  if (h == nullptr) return;
  const rn_conv2d_desc d = make({2, 3, 9, 8, 4, 3, 3, 1, 1, 1, 1});
  {
    DevBuffer X(h, xsize(d)), W(h, wsize(d)), YN(h, ysize(d)), YC(h, ysize(d));
    X.upload(random_floats(rng, xsize(d)));
    W.upload(random_floats(rng, wsize(d)));
    RN_CUDA_EXPECT_OK(rn_cudnn_conv2d_forward(h, &d, X.data(), W.data(), nullptr, YC.data()));
    RN_CUDA_EXPECT_OK(rn_cuda_conv2d_forward(h, &d, X.data(), W.data(), nullptr, YN.data()));
    expect_match(h, "second context forward", YN, reference(h, "second context (cuDNN)", YC), kFp32Tol);
  }
  rn_cuda_context_destroy(h);
}

// A context switched to cuDNN really runs cuDNN: a shape it never saw has no cuDNN algorithm
// until a routed call (the native kernels would leave it without one).
void routing_reaches_cudnn(rn_cuda_context* g, std::mt19937_64& rng) {
  const rn_conv2d_desc d = make({2, 5, 6, 7, 3, 3, 3, 1, 1, 1, 1});  // in no other case here
  rn_cudnn_algo_info info;
  RN_EXPECT(rn_cudnn_conv2d_algo(g, &d, 0, &info) == RN_STATUS_UNSUPPORTED, "routing: the shape is new");
  DevBuffer X(g, xsize(d)), W(g, wsize(d)), Y(g, ysize(d));
  X.upload(random_floats(rng, xsize(d)));
  W.upload(random_floats(rng, wsize(d)));
  RN_CUDA_EXPECT_OK(rn_cuda_conv2d_forward(g, &d, X.data(), W.data(), nullptr, Y.data()));
  expect_sync(g, "routing: native forward");
  RN_EXPECT(rn_cudnn_conv2d_algo(g, &d, 0, &info) == RN_STATUS_UNSUPPORTED, "routing: the native path used cuDNN");
  RN_CUDA_EXPECT_OK(rn_cuda_context_set_conv_impl(g, RN_CUDA_CONV_IMPL_CUDNN));
  RN_CUDA_EXPECT_OK(rn_cuda_conv2d_forward(g, &d, X.data(), W.data(), nullptr, Y.data()));
  expect_sync(g, "routing: routed forward");
  RN_EXPECT(rn_cudnn_conv2d_algo(g, &d, 0, &info) == RN_STATUS_OK, "routing: the routed call did not reach cuDNN");
  RN_CUDA_EXPECT_OK(rn_cuda_context_set_conv_impl(g, RN_CUDA_CONV_IMPL_NATIVE));
}

void bad_arguments_loaded(rn_cuda_context* g) {
  const rn_conv2d_desc d = make({2, 3, 5, 5, 4, 3, 3, 1, 1, 1, 1});
  DevBuffer X(g, xsize(d)), W(g, wsize(d)), Y(g, ysize(d));
  rn_conv2d_desc wrong = d;
  wrong.q -= 1;
  RN_EXPECT(rn_cudnn_conv2d_forward(g, &wrong, X.data(), W.data(), nullptr, Y.data()) == RN_STATUS_BAD_ARGUMENT, "q");
  RN_EXPECT(rn_cudnn_conv2d_forward(nullptr, &d, X.data(), W.data(), nullptr, Y.data()) == RN_STATUS_BAD_ARGUMENT,
            "ctx null");
  rn_cudnn_algo_info info;
  const rn_conv2d_desc unseen = make({1, 2, 4, 4, 3, 1, 1, 1, 1, 0, 0});
  RN_EXPECT(rn_cudnn_conv2d_algo(g, &unseen, 0, &info) == RN_STATUS_UNSUPPORTED, "no algorithm for an unseen shape");
}

}  // namespace

int main() {
  api_before_load();
  if (failures() > 0) return finish("cuda cudnn");
  rn_cuda_context* g = context_or_skip("cuda cudnn");
  emulated = std::strcmp(rn_cuda_context_device_name(g), "host emulation") == 0;
  api_with_context_before_load(g);

  if (rn_cudnn_load(nullptr) != RN_STATUS_OK) {
    const std::string why = rn_cudnn_error();
    rn_cuda_context_destroy(g);
    if (failures() > 0) return finish("cuda cudnn");
    if (env_is_1("RESNORM_REQUIRE_CUDNN")) {
      std::printf("cuda cudnn: FAILED: cuDNN not loaded and RESNORM_REQUIRE_CUDNN=1: %s\n", why.c_str());
      return 1;
    }
    std::printf("cuda cudnn: skipped: cuDNN not loaded (%s)\n", why.c_str());
    return kSkipCode;
  }
  std::printf("cuda cudnn: %s\n", rn_cudnn_info());
  RN_EXPECT(rn_cudnn_version() / 10000 == 9, "cuDNN 9 (version %d)", rn_cudnn_version());
  RN_EXPECT(rn_cudnn_load("/nonexistent/libcudnn.so.9") == RN_STATUS_OK, "a later load keeps the first");

  rn_context* cpu = rn_context_create(1);  // for finish_cuda
  std::mt19937_64 rng(2025);
  const Case odd[] = {
      {3, 5, 7, 6, 4, 3, 3, 1, 1, 1, 1},    // the odd 3x3
      {3, 5, 7, 6, 4, 3, 3, 2, 2, 1, 1},    // stride 2
      {3, 5, 7, 6, 6, 1, 1, 1, 1, 0, 0},    // 1x1
      {3, 5, 7, 6, 6, 1, 1, 2, 2, 0, 0},    // 1x1 stride 2 (the projection shortcut)
      {2, 3, 15, 13, 8, 7, 7, 2, 2, 3, 3},  // the 7x7 stem
      {3, 5, 7, 6, 4, 7, 7, 1, 1, 3, 3},    // 7x7 on a map smaller than the window
      {3, 4, 9, 8, 5, 3, 1, 2, 1, 1, 0},    // non-square kernel, stride and padding
      {2, 17, 9, 9, 33, 3, 3, 1, 1, 1, 1},  // odd channel counts
      {3, 6, 11, 10, 7, 3, 3, 3, 3, 2, 2},  // stride 3, padding 2
  };
  // ResNet-110 on CIFAR at batch 128 (2 on the host emulation): the stem, each stage,
  // each transition.
  const int b = emulated ? 2 : 128;
  const Case resnet[] = {
      {b, 3, 32, 32, 16, 3, 3, 1, 1, 1, 1},  {b, 16, 32, 32, 16, 3, 3, 1, 1, 1, 1},
      {b, 16, 32, 32, 32, 3, 3, 2, 2, 1, 1}, {b, 32, 16, 16, 32, 3, 3, 1, 1, 1, 1},
      {b, 32, 16, 16, 64, 3, 3, 2, 2, 1, 1}, {b, 64, 8, 8, 64, 3, 3, 1, 1, 1, 1},
  };
  for (int math : {RN_CUDA_MATH_FP32, RN_CUDA_MATH_TF32}) {
    const int st = rn_cuda_context_set_math(g, math);
    if (math == RN_CUDA_MATH_TF32 && st == RN_STATUS_UNSUPPORTED) {
      std::printf("cuda cudnn: TF32 not supported by this device (sm < 80): FP32 only\n");
      break;
    }
    RN_EXPECT(st == RN_STATUS_OK, "set_math");
    const double tol = math == RN_CUDA_MATH_TF32 ? kTf32Tol : kFp32Tol;
    const char* mode = math == RN_CUDA_MATH_TF32 ? "tf32" : "fp32";
    for (const Case& cs : odd) compare_case(g, rng, cs, tol, mode);
    for (const Case& cs : resnet) compare_case(g, rng, cs, tol, mode);
  }
  RN_EXPECT(rn_cuda_context_set_math(g, RN_CUDA_MATH_FP32) == RN_STATUS_OK, "set_math back");
  second_context(rng);
  routing_reaches_cudnn(g, rng);
  bad_arguments_loaded(g);
  if (failures() > 0) std::printf("cuda cudnn: last cuDNN error: %s\n", rn_cudnn_error());
  return finish_cuda("cuda cudnn", g, cpu);
}
