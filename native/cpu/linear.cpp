// Fully connected layer on OpenBLAS: rows of the batch (or of dW) are split
// across the pool's threads, each running a single-threaded sgemm.
#include <algorithm>

#include "blas.h"
#include "context_impl.h"
#include "resnorm/linear.h"

namespace {

bool bad_sizes(int32_t n, int32_t in, int32_t out) { return n <= 0 || in <= 0 || out <= 0; }

// Rows per thread such that each thread gets enough work to be worth waking.
int64_t min_rows(int64_t row_cost) { return std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(1, row_cost)); }

}  // namespace

extern "C" {

int rn_linear_forward(rn_context* ctx, int32_t n, int32_t in, int32_t out, const float* x, const float* w,
                      const float* bias, float* y) {
  if (bad_sizes(n, in, out) || !x || !w || !y) return RN_STATUS_BAD_ARGUMENT;
  return rn_guarded(ctx, [&] {
    ctx->pool.parallel_for(n, min_rows(int64_t(in) * out), [&](int64_t b, int64_t e, int) {
      float beta = 0.0f;
      if (bias != nullptr) {
        for (int64_t i = b; i < e; ++i) std::copy(bias, bias + out, y + i * out);
        beta = 1.0f;
      }
      rn::blas::sgemm(false, true, e - b, out, in, 1.0f, x + b * in, in, w, in, beta, y + b * out, out);
    });
    return RN_STATUS_OK;
  });
}

int rn_linear_backward_data(rn_context* ctx, int32_t n, int32_t in, int32_t out, const float* dy,
                            const float* w, float* dx) {
  if (bad_sizes(n, in, out) || !dy || !w || !dx) return RN_STATUS_BAD_ARGUMENT;
  return rn_guarded(ctx, [&] {
    ctx->pool.parallel_for(n, min_rows(int64_t(in) * out), [&](int64_t b, int64_t e, int) {
      rn::blas::sgemm(false, false, e - b, in, out, 1.0f, dy + b * out, out, w, in, 0.0f, dx + b * in, in);
    });
    return RN_STATUS_OK;
  });
}

int rn_linear_backward_weight(rn_context* ctx, int32_t n, int32_t in, int32_t out, const float* x,
                              const float* dy, float* dw, float* dbias) {
  if (bad_sizes(n, in, out) || !x || !dy || !dw) return RN_STATUS_BAD_ARGUMENT;
  return rn_guarded(ctx, [&] {
    // Each thread owns a block of output features: rows [b, e) of dw.
    ctx->pool.parallel_for(out, min_rows(int64_t(in) * n), [&](int64_t b, int64_t e, int) {
      rn::blas::sgemm(true, false, e - b, in, n, 1.0f, dy + b, out, x, in, 0.0f, dw + b * in, in);
      if (dbias != nullptr) {
        for (int64_t o = b; o < e; ++o) {
          double sum = 0.0;
          for (int64_t i = 0; i < n; ++i) sum += dy[i * out + o];
          dbias[o] = static_cast<float>(sum);
        }
      }
    });
    return RN_STATUS_OK;
  });
}

}  // extern "C"
