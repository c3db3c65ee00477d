// The CUDA C API's behaviour that needs no device (runs everywhere, GPU or not): the
// library loads without a GPU, context creation reports RN_STATUS_UNSUPPORTED instead of
// crashing, and every op refuses a NULL context or bad arguments with
// RN_STATUS_BAD_ARGUMENT before touching memory (the pointers passed here are host
// pointers that must never reach a kernel). With a device it also checks the context's
// device index rules, the pool and the workspace.
#include "test_cuda_util.h"

using namespace rntest;
using namespace rntest::cuda;

namespace {

void null_context_refused() {
  float f[64] = {};
  int32_t i[64] = {};
  float* p = f;
  rn_cuda_context* none = nullptr;
  rn_conv2d_desc d{};
  d.n = 1, d.c = 1, d.h = 3, d.w = 3, d.k = 1, d.r = 3, d.s = 3, d.stride_h = d.stride_w = 1, d.pad_h = d.pad_w = 1;
  d.p = 3, d.q = 3;
  const rn_conv2d_epilogue ep{nullptr, nullptr, RN_ACT_RELU, 1.0f, 0.0f};
  const rn_sgd_params sgd{0.1f, 0.9f, 0.0f, 0.0f, 0, 1};
  const int bad = RN_STATUS_BAD_ARGUMENT;
  RN_EXPECT(rn_cuda_conv2d_forward(none, &d, p, p, p, p) == bad, "conv fwd");
  RN_EXPECT(rn_cuda_conv2d_forward_epilogue(none, &d, p, p, &ep, p) == bad, "conv epilogue");
  RN_EXPECT(rn_cuda_conv2d_backward_data(none, &d, p, p, p) == bad, "conv data");
  RN_EXPECT(rn_cuda_conv2d_backward_data_crelu_input(none, &d, p, p, p, p) == bad, "conv data crelu input");
  RN_EXPECT(rn_cuda_conv2d_backward_filter(none, &d, p, p, p, p) == bad, "conv filter");
  RN_EXPECT(rn_cuda_wnconv_forward(none, &d, RN_ACT_RELU, 1.0f, 0.0f, p, p, p, p, p) == bad, "wnconv fwd");
  RN_EXPECT(rn_cuda_wnconv_backward(none, &d, RN_ACT_RELU, 1.0f, 0.0f, p, p, p, p, p, p + 9, p, p, p, p) == bad,
            "wnconv bwd");
  RN_EXPECT(rn_cuda_batchnorm_forward_training(none, 2, 1, 4, RN_ACT_CRELU, 1e-5f, 0.1f, p, p, p, p, p, p, p, p + 16) ==
                bad,
            "bn fwd");
  RN_EXPECT(rn_cuda_batchnorm_forward_inference(none, 2, 1, 4, RN_ACT_RELU, 1e-5f, p, p, p, p, p, p) == bad, "bn inf");
  RN_EXPECT(rn_cuda_batchnorm_backward(none, 2, 1, 4, RN_ACT_RELU, p, p, p, p, p, p, p, p, p) == bad, "bn bwd");
  RN_EXPECT(rn_cuda_relu_forward(none, 4, p, p) == bad, "relu");
  RN_EXPECT(rn_cuda_relu_backward(none, 4, p, p, p) == bad, "relu bwd");
  RN_EXPECT(rn_cuda_crelu_forward(none, 1, 1, 4, p, p + 8) == bad, "crelu");
  RN_EXPECT(rn_cuda_crelu_backward(none, 1, 1, 4, p, p, p) == bad, "crelu bwd");
  RN_EXPECT(rn_cuda_add_relu_forward(none, 4, p, p, p) == bad, "add relu");
  RN_EXPECT(rn_cuda_add_relu_backward(none, 4, p, p, p, p) == bad, "add relu bwd");
  RN_EXPECT(rn_cuda_add(none, 4, p, p, p) == bad, "add");
  RN_EXPECT(rn_cuda_relu_backward_sum(none, 4, p, p, p, p) == bad, "relu bwd sum");
  RN_EXPECT(rn_cuda_global_avgpool_forward(none, 1, 1, 4, p, p) == bad, "avgpool");
  RN_EXPECT(rn_cuda_global_avgpool_backward(none, 1, 1, 4, p, p) == bad, "avgpool bwd");
  RN_EXPECT(rn_cuda_maxpool2d_forward(none, 1, 1, 4, 4, 2, 2, 0, p, p, i) == bad, "maxpool");
  RN_EXPECT(rn_cuda_maxpool2d_backward(none, 1, 1, 4, 4, 2, 2, 0, i, p, p) == bad, "maxpool bwd");
  RN_EXPECT(rn_cuda_maxpool2d_backward_recompute(none, 1, 1, 4, 4, 2, 2, 0, p, p, p) == bad, "maxpool bwd re");
  RN_EXPECT(rn_cuda_shortcut_a_forward(none, 1, 1, 4, 4, 2, 2, p, p) == bad, "shortcut");
  RN_EXPECT(rn_cuda_shortcut_a_backward(none, 1, 1, 4, 4, 2, 2, p, p) == bad, "shortcut bwd");
  RN_EXPECT(rn_cuda_linear_forward(none, 2, 3, 4, p, p, p, p) == bad, "linear");
  RN_EXPECT(rn_cuda_linear_backward_data(none, 2, 3, 4, p, p, p) == bad, "linear data");
  RN_EXPECT(rn_cuda_linear_backward_weight(none, 2, 3, 4, p, p, p, p) == bad, "linear weight");
  RN_EXPECT(rn_cuda_softmax_xent_forward(none, 2, 3, p, i, p) == bad, "xent");
  RN_EXPECT(rn_cuda_softmax_xent_backward(none, 2, 3, p, i, 1.0f, p) == bad, "xent bwd");
  int64_t count = 0;
  RN_EXPECT(rn_cuda_topk_correct(none, 2, 3, p, i, 1, &count) == bad, "topk");
  RN_EXPECT(rn_cuda_sgd_step(none, &sgd, 4, p, p, p) == bad, "sgd");
  RN_EXPECT(rn_cuda_synchronize(none) == bad, "synchronize");
  RN_EXPECT(rn_cuda_pool_reserve(none, 1024) == bad, "pool reserve");
  void* out = p;
  RN_EXPECT(rn_cuda_pool_alloc(none, 16, &out) == bad && out == nullptr, "pool alloc");
  RN_EXPECT(rn_cuda_workspace_reserve(none, 1024) == bad, "workspace");
  RN_EXPECT(rn_cuda_malloc(none, 16, &out) == bad && out == nullptr, "malloc");
  RN_EXPECT(rn_cuda_copy_to_host(none, p, p, 4) == bad, "copy");
  RN_EXPECT(rn_cuda_context_set_math(none, RN_CUDA_MATH_TF32) == bad, "set_math");
  RN_EXPECT(rn_cuda_context_math(none) == -1 && rn_cuda_context_device(none) == -1, "getters");
  RN_EXPECT(rn_cuda_context_stream(none) == nullptr && rn_cuda_pool_capacity(none) == 0, "getters");
  RN_EXPECT(rn_cuda_conv2d_workspace_bytes(none, &d, 2) == 0, "workspace bytes");
  rn_cuda_pool_reset(none);
  rn_cuda_free(none, p);
  rn_cuda_context_destroy(none);
  RN_EXPECT(rn_cuda_context_create(0, nullptr) == bad, "create(out = NULL)");
  // Argument checks come first, as on the CPU: bad sizes are refused whatever the context.
  RN_EXPECT(rn_cuda_relu_forward(none, -1, p, p) == bad, "count < 0");
  d.p = 4;
  RN_EXPECT(rn_cuda_conv2d_forward(none, &d, p, p, p, p) == bad, "inconsistent desc");
}

void with_device(rn_cuda_context* g) {
  const int count = rn_cuda_device_count();
  rn_cuda_context* other = nullptr;
  RN_EXPECT(rn_cuda_context_create(-1, &other) == RN_STATUS_UNSUPPORTED && other == nullptr, "device -1");
  RN_EXPECT(rn_cuda_context_create(count, &other) == RN_STATUS_UNSUPPORTED && other == nullptr, "device = count");
  RN_EXPECT(rn_cuda_context_stream(g) != nullptr, "stream");
  RN_EXPECT(rn_cuda_context_math(g) == RN_CUDA_MATH_FP32, "FP32 by default");
  RN_EXPECT(rn_cuda_context_set_math(g, 5) == RN_STATUS_BAD_ARGUMENT, "bad math");
  // The pool: one block, 256-byte aligned pieces, exhaustion, reset.
  RN_CUDA_EXPECT_OK(rn_cuda_pool_reserve(g, 4096));
  void *a = nullptr, *b = nullptr, *c = nullptr;
  RN_CUDA_EXPECT_OK(rn_cuda_pool_alloc(g, 100, &a));
  RN_CUDA_EXPECT_OK(rn_cuda_pool_alloc(g, 1000, &b));
  RN_EXPECT(a != nullptr && static_cast<char*>(b) - static_cast<char*>(a) == 256, "pool alignment");
  RN_EXPECT(rn_cuda_pool_alloc(g, 4096, &c) == RN_STATUS_OUT_OF_MEMORY && c == nullptr, "pool exhausted");
  RN_EXPECT(rn_cuda_pool_used(g) == 256 + 1000 && rn_cuda_pool_capacity(g) == 4096, "pool accounting");
  rn_cuda_pool_reset(g);
  RN_CUDA_EXPECT_OK(rn_cuda_pool_alloc(g, 4096, &c));
  RN_EXPECT(c == a, "reset pool starts over");
  // A pool piece holds data.
  std::vector<float> in(1024), back(1024, 0.0f);
  for (size_t k = 0; k < in.size(); ++k) in[k] = float(k) * 0.5f;
  RN_CUDA_EXPECT_OK(rn_cuda_copy_to_device(g, c, in.data(), 4096));
  RN_CUDA_EXPECT_OK(rn_cuda_copy_to_host(g, back.data(), c, 4096));
  RN_EXPECT(back == in, "pool round trip");
  RN_CUDA_EXPECT_OK(rn_cuda_pool_reserve(g, 0));
  RN_CUDA_EXPECT_OK(rn_cuda_workspace_reserve(g, 3 << 20));
  RN_EXPECT(rn_cuda_workspace_bytes(g) >= size_t(3) << 20, "workspace");
  RN_EXPECT(rn_cuda_synchronize(g) == RN_STATUS_OK, "synchronize");
  // The argument checks with a working context (above, a NULL context alone refuses them):
  // bad sizes are refused before anything is enqueued.
  void* mem = nullptr;
  RN_CUDA_EXPECT_OK(rn_cuda_malloc(g, 64 * sizeof(float), &mem));
  float* dev = static_cast<float*>(mem);
  RN_EXPECT(rn_cuda_relu_forward(g, -1, dev, dev) == RN_STATUS_BAD_ARGUMENT, "count < 0 with a context");
  rn_conv2d_desc d{};
  d.n = 1, d.c = 1, d.h = 3, d.w = 3, d.k = 1, d.r = 3, d.s = 3, d.stride_h = d.stride_w = 1, d.pad_h = d.pad_w = 1;
  d.p = 4, d.q = 3;  // p inconsistent with h, r, stride and pad
  RN_EXPECT(rn_cuda_conv2d_forward(g, &d, dev, dev, nullptr, dev) == RN_STATUS_BAD_ARGUMENT,
            "inconsistent desc with a context");
  RN_EXPECT(rn_cuda_synchronize(g) == RN_STATUS_OK, "refused calls leave no error behind");
  rn_cuda_free(g, mem);
}

}  // namespace

int main() {
  const int count = rn_cuda_device_count();
  std::printf("cuda api: rn_cuda_device_count = %d, runtime %d\n", count, rn_cuda_runtime_version());
  null_context_refused();
  rn_cuda_context* g = nullptr;
  const int st = rn_cuda_context_create(0, &g);
  if (count <= 0) {
    RN_EXPECT(st == RN_STATUS_UNSUPPORTED && g == nullptr, "no device: create must say UNSUPPORTED (got %d)", st);
    std::printf("cuda api: no CUDA device: checked the device-free behaviour only\n");
  } else {
    RN_EXPECT(st == RN_STATUS_OK && g != nullptr, "create on device 0 (got %d)", st);
    if (g) with_device(g);
    rn_cuda_context_destroy(g);
  }
  return finish("cuda api");
}
