// A working stand-in for cuDNN 9's conv (legacy API), for the host-emulation run of
// test_cuda_cudnn (cuda_cudnn_emulated): "device" pointers are host pointers there
// (tests/cuda_fake_runtime.cpp), so this computes the convs directly, in double. It
// checks what the real library would reject or silently misread: descriptor kinds and
// shapes in each argument position, NCHW float, cross-correlation, no dilation, the
// workspace handed over against the algorithm's need, beta = 0 meaning "do not read the
// output" (the outputs are NaN-poisoned). Its search results are deliberately awkward
// (a failed algorithm first, a tensor-core one that FP32 mode must skip, then usable
// ones) so that the selection logic of cudnn_conv.cu is exercised. All of it is this
// project's reading of the cuDNN documentation: it tests resnorm's plumbing, not cuDNN.
// Exported from libcudnn.so.9 itself (a shim that forwards everything).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#define FAKE_API extern "C" __attribute__((visibility("default")))

namespace {

constexpr int kSuccess = 0, kBadParam = 2000, kNotSupported = 3000, kExecutionFailed = 5000;
constexpr int kTensorMagic = 0x7e45, kFilterMagic = 0xf117, kConvMagic = 0xc0de, kHandleMagic = 0x4a4d;
constexpr int kTensorOp = 1;

struct Handle {
  int magic = kHandleMagic;
  void* stream = nullptr;
};
struct Tensor {
  int magic = kTensorMagic;
  bool set = false;
  int n = 0, c = 0, h = 0, w = 0;
};
struct Filter {
  int magic = kFilterMagic;
  bool set = false;
  int k = 0, c = 0, r = 0, s = 0;
};
struct Conv {
  int magic = kConvMagic;
  bool set = false;
  int pad_h = 0, pad_w = 0, stride_h = 1, stride_w = 1;
  int math = 0;
};

bool ok(const Handle* h) { return h != nullptr && h->magic == kHandleMagic; }
bool ok(const Tensor* t) { return t != nullptr && t->magic == kTensorMagic && t->set; }
bool ok(const Filter* f) { return f != nullptr && f->magic == kFilterMagic && f->set; }
bool ok(const Conv* c) { return c != nullptr && c->magic == kConvMagic && c->set; }

// The shapes of one conv, checked: x [n,c,h,w], w [k,c,r,s], y [n,k,p,q].
struct Shape {
  int n, c, h, w, k, r, s, p, q, pad_h, pad_w, stride_h, stride_w;
};
bool shape_of(const Tensor* x, const Filter* f, const Conv* cv, const Tensor* y, Shape* out) {
  if (!ok(x) || !ok(f) || !ok(cv) || !ok(y)) return false;
  const int p = (x->h + 2 * cv->pad_h - f->r) / cv->stride_h + 1, q = (x->w + 2 * cv->pad_w - f->s) / cv->stride_w + 1;
  if (x->c != f->c || y->n != x->n || y->c != f->k || y->h != p || y->w != q) {
    std::fprintf(stderr, "fake cuDNN: shapes do not fit: x [%d,%d,%d,%d] w [%d,%d,%d,%d] y [%d,%d,%d,%d]\n", x->n, x->c,
                 x->h, x->w, f->k, f->c, f->r, f->s, y->n, y->c, y->h, y->w);
    return false;
  }
  *out = Shape{x->n, x->c, x->h, x->w, f->k, f->r, f->s, p, q, cv->pad_h, cv->pad_w, cv->stride_h, cv->stride_w};
  return true;
}

// out = alpha * v + beta * out, out not read when beta == 0.
void blend(float* out, size_t i, double v, float alpha, float beta) {
  out[i] = beta == 0.0f ? float(alpha * v) : float(alpha * v + beta * double(out[i]));
}

void forward(const Shape& d, const float* x, const float* w, float alpha, float beta, float* y) {
  for (int n = 0; n < d.n; ++n)
    for (int k = 0; k < d.k; ++k)
      for (int p = 0; p < d.p; ++p)
        for (int q = 0; q < d.q; ++q) {
          double acc = 0.0;
          for (int c = 0; c < d.c; ++c)
            for (int r = 0; r < d.r; ++r)
              for (int s = 0; s < d.s; ++s) {
                const int ih = p * d.stride_h - d.pad_h + r, iw = q * d.stride_w - d.pad_w + s;
                if (ih < 0 || ih >= d.h || iw < 0 || iw >= d.w) continue;
                acc += double(x[((size_t(n) * d.c + c) * d.h + ih) * d.w + iw]) *
                       w[((size_t(k) * d.c + c) * d.r + r) * d.s + s];
              }
          blend(y, ((size_t(n) * d.k + k) * d.p + p) * d.q + q, acc, alpha, beta);
        }
}

void backward_data(const Shape& d, const float* dy, const float* w, float alpha, float beta, float* dx) {
  std::vector<double> acc(size_t(d.n) * d.c * d.h * d.w, 0.0);
  for (int n = 0; n < d.n; ++n)
    for (int k = 0; k < d.k; ++k)
      for (int p = 0; p < d.p; ++p)
        for (int q = 0; q < d.q; ++q) {
          const double g = dy[((size_t(n) * d.k + k) * d.p + p) * d.q + q];
          for (int c = 0; c < d.c; ++c)
            for (int r = 0; r < d.r; ++r)
              for (int s = 0; s < d.s; ++s) {
                const int ih = p * d.stride_h - d.pad_h + r, iw = q * d.stride_w - d.pad_w + s;
                if (ih < 0 || ih >= d.h || iw < 0 || iw >= d.w) continue;
                acc[((size_t(n) * d.c + c) * d.h + ih) * d.w + iw] += g * w[((size_t(k) * d.c + c) * d.r + r) * d.s + s];
              }
        }
  for (size_t i = 0; i < acc.size(); ++i) blend(dx, i, acc[i], alpha, beta);
}

void backward_filter(const Shape& d, const float* x, const float* dy, float alpha, float beta, float* dw) {
  std::vector<double> acc(size_t(d.k) * d.c * d.r * d.s, 0.0);
  for (int n = 0; n < d.n; ++n)
    for (int k = 0; k < d.k; ++k)
      for (int p = 0; p < d.p; ++p)
        for (int q = 0; q < d.q; ++q) {
          const double g = dy[((size_t(n) * d.k + k) * d.p + p) * d.q + q];
          for (int c = 0; c < d.c; ++c)
            for (int r = 0; r < d.r; ++r)
              for (int s = 0; s < d.s; ++s) {
                const int ih = p * d.stride_h - d.pad_h + r, iw = q * d.stride_w - d.pad_w + s;
                if (ih < 0 || ih >= d.h || iw < 0 || iw >= d.w) continue;
                acc[((size_t(k) * d.c + c) * d.r + r) * d.s + s] += g * x[((size_t(n) * d.c + c) * d.h + ih) * d.w + iw];
              }
        }
  for (size_t i = 0; i < acc.size(); ++i) blend(dw, i, acc[i], alpha, beta);
}

// Workspace each fake algorithm needs (NOT_SUPPORTED for algorithm 2).
int workspace_of(int algo, size_t* bytes) {
  if (algo == 2) return kNotSupported;
  *bytes = size_t(algo) * 4096;
  return kSuccess;
}

struct Perf {
  int algo, status;
  float time;
  size_t memory;
  int determinism, math_type, reserved[3];
};
static_assert(sizeof(Perf) == 48, "cuDNN 9 layout");

// The search: a failed algorithm first, then a tensor-core one (chosen by a TF32
// search, skipped by an FP32 one), then algorithm 3 (an FP32 search's choice), then 1.
int find(const Conv* cv, int requested, int* returned, Perf* perf, size_t workspace_bytes, void* workspace) {
  size_t need3 = 0, need4 = 0, need1 = 0;
  workspace_of(3, &need3), workspace_of(4, &need4), workspace_of(1, &need1);
  if (workspace_bytes < need4 || (workspace_bytes > 0 && workspace == nullptr)) {
    std::fprintf(stderr, "fake cuDNN: search offered %zu workspace bytes (%p), algorithm 4 needs %zu\n",
                 workspace_bytes, workspace, need4);
    return kBadParam;
  }
  const Perf all[] = {{5, kNotSupported, -1.0f, 0, 0, cv->math, {}},
                      {4, kSuccess, 0.5f, need4, 1, kTensorOp, {}},
                      {3, kSuccess, 1.0f, need3, 1, cv->math, {}},
                      {1, kSuccess, 2.0f, need1, 0, cv->math, {}}};
  int count = 0;
  for (const Perf& p : all)
    if (count < requested) perf[count++] = p;
  *returned = count;
  return kSuccess;
}

// The algorithm and workspace a run was given.
bool run_ok(const char* what, int algo, void* workspace, size_t bytes) {
  size_t need = 0;
  if (workspace_of(algo, &need) != kSuccess || algo == 5) {
    std::fprintf(stderr, "fake cuDNN: %s with algorithm %d, which the search did not offer\n", what, algo);
    return false;
  }
  if (bytes < need || (need > 0 && workspace == nullptr)) {
    std::fprintf(stderr, "fake cuDNN: %s algorithm %d given %zu workspace bytes, needs %zu\n", what, algo, bytes, need);
    return false;
  }
  return true;
}

float scalar(const void* p) { return *static_cast<const float*>(p); }

}  // namespace

FAKE_API size_t cudnnGetVersion() { return 91900; }
FAKE_API size_t cudnnGetCudartVersion() { return 13000; }
FAKE_API const char* cudnnGetErrorString(int status) {
  return status == kSuccess ? "CUDNN_STATUS_SUCCESS" : "CUDNN_STATUS_FAKE_ERROR";
}
FAKE_API void cudnnGetLastErrorString(char* message, size_t max_size) {
  if (max_size > 0) message[0] = '\0';
}
FAKE_API int cudnnCreate(Handle** h) {
  *h = new Handle();
  return kSuccess;
}
FAKE_API int cudnnDestroy(Handle* h) {
  if (!ok(h)) return kBadParam;
  h->magic = 0;
  delete h;
  return kSuccess;
}
FAKE_API int cudnnSetStream(Handle* h, void* stream) {
  if (!ok(h) || stream == nullptr) return kBadParam;
  h->stream = stream;
  return kSuccess;
}

FAKE_API int cudnnCreateTensorDescriptor(Tensor** t) {
  *t = new Tensor();
  return kSuccess;
}
FAKE_API int cudnnSetTensor4dDescriptor(Tensor* t, int format, int data_type, int n, int c, int h, int w) {
  if (t == nullptr || t->magic != kTensorMagic || format != 0 || data_type != 0 || n < 1 || c < 1 || h < 1 || w < 1)
    return kBadParam;
  t->set = true, t->n = n, t->c = c, t->h = h, t->w = w;
  return kSuccess;
}
FAKE_API int cudnnDestroyTensorDescriptor(Tensor* t) {
  if (t == nullptr || t->magic != kTensorMagic) return kBadParam;
  t->magic = 0;
  delete t;
  return kSuccess;
}
FAKE_API int cudnnCreateFilterDescriptor(Filter** f) {
  *f = new Filter();
  return kSuccess;
}
FAKE_API int cudnnSetFilter4dDescriptor(Filter* f, int data_type, int format, int k, int c, int h, int w) {
  if (f == nullptr || f->magic != kFilterMagic || format != 0 || data_type != 0 || k < 1 || c < 1 || h < 1 || w < 1)
    return kBadParam;
  f->set = true, f->k = k, f->c = c, f->r = h, f->s = w;
  return kSuccess;
}
FAKE_API int cudnnDestroyFilterDescriptor(Filter* f) {
  if (f == nullptr || f->magic != kFilterMagic) return kBadParam;
  f->magic = 0;
  delete f;
  return kSuccess;
}
// C = alpha * A + beta * C, A broadcast over the dimensions where it has 1.
FAKE_API int cudnnAddTensor(Handle* h, const void* alpha, Tensor* a_desc, const float* a, const void* beta,
                            Tensor* c_desc, float* c) {
  if (!ok(h) || !ok(a_desc) || !ok(c_desc)) return kBadParam;
  const Tensor& A = *a_desc;
  const Tensor& C = *c_desc;
  if ((A.n != 1 && A.n != C.n) || (A.c != 1 && A.c != C.c) || (A.h != 1 && A.h != C.h) || (A.w != 1 && A.w != C.w))
    return kBadParam;
  for (int n = 0; n < C.n; ++n)
    for (int ch = 0; ch < C.c; ++ch)
      for (int y = 0; y < C.h; ++y)
        for (int x = 0; x < C.w; ++x) {
          const size_t ai = ((size_t(A.n == 1 ? 0 : n) * A.c + (A.c == 1 ? 0 : ch)) * A.h + (A.h == 1 ? 0 : y)) * A.w +
                            (A.w == 1 ? 0 : x);
          blend(c, ((size_t(n) * C.c + ch) * C.h + y) * C.w + x, a[ai], scalar(alpha), scalar(beta));
        }
  return kSuccess;
}

FAKE_API int cudnnCreateConvolutionDescriptor(Conv** c) {
  *c = new Conv();
  return kSuccess;
}
FAKE_API int cudnnSetConvolution2dDescriptor(Conv* c, int pad_h, int pad_w, int u, int v, int dil_h, int dil_w,
                                             int mode, int compute_type) {
  if (c == nullptr || c->magic != kConvMagic || pad_h < 0 || pad_w < 0 || u < 1 || v < 1 || dil_h != 1 || dil_w != 1 ||
      mode != 1 /* cross-correlation */ || compute_type != 0)
    return kBadParam;
  c->set = true, c->pad_h = pad_h, c->pad_w = pad_w, c->stride_h = u, c->stride_w = v;
  return kSuccess;
}
FAKE_API int cudnnSetConvolutionMathType(Conv* c, int math) {
  if (c == nullptr || c->magic != kConvMagic || math < 0 || math > 3) return kBadParam;
  c->math = math;
  return kSuccess;
}
FAKE_API int cudnnDestroyConvolutionDescriptor(Conv* c) {
  if (c == nullptr || c->magic != kConvMagic) return kBadParam;
  c->magic = 0;
  delete c;
  return kSuccess;
}
FAKE_API int cudnnGetConvolution2dForwardOutputDim(const Conv* cv, const Tensor* x, const Filter* f, int* n, int* c,
                                                   int* h, int* w) {
  if (!ok(cv) || !ok(x) || !ok(f) || x->c != f->c) return kBadParam;
  *n = x->n, *c = f->k;
  *h = (x->h + 2 * cv->pad_h - f->r) / cv->stride_h + 1;
  *w = (x->w + 2 * cv->pad_w - f->s) / cv->stride_w + 1;
  return kSuccess;
}
FAKE_API int cudnnGetConvolutionForwardAlgorithmMaxCount(Handle* h, int* count) {
  *count = 8;
  return ok(h) ? kSuccess : kBadParam;
}
FAKE_API int cudnnGetConvolutionBackwardDataAlgorithmMaxCount(Handle* h, int* count) {
  *count = 6;
  return ok(h) ? kSuccess : kBadParam;
}
FAKE_API int cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(Handle* h, int* count) {
  *count = 7;
  return ok(h) ? kSuccess : kBadParam;
}
FAKE_API int cudnnGetConvolutionForwardWorkspaceSize(Handle* h, Tensor* x, Filter* w, Conv* c, Tensor* y, int algo,
                                                     size_t* bytes) {
  Shape d;
  if (!ok(h) || !shape_of(x, w, c, y, &d)) return kBadParam;
  return workspace_of(algo, bytes);
}
FAKE_API int cudnnGetConvolutionBackwardDataWorkspaceSize(Handle* h, Filter* w, Tensor* dy, Conv* c, Tensor* dx,
                                                          int algo, size_t* bytes) {
  Shape d;
  if (!ok(h) || !shape_of(dx, w, c, dy, &d)) return kBadParam;
  return workspace_of(algo, bytes);
}
FAKE_API int cudnnGetConvolutionBackwardFilterWorkspaceSize(Handle* h, Tensor* x, Tensor* dy, Conv* c, Filter* dw,
                                                            int algo, size_t* bytes) {
  Shape d;
  if (!ok(h) || !shape_of(x, dw, c, dy, &d)) return kBadParam;
  return workspace_of(algo, bytes);
}
FAKE_API int cudnnFindConvolutionForwardAlgorithmEx(Handle* h, Tensor* x_desc, const float* x, Filter* w_desc,
                                                    const float* w, Conv* c, Tensor* y_desc, float* y, int requested,
                                                    int* returned, Perf* perf, void* ws, size_t ws_bytes) {
  Shape d;
  if (!ok(h) || !shape_of(x_desc, w_desc, c, y_desc, &d)) return kBadParam;
  forward(d, x, w, 1.0f, 0.0f, y);  // the search writes the output
  return find(c, requested, returned, perf, ws_bytes, ws);
}
FAKE_API int cudnnFindConvolutionBackwardDataAlgorithmEx(Handle* h, Filter* w_desc, const float* w, Tensor* dy_desc,
                                                         const float* dy, Conv* c, Tensor* dx_desc, float* dx,
                                                         int requested, int* returned, Perf* perf, void* ws,
                                                         size_t ws_bytes) {
  Shape d;
  if (!ok(h) || !shape_of(dx_desc, w_desc, c, dy_desc, &d)) return kBadParam;
  backward_data(d, dy, w, 1.0f, 0.0f, dx);
  return find(c, requested, returned, perf, ws_bytes, ws);
}
FAKE_API int cudnnFindConvolutionBackwardFilterAlgorithmEx(Handle* h, Tensor* x_desc, const float* x, Tensor* dy_desc,
                                                           const float* dy, Conv* c, Filter* dw_desc, float* dw,
                                                           int requested, int* returned, Perf* perf, void* ws,
                                                           size_t ws_bytes) {
  Shape d;
  if (!ok(h) || !shape_of(x_desc, dw_desc, c, dy_desc, &d)) return kBadParam;
  backward_filter(d, x, dy, 1.0f, 0.0f, dw);
  return find(c, requested, returned, perf, ws_bytes, ws);
}
FAKE_API int cudnnConvolutionForward(Handle* h, const void* alpha, Tensor* x_desc, const float* x, Filter* w_desc,
                                     const float* w, Conv* c, int algo, void* ws, size_t ws_bytes, const void* beta,
                                     Tensor* y_desc, float* y) {
  Shape d;
  if (!ok(h) || !shape_of(x_desc, w_desc, c, y_desc, &d)) return kBadParam;
  if (!run_ok("forward", algo, ws, ws_bytes)) return kExecutionFailed;
  forward(d, x, w, scalar(alpha), scalar(beta), y);
  return kSuccess;
}
FAKE_API int cudnnConvolutionBackwardData(Handle* h, const void* alpha, Filter* w_desc, const float* w,
                                          Tensor* dy_desc, const float* dy, Conv* c, int algo, void* ws,
                                          size_t ws_bytes, const void* beta, Tensor* dx_desc, float* dx) {
  Shape d;
  if (!ok(h) || !shape_of(dx_desc, w_desc, c, dy_desc, &d)) return kBadParam;
  if (!run_ok("backward-data", algo, ws, ws_bytes)) return kExecutionFailed;
  backward_data(d, dy, w, scalar(alpha), scalar(beta), dx);
  return kSuccess;
}
FAKE_API int cudnnConvolutionBackwardFilter(Handle* h, const void* alpha, Tensor* x_desc, const float* x,
                                            Tensor* dy_desc, const float* dy, Conv* c, int algo, void* ws,
                                            size_t ws_bytes, const void* beta, Filter* dw_desc, float* dw) {
  Shape d;
  if (!ok(h) || !shape_of(x_desc, dw_desc, c, dy_desc, &d)) return kBadParam;
  if (!run_ok("backward-filter", algo, ws, ws_bytes)) return kExecutionFailed;
  backward_filter(d, x, dy, scalar(alpha), scalar(beta), dw);
  return kSuccess;
}
// db[k] = alpha * sum of dy over n, h, w + beta * db[k]; db is [1, k, 1, 1].
FAKE_API int cudnnConvolutionBackwardBias(Handle* h, const void* alpha, Tensor* dy_desc, const float* dy,
                                          const void* beta, Tensor* db_desc, float* db) {
  if (!ok(h) || !ok(dy_desc) || !ok(db_desc)) return kBadParam;
  const Tensor& Y = *dy_desc;
  const Tensor& B = *db_desc;
  if (B.n != 1 || B.c != Y.c || B.h != 1 || B.w != 1) return kBadParam;
  for (int k = 0; k < Y.c; ++k) {
    double sum = 0.0;
    for (int n = 0; n < Y.n; ++n)
      for (int i = 0; i < Y.h * Y.w; ++i) sum += dy[(size_t(n) * Y.c + k) * Y.h * Y.w + i];
    blend(db, size_t(k), sum, scalar(alpha), scalar(beta));
  }
  return kSuccess;
}
