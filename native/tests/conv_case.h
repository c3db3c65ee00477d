// A conv test shape and its descriptor, shared by the CUDA tests (test_cuda_util.h) and
// their host-emulation run (test_cuda_emulated.cpp), which cannot include the device-side
// helpers of test_cuda_util.h.
#pragma once

#include "resnorm/conv2d.h"

namespace rntest::conv_shapes {

struct Case {
  int n, c, h, w, k, r, s, sh, sw, ph, pw;
};

inline rn_conv2d_desc make(const Case& cs) {
  rn_conv2d_desc d{};
  d.n = cs.n, d.c = cs.c, d.h = cs.h, d.w = cs.w, d.k = cs.k, d.r = cs.r, d.s = cs.s;
  d.stride_h = cs.sh, d.stride_w = cs.sw, d.pad_h = cs.ph, d.pad_w = cs.pw;
  d.p = (cs.h + 2 * cs.ph - cs.r) / cs.sh + 1;
  d.q = (cs.w + 2 * cs.pw - cs.s) / cs.sw + 1;
  d.algo = RN_CONV_ALGO_AUTO;
  return d;
}

}  // namespace rntest::conv_shapes
