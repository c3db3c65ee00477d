// The three directions of the CUDA conv as GEMM problems for gemm.cuh (operand
// loaders and epilogues over the NCHW tensors), and their construction from a
// descriptor. Separate from conv2d.cu (which launches them) so that the host-side
// emulation test (tests/test_cuda_emulated.cpp) runs the very same index math.
#pragma once

#include "cuda_impl.cuh"
#include "resnorm/conv2d.h"

namespace rn::cuda::conv {

// Geometry with the divisions the index math needs precomputed.
struct Geom {
  int32_t C, H, W, K, R, S, P, Q, sh, sw, ph, pw;
  int32_t RS, PQ, HW;
  int32_t c_src;   // channels of x as stored: C, or C/2 when the conv reads crelu(x)
  bool crelu_in;
  FastDiv div_rs, div_s, div_pq, div_q;
};

inline Geom make_geom(const rn_conv2d_desc& d, bool crelu_in) {
  Geom g;
  g.C = d.c, g.H = d.h, g.W = d.w, g.K = d.k, g.R = d.r, g.S = d.s, g.P = d.p, g.Q = d.q;
  g.sh = d.stride_h, g.sw = d.stride_w, g.ph = d.pad_h, g.pw = d.pad_w;
  g.RS = d.r * d.s, g.PQ = d.p * d.q, g.HW = d.h * d.w;
  g.crelu_in = crelu_in;
  g.c_src = crelu_in ? d.c / 2 : d.c;
  g.div_rs = FastDiv(g.RS), g.div_s = FastDiv(g.S), g.div_pq = FastDiv(g.PQ), g.div_q = FastDiv(g.Q);
  return g;
}

// x[c, ih, iw] of one image (x_img: the image's first element), 0 outside the image;
// with crelu_in the channel c of crelu(x) (NaN passes into both halves, as on the CPU).
__device__ __forceinline__ float load_x(const Geom& g, const float* x_img, int32_t c, int32_t ih, int32_t iw) {
  if (unsigned(ih) >= unsigned(g.H) || unsigned(iw) >= unsigned(g.W)) return 0.0f;
  if (!g.crelu_in) return __ldg(x_img + (int64_t(c) * g.H + ih) * g.W + iw);
  const bool neg = c >= g.c_src;
  const float v = __ldg(x_img + (int64_t(neg ? c - g.c_src : c) * g.H + ih) * g.W + iw);
  return relu_nan(neg ? -v : v);
}

struct Forward {
  int32_t M, N, K;
  Geom g;
  const float* x;
  const float* w;
  float* y;
  const float* scale;  // [k] or null
  const float* bias;   // [k] or null
  int32_t act;
  float post_scale, post_shift;
  bool post;

  struct Col {
    const float* x_img;
    int32_t ih0, iw0;
    int64_t y_at;  // y offset of (image, channel 0, pixel)
  };
  __device__ Col col(int32_t n) const {
    const uint32_t img = g.div_pq.div(uint32_t(n));
    const int32_t pq = n - int32_t(img) * g.PQ;
    const uint32_t p = g.div_q.div(uint32_t(pq));
    const int32_t q = pq - int32_t(p) * g.Q;
    const int64_t out_ch = act == RN_ACT_CRELU ? 2 * int64_t(M) : M;
    return Col{x + int64_t(img) * g.c_src * g.HW, int32_t(p) * g.sh - g.ph, q * g.sw - g.pw,
               int64_t(img) * out_ch * g.PQ + pq};
  }
  __device__ float a(int32_t m, int32_t k) const { return __ldg(w + int64_t(m) * K + k); }
  __device__ float b(const Col& c, int32_t k) const {
    const uint32_t ch = g.div_rs.div(uint32_t(k));
    const int32_t rs = k - int32_t(ch) * g.RS;
    const uint32_t r = g.div_s.div(uint32_t(rs));
    const int32_t s = rs - int32_t(r) * g.S;
    return load_x(g, c.x_img, int32_t(ch), c.ih0 + int32_t(r), c.iw0 + s);
  }
  __device__ void store(int32_t m, const Col& c, float v, int32_t) const {
    const float u = fmaf(v, scale ? scale[m] : 1.0f, bias ? bias[m] : 0.0f);
    float* yp = y + c.y_at + int64_t(m) * g.PQ;
    float pos = act == RN_ACT_NONE ? u : relu_nan(u);
    if (post) pos = fmaf(pos, post_scale, post_shift);
    *yp = pos;
    if (act == RN_ACT_CRELU) {
      float neg = relu_nan(-u);
      if (post) neg = fmaf(neg, post_scale, post_shift);
      yp[int64_t(M) * g.PQ] = neg;
    }
  }
};

// Backward-data over one phase of the input pixels: those with ih = phase_h + i*stride_h
// and iw = phase_w + j*stride_w. A tap (r, s) reaches such a pixel only when
// ih + pad_h - r is a multiple of the stride, so a phase's reduction runs over its own
// taps r = r0 + ri*stride_h (likewise s) and skips the others, instead of reading zeros
// for them: with stride 2 a 3x3 conv has 9 taps in all but 2.25 per pixel on average.
// With stride 1 there is one phase holding every pixel and every tap.
struct BackwardData {
  int32_t M, N, K;  // c, n * (the phase's pixels per image), k * nr * ns
  Geom g;
  const float* dy;
  const float* w;
  float* dx;
  int32_t phase_h, phase_w;  // the phase's first row and column
  int32_t r0, s0, nr, ns;    // its taps: r = r0 + ri*stride_h for ri < nr (likewise s)
  int32_t rows, cols;        // its pixels per image: rows x cols
  int32_t base_h, base_w;    // output row of (i, ri) is base_h + i - ri (likewise q)
  FastDiv div_pixels, div_cols, div_taps, div_ns;

  struct Col {
    const float* dy_img;
    int32_t pb, qb;  // base_h + i, base_w + j
    int64_t x_at;
  };
  __device__ Col col(int32_t n) const {
    const uint32_t img = div_pixels.div(uint32_t(n));
    const int32_t ij = n - int32_t(img) * rows * cols;
    const uint32_t i = div_cols.div(uint32_t(ij));
    const int32_t j = ij - int32_t(i) * cols;
    const int32_t ih = phase_h + int32_t(i) * g.sh, iw = phase_w + j * g.sw;
    return Col{dy + int64_t(img) * g.K * g.PQ, base_h + int32_t(i), base_w + j,
               int64_t(img) * g.C * g.HW + int64_t(ih) * g.W + iw};
  }
  // A[c][(k, ri, si)] = w[k, c, r0 + ri*stride_h, s0 + si*stride_w]
  __device__ float a(int32_t m, int32_t k) const {
    const uint32_t kk = div_taps.div(uint32_t(k));
    const int32_t t = k - int32_t(kk) * nr * ns;
    const uint32_t ri = div_ns.div(uint32_t(t));
    const int32_t si = t - int32_t(ri) * ns;
    return __ldg(w + (int64_t(kk) * g.C + m) * g.RS + (r0 + int32_t(ri) * g.sh) * g.S + s0 + si * g.sw);
  }
  // B[(k, ri, si)][pixel] = dy[k, base_h + i - ri, base_w + j - si], 0 outside dy
  __device__ float b(const Col& c, int32_t k) const {
    const uint32_t kk = div_taps.div(uint32_t(k));
    const int32_t t = k - int32_t(kk) * nr * ns;
    const uint32_t ri = div_ns.div(uint32_t(t));
    const int32_t p = c.pb - int32_t(ri), q = c.qb - (t - int32_t(ri) * ns);
    if (unsigned(p) >= unsigned(g.P) || unsigned(q) >= unsigned(g.Q)) return 0.0f;
    return __ldg(c.dy_img + int64_t(kk) * g.PQ + p * g.Q + q);
  }
  __device__ void store(int32_t m, const Col& c, float v, int32_t) const { dx[c.x_at + int64_t(m) * g.HW] = v; }
};

struct BackwardFilter {
  int32_t M, N, K;  // k, c*r*s, n*p*q
  Geom g;
  const float* x;
  const float* dy;
  float* out;  // dw, or the split-K partial sums [splits][M][N]

  struct Col {
    int32_t n, ch_src, r, s;
    bool neg;
  };
  __device__ Col col(int32_t n) const {
    const uint32_t ch = g.div_rs.div(uint32_t(n));
    const int32_t rs = n - int32_t(ch) * g.RS;
    const uint32_t r = g.div_s.div(uint32_t(rs));
    const bool neg = g.crelu_in && int32_t(ch) >= g.c_src;
    return Col{n, neg ? int32_t(ch) - g.c_src : int32_t(ch), int32_t(r), rs - int32_t(r) * g.S, neg};
  }
  // A[k][(img, p, q)] = dy[img, k, p, q]
  __device__ float a(int32_t m, int32_t k) const {
    const uint32_t img = g.div_pq.div(uint32_t(k));
    const int32_t pq = k - int32_t(img) * g.PQ;
    return __ldg(dy + (int64_t(img) * M + m) * g.PQ + pq);
  }
  // B[(img, p, q)][(c, r, s)] = x[img, c, p*stride_h - pad_h + r, q*stride_w - pad_w + s]
  __device__ float b(const Col& c, int32_t k) const {
    const uint32_t img = g.div_pq.div(uint32_t(k));
    const int32_t pq = k - int32_t(img) * g.PQ;
    const uint32_t p = g.div_q.div(uint32_t(pq));
    const int32_t q = pq - int32_t(p) * g.Q;
    const int32_t ih = int32_t(p) * g.sh - g.ph + c.r, iw = q * g.sw - g.pw + c.s;
    if (unsigned(ih) >= unsigned(g.H) || unsigned(iw) >= unsigned(g.W)) return 0.0f;
    const float v = __ldg(x + (int64_t(img) * g.c_src + c.ch_src) * g.HW + int64_t(ih) * g.W + iw);
    return g.crelu_in ? relu_nan(c.neg ? -v : v) : v;
  }
  __device__ void store(int32_t m, const Col& c, float v, int32_t split) const {
    out[(int64_t(split) * M + m) * N + c.n] = v;
  }
};

inline Forward forward_problem(const rn_conv2d_desc& d, const float* x, const float* w, const float* bias,
                               const rn_conv2d_epilogue* ep, bool crelu_input, float* y) {
  Forward f;
  f.g = make_geom(d, crelu_input);
  f.M = d.k, f.N = d.n * d.p * d.q, f.K = d.c * d.r * d.s;
  f.x = x, f.w = w, f.y = y;
  if (ep != nullptr) {
    f.scale = ep->scale, f.bias = ep->bias, f.act = ep->act;
    f.post_scale = ep->post_scale, f.post_shift = ep->post_shift;
  } else {
    f.scale = nullptr, f.bias = bias, f.act = RN_ACT_NONE, f.post_scale = 1.0f, f.post_shift = 0.0f;
  }
  f.post = f.post_scale != 1.0f || f.post_shift != 0.0f;
  return f;
}

// Calls fn(problem) for each phase of dx that holds pixels (stride_h * stride_w phases at
// most), in order, and returns the first status fn returns that is not RN_STATUS_OK (else
// OK). Built on the stack, so a backward-data call allocates nothing. A phase without taps
// (a 1x1 conv with stride 2: the odd rows and columns) has K = 0, and its GEMM writes zeros.
template <class Fn>
int for_each_backward_data_phase(const rn_conv2d_desc& d, const float* dy, const float* w, float* dx, Fn&& fn) {
  for (int32_t ph = 0; ph < d.stride_h && ph < d.h; ++ph) {
    for (int32_t pw = 0; pw < d.stride_w && pw < d.w; ++pw) {
      BackwardData b;
      b.g = make_geom(d, false);
      b.dy = dy, b.w = w, b.dx = dx;
      b.phase_h = ph, b.phase_w = pw;
      b.r0 = (ph + d.pad_h) % d.stride_h, b.s0 = (pw + d.pad_w) % d.stride_w;
      b.nr = b.r0 < d.r ? (d.r - b.r0 + d.stride_h - 1) / d.stride_h : 0;
      b.ns = b.s0 < d.s ? (d.s - b.s0 + d.stride_w - 1) / d.stride_w : 0;
      b.rows = (d.h - ph + d.stride_h - 1) / d.stride_h, b.cols = (d.w - pw + d.stride_w - 1) / d.stride_w;
      b.base_h = (ph + d.pad_h - b.r0) / d.stride_h, b.base_w = (pw + d.pad_w - b.s0) / d.stride_w;
      b.M = d.c, b.N = d.n * b.rows * b.cols, b.K = d.k * b.nr * b.ns;
      const auto at_least_1 = [](int32_t v) { return uint32_t(v > 1 ? v : 1); };
      b.div_pixels = FastDiv(at_least_1(b.rows * b.cols)), b.div_cols = FastDiv(at_least_1(b.cols));
      b.div_taps = FastDiv(at_least_1(b.nr * b.ns)), b.div_ns = FastDiv(at_least_1(b.ns));
      if (int st = fn(static_cast<const BackwardData&>(b)); st != RN_STATUS_OK) return st;
    }
  }
  return RN_STATUS_OK;
}

// out: dw, or the split-K partial sums [splits][k][c*r*s].
inline BackwardFilter backward_filter_problem(const rn_conv2d_desc& d, const float* x, const float* dy,
                                              bool crelu_input, float* out) {
  BackwardFilter b;
  b.g = make_geom(d, crelu_input);
  b.M = d.k, b.N = d.c * d.r * d.s, b.K = d.n * d.p * d.q;
  b.x = x, b.dy = dy, b.out = out;
  return b;
}

}  // namespace rn::cuda::conv
