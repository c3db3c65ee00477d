package org.resnorm.ops;

import org.resnorm.bind.CudaNative;
import org.resnorm.bind.ResnormNative;
import org.resnorm.core.Checks;
import org.resnorm.core.DType;
import org.resnorm.core.Engine;
import org.resnorm.core.NativeStatus;
import org.resnorm.core.Tensor;

/**
 * 2-D max pooling over a square window, NCHW float32: x [N, C, H, W] to y [N, C, P, Q] with
 * {@code P = (H + 2*pad - kernel) / stride + 1} (floor, PyTorch's {@code ceil_mode=False}), Q
 * likewise. Padding counts as -inf (never selected). Ties go to the first pixel in row-major
 * window order; a NaN in a window is selected (the first one), so NaN propagates as in PyTorch.
 *
 * <p>The argmax is kept in an ordinary {@link DType#I32} tensor [N, C, P, Q] that the caller
 * owns (made with {@link Tensor#emptyInt}): entry {@code h_in * W + w_in} is the selected pixel
 * within its input plane. Storing it costs 4 bytes per output element and makes
 * {@link #backward} a plain scatter; {@link #backwardRecompute} rescans x instead, for callers
 * that keep x but not the argmax. Both give bitwise the same dx.
 *
 * <p>Gradients are overwritten (dx is zeroed, then each dy is added at its argmax; overlapping
 * windows accumulate).
 */
public final class MaxPool2d {
  private final int kernel;
  private final int stride;
  private final int pad;

  /** Requires kernel, stride >= 1 and 0 <= pad <= kernel / 2 (PyTorch's rule). */
  public MaxPool2d(int kernel, int stride, int pad) {
    Checks.positive("kernel", kernel);
    Checks.positive("stride", stride);
    Checks.nonNegative("pad", pad);
    if (pad > kernel / 2) {
      throw new IllegalArgumentException("pad must be at most kernel / 2 = " + kernel / 2 + ", got " + pad);
    }
    this.kernel = kernel;
    this.stride = stride;
    this.pad = pad;
  }

  public int kernel() {
    return kernel;
  }

  public int stride() {
    return stride;
  }

  public int pad() {
    return pad;
  }

  /** Output size along one spatial dimension of input size {@code size}. */
  public int outputSize(int size) {
    Checks.positive("size", size);
    long padded = (long) size + 2L * pad;
    if (padded < kernel) {
      throw new IllegalArgumentException(
          "input size " + size + " + 2 * pad " + pad + " is smaller than the kernel " + kernel);
    }
    return Math.toIntExact((padded - kernel) / stride + 1);
  }

  /** [N, C, P, Q] for an input [N, C, H, W]. */
  public int[] outputShape(int... inputShape) {
    if (inputShape == null || inputShape.length != 4) {
      throw new IllegalArgumentException("input shape must be [N, C, H, W]");
    }
    return new int[] {inputShape[0], inputShape[1], outputSize(inputShape[2]), outputSize(inputShape[3])};
  }

  /** y = maxpool(x); argmax (an I32 tensor shaped like y) is filled when not null. */
  public void forward(Engine engine, Tensor x, Tensor y, Tensor argmax) {
    Checks.engine(engine);
    int[] out = input("x", x);
    Checks.floatTensor("y", y, out);
    if (argmax != null) {
      Checks.intTensor("argmax", argmax, out);
    }
    Checks.noOverlap("y", y, new String[] {"x"}, x);
    NativeStatus.check(engine.isCuda()
        ? CudaNative.rn_cuda_maxpool2d_forward(engine.cudaHandle(), x.dim(0), x.dim(1), x.dim(2), x.dim(3),
        kernel, stride, pad, engine.ptr(x), engine.ptr(y), argmax == null ? null : engine.intPtr(argmax))
        : ResnormNative.rn_maxpool2d_forward(engine.handle(), x.dim(0), x.dim(1), x.dim(2), x.dim(3),
        kernel, stride, pad, engine.ptr(x), engine.ptr(y), argmax == null ? null : engine.intPtr(argmax)),
        "maxpool2d forward");
  }

  /**
   * dx [N, C, H, W] from dy [N, C, P, Q] and the argmax stored by {@link #forward}. An argmax
   * entry outside [0, H*W) is rejected natively (IllegalArgumentException; dx is then partly
   * written): nothing outside dx is ever written.
   */
  public void backward(Engine engine, Tensor argmax, Tensor dy, Tensor dx) {
    Checks.engine(engine);
    int[] out = input("dx", dx);
    Checks.intTensor("argmax", argmax, out);
    Checks.floatTensor("dy", dy, out);
    Checks.noOverlap("dx", dx, new String[] {"dy"}, dy);
    int status = engine.isCuda()
        ? CudaNative.rn_cuda_maxpool2d_backward(engine.cudaHandle(), dx.dim(0), dx.dim(1), dx.dim(2), dx.dim(3),
        kernel, stride, pad, engine.intPtr(argmax), engine.ptr(dy), engine.ptr(dx))
        : ResnormNative.rn_maxpool2d_backward(engine.handle(), dx.dim(0), dx.dim(1), dx.dim(2), dx.dim(3),
        kernel, stride, pad, engine.intPtr(argmax), engine.ptr(dy), engine.ptr(dx));
    if (status == ResnormNative.RN_STATUS_BAD_ARGUMENT) {
      // Every shape was checked above: only the argmax contents can be at fault.
      throw new IllegalArgumentException("maxpool2d backward: argmax holds an index outside [0, "
          + (long) dx.dim(2) * dx.dim(3) + "): it was not produced by forward() for this input shape");
    }
    NativeStatus.check(status, "maxpool2d backward");
  }

  /** As {@link #backward}, with the argmax recomputed from the forward input x. */
  public void backwardRecompute(Engine engine, Tensor x, Tensor dy, Tensor dx) {
    Checks.engine(engine);
    int[] out = input("x", x);
    Checks.floatTensor("dy", dy, out);
    Checks.floatTensor("dx", dx, x.shape());
    Checks.noOverlap("dx", dx, new String[] {"x", "dy"}, x, dy);
    NativeStatus.check(engine.isCuda()
        ? CudaNative.rn_cuda_maxpool2d_backward_recompute(engine.cudaHandle(), x.dim(0), x.dim(1), x.dim(2),
        x.dim(3), kernel, stride, pad, engine.ptr(x), engine.ptr(dy), engine.ptr(dx))
        : ResnormNative.rn_maxpool2d_backward_recompute(engine.handle(), x.dim(0), x.dim(1), x.dim(2),
        x.dim(3), kernel, stride, pad, engine.ptr(x), engine.ptr(dy), engine.ptr(dx)),
        "maxpool2d backward_recompute");
  }

  /** Checks an input-shaped tensor [N, C, H, W]; returns the output shape. */
  private int[] input(String name, Tensor t) {
    Checks.rank(name, t, DType.F32, 4);
    if ((long) t.dim(2) * t.dim(3) > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("H * W of " + name + " " + t.shapeString() + " exceeds 2^31 - 1 (argmax is int32)");
    }
    try {
      return outputShape(t.shape());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(name + " " + t.shapeString() + ": " + e.getMessage(), e);
    }
  }

  @Override
  public String toString() {
    return "MaxPool2d(kernel=" + kernel + ", stride=" + stride + ", pad=" + pad + ")";
  }
}
