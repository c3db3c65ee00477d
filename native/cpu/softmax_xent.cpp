// Softmax cross-entropy (mean over the batch) and top-k counts. Small (n x classes)
// and not on any hot path, so plain code: rows in parallel, sums in double.
#include <algorithm>
#include <cmath>

#include "context_impl.h"
#include "resnorm/softmax_xent.h"

namespace {

bool bad_args(int32_t n, int32_t classes, const void* logits, const void* labels) {
  return n <= 0 || classes <= 0 || !logits || !labels;
}

// log(sum_j exp(row[j] - max)) + max, in double; NaN if any entry is NaN.
double log_sum_exp(const float* row, int32_t classes) {
  double mx = row[0];
  for (int32_t j = 1; j < classes; ++j) mx = std::fmax(mx, double(row[j]));
  double sum = 0.0;
  bool nan = false;
  for (int32_t j = 0; j < classes; ++j) {
    nan |= std::isnan(row[j]);
    sum += std::exp(double(row[j]) - mx);
  }
  return nan ? NAN : std::log(sum) + mx;
}

}  // namespace

extern "C" {

int rn_softmax_xent_forward(rn_context* ctx, int32_t n, int32_t classes, const float* logits,
                            const int32_t* labels, float* loss) {
  if (bad_args(n, classes, logits, labels) || !loss) return RN_STATUS_BAD_ARGUMENT;
  return rn_guarded(ctx, [&] {
    const int threads = ctx->pool.size();
    double* partial = static_cast<double*>(ctx->workspace.require(sizeof(double) * threads));
    std::fill(partial, partial + threads, 0.0);
    ctx->pool.parallel_for(n, 64, [&](int64_t b, int64_t e, int tid) {
      double sum = 0.0;
      for (int64_t i = b; i < e; ++i) {
        const float* row = logits + i * classes;
        sum += log_sum_exp(row, classes) - double(row[labels[i]]);
      }
      partial[tid] = sum;
    });
    double total = 0.0;
    for (int t = 0; t < threads; ++t) total += partial[t];
    *loss = static_cast<float>(total / n);
    return RN_STATUS_OK;
  });
}

int rn_softmax_xent_backward(rn_context* ctx, int32_t n, int32_t classes, const float* logits,
                             const int32_t* labels, float scale, float* dlogits) {
  if (bad_args(n, classes, logits, labels) || !dlogits) return RN_STATUS_BAD_ARGUMENT;
  return rn_guarded(ctx, [&] {
    const double factor = double(scale) / n;
    ctx->pool.parallel_for(n, 64, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) {
        const float* row = logits + i * classes;
        float* out = dlogits + i * classes;
        double lse = log_sum_exp(row, classes);
        int32_t label = labels[i];
        for (int32_t j = 0; j < classes; ++j) {
          double prob = std::exp(double(row[j]) - lse);
          out[j] = static_cast<float>(factor * (prob - (j == label ? 1.0 : 0.0)));
        }
      }
    });
    return RN_STATUS_OK;
  });
}

int rn_topk_correct(rn_context* ctx, int32_t n, int32_t classes, const float* logits, const int32_t* labels,
                    int32_t k, int64_t* correct) {
  if (bad_args(n, classes, logits, labels) || k <= 0 || !correct) return RN_STATUS_BAD_ARGUMENT;
  return rn_guarded(ctx, [&] {
    int64_t count = 0;
    for (int64_t i = 0; i < n; ++i) {
      const float* row = logits + i * classes;
      float target = row[labels[i]];
      int32_t greater = 0;
      bool nan = false;
      for (int32_t j = 0; j < classes; ++j) {
        nan |= std::isnan(row[j]);
        greater += row[j] > target;
      }
      count += (!nan && greater < k);
    }
    *correct = count;
    return RN_STATUS_OK;
  });
}

}  // extern "C"
