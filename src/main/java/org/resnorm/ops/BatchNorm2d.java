package org.resnorm.ops;

import org.resnorm.bind.CudaNative;
import org.resnorm.bind.ResnormNative;
import org.resnorm.core.Checks;
import org.resnorm.core.Engine;
import org.resnorm.core.NativeStatus;
import org.resnorm.core.Tensor;

/**
 * Batch normalization over NCHW float32 with the activation that follows it fused in (PyTorch
 * {@code nn.BatchNorm2d} semantics, then {@link Act}): per channel c over the N*H*W values,
 *
 * <pre>
 *   training:  mean, var = batch mean and biased variance; running_mean = (1 - momentum) *
 *              running_mean + momentum * mean; running_var likewise with the unbiased variance
 *   inference: mean, var = running_mean, running_var
 *   u = gamma * (x - mean) / sqrt(var + eps) + beta;   y = act(u)
 * </pre>
 *
 * x is [N, C, H, W]; y is [N, C, H, W], or [N, 2C, H, W] for {@link Act#CRELU} (per image the
 * positive part in channels 0..C-1, the negative part in C..2C-1). gamma and beta ([C]) are
 * both given or both null (affine off: gamma = 1, beta = 0); so are runningMean and runningVar
 * in training (null: no tracking). Training saves the batch mean and 1/sqrt(var + eps) in
 * saveMean / saveInvstd ([C]) for {@link #backward}, which recomputes the sign of u from them
 * (no mask is stored) and overwrites dx, dgamma and dbeta.
 *
 * <p>Cost: training forward = one statistics pass + one normalize/activate pass over x;
 * backward = one reduction pass + one dx pass over (x, dy). In place: {@code y == x} for
 * {@link Act#NONE} and {@link Act#RELU}, and {@code dx == dy} in backward for those two acts;
 * other overlaps are rejected. Training needs N*H*W >= 2.
 */
public final class BatchNorm2d {
  /** PyTorch's defaults. */
  public static final float DEFAULT_EPS = 1e-5f;
  public static final float DEFAULT_MOMENTUM = 0.1f;

  private final int channels;
  private final float eps;
  private final float momentum;
  private final Act act;

  public BatchNorm2d(int channels, float eps, float momentum, Act act) {
    Checks.positive("channels", channels);
    Checks.finite("eps", eps);
    Checks.finite("momentum", momentum);
    if (eps < 0) {
      throw new IllegalArgumentException("eps must be >= 0, got " + eps);
    }
    if (momentum < 0 || momentum > 1) {
      throw new IllegalArgumentException("momentum must be in [0, 1], got " + momentum);
    }
    if (act == null) {
      throw new IllegalArgumentException("act must not be null (use Act.NONE)");
    }
    if (act == Act.CRELU && channels > Integer.MAX_VALUE / 2) {
      throw new IllegalArgumentException("channels too large for CReLU's 2C output: " + channels);
    }
    this.channels = channels;
    this.eps = eps;
    this.momentum = momentum;
    this.act = act;
  }

  /** eps 1e-5, momentum 0.1 (PyTorch's defaults). */
  public BatchNorm2d(int channels, Act act) {
    this(channels, DEFAULT_EPS, DEFAULT_MOMENTUM, act);
  }

  public int channels() {
    return channels;
  }

  public float eps() {
    return eps;
  }

  public float momentum() {
    return momentum;
  }

  public Act act() {
    return act;
  }

  /** Output shape for an input [N, C, H, W]: [N, C or 2C, H, W]. */
  public int[] outputShape(int n, int h, int w) {
    return new int[] {n, act.outputChannels(channels), h, w};
  }

  /** Training forward: normalizes with the batch statistics, updates the running ones. */
  public void forwardTraining(Engine engine, Tensor x, Tensor gamma, Tensor beta, Tensor runningMean,
      Tensor runningVar, Tensor saveMean, Tensor saveInvstd, Tensor y) {
    int[] s = trainingInput(engine, x, gamma, beta, runningMean, runningVar, saveMean, saveInvstd);
    Checks.floatTensor("y", y, outputShape(s[0], s[2], s[3]));
    String[] names = {"x", "gamma", "beta", "runningMean", "runningVar", "saveMean", "saveInvstd"};
    Tensor[] all = {x, gamma, beta, runningMean, runningVar, saveMean, saveInvstd};
    output("y", y, x, names, all);
    statisticsAliasNothing(names, all);
    NativeStatus.check(engine.isCuda()
        ? CudaNative.rn_cuda_batchnorm_forward_training(engine.cudaHandle(), s[0], channels,
        Activation.hw(s), act.code, eps, momentum, engine.ptr(x), engine.ptr(gamma), engine.ptr(beta), engine.ptr(runningMean),
        engine.ptr(runningVar), engine.ptr(saveMean), engine.ptr(saveInvstd), engine.ptr(y))
        : ResnormNative.rn_batchnorm_forward_training(engine.handle(), s[0], channels,
        Activation.hw(s), act.code, eps, momentum, engine.ptr(x), engine.ptr(gamma), engine.ptr(beta), engine.ptr(runningMean),
        engine.ptr(runningVar), engine.ptr(saveMean), engine.ptr(saveInvstd), engine.ptr(y)),
        "batchnorm forward (training)");
  }

  /**
   * The training forward of a residual block's last batch norm with the shortcut added and the
   * block's ReLU applied in the same pass: {@code y = max(u + residual, 0)} (residual and y [N, C, H,
   * W]; y may be x or residual itself). The same values as {@link #forwardTraining} followed by
   * {@link Activation#addRelu}, without writing u. Only for a batch norm with {@link Act#NONE}.
   */
  public void forwardTrainingAddRelu(Engine engine, Tensor x, Tensor gamma, Tensor beta, Tensor runningMean,
      Tensor runningVar, Tensor saveMean, Tensor saveInvstd, Tensor residual, Tensor y) {
    if (act != Act.NONE) {
      throw new IllegalStateException("the residual addition follows a batch norm without activation, not " + act);
    }
    int[] s = trainingInput(engine, x, gamma, beta, runningMean, runningVar, saveMean, saveInvstd);
    Checks.floatTensor("residual", residual, s);
    Checks.floatTensor("y", y, s);
    String[] names = {"x", "gamma", "beta", "runningMean", "runningVar", "saveMean", "saveInvstd", "residual"};
    Tensor[] all = {x, gamma, beta, runningMean, runningVar, saveMean, saveInvstd, residual};
    for (int i = 0; i < all.length; i++) {  // y may be x or the residual exactly, nothing else
      if (all[i] == x || all[i] == residual) {
        Activation.overlapUnlessSame("y", y, names[i], all[i]);
      } else {
        Checks.noOverlap("y", y, new String[] {names[i]}, all[i]);
      }
    }
    statisticsAliasNothing(names, all);
    NativeStatus.check(engine.isCuda()
        ? CudaNative.rn_cuda_batchnorm_forward_training_add_relu(engine.cudaHandle(), s[0], channels,
        Activation.hw(s), eps, momentum, engine.ptr(x), engine.ptr(gamma), engine.ptr(beta), engine.ptr(runningMean),
        engine.ptr(runningVar), engine.ptr(saveMean), engine.ptr(saveInvstd), engine.ptr(residual), engine.ptr(y))
        : ResnormNative.rn_batchnorm_forward_training_add_relu(engine.handle(), s[0], channels,
        Activation.hw(s), eps, momentum, engine.ptr(x), engine.ptr(gamma), engine.ptr(beta), engine.ptr(runningMean),
        engine.ptr(runningVar), engine.ptr(saveMean), engine.ptr(saveInvstd), engine.ptr(residual), engine.ptr(y)),
        "batchnorm forward (training) + add + relu");
  }

  /** Inference forward: normalizes with the running statistics. */
  public void forwardInference(Engine engine, Tensor x, Tensor gamma, Tensor beta, Tensor runningMean,
      Tensor runningVar, Tensor y) {
    Checks.engine(engine);
    int[] s = input("x", x);
    affine(gamma, beta);
    Checks.floatTensor("runningMean", runningMean, channels);
    Checks.floatTensor("runningVar", runningVar, channels);
    Checks.floatTensor("y", y, outputShape(s[0], s[2], s[3]));
    output("y", y, x, new String[] {"x", "gamma", "beta", "runningMean", "runningVar"},
        new Tensor[] {x, gamma, beta, runningMean, runningVar});
    NativeStatus.check(engine.isCuda()
        ? CudaNative.rn_cuda_batchnorm_forward_inference(engine.cudaHandle(), s[0], channels,
        Activation.hw(s), act.code, eps, engine.ptr(x), engine.ptr(gamma), engine.ptr(beta), engine.ptr(runningMean),
        engine.ptr(runningVar), engine.ptr(y))
        : ResnormNative.rn_batchnorm_forward_inference(engine.handle(), s[0], channels,
        Activation.hw(s), act.code, eps, engine.ptr(x), engine.ptr(gamma), engine.ptr(beta), engine.ptr(runningMean),
        engine.ptr(runningVar), engine.ptr(y)), "batchnorm forward (inference)");
  }

  /**
   * The inference forward as a per-channel affine map u = scale * x + shift ([C] each, overwritten),
   * for folding into the conv before the batch norm ({@link Conv2d#forwardFused} with this scale as
   * its scale and shift as its bias, and this norm's activation): scale = gamma / sqrt(runningVar +
   * eps), shift = beta - runningMean * scale. Equal to {@link #forwardInference} within float32
   * rounding (it evaluates (x - mean) * scale + beta).
   */
  public void inferenceAffine(Engine engine, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
      Tensor scale, Tensor shift) {
    Checks.engine(engine);
    affine(gamma, beta);
    Checks.floatTensor("runningMean", runningMean, channels);
    Checks.floatTensor("runningVar", runningVar, channels);
    Checks.floatTensor("scale", scale, channels);
    Checks.floatTensor("shift", shift, channels);
    Checks.noOverlap("scale", scale, new String[] {"gamma", "beta", "runningMean", "runningVar", "shift"}, gamma, beta,
        runningMean, runningVar, shift);
    Checks.noOverlap("shift", shift, new String[] {"gamma", "beta", "runningMean", "runningVar"}, gamma, beta,
        runningMean, runningVar);
    NativeStatus.check(engine.isCuda()
        ? CudaNative.rn_cuda_batchnorm_inference_affine(engine.cudaHandle(), channels, eps, engine.ptr(gamma),
        engine.ptr(beta), engine.ptr(runningMean), engine.ptr(runningVar), engine.ptr(scale), engine.ptr(shift))
        : ResnormNative.rn_batchnorm_inference_affine(engine.handle(), channels, eps, engine.ptr(gamma),
        engine.ptr(beta), engine.ptr(runningMean), engine.ptr(runningVar), engine.ptr(scale), engine.ptr(shift)),
        "batchnorm inference affine");
  }

  /**
   * Gradients of the training forward: dx [N, C, H, W] from dy (y's shape); dgamma and dbeta
   * [C] are given exactly when gamma and beta are. Everything is overwritten.
   */
  public void backward(Engine engine, Tensor x, Tensor gamma, Tensor beta, Tensor saveMean, Tensor saveInvstd,
      Tensor dy, Tensor dx, Tensor dgamma, Tensor dbeta) {
    Checks.engine(engine);
    int[] s = input("x", x);
    affine(gamma, beta);
    Checks.floatTensor("saveMean", saveMean, channels);
    Checks.floatTensor("saveInvstd", saveInvstd, channels);
    Checks.floatTensor("dy", dy, outputShape(s[0], s[2], s[3]));
    Checks.floatTensor("dx", dx, s);
    if (gamma != null) {
      Checks.floatTensor("dgamma", dgamma, channels);
      Checks.floatTensor("dbeta", dbeta, channels);
    } else if (dgamma != null || dbeta != null) {
      throw new IllegalArgumentException("dgamma and dbeta must be null when gamma and beta are (affine off)");
    }
    if ((long) s[0] * s[2] * s[3] < 2) {
      throw new IllegalArgumentException("batch norm backward needs N*H*W >= 2, got x " + x.shapeString());
    }
    String[] names = {"x", "gamma", "beta", "saveMean", "saveInvstd", "dy"};
    Tensor[] ins = {x, gamma, beta, saveMean, saveInvstd, dy};
    // dx may be dy itself for NONE / RELU (same layout); nothing else may overlap.
    for (int i = 0; i < ins.length; i++) {
      if (i == 5 && act != Act.CRELU) {
        Activation.overlapUnlessSame("dx", dx, names[i], ins[i]);
      } else {
        Checks.noOverlap("dx", dx, new String[] {names[i]}, ins[i]);
      }
    }
    Checks.noOverlap("dgamma", dgamma, new String[] {"x", "gamma", "beta", "saveMean", "saveInvstd", "dy", "dx",
        "dbeta"}, x, gamma, beta, saveMean, saveInvstd, dy, dx, dbeta);
    Checks.noOverlap("dbeta", dbeta, new String[] {"x", "gamma", "beta", "saveMean", "saveInvstd", "dy", "dx"}, x,
        gamma, beta, saveMean, saveInvstd, dy, dx);
    NativeStatus.check(engine.isCuda()
        ? CudaNative.rn_cuda_batchnorm_backward(engine.cudaHandle(), s[0], channels, Activation.hw(s),
        act.code, engine.ptr(x), engine.ptr(gamma), engine.ptr(beta), engine.ptr(saveMean), engine.ptr(saveInvstd),
        engine.ptr(dy), engine.ptr(dx), engine.ptr(dgamma), engine.ptr(dbeta))
        : ResnormNative.rn_batchnorm_backward(engine.handle(), s[0], channels, Activation.hw(s),
        act.code, engine.ptr(x), engine.ptr(gamma), engine.ptr(beta), engine.ptr(saveMean), engine.ptr(saveInvstd),
        engine.ptr(dy), engine.ptr(dx), engine.ptr(dgamma), engine.ptr(dbeta)), "batchnorm backward");
  }

  /** The training forward's checks of its inputs and [C] outputs; returns x's shape. */
  private int[] trainingInput(Engine engine, Tensor x, Tensor gamma, Tensor beta, Tensor runningMean,
      Tensor runningVar, Tensor saveMean, Tensor saveInvstd) {
    Checks.engine(engine);
    int[] s = input("x", x);
    affine(gamma, beta);
    pair("runningMean", runningMean, "runningVar", runningVar);
    Checks.floatTensor("saveMean", saveMean, channels);
    Checks.floatTensor("saveInvstd", saveInvstd, channels);
    if ((long) s[0] * s[2] * s[3] < 2) {
      throw new IllegalArgumentException("training batch norm needs at least 2 values per channel (N*H*W >= 2), got x "
          + x.shapeString());
    }
    return s;
  }

  /** The [C] outputs (names[3..6]: running mean and variance, saved mean and invstd) alias nothing in all. */
  private static void statisticsAliasNothing(String[] names, Tensor[] all) {
    for (int i = 3; i < 7; i++) {
      for (int j = 0; j < all.length; j++) {
        if (i != j && all[i] != null && all[j] != null && all[i].overlaps(all[j])) {
          throw new IllegalArgumentException(names[i] + " overlaps " + names[j]);
        }
      }
    }
  }

  private int[] input(String name, Tensor x) {
    int[] s = Activation.nchw(name, x);
    if (s[1] != channels) {
      throw new IllegalArgumentException(name + " must be [N, " + channels + ", H, W], got " + x.shapeString());
    }
    Activation.hw(s);
    return s;
  }

  private void affine(Tensor gamma, Tensor beta) {
    pair("gamma", gamma, "beta", beta);
  }

  /** Both null, or both open contiguous float [C] tensors. */
  private void pair(String aName, Tensor a, String bName, Tensor b) {
    if ((a == null) != (b == null)) {
      throw new IllegalArgumentException(aName + " and " + bName + " must both be given or both be null");
    }
    Checks.optionalFloatTensor(aName, a, channels);
    Checks.optionalFloatTensor(bName, b, channels);
  }

  /** y may be x itself for NONE / RELU; no other overlap with the inputs. */
  private void output(String yName, Tensor y, Tensor x, String[] names, Tensor[] ins) {
    for (int i = 0; i < ins.length; i++) {
      if (ins[i] == x && act != Act.CRELU) {
        Activation.overlapUnlessSame(yName, y, names[i], x);
      } else {
        Checks.noOverlap(yName, y, new String[] {names[i]}, ins[i]);
      }
    }
  }

  @Override
  public String toString() {
    return "BatchNorm2d(" + channels + ", eps " + eps + ", momentum " + momentum + ", " + act + ")";
  }
}
