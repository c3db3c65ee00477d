package org.resnorm.bind;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.annotation.ByPtrPtr;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Const;
import org.bytedeco.javacpp.annotation.Opaque;
import org.bytedeco.javacpp.annotation.Platform;
import org.resnorm.bind.ResnormNative.rn_conv2d_desc;
import org.resnorm.bind.ResnormNative.rn_conv2d_epilogue;
import org.resnorm.bind.ResnormNative.rn_sgd_params;

/**
 * JavaCPP binding of the CUDA library ({@code native/include/resnorm/cuda.h},
 * {@code cuda_cudnn.h}; {@code libresnorm_cuda.so}): the device queries, device memory, and every
 * op as the twin of {@link ResnormNative}'s (same arguments in the same order, an
 * {@code rn_cuda_context} for the {@code rn_context}, device pointers for the tensors; the
 * descriptor structs are ResnormNative's). Its JNI glue exists only in a jar built with
 * {@code -Dresnorm.cuda=ON} (the Maven profile {@code cuda}); elsewhere loading this class fails
 * with an {@link UnsatisfiedLinkError}, which {@code org.resnorm.core.CudaSupport} turns into
 * "not built". {@code libresnorm_cuda.so} links the CUDA runtime statically and opens the
 * driver only when asked, so it loads on a machine without a GPU and reports no device.
 * CudaNativeTest runs every binding against the CPU op, on a GPU or on the host emulation of
 * the library ({@code -Dresnorm.cuda.emulated}). Internal: raw C functions returning
 * {@code rn_status} codes; no Java executor drives them yet.
 */
@Platform(include = {"resnorm/cuda.h", "resnorm/cuda_cudnn.h"}, link = "resnorm_cuda")
public final class CudaNative {
  static {
    Loader.load();
  }

  private CudaNative() {}

  /** Opaque {@code rn_cuda_context*}. */
  @Opaque
  public static final class rn_cuda_context extends Pointer {
    public rn_cuda_context() {
      super((Pointer) null);
    }
  }

  /** Number of CUDA devices, or -(cudaError_t) when the runtime cannot start (no driver, no device). */
  public static native int rn_cuda_device_count();

  public static native int rn_cuda_runtime_version();

  public static native int rn_cuda_context_create(int device, @ByPtrPtr rn_cuda_context out);

  public static native void rn_cuda_context_destroy(rn_cuda_context ctx);

  public static native @Cast("const char*") BytePointer rn_cuda_context_device_name(@Const rn_cuda_context ctx);

  public static native int rn_cuda_context_set_math(rn_cuda_context ctx, int math);

  public static native int rn_cuda_synchronize(rn_cuda_context ctx);

  // ---------------------------------------------------------------- CUDA graphs
  /** Opaque {@code rn_cuda_graph*}. */
  @Opaque
  public static final class rn_cuda_graph extends Pointer {
    public rn_cuda_graph() {
      super((Pointer) null);
    }
  }

  public static native int rn_cuda_graph_begin(rn_cuda_context ctx);

  public static native int rn_cuda_graph_end(rn_cuda_context ctx, @ByPtrPtr rn_cuda_graph out);

  public static native int rn_cuda_graph_launch(rn_cuda_context ctx, @Const rn_cuda_graph graph);

  public static native @Cast("size_t") long rn_cuda_graph_nodes(@Const rn_cuda_graph graph);

  public static native int rn_cuda_graph_valid(@Const rn_cuda_context ctx, @Const rn_cuda_graph graph);

  public static native void rn_cuda_graph_destroy(rn_cuda_graph graph);

  public static native int rn_cuda_graph_recording(@Const rn_cuda_context ctx);

  // ---------------------------------------------------------------- device memory
  public static native int rn_cuda_malloc(rn_cuda_context ctx, @Cast("size_t") long bytes,
      @Cast("void**") @ByPtrPtr Pointer out);

  public static native void rn_cuda_free(rn_cuda_context ctx, Pointer p);

  public static native int rn_cuda_copy_to_device(rn_cuda_context ctx, Pointer dst, @Const Pointer src,
      @Cast("size_t") long bytes);

  public static native int rn_cuda_copy_to_host(rn_cuda_context ctx, Pointer dst, @Const Pointer src,
      @Cast("size_t") long bytes);

  public static native int rn_cuda_memset(rn_cuda_context ctx, Pointer dst, int value, @Cast("size_t") long bytes);

  // ---------------------------------------------------------------- ops: the CPU API's twins (ResnormNative)
  public static native int rn_cuda_conv2d_forward(rn_cuda_context ctx, @Const rn_conv2d_desc d,
      @Const FloatPointer x, @Const FloatPointer w, @Const FloatPointer bias, FloatPointer y);

  public static native int rn_cuda_conv2d_backward_data(rn_cuda_context ctx, @Const rn_conv2d_desc d,
      @Const FloatPointer dy, @Const FloatPointer w, FloatPointer dx);

  public static native int rn_cuda_conv2d_backward_filter(rn_cuda_context ctx, @Const rn_conv2d_desc d,
      @Const FloatPointer x, @Const FloatPointer dy, FloatPointer dw, FloatPointer dbias);

  public static native int rn_cuda_conv2d_forward_epilogue(rn_cuda_context ctx, @Const rn_conv2d_desc d,
      @Const FloatPointer x, @Const FloatPointer w, @Const rn_conv2d_epilogue ep, FloatPointer y);

  public static native int rn_cuda_conv2d_forward_crelu_input(rn_cuda_context ctx, @Const rn_conv2d_desc d,
      @Const FloatPointer x, @Const FloatPointer w, @Const FloatPointer bias, FloatPointer y);

  public static native int rn_cuda_conv2d_forward_crelu_input_epilogue(rn_cuda_context ctx, @Const rn_conv2d_desc d,
      @Const FloatPointer x, @Const FloatPointer w, @Const rn_conv2d_epilogue ep, FloatPointer y);

  public static native int rn_cuda_conv2d_backward_filter_crelu_input(rn_cuda_context ctx, @Const rn_conv2d_desc d,
      @Const FloatPointer x, @Const FloatPointer dy, FloatPointer dw, FloatPointer dbias);

  public static native int rn_cuda_conv2d_backward_data_crelu_input(rn_cuda_context ctx, @Const rn_conv2d_desc d,
      @Const FloatPointer dy, @Const FloatPointer w, @Const FloatPointer x, FloatPointer dx);

  public static native int rn_cuda_wnconv_forward(rn_cuda_context ctx, @Const rn_conv2d_desc d, int act,
      float postScale, float postShift, @Const FloatPointer x, @Const FloatPointer v, @Const FloatPointer gamma,
      @Const FloatPointer beta, FloatPointer y);

  public static native int rn_cuda_wnconv_backward(rn_cuda_context ctx, @Const rn_conv2d_desc d, int act,
      float postScale, float postShift, @Const FloatPointer x, @Const FloatPointer v, @Const FloatPointer gamma,
      @Const FloatPointer y, @Const FloatPointer dy, FloatPointer du, FloatPointer dx, FloatPointer dv,
      FloatPointer dgamma, FloatPointer dbeta);

  public static native int rn_cuda_linear_forward(rn_cuda_context ctx, int n, int in, int out,
      @Const FloatPointer x, @Const FloatPointer w, @Const FloatPointer bias, FloatPointer y);

  public static native int rn_cuda_linear_backward_data(rn_cuda_context ctx, int n, int in, int out,
      @Const FloatPointer dy, @Const FloatPointer w, FloatPointer dx);

  public static native int rn_cuda_linear_backward_weight(rn_cuda_context ctx, int n, int in, int out,
      @Const FloatPointer x, @Const FloatPointer dy, FloatPointer dw, FloatPointer dbias);

  public static native int rn_cuda_softmax_xent_forward(rn_cuda_context ctx, int n, int classes,
      @Const FloatPointer logits, @Const IntPointer labels, FloatPointer loss);

  public static native int rn_cuda_softmax_xent_backward(rn_cuda_context ctx, int n, int classes,
      @Const FloatPointer logits, @Const IntPointer labels, float scale, FloatPointer dlogits);

  public static native int rn_cuda_topk_correct(rn_cuda_context ctx, int n, int classes,
      @Const FloatPointer logits, @Const IntPointer labels, int k, @Cast("int64_t*") LongPointer correct);

  public static native int rn_cuda_sgd_step(rn_cuda_context ctx, @Const rn_sgd_params params, long count,
      FloatPointer param, @Const FloatPointer grad, FloatPointer velocity);

  public static native int rn_cuda_global_avgpool_forward(rn_cuda_context ctx, int n, int c, int hw,
      @Const FloatPointer x, FloatPointer y);

  public static native int rn_cuda_global_avgpool_backward(rn_cuda_context ctx, int n, int c, int hw,
      @Const FloatPointer dy, FloatPointer dx);

  public static native int rn_cuda_maxpool2d_forward(rn_cuda_context ctx, int n, int c, int h, int w,
      int kernel, int stride, int pad, @Const FloatPointer x, FloatPointer y, IntPointer argmax);

  public static native int rn_cuda_maxpool2d_backward(rn_cuda_context ctx, int n, int c, int h, int w,
      int kernel, int stride, int pad, @Const IntPointer argmax, @Const FloatPointer dy, FloatPointer dx);

  public static native int rn_cuda_maxpool2d_backward_recompute(rn_cuda_context ctx, int n, int c, int h, int w,
      int kernel, int stride, int pad, @Const FloatPointer x, @Const FloatPointer dy, FloatPointer dx);

  public static native int rn_cuda_shortcut_a_forward(rn_cuda_context ctx, int n, int cIn, int h, int w,
      int cOut, int stride, @Const FloatPointer x, FloatPointer y);

  public static native int rn_cuda_shortcut_a_backward(rn_cuda_context ctx, int n, int cIn, int h, int w,
      int cOut, int stride, @Const FloatPointer dy, FloatPointer dx);

  public static native int rn_cuda_batchnorm_forward_training(rn_cuda_context ctx, int n, int c, int hw, int act,
      float eps, float momentum, @Const FloatPointer x, @Const FloatPointer gamma, @Const FloatPointer beta,
      FloatPointer runningMean, FloatPointer runningVar, FloatPointer saveMean, FloatPointer saveInvstd,
      FloatPointer y);

  public static native int rn_cuda_batchnorm_forward_training_add_relu(rn_cuda_context ctx, int n, int c, int hw,
      float eps, float momentum, @Const FloatPointer x, @Const FloatPointer gamma, @Const FloatPointer beta,
      FloatPointer runningMean, FloatPointer runningVar, FloatPointer saveMean, FloatPointer saveInvstd,
      @Const FloatPointer residual, FloatPointer y);

  public static native int rn_cuda_batchnorm_forward_inference(rn_cuda_context ctx, int n, int c, int hw, int act,
      float eps, @Const FloatPointer x, @Const FloatPointer gamma, @Const FloatPointer beta,
      @Const FloatPointer runningMean, @Const FloatPointer runningVar, FloatPointer y);

  public static native int rn_cuda_batchnorm_inference_affine(rn_cuda_context ctx, int c, float eps,
      @Const FloatPointer gamma, @Const FloatPointer beta, @Const FloatPointer runningMean,
      @Const FloatPointer runningVar, FloatPointer scale, FloatPointer shift);

  public static native int rn_cuda_batchnorm_backward(rn_cuda_context ctx, int n, int c, int hw, int act,
      @Const FloatPointer x, @Const FloatPointer gamma, @Const FloatPointer beta, @Const FloatPointer saveMean,
      @Const FloatPointer saveInvstd, @Const FloatPointer dy, FloatPointer dx, FloatPointer dgamma,
      FloatPointer dbeta);

  public static native int rn_cuda_relu_forward(rn_cuda_context ctx, long count, @Const FloatPointer x, FloatPointer y);

  public static native int rn_cuda_relu_backward(rn_cuda_context ctx, long count, @Const FloatPointer y,
      @Const FloatPointer dy, FloatPointer dx);

  public static native int rn_cuda_crelu_forward(rn_cuda_context ctx, int n, int c, int hw, @Const FloatPointer x,
      FloatPointer y);

  public static native int rn_cuda_crelu_backward(rn_cuda_context ctx, int n, int c, int hw, @Const FloatPointer x,
      @Const FloatPointer dy, FloatPointer dx);

  public static native int rn_cuda_add_relu_forward(rn_cuda_context ctx, long count, @Const FloatPointer a,
      @Const FloatPointer b, FloatPointer y);

  public static native int rn_cuda_add(rn_cuda_context ctx, long count, @Const FloatPointer a, @Const FloatPointer b,
      FloatPointer y);

  public static native int rn_cuda_add_relu_backward(rn_cuda_context ctx, long count, @Const FloatPointer y,
      @Const FloatPointer dy, FloatPointer da, FloatPointer db);

  public static native int rn_cuda_relu_backward_sum(rn_cuda_context ctx, long count, @Const FloatPointer y,
      @Const FloatPointer da, @Const FloatPointer db, FloatPointer dx);

  // ---------------------------------------------------------------- cuda_cudnn.h
  /** Loads cuDNN 9 (null: $RESNORM_CUDNN_LIB, else libcudnn.so.9); 0 or RN_STATUS_UNSUPPORTED. */
  public static native int rn_cudnn_load(@Cast("const char*") BytePointer path);

  public static native @Cast("const char*") BytePointer rn_cudnn_error();

  /** One line: version, the file, where the functions came from ("" when not loaded). */
  public static native @Cast("const char*") BytePointer rn_cudnn_info();

  public static final int RN_CUDA_CONV_IMPL_NATIVE = 0;
  public static final int RN_CUDA_CONV_IMPL_CUDNN = 1;

  /** Routes the context's plain convs to cuDNN (RN_STATUS_UNSUPPORTED while cuDNN is not loaded) or back. */
  public static native int rn_cuda_context_set_conv_impl(rn_cuda_context ctx, int impl);

  public static native int rn_cuda_context_conv_impl(@Const rn_cuda_context ctx);
}
