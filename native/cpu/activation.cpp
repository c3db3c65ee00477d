// Standalone activations (activation.h): the unfused path and the residual add + ReLU.
// Elementwise ops split the flat range over the pool; CReLU splits by plane segments
// (norm_impl.h) because its output interleaves the two halves per image.
#include "norm_impl.h"
#include "resnorm/activation.h"

namespace {

using rn::norm::for_each_segment;
using rn::norm::threads_for;

bool bad_count(int64_t count, const void* a, const void* b) { return count < 0 || (count > 0 && (!a || !b)); }

bool bad_planes(int32_t n, int32_t c, int32_t hw, const void* a, const void* b, const void* d) {
  return n <= 0 || c <= 0 || hw <= 0 || c > INT32_MAX / 2 || !a || !b || !d;
}

// body(kernels, begin, len) over the pool's share of [0, count).
template <class Body>
int elementwise(rn_context* ctx, int64_t count, const Body& body) {
  return rn_guarded(ctx, [&] {
    const auto& k = rn::norm_kernels(ctx->isa);
    ctx->pool.parallel_for(count, rn::norm::kMinPerThread, [&](int64_t b, int64_t e, int) { body(k, b, e - b); });
    return RN_STATUS_OK;
  });
}

}  // namespace

extern "C" {

int rn_relu_forward(rn_context* ctx, int64_t count, const float* x, float* y) {
  if (bad_count(count, x, y)) return RN_STATUS_BAD_ARGUMENT;
  return elementwise(ctx, count,
                     [&](const rn::NormKernels& k, int64_t b, int64_t len) { k.relu_forward(len, x + b, y + b); });
}

int rn_relu_backward(rn_context* ctx, int64_t count, const float* y, const float* dy, float* dx) {
  if (bad_count(count, y, dy) || (count > 0 && !dx)) return RN_STATUS_BAD_ARGUMENT;
  return elementwise(ctx, count, [&](const rn::NormKernels& k, int64_t b, int64_t len) { k.relu_backward(len, y + b, dy + b, dx + b); });
}

int rn_crelu_forward(rn_context* ctx, int32_t n, int32_t c, int32_t hw, const float* x, float* y) {
  if (bad_planes(n, c, hw, x, y, y)) return RN_STATUS_BAD_ARGUMENT;
  return rn_guarded(ctx, [&] {
    const auto& k = rn::norm_kernels(ctx->isa);
    const int64_t planes = int64_t(n) * c;
    for_each_segment(ctx, planes, hw, threads_for(ctx, planes * hw), [&](int, int64_t p, int64_t off, int64_t len) {
      float* ypos = y + ((p / c) * 2 * c + p % c) * hw + off;
      k.crelu_forward(len, x + p * hw + off, ypos, ypos + int64_t(c) * hw);
    });
    return RN_STATUS_OK;
  });
}

int rn_crelu_backward(rn_context* ctx, int32_t n, int32_t c, int32_t hw, const float* x, const float* dy,
                      float* dx) {
  if (bad_planes(n, c, hw, x, dy, dx)) return RN_STATUS_BAD_ARGUMENT;
  return rn_guarded(ctx, [&] {
    const auto& k = rn::norm_kernels(ctx->isa);
    const int64_t planes = int64_t(n) * c;
    for_each_segment(ctx, planes, hw, threads_for(ctx, planes * hw), [&](int, int64_t p, int64_t off, int64_t len) {
      const float* dpos = dy + ((p / c) * 2 * c + p % c) * hw + off;
      k.crelu_backward(len, x + p * hw + off, dpos, dpos + int64_t(c) * hw, dx + p * hw + off);
    });
    return RN_STATUS_OK;
  });
}

int rn_add_relu_forward(rn_context* ctx, int64_t count, const float* a, const float* b, float* y) {
  if (bad_count(count, a, b) || (count > 0 && !y)) return RN_STATUS_BAD_ARGUMENT;
  return elementwise(ctx, count, [&](const rn::NormKernels& k, int64_t i, int64_t len) { k.add_relu_forward(len, a + i, b + i, y + i); });
}

int rn_add_relu_backward(rn_context* ctx, int64_t count, const float* y, const float* dy, float* da, float* db) {
  if (bad_count(count, y, dy) || (count > 0 && !da)) return RN_STATUS_BAD_ARGUMENT;
  return elementwise(ctx, count, [&](const rn::NormKernels& k, int64_t i, int64_t len) {
    k.add_relu_backward(len, y + i, dy + i, da + i, db ? db + i : nullptr);
  });
}

int rn_relu_backward_sum(rn_context* ctx, int64_t count, const float* y, const float* da, const float* db,
                         float* dx) {
  if (bad_count(count, y, da) || (count > 0 && (!db || !dx))) return RN_STATUS_BAD_ARGUMENT;
  return elementwise(ctx, count, [&](const rn::NormKernels& k, int64_t i, int64_t len) {
    k.relu_backward_sum(len, y + i, da + i, db + i, dx + i);
  });
}

int rn_add(rn_context* ctx, int64_t count, const float* a, const float* b, float* y) {
  if (bad_count(count, a, b) || (count > 0 && !y)) return RN_STATUS_BAD_ARGUMENT;
  return elementwise(ctx, count, [&](const rn::NormKernels&, int64_t i, int64_t len) {
    for (int64_t j = i; j < i + len; ++j) y[j] = a[j] + b[j];  // vectorized by the compiler
  });
}

}  // extern "C"
