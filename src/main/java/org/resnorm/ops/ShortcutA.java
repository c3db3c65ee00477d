package org.resnorm.ops;

import org.resnorm.bind.CudaNative;
import org.resnorm.bind.ResnormNative;
import org.resnorm.core.Checks;
import org.resnorm.core.DType;
import org.resnorm.core.Engine;
import org.resnorm.core.NativeStatus;
import org.resnorm.core.Tensor;

/**
 * The parameter-free option A residual shortcut (fb.resnet.torch's CIFAR default): a strided
 * identity with zero channels appended, NCHW float32.
 * {@code y[n, k, i, j] = x[n, k, i*stride, j*stride]} for {@code k < cIn} and 0 for
 * {@code cIn <= k < cOut}; x [N, cIn, H, W], y [N, cOut, ceil(H/stride), ceil(W/stride)].
 * The zero channels come after the identity channels, as fb.resnet.torch's
 * {@code Concat(Identity, MulConstant(0))} lays them out (not half before, half after).
 * Backward overwrites dx: dy at the subsampled positions, 0 elsewhere.
 */
public final class ShortcutA {
  private final int cIn;
  private final int cOut;
  private final int stride;

  /** Requires cOut >= cIn >= 1 and stride >= 1. */
  public ShortcutA(int cIn, int cOut, int stride) {
    Checks.positive("cIn", cIn);
    Checks.positive("cOut", cOut);
    Checks.positive("stride", stride);
    if (cOut < cIn) {
      throw new IllegalArgumentException("cOut (" + cOut + ") must be >= cIn (" + cIn + ")");
    }
    this.cIn = cIn;
    this.cOut = cOut;
    this.stride = stride;
  }

  public int inChannels() {
    return cIn;
  }

  public int outChannels() {
    return cOut;
  }

  public int stride() {
    return stride;
  }

  /** [N, cOut, ceil(H/stride), ceil(W/stride)] for an input [N, cIn, H, W]. */
  public int[] outputShape(int... inputShape) {
    if (inputShape == null || inputShape.length != 4 || inputShape[1] != cIn) {
      throw new IllegalArgumentException("input shape must be [N, " + cIn + ", H, W]");
    }
    for (int d : inputShape) {
      Checks.positive("input dimension", d);
    }
    return new int[] {inputShape[0], cOut, ceilDiv(inputShape[2]), ceilDiv(inputShape[3])};
  }

  public void forward(Engine engine, Tensor x, Tensor y) {
    Checks.engine(engine);
    input("x", x);
    Checks.floatTensor("y", y, outputShape(x.shape()));
    Checks.noOverlap("y", y, new String[] {"x"}, x);
    NativeStatus.check(engine.isCuda()
        ? CudaNative.rn_cuda_shortcut_a_forward(engine.cudaHandle(), x.dim(0), cIn, x.dim(2), x.dim(3), cOut,
        stride, engine.ptr(x), engine.ptr(y))
        : ResnormNative.rn_shortcut_a_forward(engine.handle(), x.dim(0), cIn, x.dim(2), x.dim(3), cOut,
        stride, engine.ptr(x), engine.ptr(y)), "shortcut_a forward");
  }

  /** dx [N, cIn, H, W] from dy [N, cOut, ceil(H/stride), ceil(W/stride)]. */
  public void backward(Engine engine, Tensor dy, Tensor dx) {
    Checks.engine(engine);
    input("dx", dx);
    Checks.floatTensor("dy", dy, outputShape(dx.shape()));
    Checks.noOverlap("dx", dx, new String[] {"dy"}, dy);
    NativeStatus.check(engine.isCuda()
        ? CudaNative.rn_cuda_shortcut_a_backward(engine.cudaHandle(), dx.dim(0), cIn, dx.dim(2), dx.dim(3),
        cOut, stride, engine.ptr(dy), engine.ptr(dx))
        : ResnormNative.rn_shortcut_a_backward(engine.handle(), dx.dim(0), cIn, dx.dim(2), dx.dim(3),
        cOut, stride, engine.ptr(dy), engine.ptr(dx)), "shortcut_a backward");
  }

  private void input(String name, Tensor t) {
    Checks.rank(name, t, DType.F32, 4);
    if (t.dim(1) != cIn) {
      throw new IllegalArgumentException(name + " must be [N, " + cIn + ", H, W], got " + t.shapeString());
    }
  }

  private int ceilDiv(int size) {
    return (int) (((long) size + stride - 1) / stride);
  }

  @Override
  public String toString() {
    return "ShortcutA(" + cIn + "->" + cOut + ", stride=" + stride + ")";
  }
}
