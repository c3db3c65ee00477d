package org.resnorm.ops;

import org.resnorm.bind.CudaNative;
import org.resnorm.bind.ResnormNative;
import org.resnorm.core.Checks;
import org.resnorm.core.Engine;
import org.resnorm.core.NativeStatus;
import org.resnorm.core.Tensor;

/**
 * Weight-normalized convolution: the paper's NormProp family as one fused op
 * ({@code native/include/resnorm/weightnorm_conv.h}).
 *
 * <pre>
 *   vhat_k = v_k / ||v_k||                       (norm over C, R, S of filter k; v [K, C, R, S])
 *   u      = gamma_k * conv(x, vhat)_k + beta_k  (gamma [K]; beta [K] or null)
 *   y      = postScale * act(u) + postShift      (y [N, K or 2K (CReLU), P, Q])
 * </pre>
 *
 * The scale gamma_k / ||v_k||, the bias and the activation run in the conv's epilogue. The
 * variants ({@link Kind}) differ in the post map and in whether gamma is learned:
 * NORMPROP re-centres and re-scales the activation by the mean and standard deviation of
 * ReLU(z), z ~ N(0, 1) (only when there is an activation); NORMPROP2 is plain weight
 * normalization; NORMPROP3 is NORMPROP2 with gamma fixed (no dgamma).
 *
 * <p>An instance holds the geometry and the variant, not the parameters. Not thread-safe; close
 * it to free the native descriptor.
 */
public final class WeightNormConv2d implements AutoCloseable {
  /** The paper's NormProp family. */
  public enum Kind {
    NORMPROP,
    NORMPROP2,
    NORMPROP3
  }

  /** NormProp's initial (and NORMPROP3's fixed) gamma: 1 / 1.21. */
  public static final float DEFAULT_GAMMA = (float) (1.0 / 1.21);
  /** Mean of ReLU(z), z ~ N(0, 1): 1 / sqrt(2 pi). */
  public static final double RELU_MEAN = 1.0 / Math.sqrt(2 * Math.PI);
  /** Standard deviation of ReLU(z), z ~ N(0, 1): sqrt(0.5 (1 - 1/pi)). */
  public static final double RELU_STD = Math.sqrt(0.5 * (1 - 1 / Math.PI));

  private final Conv2d conv;
  private final Kind kind;
  private final Act act;
  private final float postScale;
  private final float postShift;

  public WeightNormConv2d(Conv2d geometry, Kind kind, Act act) {
    if (geometry == null || kind == null || act == null) {
      throw new IllegalArgumentException("geometry, kind and act must not be null");
    }
    this.conv = geometry;
    this.kind = kind;
    this.act = act;
    boolean recentre = kind == Kind.NORMPROP && act != Act.NONE;
    this.postScale = recentre ? (float) (1 / RELU_STD) : 1f;
    this.postShift = recentre ? (float) (-RELU_MEAN / RELU_STD) : 0f;
  }

  public Kind kind() {
    return kind;
  }

  public Act act() {
    return act;
  }

  /** Whether gamma is a learned parameter (not for NORMPROP3). */
  public boolean learnsGamma() {
    return kind != Kind.NORMPROP3;
  }

  public float postScale() {
    return postScale;
  }

  public float postShift() {
    return postShift;
  }

  public int[] weightShape() {
    return conv.weightShape();
  }

  /** y's shape for an input shape: K or 2K (CReLU) channels. */
  public int[] outputShape(int[] inputShape) {
    int[] ys = conv.outputShape(inputShape);
    ys[1] = act.outputChannels(ys[1]);
    return ys;
  }

  /** The pre-activation shape [N, K, P, Q] (of the du scratch in backward). */
  public int[] preActivationShape(int[] inputShape) {
    return conv.outputShape(inputShape);
  }

  public void forward(Engine engine, Tensor x, Tensor v, Tensor gamma, Tensor beta, Tensor y) {
    Checks.engine(engine);
    int[] xs = conv.inputShapeOf("x", x);
    Checks.floatTensor("v", v, weightShape());
    Checks.floatTensor("gamma", gamma, conv.outChannels());
    Checks.optionalFloatTensor("beta", beta, conv.outChannels());
    Checks.floatTensor("y", y, outputShape(xs));
    Checks.noOverlap("y", y, new String[] {"x", "v", "gamma", "beta"}, x, v, gamma, beta);
    check(engine.isCuda()
        ? CudaNative.rn_cuda_wnconv_forward(engine.cudaHandle(), conv.prepared(xs), act.code, postScale, postShift,
        engine.ptr(x), engine.ptr(v), engine.ptr(gamma), beta == null ? null : engine.ptr(beta),
        engine.ptr(y))
        : ResnormNative.rn_wnconv_forward(engine.handle(), conv.prepared(xs), act.code, postScale, postShift,
        engine.ptr(x), engine.ptr(v), engine.ptr(gamma), beta == null ? null : engine.ptr(beta),
        engine.ptr(y)), "forward");
  }

  /**
   * Gradients from y (this op's forward output) and dy. {@code du} is scratch of the
   * pre-activation shape; it may be dy itself when the activation is not CReLU (dy is then
   * overwritten). dx, dgamma and dbeta may be null; dgamma must be null for NORMPROP3.
   */
  public void backward(Engine engine, Tensor x, Tensor v, Tensor gamma, Tensor y, Tensor dy, Tensor du, Tensor dx,
      Tensor dv, Tensor dgamma, Tensor dbeta) {
    Checks.engine(engine);
    int[] xs = conv.inputShapeOf("x", x);
    int[] ys = outputShape(xs);
    Checks.floatTensor("v", v, weightShape());
    Checks.floatTensor("gamma", gamma, conv.outChannels());
    Checks.floatTensor("y", y, ys);
    Checks.floatTensor("dy", dy, ys);
    Checks.floatTensor("du", du, preActivationShape(xs));
    Checks.optionalFloatTensor("dx", dx, xs);
    Checks.floatTensor("dv", dv, weightShape());
    Checks.optionalFloatTensor("dgamma", dgamma, conv.outChannels());
    Checks.optionalFloatTensor("dbeta", dbeta, conv.outChannels());
    if (dgamma != null && !learnsGamma()) {
      throw new IllegalArgumentException(kind + " keeps gamma fixed: pass dgamma = null");
    }
    // du may be dy itself (in place) when they have one shape: not with CReLU, whose dy has 2K
    // channels (the shape checks above reject that).
    if (du != dy) {
      Checks.noOverlap("du", du, new String[] {"x", "v", "gamma", "y", "dy"}, x, v, gamma, y, dy);
    }
    String[] inputs = {"x", "v", "gamma", "y", "dy", "du"};
    Checks.noOverlap("dx", dx, inputs, x, v, gamma, y, dy, du);
    Checks.noOverlap("dv", dv, inputs, x, v, gamma, y, dy, du);
    Checks.noOverlap("dgamma", dgamma, inputs, x, v, gamma, y, dy, du);
    Checks.noOverlap("dbeta", dbeta, inputs, x, v, gamma, y, dy, du);
    check(engine.isCuda()
        ? CudaNative.rn_cuda_wnconv_backward(engine.cudaHandle(), conv.prepared(xs), act.code, postScale, postShift,
        engine.ptr(x), engine.ptr(v), engine.ptr(gamma), engine.ptr(y), engine.ptr(dy),
        engine.ptr(du), dx == null ? null : engine.ptr(dx), engine.ptr(dv),
        dgamma == null ? null : engine.ptr(dgamma), dbeta == null ? null : engine.ptr(dbeta))
        : ResnormNative.rn_wnconv_backward(engine.handle(), conv.prepared(xs), act.code, postScale, postShift,
        engine.ptr(x), engine.ptr(v), engine.ptr(gamma), engine.ptr(y), engine.ptr(dy),
        engine.ptr(du), dx == null ? null : engine.ptr(dx), engine.ptr(dv),
        dgamma == null ? null : engine.ptr(dgamma), dbeta == null ? null : engine.ptr(dbeta)), "backward");
  }

  private static void check(int status, String what) {
    if (status == ResnormNative.RN_STATUS_BAD_ARGUMENT) {
      // Shapes were checked above; what is left is the data: a filter of v with zero norm.
      throw new IllegalArgumentException("weight-normalized conv " + what + ": a filter of v has zero (or non-finite) "
          + "norm");
    }
    NativeStatus.check(status, "weight-normalized conv " + what);
  }

  @Override
  public void close() {
    conv.close();
  }

  @Override
  public String toString() {
    return "WeightNormConv2d(" + kind + ", " + act + ", " + conv + ")";
  }
}
