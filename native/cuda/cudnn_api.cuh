// The part of the cuDNN 9 C API that resnorm calls, declared here because the build
// machines have no cuDNN headers: cudnn_load.cu resolves these functions at run time
// (dlopen / dlsym), cudnn_conv.cu calls them. Written from cuDNN 9's documented legacy
// API (cudnn_graph.h, cudnn_ops.h, cudnn_cnn.h). Each enum value and signature was
// checked against the cuDNN 9.19 headers as bound by the JavaCPP CUDA presets (Maven
// Central org.bytedeco:cuda:13.1-9.19-1.5.13, sources jar), and the layout of the
// *AlgoPerf_t structs against that binding's compiled JNI code (element stride 48,
// memory at 16, mathType at 28): a wrong value here silently computes something else,
// so do not add one without checking it the same way.
#pragma once

#include <cuda_runtime.h>  // cudaStream_t

#include <cstddef>

namespace rn::cuda::cudnn {

// Opaque handles: pointers to cuDNN's own structs (cudnnHandle_t = cudnnContext*, ...).
struct cudnnContext;
struct cudnnTensorStruct;
struct cudnnFilterStruct;
struct cudnnConvolutionStruct;
using Handle = cudnnContext*;
using TensorDesc = cudnnTensorStruct*;
using FilterDesc = cudnnFilterStruct*;
using ConvDesc = cudnnConvolutionStruct*;

// cudnnStatus_t: 0 is success; cuDNN 9's errors are category * 1000 + detail
// (2000 BAD_PARAM, 3000 NOT_SUPPORTED, 4000 INTERNAL_ERROR, 5000 EXECUTION_FAILED).
using Status = int;
constexpr Status kSuccess = 0;

// Enum values (C enums: int arguments).
constexpr int kDataFloat = 0;         // cudnnDataType_t CUDNN_DATA_FLOAT
constexpr int kTensorNchw = 0;        // cudnnTensorFormat_t CUDNN_TENSOR_NCHW
constexpr int kCrossCorrelation = 1;  // cudnnConvolutionMode_t CUDNN_CROSS_CORRELATION (0 flips the filter)
// cudnnMathType_t. DEFAULT lets float data run as TF32 on sm_80+; FMA forbids tensor
// cores; TENSOR_OP permits them without converting the tensors' data type;
// ALLOW_CONVERSION may also down-convert float to half.
constexpr int kDefaultMath = 0;
constexpr int kTensorOpMath = 1;
constexpr int kTensorOpMathAllowConversion = 2;
constexpr int kFmaMath = 3;
constexpr int kDeterministic = 1;  // cudnnDeterminism_t CUDNN_DETERMINISTIC (0: non-deterministic)

// cudnnConvolutionFwdAlgoPerf_t, cudnnConvolutionBwdDataAlgoPerf_t and
// cudnnConvolutionBwdFilterAlgoPerf_t: one layout (the algo field is the direction's enum).
struct AlgoPerf {
  int algo;
  Status status;
  float time;  // ms
  size_t memory;  // workspace bytes
  int determinism;
  int math_type;
  int reserved[3];
};
static_assert(sizeof(AlgoPerf) == 48, "cuDNN 9's *AlgoPerf_t is 48 bytes");
static_assert(offsetof(AlgoPerf, memory) == 16 && offsetof(AlgoPerf, determinism) == 24 &&
                  offsetof(AlgoPerf, math_type) == 28,
              "cuDNN 9's *AlgoPerf_t layout");

// Algorithm names, indexed by the enum value (cudnnConvolutionFwdAlgo_t 0..7,
// cudnnConvolutionBwdDataAlgo_t 0..5, cudnnConvolutionBwdFilterAlgo_t 0..6).
constexpr const char* kForwardAlgoNames[] = {"IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT",
                                             "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
constexpr const char* kBackwardDataAlgoNames[] = {"ALGO_0", "ALGO_1", "FFT", "FFT_TILING", "WINOGRAD",
                                                  "WINOGRAD_NONFUSED"};
constexpr const char* kBackwardFilterAlgoNames[] = {"ALGO_0", "ALGO_1", "FFT", "ALGO_3",
                                                    "WINOGRAD", "WINOGRAD_NONFUSED", "FFT_TILING"};

// The functions, by their cuDNN names without the "cudnn" prefix. Which sub-library
// defines each (graph, ops or cnn) is in cudnn_load.cu.
struct Api {
  // cudnn_graph
  size_t (*GetVersion)();
  size_t (*GetCudartVersion)();
  const char* (*GetErrorString)(Status status);
  void (*GetLastErrorString)(char* message, size_t max_size);  // may be null (optional)
  Status (*Create)(Handle* handle);
  Status (*Destroy)(Handle handle);
  Status (*SetStream)(Handle handle, cudaStream_t stream);
  // cudnn_ops
  Status (*CreateTensorDescriptor)(TensorDesc* desc);
  Status (*SetTensor4dDescriptor)(TensorDesc desc, int format, int data_type, int n, int c, int h, int w);
  Status (*DestroyTensorDescriptor)(TensorDesc desc);
  Status (*CreateFilterDescriptor)(FilterDesc* desc);
  // Note the order: data type before format (the tensor setter has format first).
  Status (*SetFilter4dDescriptor)(FilterDesc desc, int data_type, int format, int k, int c, int h, int w);
  Status (*DestroyFilterDescriptor)(FilterDesc desc);
  Status (*AddTensor)(Handle handle, const void* alpha, TensorDesc a_desc, const void* a, const void* beta,
                      TensorDesc c_desc, void* c);
  // cudnn_cnn
  Status (*CreateConvolutionDescriptor)(ConvDesc* desc);
  Status (*SetConvolution2dDescriptor)(ConvDesc desc, int pad_h, int pad_w, int stride_h, int stride_w,
                                       int dilation_h, int dilation_w, int mode, int compute_type);
  Status (*SetConvolutionMathType)(ConvDesc desc, int math_type);
  Status (*DestroyConvolutionDescriptor)(ConvDesc desc);
  Status (*GetConvolution2dForwardOutputDim)(ConvDesc conv, TensorDesc x, FilterDesc w, int* n, int* c, int* h,
                                             int* w_out);
  Status (*GetConvolutionForwardAlgorithmMaxCount)(Handle handle, int* count);
  Status (*GetConvolutionBackwardDataAlgorithmMaxCount)(Handle handle, int* count);
  Status (*GetConvolutionBackwardFilterAlgorithmMaxCount)(Handle handle, int* count);
  Status (*GetConvolutionForwardWorkspaceSize)(Handle handle, TensorDesc x, FilterDesc w, ConvDesc conv,
                                               TensorDesc y, int algo, size_t* bytes);
  Status (*GetConvolutionBackwardDataWorkspaceSize)(Handle handle, FilterDesc w, TensorDesc dy, ConvDesc conv,
                                                    TensorDesc dx, int algo, size_t* bytes);
  Status (*GetConvolutionBackwardFilterWorkspaceSize)(Handle handle, TensorDesc x, TensorDesc dy, ConvDesc conv,
                                                      FilterDesc dw, int algo, size_t* bytes);
  Status (*FindConvolutionForwardAlgorithmEx)(Handle handle, TensorDesc x_desc, const void* x, FilterDesc w_desc,
                                              const void* w, ConvDesc conv, TensorDesc y_desc, void* y,
                                              int requested, int* returned, AlgoPerf* results, void* workspace,
                                              size_t workspace_bytes);
  Status (*FindConvolutionBackwardDataAlgorithmEx)(Handle handle, FilterDesc w_desc, const void* w,
                                                   TensorDesc dy_desc, const void* dy, ConvDesc conv,
                                                   TensorDesc dx_desc, void* dx, int requested, int* returned,
                                                   AlgoPerf* results, void* workspace, size_t workspace_bytes);
  Status (*FindConvolutionBackwardFilterAlgorithmEx)(Handle handle, TensorDesc x_desc, const void* x,
                                                     TensorDesc dy_desc, const void* dy, ConvDesc conv,
                                                     FilterDesc dw_desc, void* dw, int requested, int* returned,
                                                     AlgoPerf* results, void* workspace, size_t workspace_bytes);
  // alpha / beta: host pointers to float (float data): out = alpha * op + beta * out.
  Status (*ConvolutionForward)(Handle handle, const void* alpha, TensorDesc x_desc, const void* x, FilterDesc w_desc,
                               const void* w, ConvDesc conv, int algo, void* workspace, size_t workspace_bytes,
                               const void* beta, TensorDesc y_desc, void* y);
  Status (*ConvolutionBackwardData)(Handle handle, const void* alpha, FilterDesc w_desc, const void* w,
                                    TensorDesc dy_desc, const void* dy, ConvDesc conv, int algo, void* workspace,
                                    size_t workspace_bytes, const void* beta, TensorDesc dx_desc, void* dx);
  Status (*ConvolutionBackwardFilter)(Handle handle, const void* alpha, TensorDesc x_desc, const void* x,
                                      TensorDesc dy_desc, const void* dy, ConvDesc conv, int algo, void* workspace,
                                      size_t workspace_bytes, const void* beta, FilterDesc dw_desc, void* dw);
  Status (*ConvolutionBackwardBias)(Handle handle, const void* alpha, TensorDesc dy_desc, const void* dy,
                                    const void* beta, TensorDesc db_desc, void* db);
};

// The resolved functions once rn_cudnn_load has succeeded (then fixed for the life of
// the process), else null.
const Api* api();

// Sets the text rn_cudnn_error() returns (printf format).
void set_error(const char* format, ...) __attribute__((format(printf, 1, 2)));
// Records "<call> failed: <cuDNN's status name> (<code>)[: cuDNN's last message]" and
// returns RN_STATUS_INTERNAL.
int fail(const char* call, Status status);
// Records that cuDNN is not loaded and returns RN_STATUS_UNSUPPORTED.
int not_loaded();

}  // namespace rn::cuda::cudnn
