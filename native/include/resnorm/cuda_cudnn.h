/*
 * cuDNN as the reference and the baseline for the CUDA conv kernels (libresnorm_cuda).
 *
 * cuDNN is not needed to build or to load libresnorm_cuda: rn_cudnn_load opens cuDNN 9
 * (libcudnn.so.9 and its sub-libraries libcudnn_graph / _ops / _cnn.so.9) at run time
 * with dlopen and resolves the few legacy-API functions the conv needs. Until it has
 * succeeded every rn_cudnn_* op returns RN_STATUS_UNSUPPORTED. Nothing else in the
 * library changes when cuDNN is loaded, unless a context asks for it with
 * rn_cuda_context_set_conv_impl.
 *
 * The ops have the semantics, shapes and status codes of rn_cuda_conv2d_forward,
 * rn_cuda_conv2d_backward_data and rn_cuda_conv2d_backward_filter (conv2d.h: NCHW
 * float32, device pointers, enqueued on the context's stream). Math follows the
 * context: RN_CUDA_MATH_FP32 runs cuDNN with CUDNN_FMA_MATH (no TF32 tensor cores,
 * which CUDNN_DEFAULT_MATH allows for float data on sm_80+), RN_CUDA_MATH_TF32 with
 * CUDNN_DEFAULT_MATH. The desc's algo field is checked, not used: the first call
 * for a (shape, direction, math) times every cuDNN algorithm on the call's own buffers
 * (cudnnFind*AlgorithmEx, which waits for the device) and keeps the fastest for the
 * context; later calls only enqueue. Status codes: RN_STATUS_BAD_ARGUMENT for a bad
 * desc or pointer, RN_STATUS_UNSUPPORTED when cuDNN is not loaded, RN_STATUS_INTERNAL
 * when a cuDNN call fails (rn_cudnn_error() then names the call and cuDNN's status).
 */
#ifndef RESNORM_CUDA_CUDNN_H
#define RESNORM_CUDA_CUDNN_H

#include "resnorm/cuda.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Loads cuDNN 9: `path` names libcudnn.so.9 (a full path, or a name for the dynamic
 * linker's search); NULL means $RESNORM_CUDNN_LIB when set and not empty, else
 * "libcudnn.so.9". The sub-libraries are loaded from the directory libcudnn.so.9 was
 * found in. RN_STATUS_OK (also when already loaded: the first success stays), or
 * RN_STATUS_UNSUPPORTED with the reason in rn_cudnn_error() (not found, a library or a
 * function missing, not cuDNN 9). Never crashes without cuDNN or without a GPU; safe to
 * call from several threads; a failed call may be retried with another path. */
RN_API int rn_cudnn_load(const char* path);
/* 1 once rn_cudnn_load succeeded, else 0. */
RN_API int rn_cudnn_loaded(void);
/* The last cuDNN-related error of the process, as text ("" when there was none): why
 * rn_cudnn_load failed, or which cuDNN call failed with which status. The pointer stays
 * valid on the calling thread until its next rn_cudnn_error call. */
RN_API const char* rn_cudnn_error(void);
/* cudnnGetVersion() (91900 for 9.19.0), 0 when not loaded. */
RN_API int rn_cudnn_version(void);
/* The file libcudnn.so.9 was loaded from, "" when not loaded. */
RN_API const char* rn_cudnn_library_path(void);
/* One line for logs, "" when not loaded: version, the cudart cuDNN carries, the file,
 * and how many of the functions the shim exported (the rest came from the
 * sub-libraries). */
RN_API const char* rn_cudnn_info(void);

RN_API int rn_cudnn_conv2d_forward(rn_cuda_context* ctx, const rn_conv2d_desc* d, const float* x, const float* w,
                                   const float* bias, float* y);
RN_API int rn_cudnn_conv2d_backward_data(rn_cuda_context* ctx, const rn_conv2d_desc* d, const float* dy,
                                         const float* w, float* dx);
/* dbias (may be NULL) with cudnnConvolutionBackwardBias. */
RN_API int rn_cudnn_conv2d_backward_filter(rn_cuda_context* ctx, const rn_conv2d_desc* d, const float* x,
                                           const float* dy, float* dw, float* dbias);

/* The algorithm the context chose for (d, direction 0 fwd / 1 data / 2 filter) in its
 * current math mode, once an op of that direction has run on that shape. */
typedef struct rn_cudnn_algo_info {
  int32_t algo;           /* cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t value */
  int32_t math_type;      /* cudnnMathType_t the algorithm runs with */
  int32_t deterministic;  /* 1 when cuDNN reports it bit-reproducible */
  float find_ms;          /* its time in the search */
  size_t workspace_bytes;
  char name[40];          /* "IMPLICIT_PRECOMP_GEMM", "WINOGRAD_NONFUSED", "ALGO_1", ... */
} rn_cudnn_algo_info;
/* RN_STATUS_OK, RN_STATUS_BAD_ARGUMENT (NULL, bad desc or direction), or
 * RN_STATUS_UNSUPPORTED when cuDNN is not loaded or nothing was chosen yet. */
RN_API int rn_cudnn_conv2d_algo(rn_cuda_context* ctx, const rn_conv2d_desc* d, int32_t direction,
                                rn_cudnn_algo_info* out);

/* Which implementation rn_cuda_conv2d_forward, rn_cuda_conv2d_backward_data and
 * rn_cuda_conv2d_backward_filter use on a context (default NATIVE). With CUDNN those
 * three run the rn_cudnn_* ops above; the fused-epilogue, crelu-input and weight-norm
 * convs have no cuDNN counterpart and stay native, as does
 * rn_cuda_conv2d_workspace_bytes (cuDNN takes what its algorithm needs from the
 * context's workspace). RN_STATUS_UNSUPPORTED for CUDNN while cuDNN is not loaded. */
typedef enum rn_cuda_conv_impl {
  RN_CUDA_CONV_IMPL_NATIVE = 0, /* resnorm's implicit-GEMM kernels */
  RN_CUDA_CONV_IMPL_CUDNN = 1   /* cuDNN's fastest algorithm per shape */
} rn_cuda_conv_impl;
RN_API int rn_cuda_context_set_conv_impl(rn_cuda_context* ctx, int32_t impl);
RN_API int rn_cuda_context_conv_impl(const rn_cuda_context* ctx);

#ifdef __cplusplus
}
#endif
#endif
