// The linear layer's three GEMMs as problems for gemm.cuh (see linear.cu); a header of
// their own so that the host-side emulation test runs the same index math.
//   forward:         M = out, N = n, K = in    y[n, o] = bias[o] + x[n, :] . w[o, :]
//   backward-data:   M = in,  N = n, K = out   dx[n, i] = dy[n, :] . w[:, i]
//   backward-weight: M = out, N = in, K = n    dw[o, i] = dy[:, o] . x[:, i]
#pragma once

#include "cuda_impl.cuh"

namespace rn::cuda::linear {

struct LinearForward {
  int32_t M, N, K;
  const float* x;
  const float* w;
  const float* bias;
  float* y;
  struct Col {
    int32_t n;
  };
  __device__ Col col(int32_t n) const { return Col{n}; }
  __device__ float a(int32_t m, int32_t k) const { return __ldg(w + int64_t(m) * K + k); }
  __device__ float b(const Col& c, int32_t k) const { return __ldg(x + int64_t(c.n) * K + k); }
  __device__ void store(int32_t m, const Col& c, float v, int32_t) const {
    y[int64_t(c.n) * M + m] = bias ? __fadd_rn(v, bias[m]) : v;
  }
};

struct LinearBackwardData {
  int32_t M, N, K;  // in, n, out
  const float* dy;
  const float* w;
  float* dx;
  struct Col {
    int32_t n;
  };
  __device__ Col col(int32_t n) const { return Col{n}; }
  __device__ float a(int32_t m, int32_t k) const { return __ldg(w + int64_t(k) * M + m); }
  __device__ float b(const Col& c, int32_t k) const { return __ldg(dy + int64_t(c.n) * K + k); }
  __device__ void store(int32_t m, const Col& c, float v, int32_t) const { dx[int64_t(c.n) * M + m] = v; }
};

struct LinearBackwardWeight {
  int32_t M, N, K;  // out, in, n
  const float* x;
  const float* dy;
  float* dw;
  struct Col {
    int32_t i;
  };
  __device__ Col col(int32_t n) const { return Col{n}; }
  __device__ float a(int32_t m, int32_t k) const { return __ldg(dy + int64_t(k) * M + m); }
  __device__ float b(const Col& c, int32_t k) const { return __ldg(x + int64_t(k) * N + c.i); }
  __device__ void store(int32_t m, const Col& c, float v, int32_t) const { dw[int64_t(m) * N + c.i] = v; }
};

}  // namespace rn::cuda::linear
