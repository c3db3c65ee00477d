// conv2d on CUDA: all three directions as implicit GEMMs (gemm.cuh) that read the
// NCHW tensors in place, with the fused forward epilogue (per-channel scale and bias,
// ReLU / CReLU, NormProp's post map) applied as each output element leaves the GEMM.
//   forward:         M = k output channels, N = n*p*q output pixels, K = c*r*s taps
//   backward-data:   M = c input channels,  N = n*h*w input pixels,  K = k*r*s
//                    (a tap contributes where (h + pad - r) is a multiple of the stride)
//   backward-filter: M = k, N = c*r*s, K = n*p*q: a small output over a long reduction,
//                    so K is split over blocks (split-K) into scratch partial sums that
//                    a second kernel adds in a fixed order (deterministic, no atomics).
// The crelu-input variants read crelu(x) = [max(x, 0), max(-x, 0)] from the C/2-channel
// pre-activation x while loading the B operand: the 2C tensor never exists.
#include "conv2d.cuh"
#include "gemm.cuh"
#include "reduce.cuh"

namespace rn::cuda::conv {

namespace {

// Geometry with the divisions the index math needs precomputed.
struct Geom {
  int32_t C, H, W, K, R, S, P, Q, sh, sw, ph, pw;
  int32_t RS, PQ, HW;
  int32_t c_src;   // channels of x as stored: C, or C/2 when the conv reads crelu(x)
  bool crelu_in;
  FastDiv div_rs, div_s, div_pq, div_q, div_hw, div_w, div_sh, div_sw;
};

Geom make_geom(const rn_conv2d_desc& d, bool crelu_in) {
  Geom g;
  g.C = d.c, g.H = d.h, g.W = d.w, g.K = d.k, g.R = d.r, g.S = d.s, g.P = d.p, g.Q = d.q;
  g.sh = d.stride_h, g.sw = d.stride_w, g.ph = d.pad_h, g.pw = d.pad_w;
  g.RS = d.r * d.s, g.PQ = d.p * d.q, g.HW = d.h * d.w;
  g.crelu_in = crelu_in;
  g.c_src = crelu_in ? d.c / 2 : d.c;
  g.div_rs = FastDiv(g.RS), g.div_s = FastDiv(g.S), g.div_pq = FastDiv(g.PQ), g.div_q = FastDiv(g.Q);
  g.div_hw = FastDiv(g.HW), g.div_w = FastDiv(g.W), g.div_sh = FastDiv(g.sh), g.div_sw = FastDiv(g.sw);
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

struct BackwardData {
  int32_t M, N, K;  // c, n*h*w, k*r*s
  Geom g;
  const float* dy;
  const float* w;
  float* dx;

  struct Col {
    const float* dy_img;
    int32_t th0, tw0;  // ih + pad_h, iw + pad_w
    int64_t x_at;
  };
  __device__ Col col(int32_t n) const {
    const uint32_t img = g.div_hw.div(uint32_t(n));
    const int32_t hw = n - int32_t(img) * g.HW;
    const uint32_t ih = g.div_w.div(uint32_t(hw));
    const int32_t iw = hw - int32_t(ih) * g.W;
    return Col{dy + int64_t(img) * g.K * g.PQ, int32_t(ih) + g.ph, iw + g.pw, int64_t(img) * g.C * g.HW + hw};
  }
  // A[c][(k, r, s)] = w[k, c, r, s]
  __device__ float a(int32_t m, int32_t k) const {
    const uint32_t kk = g.div_rs.div(uint32_t(k));
    const int32_t rs = k - int32_t(kk) * g.RS;
    return __ldg(w + (int64_t(kk) * g.C + m) * g.RS + rs);
  }
  // B[(k, r, s)][pixel] = dy[k, p, q] where p*stride_h = ih + pad_h - r (likewise q)
  __device__ float b(const Col& c, int32_t k) const {
    const uint32_t kk = g.div_rs.div(uint32_t(k));
    const int32_t rs = k - int32_t(kk) * g.RS;
    const uint32_t r = g.div_s.div(uint32_t(rs));
    const int32_t s = rs - int32_t(r) * g.S;
    const int32_t th = c.th0 - int32_t(r), tw = c.tw0 - s;
    if (th < 0 || tw < 0) return 0.0f;
    const uint32_t p = g.div_sh.div(uint32_t(th)), q = g.div_sw.div(uint32_t(tw));
    if (int32_t(p) * g.sh != th || int32_t(q) * g.sw != tw || int32_t(p) >= g.P || int32_t(q) >= g.Q) return 0.0f;
    return __ldg(c.dy_img + int64_t(kk) * g.PQ + int32_t(p) * g.Q + int32_t(q));
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

// dw[i] = sum over splits of partial[split][i], in order, in double.
__global__ void sum_splits(const float* partial, int64_t count, int32_t splits, float* dw) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  double s = 0.0;
  for (int32_t k = 0; k < splits; ++k) s += partial[int64_t(k) * count + i];
  dw[i] = float(s);
}

bool positive(int32_t v) { return v > 0; }

}  // namespace

int check(const rn_conv2d_desc* d) {
  if (d == nullptr) return RN_STATUS_BAD_ARGUMENT;
  if (!positive(d->n) || !positive(d->c) || !positive(d->h) || !positive(d->w) || !positive(d->k) ||
      !positive(d->r) || !positive(d->s) || !positive(d->stride_h) || !positive(d->stride_w))
    return RN_STATUS_BAD_ARGUMENT;
  if (d->pad_h < 0 || d->pad_w < 0 || d->pad_h >= d->r || d->pad_w >= d->s) return RN_STATUS_BAD_ARGUMENT;
  const int64_t hp = int64_t(d->h) + 2 * int64_t(d->pad_h) - d->r, wp = int64_t(d->w) + 2 * int64_t(d->pad_w) - d->s;
  if (hp < 0 || wp < 0) return RN_STATUS_BAD_ARGUMENT;
  if (d->p != hp / d->stride_h + 1 || d->q != wp / d->stride_w + 1) return RN_STATUS_BAD_ARGUMENT;
  if (int64_t(d->c) * d->r * d->s > INT32_MAX || int64_t(d->p) * d->q > INT32_MAX || int64_t(d->h) * d->w > INT32_MAX)
    return RN_STATUS_BAD_ARGUMENT;
  if (d->algo < RN_CONV_ALGO_AUTO || d->algo > RN_CONV_ALGO_DIRECT) return RN_STATUS_BAD_ARGUMENT;
  // 32-bit index math (FastDiv): every GEMM dimension and tensor below 2^31 elements.
  const int64_t n = d->n;
  if (n * d->c * d->h * d->w >= kMaxIndex || 2 * n * d->k * d->p * d->q >= kMaxIndex ||
      int64_t(d->k) * d->c * d->r * d->s >= kMaxIndex)
    return RN_STATUS_UNSUPPORTED;
  return RN_STATUS_OK;
}

size_t backward_filter_scratch(const rn_cuda_context* ctx, const rn_conv2d_desc& d, bool with_bias) {
  const int32_t n_cols = d.c * d.r * d.s, k_len = d.n * d.p * d.q;
  const SplitK sk = plan_split_k(ctx, d.k, n_cols, k_len);
  Layout l;
  if (sk.splits > 1) l.add<float>(size_t(sk.splits) * d.k * n_cols);
  if (with_bias) l.add<char>(channel_sum_scratch_bytes(ctx, d.k, int64_t(d.n) * d.p * d.q));
  return l.total();
}

int forward(rn_cuda_context* ctx, const rn_conv2d_desc& d, const float* x, const float* w, const float* bias,
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
  return launch_gemm(ctx, f);
}

int backward_data(rn_cuda_context* ctx, const rn_conv2d_desc& d, const float* dy, const float* w, float* dx) {
  BackwardData b;
  b.g = make_geom(d, false);
  b.M = d.c, b.N = d.n * d.h * d.w, b.K = d.k * d.r * d.s;
  b.dy = dy, b.w = w, b.dx = dx;
  return launch_gemm(ctx, b);
}

int backward_filter(rn_cuda_context* ctx, const rn_conv2d_desc& d, const float* x, const float* dy, float* dw,
                    float* dbias, bool crelu_input, void* scratch) {
  BackwardFilter b;
  b.g = make_geom(d, crelu_input);
  b.M = d.k, b.N = d.c * d.r * d.s, b.K = d.n * d.p * d.q;
  b.x = x, b.dy = dy;
  const SplitK sk = plan_split_k(ctx, b.M, b.N, b.K);
  Layout l;
  const size_t partial_at = sk.splits > 1 ? l.add<float>(size_t(sk.splits) * b.M * b.N) : 0;
  const size_t bias_at = l.add<char>(0);
  float* partial = at<float>(scratch, partial_at);
  b.out = sk.splits > 1 ? partial : dw;
  if (int st = launch_gemm(ctx, b, sk.splits, sk.chunk); st != RN_STATUS_OK) return st;
  if (sk.splits > 1) {
    const int64_t count = int64_t(b.M) * b.N;
    sum_splits<<<blocks_for(count, 256), 256, 0, ctx->stream>>>(partial, count, sk.splits, dw);
    RN_CUDA_CHECK_LAUNCH();
  }
  if (dbias != nullptr) return channel_sum(ctx, d.n, d.k, d.p * d.q, dy, dbias, at<char>(scratch, bias_at));
  return RN_STATUS_OK;
}

}  // namespace rn::cuda::conv

using rn::cuda::guarded;
namespace conv = rn::cuda::conv;

namespace {

// The crelu-input ops: x holds d.c / 2 channels.
int check_crelu_input(const rn_conv2d_desc* d) {
  if (int st = conv::check(d); st != RN_STATUS_OK) return st;
  return d->c % 2 == 0 ? RN_STATUS_OK : RN_STATUS_BAD_ARGUMENT;
}

int filter_entry(rn_cuda_context* ctx, const rn_conv2d_desc* d, const float* x, const float* dy, float* dw,
                 float* dbias, bool crelu_input) {
  return guarded(ctx, [&] {
    void* scratch = nullptr;
    if (int st = rn::cuda::workspace(ctx, conv::backward_filter_scratch(ctx, *d, dbias != nullptr), &scratch);
        st != RN_STATUS_OK)
      return st;
    return conv::backward_filter(ctx, *d, x, dy, dw, dbias, crelu_input, scratch);
  });
}

}  // namespace

extern "C" {

RN_API size_t rn_cuda_conv2d_workspace_bytes(const rn_cuda_context* ctx, const rn_conv2d_desc* d,
                                             int32_t direction) {
  if (ctx == nullptr || conv::check(d) != RN_STATUS_OK) return 0;
  return direction == 2 ? conv::backward_filter_scratch(ctx, *d, true) : 0;
}

RN_API int rn_cuda_conv2d_forward(rn_cuda_context* ctx, const rn_conv2d_desc* d, const float* x, const float* w,
                                  const float* bias, float* y) {
  if (int st = conv::check(d); st != RN_STATUS_OK) return st;
  if (!x || !w || !y) return RN_STATUS_BAD_ARGUMENT;
  return guarded(ctx, [&] { return conv::forward(ctx, *d, x, w, bias, nullptr, false, y); });
}

RN_API int rn_cuda_conv2d_forward_epilogue(rn_cuda_context* ctx, const rn_conv2d_desc* d, const float* x,
                                           const float* w, const rn_conv2d_epilogue* ep, float* y) {
  if (int st = conv::check(d); st != RN_STATUS_OK) return st;
  if (!x || !w || !y || !ep) return RN_STATUS_BAD_ARGUMENT;
  if (ep->act < RN_ACT_NONE || ep->act > RN_ACT_CRELU) return RN_STATUS_BAD_ARGUMENT;
  return guarded(ctx, [&] { return conv::forward(ctx, *d, x, w, nullptr, ep, false, y); });
}

RN_API int rn_cuda_conv2d_forward_crelu_input(rn_cuda_context* ctx, const rn_conv2d_desc* d, const float* x,
                                              const float* w, const float* bias, float* y) {
  if (int st = check_crelu_input(d); st != RN_STATUS_OK) return st;
  if (!x || !w || !y) return RN_STATUS_BAD_ARGUMENT;
  return guarded(ctx, [&] { return conv::forward(ctx, *d, x, w, bias, nullptr, true, y); });
}

RN_API int rn_cuda_conv2d_backward_data(rn_cuda_context* ctx, const rn_conv2d_desc* d, const float* dy,
                                        const float* w, float* dx) {
  if (int st = conv::check(d); st != RN_STATUS_OK) return st;
  if (!dy || !w || !dx) return RN_STATUS_BAD_ARGUMENT;
  return guarded(ctx, [&] { return conv::backward_data(ctx, *d, dy, w, dx); });
}

RN_API int rn_cuda_conv2d_backward_filter(rn_cuda_context* ctx, const rn_conv2d_desc* d, const float* x,
                                          const float* dy, float* dw, float* dbias) {
  if (int st = conv::check(d); st != RN_STATUS_OK) return st;
  if (!x || !dy || !dw) return RN_STATUS_BAD_ARGUMENT;
  return filter_entry(ctx, d, x, dy, dw, dbias, false);
}

RN_API int rn_cuda_conv2d_backward_filter_crelu_input(rn_cuda_context* ctx, const rn_conv2d_desc* d,
                                                      const float* x, const float* dy, float* dw, float* dbias) {
  if (int st = check_crelu_input(d); st != RN_STATUS_OK) return st;
  if (!x || !dy || !dw) return RN_STATUS_BAD_ARGUMENT;
  return filter_entry(ctx, d, x, dy, dw, dbias, true);
}

}  // extern "C"
