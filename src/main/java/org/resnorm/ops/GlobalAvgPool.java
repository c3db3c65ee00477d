package org.resnorm.ops;

import org.resnorm.bind.CudaNative;
import org.resnorm.bind.ResnormNative;
import org.resnorm.core.Checks;
import org.resnorm.core.DType;
import org.resnorm.core.Engine;
import org.resnorm.core.NativeStatus;
import org.resnorm.core.Tensor;

/**
 * Global average pooling: {@code y[n, c] = mean over (h, w) of x[n, c, h, w]}, with x
 * [N, C, H, W] and y [N, C] (ready for {@link Linear}). The gradient is overwritten:
 * {@code dx[n, c, h, w] = dy[n, c] / (H * W)}. Stateless.
 */
public final class GlobalAvgPool {
  private GlobalAvgPool() {}

  /** The output shape [N, C] for an input [N, C, H, W]. */
  public static int[] outputShape(int... inputShape) {
    if (inputShape == null || inputShape.length != 4) {
      throw new IllegalArgumentException("input shape must be [N, C, H, W]");
    }
    return new int[] {inputShape[0], inputShape[1]};
  }

  public static void forward(Engine engine, Tensor x, Tensor y) {
    Checks.engine(engine);
    Checks.rank("x", x, DType.F32, 4);
    int hw = plane(x);
    Checks.floatTensor("y", y, x.dim(0), x.dim(1));
    Checks.noOverlap("y", y, new String[] {"x"}, x);
    NativeStatus.check(engine.isCuda()
        ? CudaNative.rn_cuda_global_avgpool_forward(engine.cudaHandle(), x.dim(0), x.dim(1), hw,
        engine.ptr(x), engine.ptr(y))
        : ResnormNative.rn_global_avgpool_forward(engine.handle(), x.dim(0), x.dim(1), hw,
        engine.ptr(x), engine.ptr(y)), "global_avgpool forward");
  }

  /** dx [N, C, H, W] = dy [N, C] / (H * W), broadcast over each plane. */
  public static void backward(Engine engine, Tensor dy, Tensor dx) {
    Checks.engine(engine);
    Checks.rank("dx", dx, DType.F32, 4);
    int hw = plane(dx);
    Checks.floatTensor("dy", dy, dx.dim(0), dx.dim(1));
    Checks.noOverlap("dx", dx, new String[] {"dy"}, dy);
    NativeStatus.check(engine.isCuda()
        ? CudaNative.rn_cuda_global_avgpool_backward(engine.cudaHandle(), dx.dim(0), dx.dim(1), hw,
        engine.ptr(dy), engine.ptr(dx))
        : ResnormNative.rn_global_avgpool_backward(engine.handle(), dx.dim(0), dx.dim(1), hw,
        engine.ptr(dy), engine.ptr(dx)), "global_avgpool backward");
  }

  /** H * W of a [N, C, H, W] tensor, which the C API takes as an int32. */
  private static int plane(Tensor t) {
    long hw = (long) t.dim(2) * t.dim(3);
    if (hw > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("H * W of " + t.shapeString() + " exceeds 2^31 - 1");
    }
    return (int) hw;
  }
}
