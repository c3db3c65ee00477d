// Standalone activation loops (activation.cpp), compiled per ISA level (see
// norm_kernels.h). Elementwise, one pass; an output may be the same pointer as an
// input (each vector is loaded before it is stored). A count of more than a vector that
// is not whole vectors ends with the last whole vector, overlapping the one before (as in
// batchnorm_kernels.cpp); shorter counts go through the vector code on a padded stack copy.
#include <immintrin.h>

#include <cstring>

#include "norm_kernels.h"

namespace rn::RN_ISA_NS {

#include "simd.h"
#include "norm_simd.h"

namespace {

// Runs body(offset, pointers...) on full vectors, then on the tail: the count's last whole
// vector where it has one (computed into stack buffers before any other store, so an output
// may be an input, and stored last over values it repeats), else a padded copy.
// in[k] are the inputs, out[k] the outputs (none null).
template <int kIn, int kOut, class Body>
inline void stream(int64_t count, const float* const (&in)[kIn], float* const (&out)[kOut], const Body& body) {
  int64_t i = 0;
  const float* ip[kIn];
  float* op[kOut];
  const int64_t whole = count - count % kWidth;
  if (whole != count && count > kWidth) {
    float last[kOut][kWidth];
    for (int k = 0; k < kIn; ++k) ip[k] = in[k] + count - kWidth;
    for (int k = 0; k < kOut; ++k) op[k] = last[k];
    body(ip, op);
    for (; i < whole; i += kWidth) {
      for (int k = 0; k < kIn; ++k) ip[k] = in[k] + i;
      for (int k = 0; k < kOut; ++k) op[k] = out[k] + i;
      body(ip, op);
    }
    for (int k = 0; k < kOut; ++k) vstore(out[k] + count - kWidth, vload(last[k]));
    return;
  }
  for (; i + kWidth <= count; i += kWidth) {
    for (int k = 0; k < kIn; ++k) ip[k] = in[k] + i;
    for (int k = 0; k < kOut; ++k) op[k] = out[k] + i;
    body(ip, op);
  }
  if (i < count) {
    const int64_t r = count - i;
    float ib[kIn][kWidth] = {}, ob[kOut][kWidth];
    for (int k = 0; k < kIn; ++k) {
      std::memcpy(ib[k], in[k] + i, sizeof(float) * r);
      ip[k] = ib[k];
    }
    for (int k = 0; k < kOut; ++k) op[k] = ob[k];
    body(ip, op);
    for (int k = 0; k < kOut; ++k) std::memcpy(out[k] + i, ob[k], sizeof(float) * r);
  }
}

}  // namespace

void relu_forward(int64_t count, const float* x, float* y) {
  const float* in[1] = {x};
  float* out[1] = {y};
  stream<1, 1>(count, in, out, [](const float* const* i, float* const* o) { vstore(o[0], vrelu(vload(i[0]))); });
}

void relu_backward(int64_t count, const float* y, const float* dy, float* dx) {
  const float* in[2] = {y, dy};
  float* out[1] = {dx};
  stream<2, 1>(count, in, out, [](const float* const* i, float* const* o) {
    vstore(o[0], vkeep_pos(vload(i[1]), vload(i[0])));
  });
}

void crelu_forward(int64_t len, const float* x, float* ypos, float* yneg) {
  const float* in[1] = {x};
  float* out[2] = {ypos, yneg};
  stream<1, 2>(len, in, out, [](const float* const* i, float* const* o) {
    Vec v = vload(i[0]);
    vstore(o[0], vrelu(v));
    vstore(o[1], vrelu(vsub(vzero(), v)));
  });
}

void crelu_backward(int64_t len, const float* x, const float* dypos, const float* dyneg, float* dx) {
  const float* in[3] = {x, dypos, dyneg};
  float* out[1] = {dx};
  stream<3, 1>(len, in, out, [](const float* const* i, float* const* o) {
    Vec v = vload(i[0]);
    vstore(o[0], vsub(vkeep_pos(vload(i[1]), v), vkeep_neg(vload(i[2]), v)));
  });
}

void add_relu_forward(int64_t count, const float* a, const float* b, float* y) {
  const float* in[2] = {a, b};
  float* out[1] = {y};
  stream<2, 1>(count, in, out, [](const float* const* i, float* const* o) {
    vstore(o[0], vrelu(vadd(vload(i[0]), vload(i[1]))));
  });
}

void add_relu_backward(int64_t count, const float* y, const float* dy, float* da, float* db) {
  const float* in[2] = {y, dy};
  if (db == nullptr) {
    float* out1[1] = {da};
    stream<2, 1>(count, in, out1, [](const float* const* i, float* const* o) {
      vstore(o[0], vkeep_pos(vload(i[1]), vload(i[0])));
    });
    return;
  }
  float* out[2] = {da, db};
  stream<2, 2>(count, in, out, [](const float* const* i, float* const* o) {
    Vec g = vkeep_pos(vload(i[1]), vload(i[0]));
    vstore(o[0], g);
    vstore(o[1], g);
  });
}

// dx = (da + db)·[y > 0]: vadd rounds as rn_add's scalar sum does, so the bits are those of
// the add followed by relu_backward.
void relu_backward_sum(int64_t count, const float* y, const float* da, const float* db, float* dx) {
  const float* in[3] = {y, da, db};
  float* out[1] = {dx};
  stream<3, 1>(count, in, out, [](const float* const* i, float* const* o) {
    vstore(o[0], vkeep_pos(vadd(vload(i[1]), vload(i[2])), vload(i[0])));
  });
}

}  // namespace rn::RN_ISA_NS
