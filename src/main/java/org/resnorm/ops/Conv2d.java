package org.resnorm.ops;

import org.resnorm.bind.CudaNative;
import org.resnorm.bind.ResnormNative;
import org.resnorm.bind.ResnormNative.rn_conv2d_desc;
import org.resnorm.core.Checks;
import org.resnorm.core.Engine;
import org.resnorm.core.NativeStatus;
import org.resnorm.core.Tensor;

/**
 * 2-D convolution (cross-correlation), NCHW float32: forward, backward-data and
 * backward-filter (+bias) kernels.
 *
 * <pre>
 *   y[n,k,p,q] = bias[k] + sum_{c,r,s} w[k,c,r,s] * x[n, c, p*strideH - padH + r, q*strideW - padW + s]
 *   x [N, C, H, W]   w [K, C, R, S]   bias [K] (optional)   y [N, K, P, Q]
 *   P = (H + 2 padH - R) / strideH + 1,   Q = (W + 2 padW - S) / strideW + 1
 * </pre>
 *
 * An instance holds the layer's geometry (not its weights) and works for any batch size and
 * image size. Gradients are overwritten, not accumulated. Not thread-safe (it reuses one native
 * descriptor); close it to free that descriptor.
 */
public final class Conv2d implements AutoCloseable {
  private final int inChannels;
  private final int outChannels;
  private final int kernelH;
  private final int kernelW;
  private final int strideH;
  private final int strideW;
  private final int padH;
  private final int padW;
  private final ConvAlgo algo;
  private final rn_conv2d_desc desc;

  /** Square kernel, stride and padding, algorithm AUTO. */
  public Conv2d(int inChannels, int outChannels, int kernel, int stride, int padding) {
    this(inChannels, outChannels, kernel, kernel, stride, stride, padding, padding, ConvAlgo.AUTO);
  }

  public Conv2d(int inChannels, int outChannels, int kernelH, int kernelW, int strideH, int strideW,
      int padH, int padW, ConvAlgo algo) {
    Checks.positive("inChannels", inChannels);
    Checks.positive("outChannels", outChannels);
    Checks.positive("kernelH", kernelH);
    Checks.positive("kernelW", kernelW);
    Checks.positive("strideH", strideH);
    Checks.positive("strideW", strideW);
    Checks.nonNegative("padH", padH);
    Checks.nonNegative("padW", padW);
    if (padH >= kernelH || padW >= kernelW) {
      throw new IllegalArgumentException("padding (" + padH + ", " + padW + ") must be smaller than the kernel ("
          + kernelH + ", " + kernelW + ")");
    }
    if (algo == null) {
      throw new IllegalArgumentException("algo must not be null");
    }
    if (!algo.appliesTo(kernelH, kernelW, strideH, strideW)) {
      throw new IllegalArgumentException(algo + " needs a 3x3 kernel with stride 1, got " + kernelH + "x" + kernelW
          + " stride " + strideH + "x" + strideW);
    }
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelH = kernelH;
    this.kernelW = kernelW;
    this.strideH = strideH;
    this.strideW = strideW;
    this.padH = padH;
    this.padW = padW;
    this.algo = algo;
    this.desc = new rn_conv2d_desc();
  }

  public int inChannels() {
    return inChannels;
  }

  public int outChannels() {
    return outChannels;
  }

  public ConvAlgo algo() {
    return algo;
  }

  /** Weight shape [K, C, R, S]. */
  public int[] weightShape() {
    return new int[] {outChannels, inChannels, kernelH, kernelW};
  }

  /** Output shape for an input of shape [N, C, H, W]; throws if the input is too small. */
  public int[] outputShape(int[] inputShape) {
    if (inputShape == null || inputShape.length != 4) {
      throw new IllegalArgumentException("conv2d input must be [N, C, H, W], got "
          + (inputShape == null ? "null" : java.util.Arrays.toString(inputShape)));
    }
    if (inputShape[1] != inChannels) {
      throw new IllegalArgumentException("conv2d expects " + inChannels + " input channels, got "
          + java.util.Arrays.toString(inputShape));
    }
    for (int d : inputShape) {
      Checks.positive("input dimension", d);
    }
    long hp = (long) inputShape[2] + 2L * padH - kernelH;
    long wp = (long) inputShape[3] + 2L * padW - kernelW;
    if (hp < 0 || wp < 0) {
      throw new IllegalArgumentException("input " + java.util.Arrays.toString(inputShape) + " is smaller than the "
          + kernelH + "x" + kernelW + " kernel with padding " + padH + "x" + padW);
    }
    return new int[] {inputShape[0], outChannels, (int) (hp / strideH + 1), (int) (wp / strideW + 1)};
  }

  /** The algorithm AUTO picks for this input shape: direction 0 forward, 1 data, 2 filter. */
  public ConvAlgo resolvedAlgo(int[] inputShape, int direction) {
    if (direction < 0 || direction > 2) {
      throw new IllegalArgumentException("direction must be 0, 1 or 2");
    }
    fill(inputShape, outputShape(inputShape));
    return ConvAlgo.of(ResnormNative.rn_conv2d_resolve_algo(desc, direction));
  }

  /**
   * Whether the CPU's {@link #forwardCreluInput} and {@link #backwardFilterCreluInput} form the CReLU
   * inside the conv (3x3 stride-1 Winograd with C/2 a multiple of 16) for the conv input shape
   * [N, C, H, W] (C = this conv's input channels), rather than in chunks: the case where reading the
   * pre-activation beats storing the 2C tensor.
   */
  public boolean creluInputInPack(int[] inputShape) {
    if (inChannels % 2 != 0) {
      return false;
    }
    fill(inputShape, outputShape(inputShape));
    return ResnormNative.rn_conv2d_crelu_input_in_pack(desc) == 1;
  }

  /** y = conv(x, w) + bias. bias may be null. */
  public void forward(Engine engine, Tensor x, Tensor w, Tensor bias, Tensor y) {
    Checks.engine(engine);
    int[] xs = inputShapeOf("x", x);
    int[] ys = outputShape(xs);
    Checks.floatTensor("w", w, weightShape());
    Checks.optionalFloatTensor("bias", bias, outChannels);
    Checks.floatTensor("y", y, ys);
    Checks.noOverlap("y", y, new String[] {"x", "w", "bias"}, x, w, bias);
    fill(xs, ys);
    NativeStatus.check(engine.isCuda()
        ? CudaNative.rn_cuda_conv2d_forward(engine.cudaHandle(), desc, engine.ptr(x), engine.ptr(w),
        bias == null ? null : engine.ptr(bias), engine.ptr(y))
        : ResnormNative.rn_conv2d_forward(engine.handle(), desc, engine.ptr(x), engine.ptr(w),
        bias == null ? null : engine.ptr(bias), engine.ptr(y)), "conv2d forward");
  }

  /**
   * The conv with a fused epilogue, applied to each output tile while it is in cache (no extra pass
   * over y): {@code u = scale[k] * conv(x, w) + bias[k]}, then {@code act}, then
   * {@code y = postScale * act(u) + postShift}. With {@link Act#CRELU}, y is [N, 2K, P, Q] (the
   * positive part in channels 0..K-1, the negative part in K..2K-1). scale and bias may be null.
   */
  public void forwardFused(Engine engine, Tensor x, Tensor w, Tensor scale, Tensor bias, Act act, float postScale,
      float postShift, Tensor y) {
    Checks.engine(engine);
    epilogueForward(engine, inputShapeOf("x", x), false, x, w, scale, bias, act, postScale, postShift, y);
  }

  /**
   * forwardFused (creluInput false, xs x's shape) or forwardCreluInputFused (xs the 2C shape the
   * conv sees): the epilogue's checks, then the native call.
   */
  private void epilogueForward(Engine engine, int[] xs, boolean creluInput, Tensor x, Tensor w, Tensor scale,
      Tensor bias, Act act, float postScale, float postShift, Tensor y) {
    if (act == null) {
      throw new IllegalArgumentException("act must not be null");
    }
    if (!Float.isFinite(postScale) || !Float.isFinite(postShift)) {
      throw new IllegalArgumentException("postScale and postShift must be finite, got " + postScale + ", " + postShift);
    }
    int[] ys = outputShape(xs);
    int[] fusedShape = {ys[0], act.outputChannels(ys[1]), ys[2], ys[3]};
    Checks.floatTensor("w", w, weightShape());
    Checks.optionalFloatTensor("scale", scale, outChannels);
    Checks.optionalFloatTensor("bias", bias, outChannels);
    Checks.floatTensor("y", y, fusedShape);
    Checks.noOverlap("y", y, new String[] {"x", "w", "scale", "bias"}, x, w, scale, bias);
    fill(xs, ys);
    try (ResnormNative.rn_conv2d_epilogue ep = new ResnormNative.rn_conv2d_epilogue()) {
      ep.scale(scale == null ? null : engine.ptr(scale)).bias(bias == null ? null : engine.ptr(bias))
          .act(act.code).post_scale(postScale).post_shift(postShift);
      int status;
      if (engine.isCuda()) {
        status = creluInput
            ? CudaNative.rn_cuda_conv2d_forward_crelu_input_epilogue(engine.cudaHandle(), desc, engine.ptr(x),
            engine.ptr(w), ep, engine.ptr(y))
            : CudaNative.rn_cuda_conv2d_forward_epilogue(engine.cudaHandle(), desc, engine.ptr(x), engine.ptr(w), ep,
            engine.ptr(y));
      } else {
        status = creluInput
            ? ResnormNative.rn_conv2d_forward_crelu_input_epilogue(engine.handle(), desc, engine.ptr(x),
            engine.ptr(w), ep, engine.ptr(y))
            : ResnormNative.rn_conv2d_forward_epilogue(engine.handle(), desc, engine.ptr(x), engine.ptr(w), ep,
            engine.ptr(y));
      }
      NativeStatus.check(status, creluInput ? "conv2d forward (CReLU input, fused epilogue)"
          : "conv2d forward (fused epilogue)");
    }
  }

  /**
   * y = conv(CReLU(x), w) + bias, reading the pre-activation x [N, C/2, H, W] (C = this conv's
   * input channels, even): CReLU(x) = [max(x, 0), max(-x, 0)] is never a 2C tensor in memory. On
   * the CPU it is formed inside the conv's Winograd pack where {@link #creluInputInPack} says so
   * (then this is at least as fast as the conv of a stored CReLU), otherwise a few images at a time
   * in cache with the conv run chunk by chunk (slower). The gradient with respect to CReLU(x) is the plain
   * {@link #backwardData} (into a [N, C, H, W] tensor), which the fused BatchNorm+CReLU backward
   * folds onto x.
   */
  public void forwardCreluInput(Engine engine, Tensor x, Tensor w, Tensor bias, Tensor y) {
    Checks.engine(engine);
    int[] xs = creluInputShape(x);
    int[] ys = outputShape(xs);
    Checks.floatTensor("w", w, weightShape());
    Checks.optionalFloatTensor("bias", bias, outChannels);
    Checks.floatTensor("y", y, ys);
    Checks.noOverlap("y", y, new String[] {"x", "w", "bias"}, x, w, bias);
    fill(xs, ys);
    NativeStatus.check(engine.isCuda()
        ? CudaNative.rn_cuda_conv2d_forward_crelu_input(engine.cudaHandle(), desc, engine.ptr(x),
        engine.ptr(w), bias == null ? null : engine.ptr(bias), engine.ptr(y))
        : ResnormNative.rn_conv2d_forward_crelu_input(engine.handle(), desc, engine.ptr(x),
        engine.ptr(w), bias == null ? null : engine.ptr(bias), engine.ptr(y)), "conv2d forward (CReLU input)");
  }

  /**
   * {@link #forwardCreluInput} with {@link #forwardFused}'s epilogue: {@code u = scale[k] *
   * conv(CReLU(x), w) + bias[k]}, then act, then {@code y = postScale * act(u) + postShift}
   * (y [N, 2K, P, Q] for {@link Act#CRELU}). scale and bias may be null.
   */
  public void forwardCreluInputFused(Engine engine, Tensor x, Tensor w, Tensor scale, Tensor bias, Act act,
      float postScale, float postShift, Tensor y) {
    Checks.engine(engine);
    epilogueForward(engine, creluInputShape(x), true, x, w, scale, bias, act, postScale, postShift, y);
  }

  /** dw and dbias (may be null) of {@link #forwardCreluInput}, from the pre-activation x [N, C/2, H, W]. */
  public void backwardFilterCreluInput(Engine engine, Tensor x, Tensor dy, Tensor dw, Tensor dbias) {
    Checks.engine(engine);
    checkFilterGradients(creluInputShape(x), x, dy, dw, dbias);
    NativeStatus.check(engine.isCuda()
        ? CudaNative.rn_cuda_conv2d_backward_filter_crelu_input(engine.cudaHandle(), desc, engine.ptr(x),
        engine.ptr(dy), engine.ptr(dw), dbias == null ? null : engine.ptr(dbias))
        : ResnormNative.rn_conv2d_backward_filter_crelu_input(engine.handle(), desc, engine.ptr(x),
        engine.ptr(dy), engine.ptr(dw), dbias == null ? null : engine.ptr(dbias)),
        "conv2d backward_filter (CReLU input)");
  }

  /**
   * dx = dL/dx for the conv of crelu(x), x [N, C/2, H, W] the pre-activation: the gradient of the
   * 2C channels the conv sees, folded onto x by its sign (dX[:, c] * [x > 0] - dX[:, C/2 + c] *
   * [x < 0]), the same floats as {@link #backwardData} followed by {@link Activation#creluBackward}.
   * On the CPU, where this conv's backward-data runs as Winograd on whole 16-channel halves, the
   * 2C-channel gradient only ever exists a tile row at a time, in cache.
   */
  public void backwardDataCreluInput(Engine engine, Tensor dy, Tensor w, Tensor x, Tensor dx) {
    Checks.engine(engine);
    int[] xs = creluInputShape(x);
    int[] ys = outputShape(xs);
    Checks.floatTensor("dy", dy, ys);
    Checks.floatTensor("w", w, weightShape());
    Checks.floatTensor("dx", dx, x.shape());
    Checks.noOverlap("dx", dx, new String[] {"dy", "w", "x"}, dy, w, x);
    fill(xs, ys);
    NativeStatus.check(engine.isCuda()
        ? CudaNative.rn_cuda_conv2d_backward_data_crelu_input(engine.cudaHandle(), desc, engine.ptr(dy),
        engine.ptr(w), engine.ptr(x), engine.ptr(dx))
        : ResnormNative.rn_conv2d_backward_data_crelu_input(engine.handle(), desc, engine.ptr(dy),
        engine.ptr(w), engine.ptr(x), engine.ptr(dx)), "conv2d backward_data (CReLU input)");
  }

  /** Checks of the backward-filter outputs for the conv input shape xs; fills the descriptor. */
  private void checkFilterGradients(int[] xs, Tensor x, Tensor dy, Tensor dw, Tensor dbias) {
    int[] ys = outputShape(xs);
    Checks.floatTensor("dy", dy, ys);
    Checks.floatTensor("dw", dw, weightShape());
    Checks.optionalFloatTensor("dbias", dbias, outChannels);
    Checks.noOverlap("dw", dw, new String[] {"x", "dy", "dbias"}, x, dy, dbias);
    Checks.noOverlap("dbias", dbias, new String[] {"x", "dy"}, x, dy);
    fill(xs, ys);
  }

  /** The conv's input shape [N, C, H, W] for a CReLU-input pre-activation x [N, C/2, H, W]. */
  private int[] creluInputShape(Tensor x) {
    if (inChannels % 2 != 0) {
      throw new IllegalArgumentException("a CReLU input needs an even number of conv input channels, got "
          + inChannels);
    }
    org.resnorm.core.Checks.rank("x", x, org.resnorm.core.DType.F32, 4);
    int[] s = x.shape();
    if (s[1] != inChannels / 2) {
      throw new IllegalArgumentException("x (the CReLU pre-activation) must have " + inChannels / 2
          + " channels, got " + x.shapeString());
    }
    s[1] = inChannels;
    return s;
  }

  /** dx = dL/dx from dy = dL/dy. {@code dx} fixes the input shape [N, C, H, W]. */
  public void backwardData(Engine engine, Tensor dy, Tensor w, Tensor dx) {
    Checks.engine(engine);
    int[] xs = inputShapeOf("dx", dx);
    int[] ys = outputShape(xs);
    Checks.floatTensor("dy", dy, ys);
    Checks.floatTensor("w", w, weightShape());
    Checks.noOverlap("dx", dx, new String[] {"dy", "w"}, dy, w);
    fill(xs, ys);
    NativeStatus.check(engine.isCuda()
        ? CudaNative.rn_cuda_conv2d_backward_data(engine.cudaHandle(), desc, engine.ptr(dy),
        engine.ptr(w), engine.ptr(dx))
        : ResnormNative.rn_conv2d_backward_data(engine.handle(), desc, engine.ptr(dy),
        engine.ptr(w), engine.ptr(dx)), "conv2d backward_data");
  }

  /** dw = dL/dw and dbias = dL/dbias (dbias may be null). */
  public void backwardFilter(Engine engine, Tensor x, Tensor dy, Tensor dw, Tensor dbias) {
    Checks.engine(engine);
    checkFilterGradients(inputShapeOf("x", x), x, dy, dw, dbias);
    NativeStatus.check(engine.isCuda()
        ? CudaNative.rn_cuda_conv2d_backward_filter(engine.cudaHandle(), desc, engine.ptr(x),
        engine.ptr(dy), engine.ptr(dw), dbias == null ? null : engine.ptr(dbias))
        : ResnormNative.rn_conv2d_backward_filter(engine.handle(), desc, engine.ptr(x),
        engine.ptr(dy), engine.ptr(dw), dbias == null ? null : engine.ptr(dbias)), "conv2d backward_filter");
  }

  /** Direct FLOPs of one direction for an input shape: 2*N*K*C*R*S*P*Q. */
  public long flops(int[] inputShape) {
    int[] ys = outputShape(inputShape);
    return 2L * ys[0] * ys[1] * ys[2] * ys[3] * inChannels * kernelH * kernelW;
  }

  /** The native descriptor filled for input shape xs (checked); for ops built on this conv. */
  rn_conv2d_desc prepared(int[] xs) {
    fill(xs, outputShape(xs));
    return desc;
  }

  int[] inputShapeOf(String name, Tensor t) {
    org.resnorm.core.Checks.rank(name, t, org.resnorm.core.DType.F32, 4);
    int[] s = t.shape();
    if (s[1] != inChannels) {
      throw new IllegalArgumentException(name + " must have " + inChannels + " channels, got " + t.shapeString());
    }
    return s;
  }

  private void fill(int[] xs, int[] ys) {
    desc.n(xs[0]).c(xs[1]).h(xs[2]).w(xs[3]).k(outChannels).r(kernelH).s(kernelW)
        .stride_h(strideH).stride_w(strideW).pad_h(padH).pad_w(padW).p(ys[2]).q(ys[3]).algo(algo.code);
    int st = ResnormNative.rn_conv2d_check(desc);
    if (st != ResnormNative.RN_STATUS_OK) {
      // The Java checks above mirror the native ones; reaching this means they drifted apart.
      throw NativeStatus.nativeRejection("conv2d descriptor rejected by native check (status " + st + ") for input "
          + java.util.Arrays.toString(xs));
    }
  }

  @Override
  public void close() {
    desc.close();
  }

  @Override
  public String toString() {
    return "Conv2d(" + inChannels + "->" + outChannels + ", " + kernelH + "x" + kernelW + ", stride " + strideH + "x"
        + strideW + ", pad " + padH + "x" + padW + ", " + algo + ")";
  }
}
