// conv2d with cuDNN (loaded at run time, cudnn_load.cu): the reference and the speed
// baseline for the implicit-GEMM kernels of conv2d.cu, and an alternative
// implementation a context can switch its plain convs to (rn_cuda_context_set_conv_impl).
//
// Per context, made by its first rn_cudnn_* call: one cuDNN handle bound to the
// context's stream, and per (shape, math mode) a plan: the tensor / filter / convolution
// descriptors and, per direction, the algorithm chosen. The choice is cuDNN's own
// measurement: the first call of a direction runs cudnnFind*AlgorithmEx on the call's
// buffers (every algorithm, timed, the fastest that succeeded first) with a temporary
// workspace as large as the hungriest algorithm asks for (up to kFindWorkspaceCap and half
// the free memory), and remembers the winner. Later calls take the winner's workspace
// from the context's workspace and only enqueue. Everything runs under the context's
// lock (guarded), so the per-context state needs no lock of its own.
#include <array>
#include <cstdio>
#include <map>
#include <memory>
#include <vector>

#include "conv2d.cuh"
#include "cuda_impl.cuh"
#include "cudnn_api.cuh"
#include "resnorm/cuda_cudnn.h"

namespace rn::cuda::cudnn {

namespace {

constexpr size_t kFindWorkspaceCap = size_t(1) << 30;
constexpr int kDirections = 3;  // 0 forward, 1 backward-data, 2 backward-filter

struct Choice {
  bool chosen = false;
  int algo = 0;
  int math_type = kFmaMath;
  int deterministic = 0;
  float ms = 0.0f;
  size_t workspace = 0;
};

// One shape in one math mode.
struct Plan {
  TensorDesc x = nullptr, y = nullptr, bias = nullptr;  // bias: [1, k, 1, 1]
  FilterDesc w = nullptr;
  ConvDesc conv = nullptr;
  Choice choice[kDirections];
};

// n, c, h, w, k, r, s, stride_h, stride_w, pad_h, pad_w, math
using Key = std::array<int32_t, 12>;

struct State {
  Handle handle = nullptr;
  std::map<Key, Plan> plans;
};

Key key_of(const rn_conv2d_desc& d, int math) {
  return Key{d.n, d.c, d.h, d.w, d.k, d.r, d.s, d.stride_h, d.stride_w, d.pad_h, d.pad_w, math};
}

// The math type a context's mode asks cuDNN for: strict FP32 must forbid tensor cores
// explicitly with FMA; TF32 is what CUDNN_DEFAULT_MATH allows for float data on sm_80+
// (PyTorch and Paddle use the same pair for float convs with TF32 off / on).
int math_type_for(int math) { return math == RN_CUDA_MATH_TF32 ? kDefaultMath : kFmaMath; }

void destroy_plan(const Api& a, Plan& p) {
  if (p.x) a.DestroyTensorDescriptor(p.x);
  if (p.y) a.DestroyTensorDescriptor(p.y);
  if (p.bias) a.DestroyTensorDescriptor(p.bias);
  if (p.w) a.DestroyFilterDescriptor(p.w);
  if (p.conv) a.DestroyConvolutionDescriptor(p.conv);
  p = Plan{};
}

// rn_cuda_context_destroy's hook (the stream is idle by then).
void release(rn_cuda_context* ctx) {
  State* s = static_cast<State*>(ctx->cudnn);
  const Api* a = api();
  if (s != nullptr && a != nullptr) {
    for (auto& entry : s->plans) destroy_plan(*a, entry.second);
    if (s->handle) a->Destroy(s->handle);
  }
  delete s;
  ctx->cudnn = nullptr;
  ctx->cudnn_release = nullptr;
}

int state_of(rn_cuda_context* ctx, const Api& a, State** out) {
  if (ctx->cudnn == nullptr) {
    auto s = std::make_unique<State>();
    if (Status st = a.Create(&s->handle); st != kSuccess) return fail("cudnnCreate", st);
    if (Status st = a.SetStream(s->handle, ctx->stream); st != kSuccess) {
      a.Destroy(s->handle);
      return fail("cudnnSetStream", st);
    }
    ctx->cudnn = s.release();
    ctx->cudnn_release = release;
  }
  *out = static_cast<State*>(ctx->cudnn);
  return RN_STATUS_OK;
}

int make_plan(const Api& a, const rn_conv2d_desc& d, int math, Plan& p) {
  Status st;
  if ((st = a.CreateTensorDescriptor(&p.x)) != kSuccess) return fail("cudnnCreateTensorDescriptor", st);
  if ((st = a.CreateTensorDescriptor(&p.y)) != kSuccess) return fail("cudnnCreateTensorDescriptor", st);
  if ((st = a.CreateTensorDescriptor(&p.bias)) != kSuccess) return fail("cudnnCreateTensorDescriptor", st);
  if ((st = a.CreateFilterDescriptor(&p.w)) != kSuccess) return fail("cudnnCreateFilterDescriptor", st);
  if ((st = a.CreateConvolutionDescriptor(&p.conv)) != kSuccess) return fail("cudnnCreateConvolutionDescriptor", st);
  if ((st = a.SetTensor4dDescriptor(p.x, kTensorNchw, kDataFloat, d.n, d.c, d.h, d.w)) != kSuccess)
    return fail("cudnnSetTensor4dDescriptor(x)", st);
  if ((st = a.SetFilter4dDescriptor(p.w, kDataFloat, kTensorNchw, d.k, d.c, d.r, d.s)) != kSuccess)
    return fail("cudnnSetFilter4dDescriptor", st);
  // Cross-correlation (every framework's "convolution", conv2d.h's), no dilation, float math.
  if ((st = a.SetConvolution2dDescriptor(p.conv, d.pad_h, d.pad_w, d.stride_h, d.stride_w, 1, 1, kCrossCorrelation,
                                         kDataFloat)) != kSuccess)
    return fail("cudnnSetConvolution2dDescriptor", st);
  if ((st = a.SetConvolutionMathType(p.conv, math_type_for(math))) != kSuccess)
    return fail("cudnnSetConvolutionMathType", st);
  // cuDNN's output shape must be the desc's: a cheap check that the descriptors say
  // what conv2d.h means.
  int n = 0, k = 0, p_out = 0, q_out = 0;
  if ((st = a.GetConvolution2dForwardOutputDim(p.conv, p.x, p.w, &n, &k, &p_out, &q_out)) != kSuccess)
    return fail("cudnnGetConvolution2dForwardOutputDim", st);
  if (n != d.n || k != d.k || p_out != d.p || q_out != d.q) {
    set_error("cuDNN's output shape [%d, %d, %d, %d] is not the desc's [%d, %d, %d, %d]", n, k, p_out, q_out, d.n,
              d.k, d.p, d.q);
    return RN_STATUS_INTERNAL;
  }
  if ((st = a.SetTensor4dDescriptor(p.y, kTensorNchw, kDataFloat, d.n, d.k, d.p, d.q)) != kSuccess)
    return fail("cudnnSetTensor4dDescriptor(y)", st);
  if ((st = a.SetTensor4dDescriptor(p.bias, kTensorNchw, kDataFloat, 1, d.k, 1, 1)) != kSuccess)
    return fail("cudnnSetTensor4dDescriptor(bias)", st);
  return RN_STATUS_OK;
}

int plan_of(const Api& a, State& s, const rn_conv2d_desc& d, int math, Plan** out) {
  const Key key = key_of(d, math);
  auto it = s.plans.find(key);
  if (it == s.plans.end()) {
    Plan p;
    if (int st = make_plan(a, d, math, p); st != RN_STATUS_OK) {
      destroy_plan(a, p);
      return st;
    }
    it = s.plans.emplace(key, p).first;
  }
  *out = &it->second;
  return RN_STATUS_OK;
}

// Workspace for the search: the most any algorithm asks for, within the cap.
template <class SizeOf>
size_t find_workspace_bytes(int algorithms, const SizeOf& size_of) {
  size_t limit = kFindWorkspaceCap, free_bytes = 0, total_bytes = 0;
  if (cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) {
    if (free_bytes / 2 < limit) limit = free_bytes / 2;
  } else {
    (void)cudaGetLastError();
  }
  size_t most = 0;
  for (int algo = 0; algo < algorithms; ++algo) {
    size_t bytes = 0;
    // Algorithms that do not support the shape answer with an error: skipped.
    if (size_of(algo, &bytes) == kSuccess && bytes <= limit && bytes > most) most = bytes;
  }
  return most;
}

// Runs cuDNN's search for one direction and records the fastest usable algorithm.
// find(requested, &returned, results, workspace, bytes) is the direction's Find*Ex.
template <class SizeOf, class Find>
int search(const char* find_name, int algorithms, int math, const SizeOf& size_of, const Find& find, Choice& out) {
  if (algorithms < 1) algorithms = 1;
  size_t bytes = find_workspace_bytes(algorithms, size_of);
  void* workspace = nullptr;
  if (bytes > 0 && cudaMalloc(&workspace, bytes) != cudaSuccess) {
    (void)cudaGetLastError();  // search with none: the algorithms that need none still compete
    workspace = nullptr;
    bytes = 0;
  }
  std::vector<AlgoPerf> results(static_cast<size_t>(algorithms));
  int returned = 0;
  const Status st = find(algorithms, &returned, results.data(), workspace, bytes);
  if (workspace != nullptr) cudaFree(workspace);  // Find*Ex blocks until its runs are done
  if (st != kSuccess) return fail(find_name, st);
  // Sorted by time, failures last. In FP32 mode the descriptor said FMA, so no result
  // should use tensor cores; skip one that claims to anyway.
  for (int i = 0; i < returned && i < algorithms; ++i) {
    const AlgoPerf& r = results[size_t(i)];
    if (r.status != kSuccess) continue;
    if (math != RN_CUDA_MATH_TF32 && (r.math_type == kTensorOpMath || r.math_type == kTensorOpMathAllowConversion))
      continue;
    out.chosen = true;
    out.algo = r.algo;
    // FP32 runs with the FMA restriction it was timed under; TF32 with what cuDNN reports.
    out.math_type = math == RN_CUDA_MATH_TF32 ? r.math_type : kFmaMath;
    out.deterministic = r.determinism == kDeterministic ? 1 : 0;
    out.ms = r.time;
    out.workspace = r.memory;
    return RN_STATUS_OK;
  }
  set_error("%s: none of the %d algorithms cuDNN returned ran (workspace offered: %zu bytes)", find_name, returned,
            bytes);
  return RN_STATUS_INTERNAL;
}

// The context's state, the shape's plan, and the direction's choice (searched once).
struct Setup {
  State* state = nullptr;
  Plan* plan = nullptr;
  Choice* choice = nullptr;
  void* workspace = nullptr;
};

template <class Search>
int setup(rn_cuda_context* ctx, const Api& a, const rn_conv2d_desc& d, int direction, const Search& run_search,
          Setup& s) {
  if (int st = state_of(ctx, a, &s.state); st != RN_STATUS_OK) return st;
  if (int st = plan_of(a, *s.state, d, ctx->math, &s.plan); st != RN_STATUS_OK) return st;
  s.choice = &s.plan->choice[direction];
  if (!s.choice->chosen) {
    // The descriptor's math type may have been set to another direction's choice.
    if (Status st = a.SetConvolutionMathType(s.plan->conv, math_type_for(ctx->math)); st != kSuccess)
      return fail("cudnnSetConvolutionMathType", st);
    if (int st = run_search(*s.state, *s.plan, *s.choice); st != RN_STATUS_OK) return st;
  }
  if (Status st = a.SetConvolutionMathType(s.plan->conv, s.choice->math_type); st != kSuccess)
    return fail("cudnnSetConvolutionMathType", st);
  if (s.choice->workspace > 0)
    if (int st = workspace(ctx, s.choice->workspace, &s.workspace); st != RN_STATUS_OK) return st;
  return RN_STATUS_OK;
}

const float kOne = 1.0f, kZero = 0.0f;

int forward_locked(rn_cuda_context* ctx, const rn_conv2d_desc& d, const float* x, const float* w, const float* bias,
                   float* y) {
  const Api& a = *api();
  Setup s;
  auto run_search = [&](State& state, Plan& p, Choice& c) {
    int count = 0;
    if (Status st = a.GetConvolutionForwardAlgorithmMaxCount(state.handle, &count); st != kSuccess)
      return fail("cudnnGetConvolutionForwardAlgorithmMaxCount", st);
    return search(
        "cudnnFindConvolutionForwardAlgorithmEx", count, ctx->math,
        [&](int algo, size_t* bytes) {
          return a.GetConvolutionForwardWorkspaceSize(state.handle, p.x, p.w, p.conv, p.y, algo, bytes);
        },
        [&](int requested, int* returned, AlgoPerf* results, void* ws, size_t ws_bytes) {
          return a.FindConvolutionForwardAlgorithmEx(state.handle, p.x, x, p.w, w, p.conv, p.y, y, requested,
                                                     returned, results, ws, ws_bytes);
        },
        c);
  };
  if (int st = setup(ctx, a, d, 0, run_search, s); st != RN_STATUS_OK) return st;
  const Plan& p = *s.plan;
  if (Status st = a.ConvolutionForward(s.state->handle, &kOne, p.x, x, p.w, w, p.conv, s.choice->algo, s.workspace,
                                       s.choice->workspace, &kZero, p.y, y);
      st != kSuccess)
    return fail("cudnnConvolutionForward", st);
  // y += bias[k], broadcast over n, p, q.
  if (bias != nullptr)
    if (Status st = a.AddTensor(s.state->handle, &kOne, p.bias, bias, &kOne, p.y, y); st != kSuccess)
      return fail("cudnnAddTensor", st);
  return RN_STATUS_OK;
}

int backward_data_locked(rn_cuda_context* ctx, const rn_conv2d_desc& d, const float* dy, const float* w, float* dx) {
  const Api& a = *api();
  Setup s;
  // For backward-data the "input" tensors are dy (y's shape) and w; dx has x's shape.
  auto run_search = [&](State& state, Plan& p, Choice& c) {
    int count = 0;
    if (Status st = a.GetConvolutionBackwardDataAlgorithmMaxCount(state.handle, &count); st != kSuccess)
      return fail("cudnnGetConvolutionBackwardDataAlgorithmMaxCount", st);
    return search(
        "cudnnFindConvolutionBackwardDataAlgorithmEx", count, ctx->math,
        [&](int algo, size_t* bytes) {
          return a.GetConvolutionBackwardDataWorkspaceSize(state.handle, p.w, p.y, p.conv, p.x, algo, bytes);
        },
        [&](int requested, int* returned, AlgoPerf* results, void* ws, size_t ws_bytes) {
          return a.FindConvolutionBackwardDataAlgorithmEx(state.handle, p.w, w, p.y, dy, p.conv, p.x, dx, requested,
                                                          returned, results, ws, ws_bytes);
        },
        c);
  };
  if (int st = setup(ctx, a, d, 1, run_search, s); st != RN_STATUS_OK) return st;
  const Plan& p = *s.plan;
  if (Status st = a.ConvolutionBackwardData(s.state->handle, &kOne, p.w, w, p.y, dy, p.conv, s.choice->algo,
                                            s.workspace, s.choice->workspace, &kZero, p.x, dx);
      st != kSuccess)
    return fail("cudnnConvolutionBackwardData", st);
  return RN_STATUS_OK;
}

int backward_filter_locked(rn_cuda_context* ctx, const rn_conv2d_desc& d, const float* x, const float* dy, float* dw,
                           float* dbias) {
  const Api& a = *api();
  Setup s;
  auto run_search = [&](State& state, Plan& p, Choice& c) {
    int count = 0;
    if (Status st = a.GetConvolutionBackwardFilterAlgorithmMaxCount(state.handle, &count); st != kSuccess)
      return fail("cudnnGetConvolutionBackwardFilterAlgorithmMaxCount", st);
    return search(
        "cudnnFindConvolutionBackwardFilterAlgorithmEx", count, ctx->math,
        [&](int algo, size_t* bytes) {
          return a.GetConvolutionBackwardFilterWorkspaceSize(state.handle, p.x, p.y, p.conv, p.w, algo, bytes);
        },
        [&](int requested, int* returned, AlgoPerf* results, void* ws, size_t ws_bytes) {
          return a.FindConvolutionBackwardFilterAlgorithmEx(state.handle, p.x, x, p.y, dy, p.conv, p.w, dw,
                                                            requested, returned, results, ws, ws_bytes);
        },
        c);
  };
  if (int st = setup(ctx, a, d, 2, run_search, s); st != RN_STATUS_OK) return st;
  const Plan& p = *s.plan;
  if (Status st = a.ConvolutionBackwardFilter(s.state->handle, &kOne, p.x, x, p.y, dy, p.conv, s.choice->algo,
                                              s.workspace, s.choice->workspace, &kZero, p.w, dw);
      st != kSuccess)
    return fail("cudnnConvolutionBackwardFilter", st);
  // dbias[k] = sum of dy over n, p, q.
  if (dbias != nullptr)
    if (Status st = a.ConvolutionBackwardBias(s.state->handle, &kOne, p.y, dy, &kZero, p.bias, dbias); st != kSuccess)
      return fail("cudnnConvolutionBackwardBias", st);
  return RN_STATUS_OK;
}

const ConvRoutes kCudnnRoutes{forward_locked, backward_data_locked, backward_filter_locked};

const char* algo_name(int direction, int algo) {
  auto pick = [&](const auto& names) -> const char* {
    const int count = int(sizeof names / sizeof names[0]);
    return algo >= 0 && algo < count ? names[algo] : "?";
  };
  if (direction == 0) return pick(kForwardAlgoNames);
  if (direction == 1) return pick(kBackwardDataAlgoNames);
  return pick(kBackwardFilterAlgoNames);
}

}  // namespace

}  // namespace rn::cuda::cudnn

namespace cudnn = rn::cuda::cudnn;
namespace conv = rn::cuda::conv;
using rn::cuda::guarded;

extern "C" {

RN_API int rn_cudnn_conv2d_forward(rn_cuda_context* ctx, const rn_conv2d_desc* d, const float* x, const float* w,
                                   const float* bias, float* y) {
  if (int st = conv::check(d); st != RN_STATUS_OK) return st;
  if (!x || !w || !y) return RN_STATUS_BAD_ARGUMENT;
  if (cudnn::api() == nullptr) return cudnn::not_loaded();
  return guarded(ctx, [&] { return cudnn::forward_locked(ctx, *d, x, w, bias, y); });
}

RN_API int rn_cudnn_conv2d_backward_data(rn_cuda_context* ctx, const rn_conv2d_desc* d, const float* dy,
                                         const float* w, float* dx) {
  if (int st = conv::check(d); st != RN_STATUS_OK) return st;
  if (!dy || !w || !dx) return RN_STATUS_BAD_ARGUMENT;
  if (cudnn::api() == nullptr) return cudnn::not_loaded();
  return guarded(ctx, [&] { return cudnn::backward_data_locked(ctx, *d, dy, w, dx); });
}

RN_API int rn_cudnn_conv2d_backward_filter(rn_cuda_context* ctx, const rn_conv2d_desc* d, const float* x,
                                           const float* dy, float* dw, float* dbias) {
  if (int st = conv::check(d); st != RN_STATUS_OK) return st;
  if (!x || !dy || !dw) return RN_STATUS_BAD_ARGUMENT;
  if (cudnn::api() == nullptr) return cudnn::not_loaded();
  return guarded(ctx, [&] { return cudnn::backward_filter_locked(ctx, *d, x, dy, dw, dbias); });
}

RN_API int rn_cudnn_conv2d_algo(rn_cuda_context* ctx, const rn_conv2d_desc* d, int32_t direction,
                                rn_cudnn_algo_info* out) {
  if (out == nullptr || direction < 0 || direction >= cudnn::kDirections) return RN_STATUS_BAD_ARGUMENT;
  *out = rn_cudnn_algo_info{};
  if (int st = conv::check(d); st != RN_STATUS_OK) return st;
  if (cudnn::api() == nullptr) return cudnn::not_loaded();
  return guarded(ctx, [&] {
    const auto* state = static_cast<const cudnn::State*>(ctx->cudnn);
    if (state == nullptr) return int(RN_STATUS_UNSUPPORTED);
    auto it = state->plans.find(cudnn::key_of(*d, ctx->math));
    if (it == state->plans.end() || !it->second.choice[direction].chosen) return int(RN_STATUS_UNSUPPORTED);
    const cudnn::Choice& c = it->second.choice[direction];
    out->algo = c.algo;
    out->math_type = c.math_type;
    out->deterministic = c.deterministic;
    out->find_ms = c.ms;
    out->workspace_bytes = c.workspace;
    std::snprintf(out->name, sizeof out->name, "%s", cudnn::algo_name(direction, c.algo));
    return int(RN_STATUS_OK);
  });
}

RN_API int rn_cuda_context_set_conv_impl(rn_cuda_context* ctx, int32_t impl) {
  if (ctx == nullptr || (impl != RN_CUDA_CONV_IMPL_NATIVE && impl != RN_CUDA_CONV_IMPL_CUDNN))
    return RN_STATUS_BAD_ARGUMENT;
  if (impl == RN_CUDA_CONV_IMPL_CUDNN && cudnn::api() == nullptr) return cudnn::not_loaded();
  std::lock_guard<std::mutex> hold(ctx->lock);
  ctx->conv_routes = impl == RN_CUDA_CONV_IMPL_CUDNN ? &cudnn::kCudnnRoutes : nullptr;
  return RN_STATUS_OK;
}

RN_API int rn_cuda_context_conv_impl(const rn_cuda_context* ctx) {
  if (ctx == nullptr) return -1;
  return ctx->conv_routes != nullptr ? RN_CUDA_CONV_IMPL_CUDNN : RN_CUDA_CONV_IMPL_NATIVE;
}

}  // extern "C"
