package org.resnorm.bind;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.annotation.ByPtrPtr;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Const;
import org.bytedeco.javacpp.annotation.Opaque;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * JavaCPP binding of the CUDA backend's device queries ({@code native/include/resnorm/cuda.h},
 * {@code libresnorm_cuda.so}). Its JNI glue exists only in a jar built with
 * {@code -Dresnorm.cuda=ON} (the Maven profile {@code cuda}); elsewhere loading this class fails
 * with an {@link UnsatisfiedLinkError}, which {@code org.resnorm.core.CudaSupport} turns into
 * "CUDA backend not built". {@code libresnorm_cuda.so} links the CUDA runtime statically and
 * opens the driver ({@code libcuda.so.1}) only when asked, so it loads on a machine without
 * a GPU and reports no device. Internal: use {@code CudaSupport}.
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

  // ---------------------------------------------------------------- cuda_cudnn.h
  /** Loads cuDNN 9 (null: $RESNORM_CUDNN_LIB, else libcudnn.so.9); 0 or RN_STATUS_UNSUPPORTED. */
  public static native int rn_cudnn_load(@Cast("const char*") BytePointer path);

  public static native @Cast("const char*") BytePointer rn_cudnn_error();

  /** One line: version, the file, where the functions came from ("" when not loaded). */
  public static native @Cast("const char*") BytePointer rn_cudnn_info();
}
