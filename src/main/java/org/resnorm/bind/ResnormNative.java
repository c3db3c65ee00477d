package org.resnorm.bind;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Const;
import org.bytedeco.javacpp.annotation.Name;
import org.bytedeco.javacpp.annotation.Opaque;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * JavaCPP binding of the resnorm C API ({@code native/include/resnorm/*.h}).
 *
 * <p>Internal: callers go through {@code org.resnorm.core} and {@code org.resnorm.ops}, which
 * check every shape and argument and throw before any native call. The methods here are the
 * raw C functions; they return {@code rn_status} codes.
 *
 * <p>Loading: OpenBLAS's preset is loaded first, so that {@code libopenblas.so.0} (which
 * {@code libresnorm.so} needs) is already in the process when our library is opened; then
 * {@link Loader} loads {@code libresnorm.so} and the generated JNI glue from this package's
 * {@code linux-x86_64/} resources (in the jar or in {@code target/classes}).
 */
@Platform(include = {"resnorm/resnorm.h"}, link = "resnorm")
public final class ResnormNative {
  static {
    Loader.load(org.bytedeco.openblas.global.openblas_nolapack.class);
    Loader.load();
  }

  private ResnormNative() {}

  /** Forces the native libraries to load (no-op after the first call). */
  public static void load() {}

  // ---------------------------------------------------------------- status and ISA
  public static final int RN_STATUS_OK = 0;
  public static final int RN_STATUS_BAD_ARGUMENT = 1;
  public static final int RN_STATUS_OUT_OF_MEMORY = 2;
  public static final int RN_STATUS_UNSUPPORTED = 3;
  public static final int RN_STATUS_INTERNAL = 4;

  public static final int RN_ISA_GENERIC = 0;
  public static final int RN_ISA_AVX2 = 1;
  public static final int RN_ISA_AVX512 = 2;

  public static final int RN_CONV_ALGO_AUTO = 0;
  public static final int RN_CONV_ALGO_IM2COL = 1;
  public static final int RN_CONV_ALGO_WINOGRAD = 2;
  public static final int RN_CONV_ALGO_DIRECT = 3;

  // ---------------------------------------------------------------- context.h
  /** Opaque {@code rn_context*}. */
  @Opaque
  public static final class rn_context extends Pointer {
    public rn_context() {
      super((Pointer) null);
    }
  }

  public static native int rn_cpu_best_isa();

  public static native @Cast("const char*") String rn_isa_name(int isa);

  public static native int rn_cpu_count();

  public static native rn_context rn_context_create(int numThreads);

  public static native void rn_context_destroy(rn_context ctx);

  public static native int rn_context_num_threads(@Const rn_context ctx);

  public static native int rn_context_isa(@Const rn_context ctx);

  public static native int rn_context_set_isa(rn_context ctx, int isa);

  public static native @Cast("size_t") long rn_context_workspace_bytes(@Const rn_context ctx);

  public static native void rn_context_trim(rn_context ctx);

  public static native Pointer rn_alloc(@Cast("size_t") long bytes);

  public static native void rn_free(Pointer p);

  public static native long rn_live_bytes();

  public static native long rn_live_blocks();

  public static native @Cast("const char*") String rn_version();

  public static native @Cast("const char*") String rn_openblas_version();

  public static native @Cast("const char*") String rn_openblas_corename();

  public static native @Cast("const char*") String rn_compiler();

  public static native int rn_copy_floats(rn_context ctx, long n, @Const FloatPointer src, FloatPointer dst);

  public static native int rn_blas_sgemm_ceiling(
      int numThreads, int m, int n, int k, @Const FloatPointer a, @Const FloatPointer b, FloatPointer c);

  // ---------------------------------------------------------------- conv2d.h
  /** {@code rn_conv2d_desc}: allocated natively, freed by {@link #close()}. */
  @Name("rn_conv2d_desc")
  public static final class rn_conv2d_desc extends Pointer {
    static {
      Loader.load();
    }

    public rn_conv2d_desc() {
      super((Pointer) null);
      allocate();
    }

    private native void allocate();

    public native int n(); public native rn_conv2d_desc n(int v);
    public native int c(); public native rn_conv2d_desc c(int v);
    public native int h(); public native rn_conv2d_desc h(int v);
    public native int w(); public native rn_conv2d_desc w(int v);
    public native int k(); public native rn_conv2d_desc k(int v);
    public native int r(); public native rn_conv2d_desc r(int v);
    public native int s(); public native rn_conv2d_desc s(int v);
    public native int stride_h(); public native rn_conv2d_desc stride_h(int v);
    public native int stride_w(); public native rn_conv2d_desc stride_w(int v);
    public native int pad_h(); public native rn_conv2d_desc pad_h(int v);
    public native int pad_w(); public native rn_conv2d_desc pad_w(int v);
    public native int p(); public native rn_conv2d_desc p(int v);
    public native int q(); public native rn_conv2d_desc q(int v);
    public native int algo(); public native rn_conv2d_desc algo(int v);
  }

  public static native int rn_conv2d_check(@Const rn_conv2d_desc d);

  public static native int rn_conv2d_resolve_algo(@Const rn_conv2d_desc d, int direction);

  public static native int rn_conv2d_forward(rn_context ctx, @Const rn_conv2d_desc d,
      @Const FloatPointer x, @Const FloatPointer w, @Const FloatPointer bias, FloatPointer y);

  public static native int rn_conv2d_backward_data(rn_context ctx, @Const rn_conv2d_desc d,
      @Const FloatPointer dy, @Const FloatPointer w, FloatPointer dx);

  public static native int rn_conv2d_backward_filter(rn_context ctx, @Const rn_conv2d_desc d,
      @Const FloatPointer x, @Const FloatPointer dy, FloatPointer dw, FloatPointer dbias);

  public static final int RN_ACT_NONE = 0;
  public static final int RN_ACT_RELU = 1;
  public static final int RN_ACT_CRELU = 2;

  /** {@code rn_conv2d_epilogue}: allocated natively, freed by {@link #close()}. */
  @Name("rn_conv2d_epilogue")
  public static final class rn_conv2d_epilogue extends Pointer {
    static {
      Loader.load();
    }

    public rn_conv2d_epilogue() {
      super((Pointer) null);
      allocate();
    }

    private native void allocate();

    public native @Const FloatPointer scale(); public native rn_conv2d_epilogue scale(FloatPointer v);
    public native @Const FloatPointer bias(); public native rn_conv2d_epilogue bias(FloatPointer v);
    public native int act(); public native rn_conv2d_epilogue act(int v);
    public native float post_scale(); public native rn_conv2d_epilogue post_scale(float v);
    public native float post_shift(); public native rn_conv2d_epilogue post_shift(float v);
  }

  public static native int rn_conv2d_forward_epilogue(rn_context ctx, @Const rn_conv2d_desc d,
      @Const FloatPointer x, @Const FloatPointer w, @Const rn_conv2d_epilogue ep, FloatPointer y);

  public static native int rn_conv2d_forward_crelu_input(rn_context ctx, @Const rn_conv2d_desc d,
      @Const FloatPointer x, @Const FloatPointer w, @Const FloatPointer bias, FloatPointer y);

  public static native int rn_conv2d_backward_filter_crelu_input(rn_context ctx, @Const rn_conv2d_desc d,
      @Const FloatPointer x, @Const FloatPointer dy, FloatPointer dw, FloatPointer dbias);

  public static native int rn_conv2d_backward_data_crelu_input(rn_context ctx, @Const rn_conv2d_desc d,
      @Const FloatPointer dy, @Const FloatPointer w, @Const FloatPointer x, FloatPointer dx);

  public static native int rn_conv2d_crelu_input_in_pack(@Const rn_conv2d_desc d);

  public static native int rn_conv2d_forward_crelu_input_epilogue(rn_context ctx, @Const rn_conv2d_desc d,
      @Const FloatPointer x, @Const FloatPointer w, @Const rn_conv2d_epilogue ep, FloatPointer y);

  // ---------------------------------------------------------------- weightnorm_conv.h
  public static native int rn_wnconv_forward(rn_context ctx, @Const rn_conv2d_desc d, int act, float postScale,
      float postShift, @Const FloatPointer x, @Const FloatPointer v, @Const FloatPointer gamma,
      @Const FloatPointer beta, FloatPointer y);

  public static native int rn_wnconv_backward(rn_context ctx, @Const rn_conv2d_desc d, int act, float postScale,
      float postShift, @Const FloatPointer x, @Const FloatPointer v, @Const FloatPointer gamma,
      @Const FloatPointer y, @Const FloatPointer dy, FloatPointer du, FloatPointer dx, FloatPointer dv,
      FloatPointer dgamma, FloatPointer dbeta);

  // ---------------------------------------------------------------- linear.h
  public static native int rn_linear_forward(rn_context ctx, int n, int in, int out,
      @Const FloatPointer x, @Const FloatPointer w, @Const FloatPointer bias, FloatPointer y);

  public static native int rn_linear_backward_data(rn_context ctx, int n, int in, int out,
      @Const FloatPointer dy, @Const FloatPointer w, FloatPointer dx);

  public static native int rn_linear_backward_weight(rn_context ctx, int n, int in, int out,
      @Const FloatPointer x, @Const FloatPointer dy, FloatPointer dw, FloatPointer dbias);

  // ---------------------------------------------------------------- softmax_xent.h
  public static native int rn_softmax_xent_forward(rn_context ctx, int n, int classes,
      @Const FloatPointer logits, @Const IntPointer labels, float[] loss);

  public static native int rn_softmax_xent_backward(rn_context ctx, int n, int classes,
      @Const FloatPointer logits, @Const IntPointer labels, float scale, FloatPointer dlogits);

  public static native int rn_topk_correct(rn_context ctx, int n, int classes,
      @Const FloatPointer logits, @Const IntPointer labels, int k, @Cast("int64_t*") long[] correct);

  // ---------------------------------------------------------------- sgd.h
  /** {@code rn_sgd_params}: allocated natively, freed by {@link #close()}. */
  @Name("rn_sgd_params")
  public static final class rn_sgd_params extends Pointer {
    static {
      Loader.load();
    }

    public rn_sgd_params() {
      super((Pointer) null);
      allocate();
    }

    private native void allocate();

    public native float lr(); public native rn_sgd_params lr(float v);
    public native float momentum(); public native rn_sgd_params momentum(float v);
    public native float dampening(); public native rn_sgd_params dampening(float v);
    public native float weight_decay(); public native rn_sgd_params weight_decay(float v);
    public native int nesterov(); public native rn_sgd_params nesterov(int v);
    public native int first_step(); public native rn_sgd_params first_step(int v);
  }

  public static native int rn_sgd_step(rn_context ctx, @Const rn_sgd_params params, long count,
      FloatPointer param, @Const FloatPointer grad, FloatPointer velocity);

  public static native int rn_sgd_step_unfused(rn_context ctx, @Const rn_sgd_params params, long count,
      FloatPointer param, @Const FloatPointer grad, FloatPointer velocity);

  // ---------------------------------------------------------------- pooling.h
  public static native int rn_global_avgpool_forward(rn_context ctx, int n, int c, int hw,
      @Const FloatPointer x, FloatPointer y);

  public static native int rn_global_avgpool_backward(rn_context ctx, int n, int c, int hw,
      @Const FloatPointer dy, FloatPointer dx);

  public static native int rn_maxpool2d_forward(rn_context ctx, int n, int c, int h, int w,
      int kernel, int stride, int pad, @Const FloatPointer x, FloatPointer y, IntPointer argmax);

  public static native int rn_maxpool2d_backward(rn_context ctx, int n, int c, int h, int w,
      int kernel, int stride, int pad, @Const IntPointer argmax, @Const FloatPointer dy, FloatPointer dx);

  public static native int rn_maxpool2d_backward_recompute(rn_context ctx, int n, int c, int h, int w,
      int kernel, int stride, int pad, @Const FloatPointer x, @Const FloatPointer dy, FloatPointer dx);

  // ---------------------------------------------------------------- shortcut.h
  public static native int rn_shortcut_a_forward(rn_context ctx, int n, int cIn, int h, int w,
      int cOut, int stride, @Const FloatPointer x, FloatPointer y);

  public static native int rn_shortcut_a_backward(rn_context ctx, int n, int cIn, int h, int w,
      int cOut, int stride, @Const FloatPointer dy, FloatPointer dx);

  // ---------------------------------------------------------------- batchnorm.h, activation.h
  public static native int rn_batchnorm_forward_training(rn_context ctx, int n, int c, int hw, int act, float eps,
      float momentum, @Const FloatPointer x, @Const FloatPointer gamma, @Const FloatPointer beta,
      FloatPointer runningMean, FloatPointer runningVar, FloatPointer saveMean, FloatPointer saveInvstd,
      FloatPointer y);

  public static native int rn_batchnorm_forward_training_add_relu(rn_context ctx, int n, int c, int hw, float eps,
      float momentum, @Const FloatPointer x, @Const FloatPointer gamma, @Const FloatPointer beta,
      FloatPointer runningMean, FloatPointer runningVar, FloatPointer saveMean, FloatPointer saveInvstd,
      @Const FloatPointer residual, FloatPointer y);

  public static native int rn_batchnorm_forward_inference(rn_context ctx, int n, int c, int hw, int act, float eps,
      @Const FloatPointer x, @Const FloatPointer gamma, @Const FloatPointer beta, @Const FloatPointer runningMean,
      @Const FloatPointer runningVar, FloatPointer y);

  public static native int rn_batchnorm_inference_affine(rn_context ctx, int c, float eps, @Const FloatPointer gamma,
      @Const FloatPointer beta, @Const FloatPointer runningMean, @Const FloatPointer runningVar, FloatPointer scale,
      FloatPointer shift);

  public static native int rn_batchnorm_backward(rn_context ctx, int n, int c, int hw, int act,
      @Const FloatPointer x, @Const FloatPointer gamma, @Const FloatPointer beta, @Const FloatPointer saveMean,
      @Const FloatPointer saveInvstd, @Const FloatPointer dy, FloatPointer dx, FloatPointer dgamma,
      FloatPointer dbeta);

  public static native int rn_relu_forward(rn_context ctx, long count, @Const FloatPointer x, FloatPointer y);

  public static native int rn_relu_backward(rn_context ctx, long count, @Const FloatPointer y,
      @Const FloatPointer dy, FloatPointer dx);

  public static native int rn_crelu_forward(rn_context ctx, int n, int c, int hw, @Const FloatPointer x,
      FloatPointer y);

  public static native int rn_crelu_backward(rn_context ctx, int n, int c, int hw, @Const FloatPointer x,
      @Const FloatPointer dy, FloatPointer dx);

  public static native int rn_add_relu_forward(rn_context ctx, long count, @Const FloatPointer a,
      @Const FloatPointer b, FloatPointer y);

  public static native int rn_add(rn_context ctx, long count, @Const FloatPointer a, @Const FloatPointer b,
      FloatPointer y);

  public static native int rn_add_relu_backward(rn_context ctx, long count, @Const FloatPointer y,
      @Const FloatPointer dy, FloatPointer da, FloatPointer db);

  public static native int rn_relu_backward_sum(rn_context ctx, long count, @Const FloatPointer y,
      @Const FloatPointer da, @Const FloatPointer db, FloatPointer dx);
}
