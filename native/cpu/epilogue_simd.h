// The fused conv forward epilogue on one vector of output lanes (see EpilogueArgs in
// gemm.h), shared by epilogue_c16 (a pass over packed output rows) and the Winograd
// output transform (applied as the values are stored), so both compute the same bits:
//   u = scale * acc + bias; out = act(u) (CReLU: neg = relu(-u)); then post map.
// Include after simd.h, inside namespace rn::RN_ISA_NS.
#pragma once

// The epilogue's per-channel constants for the lanes starting at lane0.
struct LaneEpilogue {
  Vec scale, bias, post_scale, post_shift;
  int act;
  bool post;
  LaneEpilogue(const EpilogueArgs& ep, int32_t lane0)
      : scale(ep.scale16 ? vload(ep.scale16 + lane0) : vset1(1.0f)),
        bias(ep.bias16 ? vload(ep.bias16 + lane0) : vzero()),
        post_scale(vset1(ep.post_scale)),
        post_shift(vset1(ep.post_shift)),
        act(ep.act),
        post(ep.post_scale != 1.0f || ep.post_shift != 0.0f) {}
  // Stores the epilogue of acc at out (and its CReLU negative half at neg).
  void store(Vec acc, float* out, float* neg) const {
    const Vec u = vfmadd(acc, scale, bias);
    Vec o = act == 0 ? u : vrelu(u);
    if (post) o = vfmadd(o, post_scale, post_shift);
    vstore(out, o);
    if (act == 2) {
      Vec n = vrelu(vsub(vzero(), u));
      if (post) n = vfmadd(n, post_scale, post_shift);
      vstore(neg, n);
    }
  }
};
