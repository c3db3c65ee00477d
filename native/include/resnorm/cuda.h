/*
 * resnorm CUDA backend: the op set of the CPU API (conv2d.h, batchnorm.h, ...) on
 * device memory, in libresnorm_cuda (built with -DRESNORM_CUDA=ON).
 *
 * Every rn_cuda_* op has the semantics, shapes, argument order and status codes of
 * the CPU op of the same name (rn_cuda_conv2d_forward <-> rn_conv2d_forward), with:
 *   - an rn_cuda_context instead of an rn_context;
 *   - every tensor pointer a DEVICE pointer, including the scale/bias pointers inside
 *     rn_conv2d_epilogue, and the outputs that are single numbers (the loss, the top-k
 *     count): they stay on the device so a training step never waits for the GPU.
 *     Descriptors and parameter structs (rn_conv2d_desc, rn_conv2d_epilogue itself,
 *     rn_sgd_params) are host memory, read during the call;
 *   - asynchrony: an op enqueues its kernels on the context's one stream and returns.
 *     Argument checks that need only the arguments (sizes, null pointers, activation
 *     codes) happen at the call and give RN_STATUS_BAD_ARGUMENT before anything is
 *     enqueued, as on the CPU. Every launch is checked (cudaGetLastError): a failed
 *     launch gives RN_STATUS_INTERNAL (RN_STATUS_OUT_OF_MEMORY when allocation failed).
 *     Checks that depend on data in device memory (a filter of zero norm in the
 *     weight-normalized conv, an argmax outside its plane, a label outside
 *     [0, classes)) cannot be made without a stall: the kernel records them in the
 *     context's device-side error word (outputs are then NaN or partly written, never
 *     written out of bounds) and the next rn_cuda_synchronize returns
 *     RN_STATUS_BAD_ARGUMENT. Execution errors (an illegal address) also surface there.
 *   - conv2d: the desc's algo field is validated (a known rn_conv_algo) but the CUDA
 *     backend has one algorithm, an implicit GEMM over shared-memory tiles, for every
 *     shape and direction (RN_CONV_ALGO_WINOGRAD is accepted on any shape), unless the
 *     context was switched to cuDNN (cuda_cudnn.h).
 *
 * Math mode: FP32 (default) or TF32 tensor cores with float32 accumulation for the conv
 * and linear GEMMs (rn_cuda_context_set_math); reductions are accumulated in double.
 *
 * Memory: tensors live where the caller puts them. A graph allocates its tensors once
 * from the context's pool (one cudaMalloc; rn_cuda_pool_reserve, then bump allocations
 * with rn_cuda_pool_alloc, all released together by rn_cuda_pool_reset), and ops take
 * their scratch from the context's workspace, which grows to the largest request seen
 * (rn_cuda_workspace_reserve pre-sizes it so that no step allocates).
 *
 * One context may be used by several host threads: each call holds the context's lock.
 * cuDNN is neither needed to build nor linked: cuda_cudnn.h loads cuDNN 9 at run time
 * (dlopen) as the reference and speed baseline of the conv kernels, and can switch a
 * context's plain convs to it (rn_cuda_context_set_conv_impl); without that switch no
 * op here uses cuDNN.
 */
#ifndef RESNORM_CUDA_H
#define RESNORM_CUDA_H

#include "resnorm/activation.h"
#include "resnorm/context.h"
#include "resnorm/conv2d.h"
#include "resnorm/sgd.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rn_cuda_context rn_cuda_context;

typedef enum rn_cuda_math {
  RN_CUDA_MATH_FP32 = 0, /* plain float32 FMA (default) */
  RN_CUDA_MATH_TF32 = 1  /* conv / linear GEMMs on TF32 tensor cores, float32 accumulation */
} rn_cuda_math;

/* Number of CUDA devices, or -(cudaError_t) when the runtime cannot start (no driver,
 * no device): never a crash on a machine without a GPU. */
RN_API int rn_cuda_device_count(void);
RN_API int rn_cuda_runtime_version(void);

/* Creates a context on `device` (one stream, the device error word, an empty pool and
 * workspace) into *out. RN_STATUS_UNSUPPORTED when there is no such device (or no CUDA
 * driver), RN_STATUS_OUT_OF_MEMORY, RN_STATUS_BAD_ARGUMENT for out == NULL. Makes
 * `device` current on the calling thread (every call makes it current again). */
RN_API int rn_cuda_context_create(int32_t device, rn_cuda_context** out);
/* Waits for the stream, then frees everything the context holds. NULL is a no-op. */
RN_API void rn_cuda_context_destroy(rn_cuda_context* ctx);
RN_API int rn_cuda_context_device(const rn_cuda_context* ctx);
/* The context's stream as a cudaStream_t (for a caller that adds its own work). */
RN_API void* rn_cuda_context_stream(const rn_cuda_context* ctx);
/* Device name ("NVIDIA H100 80GB HBM3"), or "" for a NULL context. */
RN_API const char* rn_cuda_context_device_name(const rn_cuda_context* ctx);
/* RN_CUDA_MATH_FP32 or RN_CUDA_MATH_TF32 (TF32 needs sm_80: RN_STATUS_UNSUPPORTED before). */
RN_API int rn_cuda_context_set_math(rn_cuda_context* ctx, int32_t math);
RN_API int rn_cuda_context_math(const rn_cuda_context* ctx);

/* Waits for every op enqueued on the context. Returns RN_STATUS_INTERNAL for an
 * execution error, RN_STATUS_BAD_ARGUMENT when a kernel recorded a data-dependent
 * argument error since the last call (the error word is then cleared), else OK. */
RN_API int rn_cuda_synchronize(rn_cuda_context* ctx);

/* The pool: one device block for a graph's tensors. reserve frees any previous block
 * (its allocations become invalid) and allocates `bytes`; alloc hands out 256-byte
 * aligned pieces (RN_STATUS_OUT_OF_MEMORY when the block is exhausted); reset makes the
 * whole block free again (previous pieces invalid). */
RN_API int rn_cuda_pool_reserve(rn_cuda_context* ctx, size_t bytes);
RN_API int rn_cuda_pool_alloc(rn_cuda_context* ctx, size_t bytes, void** out);
RN_API void rn_cuda_pool_reset(rn_cuda_context* ctx);
RN_API size_t rn_cuda_pool_capacity(const rn_cuda_context* ctx);
RN_API size_t rn_cuda_pool_used(const rn_cuda_context* ctx);

/* The op scratch: grows to the largest request (growing waits for the stream). */
RN_API int rn_cuda_workspace_reserve(rn_cuda_context* ctx, size_t bytes);
RN_API size_t rn_cuda_workspace_bytes(const rn_cuda_context* ctx);

/* Plain device memory outside the pool (tests, tools), and copies on the context's
 * stream. The host <-> device copies are synchronous (they return when done); the
 * device -> device copy and the memset are enqueued. */
RN_API int rn_cuda_malloc(rn_cuda_context* ctx, size_t bytes, void** out);
RN_API void rn_cuda_free(rn_cuda_context* ctx, void* p);
RN_API int rn_cuda_copy_to_device(rn_cuda_context* ctx, void* dst, const void* src, size_t bytes);
RN_API int rn_cuda_copy_to_host(rn_cuda_context* ctx, void* dst, const void* src, size_t bytes);
RN_API int rn_cuda_copy_device(rn_cuda_context* ctx, void* dst, const void* src, size_t bytes);
RN_API int rn_cuda_memset(rn_cuda_context* ctx, void* dst, int value, size_t bytes);

/* ------------------------------------------------------------------ CUDA graphs */
/* A whole step as one launch: between rn_cuda_graph_begin and rn_cuda_graph_end the ops
 * called on ctx (from the calling thread) are recorded into a graph instead of running
 * (CUDA stream capture); rn_cuda_graph_launch then enqueues the recorded kernels on the
 * context's stream with a single launch, reading and writing the same device pointers
 * with the same host-side arguments (shapes, the SGD step's learning rate, epilogue
 * scalars) as when they were recorded. Run the work once before recording it, so that the
 * workspace already has its final size: a workspace that would have to grow, a
 * synchronous copy or rn_cuda_synchronize while recording fails (the recording is then
 * lost and rn_cuda_graph_end returns the error). rn_cuda_graph_begin returns
 * RN_STATUS_UNSUPPORTED where the runtime cannot record (the host emulation).
 * A graph belongs to the context it was recorded on; destroy it before the context. */
typedef struct rn_cuda_graph rn_cuda_graph;
RN_API int rn_cuda_graph_begin(rn_cuda_context* ctx);
RN_API int rn_cuda_graph_end(rn_cuda_context* ctx, rn_cuda_graph** out);
RN_API int rn_cuda_graph_launch(rn_cuda_context* ctx, const rn_cuda_graph* graph);
/* The number of kernels and other operations recorded. */
RN_API size_t rn_cuda_graph_nodes(const rn_cuda_graph* graph);
/* 1 when the graph can be launched on ctx: recorded there, and the context's workspace has not
 * been reallocated since (it grows for a larger request made outside the graph, which frees
 * the block the recorded kernels use); rn_cuda_graph_launch returns RN_STATUS_BAD_ARGUMENT for
 * a stale graph instead of running it. Record again then. */
RN_API int rn_cuda_graph_valid(const rn_cuda_context* ctx, const rn_cuda_graph* graph);
RN_API void rn_cuda_graph_destroy(rn_cuda_graph* graph);
/* Whether ctx is recording (between begin and end). */
RN_API int rn_cuda_graph_recording(const rn_cuda_context* ctx);

/* ---------------------------------------------------------------- conv2d (conv2d.h) */
/* Bytes of workspace the conv needs for direction 0 (forward), 1 (data), 2 (filter). */
RN_API size_t rn_cuda_conv2d_workspace_bytes(const rn_cuda_context* ctx, const rn_conv2d_desc* d, int32_t direction);
RN_API int rn_cuda_conv2d_forward(rn_cuda_context* ctx, const rn_conv2d_desc* d, const float* x, const float* w,
                                  const float* bias, float* y);
RN_API int rn_cuda_conv2d_forward_epilogue(rn_cuda_context* ctx, const rn_conv2d_desc* d, const float* x,
                                           const float* w, const rn_conv2d_epilogue* ep, float* y);
RN_API int rn_cuda_conv2d_forward_crelu_input(rn_cuda_context* ctx, const rn_conv2d_desc* d, const float* x,
                                              const float* w, const float* bias, float* y);
RN_API int rn_cuda_conv2d_forward_crelu_input_epilogue(rn_cuda_context* ctx, const rn_conv2d_desc* d,
                                                       const float* x, const float* w,
                                                       const rn_conv2d_epilogue* ep, float* y);
RN_API int rn_cuda_conv2d_backward_data(rn_cuda_context* ctx, const rn_conv2d_desc* d, const float* dy,
                                        const float* w, float* dx);
RN_API int rn_cuda_conv2d_backward_filter(rn_cuda_context* ctx, const rn_conv2d_desc* d, const float* x,
                                          const float* dy, float* dw, float* dbias);
RN_API int rn_cuda_conv2d_backward_filter_crelu_input(rn_cuda_context* ctx, const rn_conv2d_desc* d,
                                                      const float* x, const float* dy, float* dw, float* dbias);
/* rn_conv2d_backward_data_crelu_input: the 2C-channel gradient in the workspace, then folded
 * onto x (resnorm's GEMMs whatever the conv route). */
RN_API int rn_cuda_conv2d_backward_data_crelu_input(rn_cuda_context* ctx, const rn_conv2d_desc* d, const float* dy,
                                                    const float* w, const float* x, float* dx);

/* ---------------------------------------------------- weight-normalized conv (weightnorm_conv.h) */
RN_API int rn_cuda_wnconv_forward(rn_cuda_context* ctx, const rn_conv2d_desc* d, int32_t act, float post_scale,
                                  float post_shift, const float* x, const float* v, const float* gamma,
                                  const float* beta, float* y);
RN_API int rn_cuda_wnconv_backward(rn_cuda_context* ctx, const rn_conv2d_desc* d, int32_t act, float post_scale,
                                   float post_shift, const float* x, const float* v, const float* gamma,
                                   const float* y, const float* dy, float* du, float* dx, float* dv,
                                   float* dgamma, float* dbeta);

/* ---------------------------------------------------------- batch norm (batchnorm.h) */
RN_API int rn_cuda_batchnorm_forward_training(rn_cuda_context* ctx, int32_t n, int32_t c, int32_t hw, int32_t act,
                                              float eps, float momentum, const float* x, const float* gamma,
                                              const float* beta, float* running_mean, float* running_var,
                                              float* save_mean, float* save_invstd, float* y);
RN_API int rn_cuda_batchnorm_forward_training_add_relu(rn_cuda_context* ctx, int32_t n, int32_t c, int32_t hw,
                                                       float eps, float momentum, const float* x, const float* gamma,
                                                       const float* beta, float* running_mean, float* running_var,
                                                       float* save_mean, float* save_invstd, const float* residual,
                                                       float* y);
RN_API int rn_cuda_batchnorm_forward_inference(rn_cuda_context* ctx, int32_t n, int32_t c, int32_t hw, int32_t act,
                                               float eps, const float* x, const float* gamma, const float* beta,
                                               const float* running_mean, const float* running_var, float* y);
RN_API int rn_cuda_batchnorm_inference_affine(rn_cuda_context* ctx, int32_t c, float eps, const float* gamma,
                                              const float* beta, const float* running_mean,
                                              const float* running_var, float* scale, float* shift);
RN_API int rn_cuda_batchnorm_backward(rn_cuda_context* ctx, int32_t n, int32_t c, int32_t hw, int32_t act,
                                      const float* x, const float* gamma, const float* beta, const float* save_mean,
                                      const float* save_invstd, const float* dy, float* dx, float* dgamma,
                                      float* dbeta);

/* --------------------------------------------------------- activations (activation.h) */
RN_API int rn_cuda_relu_forward(rn_cuda_context* ctx, int64_t count, const float* x, float* y);
RN_API int rn_cuda_relu_backward(rn_cuda_context* ctx, int64_t count, const float* y, const float* dy, float* dx);
RN_API int rn_cuda_crelu_forward(rn_cuda_context* ctx, int32_t n, int32_t c, int32_t hw, const float* x, float* y);
RN_API int rn_cuda_crelu_backward(rn_cuda_context* ctx, int32_t n, int32_t c, int32_t hw, const float* x,
                                  const float* dy, float* dx);
RN_API int rn_cuda_add_relu_forward(rn_cuda_context* ctx, int64_t count, const float* a, const float* b, float* y);
RN_API int rn_cuda_add_relu_backward(rn_cuda_context* ctx, int64_t count, const float* y, const float* dy, float* da,
                                     float* db);
RN_API int rn_cuda_relu_backward_sum(rn_cuda_context* ctx, int64_t count, const float* y, const float* da,
                                     const float* db, float* dx);
RN_API int rn_cuda_add(rn_cuda_context* ctx, int64_t count, const float* a, const float* b, float* y);

/* ------------------------------------------------------------------ pooling (pooling.h) */
RN_API int rn_cuda_global_avgpool_forward(rn_cuda_context* ctx, int32_t n, int32_t c, int32_t hw, const float* x,
                                          float* y);
RN_API int rn_cuda_global_avgpool_backward(rn_cuda_context* ctx, int32_t n, int32_t c, int32_t hw, const float* dy,
                                           float* dx);
RN_API int rn_cuda_maxpool2d_forward(rn_cuda_context* ctx, int32_t n, int32_t c, int32_t h, int32_t w,
                                     int32_t kernel, int32_t stride, int32_t pad, const float* x, float* y,
                                     int32_t* argmax);
/* An argmax entry outside [0, h*w) is skipped and recorded in the error word. */
RN_API int rn_cuda_maxpool2d_backward(rn_cuda_context* ctx, int32_t n, int32_t c, int32_t h, int32_t w,
                                      int32_t kernel, int32_t stride, int32_t pad, const int32_t* argmax,
                                      const float* dy, float* dx);
RN_API int rn_cuda_maxpool2d_backward_recompute(rn_cuda_context* ctx, int32_t n, int32_t c, int32_t h, int32_t w,
                                                int32_t kernel, int32_t stride, int32_t pad, const float* x,
                                                const float* dy, float* dx);

/* ---------------------------------------------------------------- shortcut (shortcut.h) */
RN_API int rn_cuda_shortcut_a_forward(rn_cuda_context* ctx, int32_t n, int32_t c_in, int32_t h, int32_t w,
                                      int32_t c_out, int32_t stride, const float* x, float* y);
RN_API int rn_cuda_shortcut_a_backward(rn_cuda_context* ctx, int32_t n, int32_t c_in, int32_t h, int32_t w,
                                       int32_t c_out, int32_t stride, const float* dy, float* dx);

/* ------------------------------------------------------------------- linear (linear.h) */
RN_API int rn_cuda_linear_forward(rn_cuda_context* ctx, int32_t n, int32_t in, int32_t out, const float* x,
                                  const float* w, const float* bias, float* y);
RN_API int rn_cuda_linear_backward_data(rn_cuda_context* ctx, int32_t n, int32_t in, int32_t out, const float* dy,
                                        const float* w, float* dx);
RN_API int rn_cuda_linear_backward_weight(rn_cuda_context* ctx, int32_t n, int32_t in, int32_t out, const float* x,
                                          const float* dy, float* dw, float* dbias);

/* ------------------------------------------------------ softmax cross-entropy (softmax_xent.h) */
/* *loss (one float) and *correct (one int64) are device memory. */
RN_API int rn_cuda_softmax_xent_forward(rn_cuda_context* ctx, int32_t n, int32_t classes, const float* logits,
                                        const int32_t* labels, float* loss);
RN_API int rn_cuda_softmax_xent_backward(rn_cuda_context* ctx, int32_t n, int32_t classes, const float* logits,
                                         const int32_t* labels, float scale, float* dlogits);
RN_API int rn_cuda_topk_correct(rn_cuda_context* ctx, int32_t n, int32_t classes, const float* logits,
                                const int32_t* labels, int32_t k, int64_t* correct);

/* -------------------------------------------------------------------------- SGD (sgd.h) */
RN_API int rn_cuda_sgd_step(rn_cuda_context* ctx, const rn_sgd_params* params, int64_t count, float* param,
                            const float* grad, float* velocity);

#ifdef __cplusplus
}
#endif
#endif
