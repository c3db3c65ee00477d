// Kernels take their scratch from the context's workspaces (context_impl.h), so once a
// context has seen a shape, calling an op again allocates nothing from the heap. Every CPU
// op of the C API is called here (all but the argument checks). This
// binary replaces the global operator new with a counting one and calls each op three
// times per ISA level: the third call must not allocate (std::vector, std::string or any
// other heap use inside the library shows up here; the context's workspaces grow with
// rn_alloc and only on the first calls). Results are not checked here: the op's own
// test does that.
#include <atomic>
#include <cstdlib>
#include <new>

#include "test_util.h"

namespace {
std::atomic<long> g_news{0};
}  // namespace

void* operator new(std::size_t bytes) {
  g_news.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(bytes ? bytes : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t bytes) { return operator new(bytes); }
void* operator new(std::size_t bytes, const std::nothrow_t&) noexcept {
  g_news.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(bytes ? bytes : 1);
}
void* operator new[](std::size_t bytes, const std::nothrow_t& t) noexcept { return operator new(bytes, t); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace {

using rntest::Buffer;

// Calls op three times; the last call must succeed without a heap allocation.
template <class Op>
void expect_no_alloc(const char* what, const char* isa, int threads, const Op& op) {
  for (int i = 0; i < 2; ++i) RN_EXPECT(op() == RN_STATUS_OK, "%s (%s, %d threads): warm-up call failed", what, isa, threads);
  const long before = g_news.load();
  const int st = op();
  const long news = g_news.load() - before;
  RN_EXPECT(st == RN_STATUS_OK, "%s (%s, %d threads): call failed", what, isa, threads);
  RN_EXPECT(news == 0, "%s (%s, %d threads): %ld heap allocations in a repeated call", what, isa, threads, news);
}

rn_conv2d_desc conv_desc(int n, int c, int hw, int k, int stride, int algo) {
  rn_conv2d_desc d{};
  d.n = n, d.c = c, d.h = d.w = hw, d.k = k, d.r = d.s = 3;
  d.stride_h = d.stride_w = stride, d.pad_h = d.pad_w = 1;
  d.p = d.q = (hw + 2 - 3) / stride + 1;
  d.algo = algo;
  return d;
}

void check_context(rn_context* ctx, const char* isa, int threads, std::mt19937_64& rng) {
  // Convolutions: every algorithm and direction, the fused epilogue, the CReLU-input variants.
  const int n = 3, c = 16, hw = 9, k = 16;
  Buffer x(size_t(n) * 2 * c * hw * hw), w(size_t(k) * 2 * c * 9), bias(k), scale(k), y(size_t(n) * 2 * k * hw * hw);
  Buffer dy(size_t(n) * 2 * k * hw * hw), dx(x.size()), dw(w.size()), dbias(k);
  for (Buffer* b : {&x, &w, &bias, &scale, &dy}) b->fill_random(rng);
  const struct {
    const char* name;
    int stride, algo;
  } convs[] = {{"conv im2col", 1, RN_CONV_ALGO_IM2COL},
               {"conv winograd", 1, RN_CONV_ALGO_WINOGRAD},
               {"conv direct", 1, RN_CONV_ALGO_DIRECT},
               {"conv direct stride 2", 2, RN_CONV_ALGO_DIRECT}};
  for (const auto& cv : convs) {
    const rn_conv2d_desc d = conv_desc(n, c, hw, k, cv.stride, cv.algo);
    char what[96];
    std::snprintf(what, sizeof what, "%s forward", cv.name);
    expect_no_alloc(what, isa, threads, [&] { return rn_conv2d_forward(ctx, &d, x.data(), w.data(), bias.data(), y.data()); });
    std::snprintf(what, sizeof what, "%s backward-data", cv.name);
    expect_no_alloc(what, isa, threads, [&] { return rn_conv2d_backward_data(ctx, &d, dy.data(), w.data(), dx.data()); });
    std::snprintf(what, sizeof what, "%s backward-filter", cv.name);
    expect_no_alloc(what, isa, threads,
                    [&] { return rn_conv2d_backward_filter(ctx, &d, x.data(), dy.data(), dw.data(), dbias.data()); });
    const rn_conv2d_epilogue ep{scale.data(), bias.data(), RN_ACT_CRELU, 1.0f, 0.0f};
    std::snprintf(what, sizeof what, "%s forward + epilogue", cv.name);
    expect_no_alloc(what, isa, threads, [&] { return rn_conv2d_forward_epilogue(ctx, &d, x.data(), w.data(), &ep, y.data()); });
  }
  const rn_conv2d_desc d2 = conv_desc(n, 2 * c, hw, k, 1, RN_CONV_ALGO_AUTO);  // reads CReLU of c channels
  expect_no_alloc("conv forward, CReLU input", isa, threads,
                  [&] { return rn_conv2d_forward_crelu_input(ctx, &d2, x.data(), w.data(), bias.data(), y.data()); });
  const rn_conv2d_epilogue ep2{scale.data(), bias.data(), RN_ACT_RELU, 1.0f, 0.0f};
  expect_no_alloc("conv forward, CReLU input + epilogue", isa, threads,
                  [&] { return rn_conv2d_forward_crelu_input_epilogue(ctx, &d2, x.data(), w.data(), &ep2, y.data()); });
  expect_no_alloc("conv backward-filter, CReLU input", isa, threads, [&] {
    return rn_conv2d_backward_filter_crelu_input(ctx, &d2, x.data(), dy.data(), dw.data(), dbias.data());
  });
  // backward-data folded onto the C channels: in the Winograd tile rows (16 channels a half), and
  // through the staging chunks (8)
  expect_no_alloc("conv backward-data, CReLU input", isa, threads,
                  [&] { return rn_conv2d_backward_data_crelu_input(ctx, &d2, dy.data(), w.data(), x.data(), dx.data()); });
  const rn_conv2d_desc d3 = conv_desc(n, c, hw, k, 1, RN_CONV_ALGO_AUTO);
  expect_no_alloc("conv backward-data, CReLU input of 8 channels", isa, threads,
                  [&] { return rn_conv2d_backward_data_crelu_input(ctx, &d3, dy.data(), w.data(), x.data(), dx.data()); });

  // Weight-normalized conv (normprop2): forward through the fused epilogue, backward.
  const rn_conv2d_desc dn = conv_desc(n, c, hw, k, 1, RN_CONV_ALGO_AUTO);
  Buffer gamma(k), beta(k), u(size_t(n) * k * hw * hw), du(u.size()), dv(size_t(k) * c * 9), dg(k), db(k);
  gamma.fill_random(rng, 0.5f, 1.5f);
  beta.fill_random(rng);
  expect_no_alloc("normprop2 forward", isa, threads, [&] {
    return rn_wnconv_forward(ctx, &dn, RN_ACT_RELU, 1.0f, 0.0f, x.data(), w.data(), gamma.data(), beta.data(), u.data());
  });
  expect_no_alloc("normprop2 backward", isa, threads, [&] {
    return rn_wnconv_backward(ctx, &dn, RN_ACT_RELU, 1.0f, 0.0f, x.data(), w.data(), gamma.data(), u.data(), dy.data(),
                              du.data(), dx.data(), dv.data(), dg.data(), db.data());
  });

  // Batch norm + CReLU, training forward and backward.
  Buffer mean(c), invstd(c), rmean(c), rvar(c);
  rvar.fill_random(rng, 0.5f, 1.5f);
  rmean.fill_random(rng);
  expect_no_alloc("batchnorm+crelu forward", isa, threads, [&] {
    return rn_batchnorm_forward_training(ctx, n, c, hw * hw, RN_ACT_CRELU, 1e-5f, 0.1f, x.data(), gamma.data(),
                                         beta.data(), rmean.data(), rvar.data(), mean.data(), invstd.data(), y.data());
  });
  expect_no_alloc("batchnorm+crelu backward", isa, threads, [&] {
    return rn_batchnorm_backward(ctx, n, c, hw * hw, RN_ACT_CRELU, x.data(), gamma.data(), beta.data(), mean.data(),
                                 invstd.data(), dy.data(), dx.data(), dg.data(), db.data());
  });

  expect_no_alloc("batchnorm + add + relu forward", isa, threads, [&] {
    return rn_batchnorm_forward_training_add_relu(ctx, n, c, hw * hw, 1e-5f, 0.1f, x.data(), gamma.data(), beta.data(),
                                                  rmean.data(), rvar.data(), mean.data(), invstd.data(), dx.data(),
                                                  y.data());
  });

  // Batch norm in eval mode (and as a scale and shift), the standalone activations, residual add.
  expect_no_alloc("batchnorm inference affine", isa, threads, [&] {
    return rn_batchnorm_inference_affine(ctx, c, 1e-5f, gamma.data(), beta.data(), rmean.data(), rvar.data(),
                                         dg.data(), db.data());
  });
  expect_no_alloc("batchnorm inference", isa, threads, [&] {
    return rn_batchnorm_forward_inference(ctx, n, c, hw * hw, RN_ACT_RELU, 1e-5f, x.data(), gamma.data(), beta.data(),
                                          rmean.data(), rvar.data(), y.data());
  });
  const int64_t count = int64_t(n) * c * hw * hw;
  expect_no_alloc("relu forward", isa, threads, [&] { return rn_relu_forward(ctx, count, x.data(), y.data()); });
  expect_no_alloc("relu backward", isa, threads, [&] { return rn_relu_backward(ctx, count, y.data(), dy.data(), dx.data()); });
  expect_no_alloc("crelu forward", isa, threads, [&] { return rn_crelu_forward(ctx, n, c, hw * hw, x.data(), y.data()); });
  expect_no_alloc("crelu backward", isa, threads,
                  [&] { return rn_crelu_backward(ctx, n, c, hw * hw, x.data(), dy.data(), dx.data()); });
  expect_no_alloc("add", isa, threads, [&] { return rn_add(ctx, count, x.data(), dy.data(), y.data()); });
  expect_no_alloc("add+relu forward", isa, threads,
                  [&] { return rn_add_relu_forward(ctx, count, x.data(), dy.data(), y.data()); });
  expect_no_alloc("add+relu backward", isa, threads,
                  [&] { return rn_add_relu_backward(ctx, count, y.data(), dy.data(), dx.data(), du.data()); });
  expect_no_alloc("relu backward of a sum", isa, threads,
                  [&] { return rn_relu_backward_sum(ctx, count, y.data(), dy.data(), du.data(), dx.data()); });

  // Pooling, shortcut A, linear, SGD.
  Buffer pooled(size_t(n) * c), dpooled(pooled.size()), mp(size_t(n) * c * 5 * 5);
  std::vector<int32_t> argmax(mp.size());
  dpooled.fill_random(rng);
  expect_no_alloc("global avg pool forward", isa, threads,
                  [&] { return rn_global_avgpool_forward(ctx, n, c, hw * hw, x.data(), pooled.data()); });
  expect_no_alloc("global avg pool backward", isa, threads,
                  [&] { return rn_global_avgpool_backward(ctx, n, c, hw * hw, dpooled.data(), dx.data()); });
  expect_no_alloc("max pool forward", isa, threads,
                  [&] { return rn_maxpool2d_forward(ctx, n, c, hw, hw, 3, 2, 1, x.data(), mp.data(), argmax.data()); });
  expect_no_alloc("max pool backward", isa, threads, [&] {
    return rn_maxpool2d_backward(ctx, n, c, hw, hw, 3, 2, 1, argmax.data(), dy.data(), dx.data());
  });
  expect_no_alloc("max pool backward (recompute)", isa, threads, [&] {
    return rn_maxpool2d_backward_recompute(ctx, n, c, hw, hw, 3, 2, 1, x.data(), dy.data(), dx.data());
  });
  expect_no_alloc("shortcut A forward", isa, threads,
                  [&] { return rn_shortcut_a_forward(ctx, n, c, hw, hw, 2 * c, 2, x.data(), y.data()); });
  expect_no_alloc("shortcut A backward", isa, threads,
                  [&] { return rn_shortcut_a_backward(ctx, n, c, hw, hw, 2 * c, 2, dy.data(), dx.data()); });
  expect_no_alloc("linear forward", isa, threads,
                  [&] { return rn_linear_forward(ctx, n, c, k, pooled.data(), w.data(), bias.data(), y.data()); });
  expect_no_alloc("linear backward-data", isa, threads,
                  [&] { return rn_linear_backward_data(ctx, n, c, k, dy.data(), w.data(), dpooled.data()); });
  expect_no_alloc("linear backward-weight", isa, threads, [&] {
    return rn_linear_backward_weight(ctx, n, c, k, pooled.data(), dy.data(), dw.data(), dbias.data());
  });
  const rn_sgd_params sgd{0.1f, 0.9f, 0.0f, 1e-4f, 1, 0};
  Buffer param(w.size()), velocity(w.size());
  param.fill_random(rng);
  velocity.fill_random(rng);
  expect_no_alloc("sgd step", isa, threads,
                  [&] { return rn_sgd_step(ctx, &sgd, int64_t(w.size()), param.data(), dw.data(), velocity.data()); });
  expect_no_alloc("sgd step, unfused", isa, threads, [&] {
    return rn_sgd_step_unfused(ctx, &sgd, int64_t(w.size()), param.data(), dw.data(), velocity.data());
  });

  // Softmax cross-entropy: its per-thread partial sums.
  const int rows = 131, classes = 10;
  Buffer logits(size_t(rows) * classes), dlogits(logits.size());
  logits.fill_random(rng);
  std::vector<int32_t> labels(rows);
  for (int i = 0; i < rows; ++i) labels[i] = i % classes;
  float loss = 0.0f;
  expect_no_alloc("softmax xent forward", isa, threads,
                  [&] { return rn_softmax_xent_forward(ctx, rows, classes, logits.data(), labels.data(), &loss); });
  expect_no_alloc("softmax xent backward", isa, threads, [&] {
    return rn_softmax_xent_backward(ctx, rows, classes, logits.data(), labels.data(), 1.0f, dlogits.data());
  });
  int64_t correct = 0;
  expect_no_alloc("top-5 count", isa, threads,
                  [&] { return rn_topk_correct(ctx, rows, classes, logits.data(), labels.data(), 5, &correct); });
}

}  // namespace

int main() {
  std::mt19937_64 rng(5);
  for (int threads : {1, 2}) {
    rn_context* ctx = rn_context_create(threads);
    for (int isa : rntest::isa_levels()) {
      RN_EXPECT_OK(rn_context_set_isa(ctx, isa));
      check_context(ctx, rn_isa_name(isa), threads, rng);
    }
    rn_context_destroy(ctx);
  }
  return rntest::finish("test_no_alloc");
}
