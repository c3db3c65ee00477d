package org.resnorm.ops;

import org.resnorm.bind.CudaNative;
import org.resnorm.bind.ResnormNative;
import org.resnorm.core.Checks;
import org.resnorm.core.DType;
import org.resnorm.core.Engine;
import org.resnorm.core.NativeStatus;
import org.resnorm.core.Tensor;

/**
 * Standalone activations (float32): ReLU, CReLU and the residual block's add + ReLU. These are
 * the unfused path next to {@link BatchNorm2d}'s fused activations, and the block-final
 * {@code relu(branch + shortcut)}. NaN propagates through the forward ops, as in PyTorch.
 *
 * <pre>
 *   relu:     y = max(x, 0)                              dx = dy * [y > 0]
 *   crelu:    x [N,C,H,W] -> y [N,2C,H,W] = [max(x,0), max(-x,0)]
 *             dx = dy[:, c] * [x > 0] - dy[:, C+c] * [x < 0]
 *   addRelu:  y = max(a + b, 0)                          da = db = dy * [y > 0]
 * </pre>
 *
 * <p>In place (an output that is exactly the same tensor memory as an input) is allowed for
 * relu ({@code y == x}; backward {@code dx == dy}), addRelu ({@code y == a} or {@code y == b};
 * backward {@code da == dy}); any other overlap, and any overlap for CReLU, is rejected.
 */
public final class Activation {
  private Activation() {}

  /** y = max(x, 0); x and y have the same shape; y may be x. */
  public static void relu(Engine engine, Tensor x, Tensor y) {
    Checks.engine(engine);
    int[] shape = shapeOf("x", x);
    Checks.floatTensor("y", y, shape);
    overlapUnlessSame("y", y, "x", x);
    NativeStatus.check(engine.isCuda()
        ? CudaNative.rn_cuda_relu_forward(engine.cudaHandle(), x.numel(), engine.ptr(x), engine.ptr(y))
        : ResnormNative.rn_relu_forward(engine.handle(), x.numel(), engine.ptr(x), engine.ptr(y)),
        "relu forward");
  }

  /** dx = dy * [y > 0] from the forward output y; dx may be dy. */
  public static void reluBackward(Engine engine, Tensor y, Tensor dy, Tensor dx) {
    Checks.engine(engine);
    int[] shape = shapeOf("y", y);
    Checks.floatTensor("dy", dy, shape);
    Checks.floatTensor("dx", dx, shape);
    overlapUnlessSame("dx", dx, "dy", dy);
    overlapUnlessSame("dx", dx, "y", y);
    NativeStatus.check(engine.isCuda()
        ? CudaNative.rn_cuda_relu_backward(engine.cudaHandle(), y.numel(), engine.ptr(y),
        engine.ptr(dy), engine.ptr(dx))
        : ResnormNative.rn_relu_backward(engine.handle(), y.numel(), engine.ptr(y),
        engine.ptr(dy), engine.ptr(dx)), "relu backward");
  }

  /** x [N, C, H, W] -> y [N, 2C, H, W] = [max(x, 0), max(-x, 0)]. */
  public static void crelu(Engine engine, Tensor x, Tensor y) {
    Checks.engine(engine);
    int[] s = nchw("x", x);
    Checks.floatTensor("y", y, s[0], Act.CRELU.outputChannels(s[1]), s[2], s[3]);
    Checks.noOverlap("y", y, new String[] {"x"}, x);
    NativeStatus.check(engine.isCuda()
        ? CudaNative.rn_cuda_crelu_forward(engine.cudaHandle(), s[0], s[1], hw(s), engine.ptr(x),
        engine.ptr(y))
        : ResnormNative.rn_crelu_forward(engine.handle(), s[0], s[1], hw(s), engine.ptr(x),
        engine.ptr(y)), "crelu forward");
  }

  /** dx [N, C, H, W] = dy[:, c] * [x > 0] - dy[:, C + c] * [x < 0], from the forward input x. */
  public static void creluBackward(Engine engine, Tensor x, Tensor dy, Tensor dx) {
    Checks.engine(engine);
    int[] s = nchw("x", x);
    Checks.floatTensor("dy", dy, s[0], Act.CRELU.outputChannels(s[1]), s[2], s[3]);
    Checks.floatTensor("dx", dx, s);
    Checks.noOverlap("dx", dx, new String[] {"x", "dy"}, x, dy);
    NativeStatus.check(engine.isCuda()
        ? CudaNative.rn_cuda_crelu_backward(engine.cudaHandle(), s[0], s[1], hw(s), engine.ptr(x),
        engine.ptr(dy), engine.ptr(dx))
        : ResnormNative.rn_crelu_backward(engine.handle(), s[0], s[1], hw(s), engine.ptr(x),
        engine.ptr(dy), engine.ptr(dx)), "crelu backward");
  }

  /** Checks of y = f(a + b): one shape for all three; y may be a or b, no partial overlap. */
  private static void checkSum(Engine engine, Tensor a, Tensor b, Tensor y) {
    Checks.engine(engine);
    int[] shape = shapeOf("a", a);
    Checks.floatTensor("b", b, shape);
    Checks.floatTensor("y", y, shape);
    overlapUnlessSame("y", y, "a", a);
    overlapUnlessSame("y", y, "b", b);
  }

  /** y = a + b (where two gradient paths meet); y may be a or b. */
  public static void add(Engine engine, Tensor a, Tensor b, Tensor y) {
    checkSum(engine, a, b, y);
    NativeStatus.check(engine.isCuda()
        ? CudaNative.rn_cuda_add(engine.cudaHandle(), a.numel(), engine.ptr(a), engine.ptr(b),
        engine.ptr(y))
        : ResnormNative.rn_add(engine.handle(), a.numel(), engine.ptr(a), engine.ptr(b),
        engine.ptr(y)), "add");
  }

  /** y = max(a + b, 0) (residual add fused with the block's final ReLU); y may be a or b. */
  public static void addRelu(Engine engine, Tensor a, Tensor b, Tensor y) {
    checkSum(engine, a, b, y);
    NativeStatus.check(engine.isCuda()
        ? CudaNative.rn_cuda_add_relu_forward(engine.cudaHandle(), a.numel(), engine.ptr(a),
        engine.ptr(b), engine.ptr(y))
        : ResnormNative.rn_add_relu_forward(engine.handle(), a.numel(), engine.ptr(a),
        engine.ptr(b), engine.ptr(y)), "add_relu forward");
  }

  /**
   * da = dy * [y > 0] and, unless {@code db} is null, db = da (the gradient reaches both
   * summands; pass null and reuse da when the shortcut is the identity). da may be dy.
   */
  public static void addReluBackward(Engine engine, Tensor y, Tensor dy, Tensor da, Tensor db) {
    Checks.engine(engine);
    int[] shape = shapeOf("y", y);
    Checks.floatTensor("dy", dy, shape);
    Checks.floatTensor("da", da, shape);
    Checks.optionalFloatTensor("db", db, shape);
    overlapUnlessSame("da", da, "dy", dy);
    overlapUnlessSame("da", da, "y", y);
    if (db != null) {
      overlapUnlessSame("db", db, "dy", dy);
      overlapUnlessSame("db", db, "y", y);
      Checks.noOverlap("db", db, new String[] {"da"}, da);
    }
    NativeStatus.check(engine.isCuda()
        ? CudaNative.rn_cuda_add_relu_backward(engine.cudaHandle(), y.numel(), engine.ptr(y),
        engine.ptr(dy), engine.ptr(da), db == null ? null : engine.ptr(db))
        : ResnormNative.rn_add_relu_backward(engine.handle(), y.numel(), engine.ptr(y),
        engine.ptr(dy), engine.ptr(da), db == null ? null : engine.ptr(db)), "add_relu backward");
  }

  /**
   * dx = (da + db) * [y > 0]: two gradients of a ReLU output y summed and passed back through the
   * ReLU in one pass, the same floats as {@link #add} followed by {@link #reluBackward}. dx may be
   * da or db (or y); no partial overlaps.
   */
  public static void reluBackwardSum(Engine engine, Tensor y, Tensor da, Tensor db, Tensor dx) {
    Checks.engine(engine);
    int[] shape = shapeOf("y", y);
    Checks.floatTensor("da", da, shape);
    Checks.floatTensor("db", db, shape);
    Checks.floatTensor("dx", dx, shape);
    overlapUnlessSame("dx", dx, "y", y);
    overlapUnlessSame("dx", dx, "da", da);
    overlapUnlessSame("dx", dx, "db", db);
    NativeStatus.check(engine.isCuda()
        ? CudaNative.rn_cuda_relu_backward_sum(engine.cudaHandle(), y.numel(), engine.ptr(y),
        engine.ptr(da), engine.ptr(db), engine.ptr(dx))
        : ResnormNative.rn_relu_backward_sum(engine.handle(), y.numel(), engine.ptr(y),
        engine.ptr(da), engine.ptr(db), engine.ptr(dx)), "relu backward of a sum");
  }

  // ------------------------------------------------------------------ shared checks

  /** Whether the two (open, contiguous, checked) tensors are exactly the same memory. */
  static boolean sameMemory(Tensor a, Tensor b) {
    return a.overlaps(b) && a.numel() == b.numel() && a.floatPointer().address() == b.floatPointer().address();
  }

  /** Rejects overlap of out with in, except when they are exactly the same memory. */
  static void overlapUnlessSame(String outName, Tensor out, String inName, Tensor in) {
    if (!sameMemory(out, in)) {
      Checks.noOverlap(outName, out, new String[] {inName}, in);
    }
  }

  /** An open, contiguous float tensor of any rank; returns its shape. */
  private static int[] shapeOf(String name, Tensor t) {
    if (t == null) {
      throw new IllegalArgumentException(name + " must not be null");
    }
    Checks.rank(name, t, DType.F32, t.rank());
    return t.shape();
  }

  /** An open, contiguous float [N, C, H, W] tensor; returns its shape. */
  static int[] nchw(String name, Tensor t) {
    Checks.rank(name, t, DType.F32, 4);
    return t.shape();
  }

  /** H*W of an NCHW shape, which the native API takes as one int32. */
  static int hw(int[] s) {
    long hw = (long) s[2] * s[3];
    if (hw > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("H*W = " + hw + " is too large (at most " + Integer.MAX_VALUE + ")");
    }
    return (int) hw;
  }
}
