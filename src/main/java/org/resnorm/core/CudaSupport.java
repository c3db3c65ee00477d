package org.resnorm.core;

import org.resnorm.bind.CudaNative;

/**
 * Whether this process can use the CUDA backend, found out once: is the CUDA library in this
 * build (a jar built with {@code -Dresnorm.cuda=ON}), does its runtime start (a driver), and
 * how many devices it sees. Never throws for a missing library, driver or device: {@link
 * #status()} says which, for {@code info} and for the {@code --device cuda} error message.
 */
public final class CudaSupport {
  /** What was found; {@code devices > 0} means usable. */
  public record Status(boolean built, int devices, int runtimeVersion, String deviceName, String message) {
    public boolean usable() {
      return devices > 0;
    }
  }

  private static Status status;

  private CudaSupport() {}

  /** The probe's result (the first call loads the library and asks the runtime). */
  public static synchronized Status status() {
    if (status == null) {
      status = probe();
    }
    return status;
  }

  private static Status probe() {
    int count;
    int runtime;
    try {
      count = CudaNative.rn_cuda_device_count();
      runtime = CudaNative.rn_cuda_runtime_version();
    } catch (UnsatisfiedLinkError | NoClassDefFoundError e) {
      return new Status(false, 0, 0, "", "not built into this jar (build with mvn -Dresnorm.cuda=ON, nvcc on PATH)");
    }
    if (count <= 0) {
      String why = count == 0 ? "the CUDA runtime sees no device"
          : "the CUDA runtime cannot start (cudaError " + (-count) + ": "
              + (-count == 35 ? "no driver, or one older than the runtime" : -count == 100 ? "no device" : "see the"
                  + " CUDA runtime's error codes") + ")";
      return new Status(true, 0, runtime, "", "built (runtime " + version(runtime) + "), but " + why);
    }
    String cudnn = CudaNative.rn_cudnn_load(null) == 0 ? "cuDNN " + CudaNative.rn_cudnn_info().getString()
        : "cuDNN not loaded (" + CudaNative.rn_cudnn_error().getString() + ")";
    CudaNative.rn_cuda_context ctx = new CudaNative.rn_cuda_context();
    String name = "";
    if (CudaNative.rn_cuda_context_create(0, ctx) == 0) {
      name = CudaNative.rn_cuda_context_device_name(ctx).getString();
      CudaNative.rn_cuda_context_destroy(ctx);
    }
    return new Status(true, count, runtime, name,
        count + " device(s), device 0: " + (name.isEmpty() ? "(no context)" : name) + "; runtime " + version(runtime)
            + "; " + cudnn);
  }

  private static String version(int v) {
    return v <= 0 ? "?" : (v / 1000) + "." + (v % 1000) / 10;
  }
}
