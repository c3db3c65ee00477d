// Stand-ins for cuDNN 9's libraries, for test_cudnn_loader (no GPU, no cuDNN): only the
// exported names matter to rn_cudnn_load; nothing here computes anything. Built four
// times (FAKE_CUDNN_PART): a shim, libcudnn.so.9, that exports only three of the
// functions (as if the real shim did not forward the legacy API), and the sub-libraries
// libcudnn_graph / _ops / _cnn.so.9 that export the rest, grouped as in cuDNN 9.
// cudnnGetVersion answers $FAKE_CUDNN_VERSION when set (a test of the version check),
// else 91900 (9.19.0).
#include <cstddef>
#include <cstdlib>

#define FAKE_API extern "C" __attribute__((visibility("default")))
#define FAKE_STUB(name) \
  FAKE_API int name() { return 3000; /* CUDNN_STATUS_NOT_SUPPORTED */ }

#define FAKE_SHIM 0
#define FAKE_GRAPH 1
#define FAKE_OPS 2
#define FAKE_CNN 3

#if FAKE_CUDNN_PART == FAKE_SHIM || FAKE_CUDNN_PART == FAKE_GRAPH
FAKE_API size_t cudnnGetVersion() {
  const char* v = std::getenv("FAKE_CUDNN_VERSION");
  return v != nullptr ? size_t(std::atol(v)) : size_t(91900);
}
FAKE_API const char* cudnnGetErrorString(int) { return "CUDNN_STATUS_FAKE"; }
FAKE_STUB(cudnnCreate)
#endif

#if FAKE_CUDNN_PART == FAKE_GRAPH
FAKE_API size_t cudnnGetCudartVersion() { return 13000; }
FAKE_API void cudnnGetLastErrorString(char* message, size_t max_size) {
  if (max_size > 0) message[0] = '\0';
}
FAKE_STUB(cudnnDestroy)
FAKE_STUB(cudnnSetStream)
#elif FAKE_CUDNN_PART == FAKE_OPS
FAKE_STUB(cudnnCreateTensorDescriptor)
FAKE_STUB(cudnnSetTensor4dDescriptor)
FAKE_STUB(cudnnDestroyTensorDescriptor)
FAKE_STUB(cudnnCreateFilterDescriptor)
FAKE_STUB(cudnnSetFilter4dDescriptor)
FAKE_STUB(cudnnDestroyFilterDescriptor)
FAKE_STUB(cudnnAddTensor)
#elif FAKE_CUDNN_PART == FAKE_CNN
FAKE_STUB(cudnnCreateConvolutionDescriptor)
FAKE_STUB(cudnnSetConvolution2dDescriptor)
FAKE_STUB(cudnnSetConvolutionMathType)
FAKE_STUB(cudnnDestroyConvolutionDescriptor)
FAKE_STUB(cudnnGetConvolution2dForwardOutputDim)
FAKE_STUB(cudnnGetConvolutionForwardAlgorithmMaxCount)
FAKE_STUB(cudnnGetConvolutionBackwardDataAlgorithmMaxCount)
FAKE_STUB(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount)
FAKE_STUB(cudnnGetConvolutionForwardWorkspaceSize)
FAKE_STUB(cudnnGetConvolutionBackwardDataWorkspaceSize)
FAKE_STUB(cudnnGetConvolutionBackwardFilterWorkspaceSize)
FAKE_STUB(cudnnFindConvolutionForwardAlgorithmEx)
FAKE_STUB(cudnnFindConvolutionBackwardDataAlgorithmEx)
FAKE_STUB(cudnnFindConvolutionBackwardFilterAlgorithmEx)
FAKE_STUB(cudnnConvolutionForward)
FAKE_STUB(cudnnConvolutionBackwardData)
FAKE_STUB(cudnnConvolutionBackwardFilter)
#ifndef FAKE_CUDNN_NO_BIAS
FAKE_STUB(cudnnConvolutionBackwardBias)
#endif
#endif
