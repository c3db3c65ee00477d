// CUDA backend: devices, the context (stream, device error word, pool, workspace),
// plain device memory and copies. The ops are in one .cu per family (conv2d.cu, ...).
#include <cstdio>
#include <cstring>

#include "cuda_impl.cuh"

namespace rn::cuda {

int workspace(rn_cuda_context* ctx, size_t bytes, void** out) {
  if (bytes <= ctx->workspace_capacity && ctx->workspace != nullptr) {
    *out = ctx->workspace;
    return RN_STATUS_OK;
  }
  // Grow by at least half, in MiB steps, so a sequence of slightly larger requests
  // does not reallocate each time.
  size_t want = bytes > ctx->workspace_capacity + ctx->workspace_capacity / 2
                    ? bytes
                    : ctx->workspace_capacity + ctx->workspace_capacity / 2;
  want = (want + (size_t(1) << 20) - 1) & ~((size_t(1) << 20) - 1);
  // While a graph is recorded the stream cannot be waited for, and a new block would leave
  // the recorded kernels pointing at a freed one.
  if (ctx->recording) return RN_STATUS_UNSUPPORTED;
  if (ctx->workspace != nullptr) {
    RN_CUDA_TRY(cudaStreamSynchronize(ctx->stream));  // queued kernels may still use it
    cudaFree(ctx->workspace);
    ctx->workspace = nullptr;
    ctx->workspace_capacity = 0;
  }
  ++ctx->workspace_generation;  // recorded graphs are stale from here on, even if p == the old block
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, want);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    return status_of(e);
  }
  ctx->workspace = p;
  ctx->workspace_capacity = want;
  *out = p;
  return RN_STATUS_OK;
}

}  // namespace rn::cuda

using rn::cuda::guarded;
using rn::cuda::status_of;

extern "C" {

// Number of CUDA devices, or -(cudaError_t) when the runtime cannot start
// (no driver, no device): never a crash on a machine without a GPU.
RN_API int rn_cuda_device_count(void) {
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) (void)cudaGetLastError();
  return err == cudaSuccess ? count : -static_cast<int>(err);
}

RN_API int rn_cuda_runtime_version(void) {
  int v = 0;
  return cudaRuntimeGetVersion(&v) == cudaSuccess ? v : -1;
}

RN_API int rn_cuda_context_create(int32_t device, rn_cuda_context** out) {
  if (out == nullptr) return RN_STATUS_BAD_ARGUMENT;
  *out = nullptr;
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    (void)cudaGetLastError();
    return RN_STATUS_UNSUPPORTED;
  }
  if (device < 0 || device >= count) return RN_STATUS_UNSUPPORTED;
  rn_cuda_context* ctx = new (std::nothrow) rn_cuda_context();
  if (ctx == nullptr) return RN_STATUS_OUT_OF_MEMORY;
  auto fail = [&](cudaError_t e) {
    (void)cudaGetLastError();
    rn_cuda_context_destroy(ctx);
    return status_of(e) == RN_STATUS_OK ? int(RN_STATUS_INTERNAL) : status_of(e);
  };
  ctx->device = device;
  cudaError_t e = cudaSetDevice(device);
  if (e != cudaSuccess) return fail(e);
  cudaDeviceProp prop;
  if ((e = cudaGetDeviceProperties(&prop, device)) != cudaSuccess) return fail(e);
  ctx->sm_count = prop.multiProcessorCount > 0 ? prop.multiProcessorCount : 1;
  ctx->cc_major = prop.major;
  ctx->cc_minor = prop.minor;
  std::snprintf(ctx->name, sizeof ctx->name, "%s", prop.name);
  if ((e = cudaStreamCreateWithFlags(&ctx->stream, cudaStreamNonBlocking)) != cudaSuccess) return fail(e);
  if ((e = cudaMalloc(&ctx->error_word, sizeof(unsigned int))) != cudaSuccess) return fail(e);
  if ((e = cudaMallocHost(&ctx->error_host, sizeof(unsigned int))) != cudaSuccess) return fail(e);
  *ctx->error_host = 0;
  if ((e = cudaMemsetAsync(ctx->error_word, 0, sizeof(unsigned int), ctx->stream)) != cudaSuccess) return fail(e);
  if ((e = cudaStreamSynchronize(ctx->stream)) != cudaSuccess) return fail(e);
  *out = ctx;
  return RN_STATUS_OK;
}

RN_API void rn_cuda_context_destroy(rn_cuda_context* ctx) {
  if (ctx == nullptr) return;
  cudaSetDevice(ctx->device);
  if (ctx->stream) cudaStreamSynchronize(ctx->stream);
  if (ctx->cudnn_release) ctx->cudnn_release(ctx);  // before the stream it was bound to goes
  if (ctx->workspace) cudaFree(ctx->workspace);
  if (ctx->pool) cudaFree(ctx->pool);
  if (ctx->error_word) cudaFree(ctx->error_word);
  if (ctx->error_host) cudaFreeHost(ctx->error_host);
  if (ctx->stream) cudaStreamDestroy(ctx->stream);
  (void)cudaGetLastError();
  delete ctx;
}

RN_API int rn_cuda_context_device(const rn_cuda_context* ctx) { return ctx ? ctx->device : -1; }
RN_API void* rn_cuda_context_stream(const rn_cuda_context* ctx) {
  return ctx ? static_cast<void*>(ctx->stream) : nullptr;
}
RN_API const char* rn_cuda_context_device_name(const rn_cuda_context* ctx) { return ctx ? ctx->name : ""; }

RN_API int rn_cuda_context_set_math(rn_cuda_context* ctx, int32_t math) {
  if (ctx == nullptr || (math != RN_CUDA_MATH_FP32 && math != RN_CUDA_MATH_TF32)) return RN_STATUS_BAD_ARGUMENT;
  if (math == RN_CUDA_MATH_TF32 && ctx->cc_major < 8) return RN_STATUS_UNSUPPORTED;
  std::lock_guard<std::mutex> hold(ctx->lock);
  ctx->math = math;
  return RN_STATUS_OK;
}

RN_API int rn_cuda_context_math(const rn_cuda_context* ctx) { return ctx ? ctx->math : -1; }

RN_API int rn_cuda_synchronize(rn_cuda_context* ctx) {
  return guarded(ctx, [&] {
    if (ctx->recording) return int(RN_STATUS_UNSUPPORTED);  // a recorded stream cannot be waited for
    RN_CUDA_TRY(cudaStreamSynchronize(ctx->stream));
    RN_CUDA_TRY(cudaMemcpyAsync(ctx->error_host, ctx->error_word, sizeof(unsigned int), cudaMemcpyDeviceToHost,
                                ctx->stream));
    RN_CUDA_TRY(cudaStreamSynchronize(ctx->stream));
    if (*ctx->error_host == 0) return int(RN_STATUS_OK);
    *ctx->error_host = 0;
    RN_CUDA_TRY(cudaMemsetAsync(ctx->error_word, 0, sizeof(unsigned int), ctx->stream));
    RN_CUDA_TRY(cudaStreamSynchronize(ctx->stream));
    return int(RN_STATUS_BAD_ARGUMENT);
  });
}

RN_API int rn_cuda_pool_reserve(rn_cuda_context* ctx, size_t bytes) {
  return guarded(ctx, [&] {
    if (ctx->pool) {
      RN_CUDA_TRY(cudaStreamSynchronize(ctx->stream));
      cudaFree(ctx->pool);
      ctx->pool = nullptr;
    }
    ctx->pool_capacity = ctx->pool_used = 0;
    if (bytes == 0) return int(RN_STATUS_OK);
    void* p = nullptr;
    cudaError_t e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      return status_of(e);
    }
    ctx->pool = static_cast<char*>(p);
    ctx->pool_capacity = bytes;
    return int(RN_STATUS_OK);
  });
}

RN_API int rn_cuda_pool_alloc(rn_cuda_context* ctx, size_t bytes, void** out) {
  if (out == nullptr) return RN_STATUS_BAD_ARGUMENT;
  *out = nullptr;
  return guarded(ctx, [&] {
    const size_t at = (ctx->pool_used + 255) & ~size_t(255);
    if (ctx->pool == nullptr || at > ctx->pool_capacity || bytes > ctx->pool_capacity - at)
      return int(RN_STATUS_OUT_OF_MEMORY);
    *out = ctx->pool + at;
    ctx->pool_used = at + bytes;
    return int(RN_STATUS_OK);
  });
}

RN_API void rn_cuda_pool_reset(rn_cuda_context* ctx) {
  if (ctx == nullptr) return;
  std::lock_guard<std::mutex> hold(ctx->lock);
  ctx->pool_used = 0;
}

RN_API size_t rn_cuda_pool_capacity(const rn_cuda_context* ctx) { return ctx ? ctx->pool_capacity : 0; }
RN_API size_t rn_cuda_pool_used(const rn_cuda_context* ctx) { return ctx ? ctx->pool_used : 0; }

RN_API int rn_cuda_workspace_reserve(rn_cuda_context* ctx, size_t bytes) {
  return guarded(ctx, [&] {
    void* p;
    return rn::cuda::workspace(ctx, bytes, &p);
  });
}

RN_API size_t rn_cuda_workspace_bytes(const rn_cuda_context* ctx) { return ctx ? ctx->workspace_capacity : 0; }

RN_API int rn_cuda_malloc(rn_cuda_context* ctx, size_t bytes, void** out) {
  if (out == nullptr) return RN_STATUS_BAD_ARGUMENT;
  *out = nullptr;
  return guarded(ctx, [&] {
    cudaError_t e = cudaMalloc(out, bytes > 0 ? bytes : 1);
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      *out = nullptr;
    }
    return status_of(e);
  });
}

RN_API void rn_cuda_free(rn_cuda_context* ctx, void* p) {
  if (ctx == nullptr || p == nullptr) return;
  guarded(ctx, [&] {
    cudaStreamSynchronize(ctx->stream);
    cudaFree(p);
    return int(RN_STATUS_OK);
  });
}

RN_API int rn_cuda_copy_to_device(rn_cuda_context* ctx, void* dst, const void* src, size_t bytes) {
  if (bytes > 0 && (dst == nullptr || src == nullptr)) return RN_STATUS_BAD_ARGUMENT;
  return guarded(ctx, [&] {
    if (ctx->recording) return int(RN_STATUS_UNSUPPORTED);  // synchronous: not while recording
    if (bytes == 0) return int(RN_STATUS_OK);
    RN_CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, ctx->stream));
    RN_CUDA_TRY(cudaStreamSynchronize(ctx->stream));
    return int(RN_STATUS_OK);
  });
}

RN_API int rn_cuda_copy_to_host(rn_cuda_context* ctx, void* dst, const void* src, size_t bytes) {
  if (bytes > 0 && (dst == nullptr || src == nullptr)) return RN_STATUS_BAD_ARGUMENT;
  return guarded(ctx, [&] {
    if (ctx->recording) return int(RN_STATUS_UNSUPPORTED);  // synchronous: not while recording
    if (bytes == 0) return int(RN_STATUS_OK);
    RN_CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, ctx->stream));
    RN_CUDA_TRY(cudaStreamSynchronize(ctx->stream));
    return int(RN_STATUS_OK);
  });
}

RN_API int rn_cuda_copy_device(rn_cuda_context* ctx, void* dst, const void* src, size_t bytes) {
  if (bytes > 0 && (dst == nullptr || src == nullptr)) return RN_STATUS_BAD_ARGUMENT;
  return guarded(ctx, [&] {
    if (bytes == 0) return int(RN_STATUS_OK);
    RN_CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, ctx->stream));
    return int(RN_STATUS_OK);
  });
}

RN_API int rn_cuda_memset(rn_cuda_context* ctx, void* dst, int value, size_t bytes) {
  if (bytes > 0 && dst == nullptr) return RN_STATUS_BAD_ARGUMENT;
  return guarded(ctx, [&] {
    if (bytes == 0) return int(RN_STATUS_OK);
    RN_CUDA_TRY(cudaMemsetAsync(dst, value, bytes, ctx->stream));
    return int(RN_STATUS_OK);
  });
}

}  // extern "C"
