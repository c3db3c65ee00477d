// softmax cross-entropy forward/backward and top-k against float64 references.
#include <algorithm>

#include "test_util.h"

using namespace rntest;

int main() {
  std::mt19937_64 rng(11);
  rn_context* ctx = rn_context_create(2);
  const int shapes[][2] = {{3, 5}, {1, 1}, {128, 10}, {7, 100}, {300, 13}};
  for (const auto& sh : shapes) {
    const int n = sh[0], classes = sh[1];
    Buffer logits(size_t(n) * classes);
    logits.fill_random(rng, -8.0f, 8.0f);
    std::vector<int32_t> labels(n);
    for (int i = 0; i < n; ++i) labels[i] = int32_t(rng() % classes);
    double loss_ref = 0.0;
    std::vector<double> grad_ref(size_t(n) * classes);
    int64_t top1_ref = 0, top5_ref = 0;
    for (int i = 0; i < n; ++i) {
      const float* row = logits.data() + size_t(i) * classes;
      double mx = *std::max_element(row, row + classes), sum = 0.0;
      for (int j = 0; j < classes; ++j) sum += std::exp(double(row[j]) - mx);
      loss_ref += std::log(sum) + mx - row[labels[i]];
      int greater = 0;
      for (int j = 0; j < classes; ++j) {
        grad_ref[size_t(i) * classes + j] = 0.5 * (std::exp(double(row[j]) - mx) / sum - (j == labels[i])) / n;
        greater += row[j] > row[labels[i]];
      }
      top1_ref += greater < 1;
      top5_ref += greater < 5;
    }
    loss_ref /= n;
    float loss = std::nanf("");
    RN_EXPECT_OK(rn_softmax_xent_forward(ctx, n, classes, logits.data(), labels.data(), &loss));
    RN_EXPECT(std::fabs(loss - loss_ref) <= 1e-5 * std::max(1.0, std::fabs(loss_ref)), "loss %g vs %g", loss, loss_ref);
    Buffer grad(size_t(n) * classes);
    RN_EXPECT_OK(rn_softmax_xent_backward(ctx, n, classes, logits.data(), labels.data(), 0.5f, grad.data()));
    expect_close("softmax_xent backward", grad, grad_ref, 1e-5);
    int64_t top1 = -1, top5 = -1;
    RN_EXPECT_OK(rn_topk_correct(ctx, n, classes, logits.data(), labels.data(), 1, &top1));
    RN_EXPECT_OK(rn_topk_correct(ctx, n, classes, logits.data(), labels.data(), 5, &top5));
    RN_EXPECT(top1 == top1_ref && top5 == top5_ref, "topk %lld/%lld vs %lld/%lld", (long long)top1,
              (long long)top5, (long long)top1_ref, (long long)top5_ref);
  }
  // Huge logits must not overflow; a NaN logit gives a NaN loss.
  float big[4] = {1000.0f, -1000.0f, 999.0f, 0.0f};
  int32_t lab[1] = {2};
  float loss = 0;
  RN_EXPECT_OK(rn_softmax_xent_forward(ctx, 1, 4, big, lab, &loss));
  RN_EXPECT(std::fabs(loss - 1.3132616f) < 1e-5, "stable loss %g", loss);
  big[1] = std::nanf("");
  RN_EXPECT_OK(rn_softmax_xent_forward(ctx, 1, 4, big, lab, &loss));
  RN_EXPECT(std::isnan(loss), "NaN logit must give NaN loss, got %g", loss);
  rn_context_destroy(ctx);
  return finish("test_softmax_xent");
}
