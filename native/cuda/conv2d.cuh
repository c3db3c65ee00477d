// Internal interface of the CUDA conv (conv2d.cu) for the ops built on it
// (weightnorm_conv.cu): checks, workspace sizes, and the directions without the
// context lock (call inside one rn::cuda::guarded).
#pragma once

#include "cuda_impl.cuh"
#include "resnorm/conv2d.h"

namespace rn::cuda::conv {

// The CPU's rules (rn_conv2d_check) plus the CUDA kernels' 32-bit index limits
// (RN_STATUS_UNSUPPORTED beyond them: tensors of 2^31 elements or more).
int check(const rn_conv2d_desc* d);

// Scratch of backward_filter (split-K partial sums, the bias reduction).
size_t backward_filter_scratch(const rn_cuda_context* ctx, const rn_conv2d_desc& d, bool with_bias);

// y = epilogue(conv(x, w)); ep's scale and bias are device pointers (or null), ep may be
// null (no epilogue: y = conv + bias). crelu_input: x has d.c / 2 channels and the conv
// reads crelu(x) (d.c even).
int forward(rn_cuda_context* ctx, const rn_conv2d_desc& d, const float* x, const float* w, const float* bias,
            const rn_conv2d_epilogue* ep, bool crelu_input, float* y);
int backward_data(rn_cuda_context* ctx, const rn_conv2d_desc& d, const float* dy, const float* w, float* dx);
// scratch: backward_filter_scratch(ctx, d, dbias != null) bytes.
int backward_filter(rn_cuda_context* ctx, const rn_conv2d_desc& d, const float* x, const float* dy, float* dw,
                    float* dbias, bool crelu_input, void* scratch);

}  // namespace rn::cuda::conv
