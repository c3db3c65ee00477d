package org.resnorm.model;

import java.util.ArrayList;
import java.util.List;
import org.resnorm.core.Engine;
import org.resnorm.core.Tensor;
import org.resnorm.model.StepProfile.Op;
import org.resnorm.ops.Act;
import org.resnorm.ops.Activation;
import org.resnorm.ops.BatchNorm2d;
import org.resnorm.ops.Conv2d;
import org.resnorm.ops.WeightNormConv2d;

/**
 * The paper's conv -> N -> act for one {@link ResNetSpec.ConvSpec}, with the buffers of a fixed
 * input shape allocated once: N = BatchNorm (fused with its activation), a plain conv (bias or
 * not; separate activation op), or a weight-normalized conv (activation and NormProp's post map
 * in the conv's epilogue). Package-private: the network drives it.
 *
 * <p>A BatchNorm+CReLU unit may leave its CReLU to the next conv ({@code creluOut}): it then
 * stores the C-channel pre-activation u instead of [relu(u), relu(-u)], and the next unit
 * ({@code creluIn}) runs its conv and filter gradient on CReLU(u) formed inside the conv
 * ({@link Conv2d#forwardCreluInput}). Its backward-data yields the gradient of u itself
 * ({@link Conv2d#backwardDataCreluInput}: the 2C gradient folded onto u by its sign, a tile row at
 * a time in cache), and this unit's batch norm backward runs without the activation on it: the
 * same floats as the 2C gradient through the BatchNorm+CReLU backward. Halves the CReLU layers'
 * stored activations and their gradients; {@link ResidualBlock} picks it where the conv forms the
 * CReLU in its pack.
 */
final class ConvUnit implements AutoCloseable {
  private final Engine engine;
  private final Norm norm;
  private final Act act;
  private final String name;
  private final ResNetSpec.ConvSpec cs;
  private final Conv2d conv;
  private final BatchNorm2d bn;
  /** The BatchNorm forward: {@link #bn} itself, or its Act.NONE twin when the CReLU is left to the next conv. */
  private final BatchNorm2d bnForward;
  /** x is the previous unit's pre-activation; the conv reads CReLU(x). */
  private final boolean creluIn;
  /** Whether the CReLU is left to the next conv, whose backward then hands back dL/du (C channels). */
  private final boolean creluOut;
  private final WeightNormConv2d wn;
  private final Params p;
  /** Output y [N, act(K), P, Q]; [N, K, P, Q] (the pre-activation u) when the CReLU is left to the next conv. */
  final Tensor out;
  /** Pre-activation [N, K, P, Q] (BatchNorm's input, or the plain conv's output before its activation). */
  private final Tensor pre;
  /** dL/d(pre-activation) [N, K, P, Q] (a shared slot's view). */
  private final Tensor du;
  /** dL/dx [N, C, H, W] (a shared slot's view); null for the stem (nothing needs the image's gradient). */
  final Tensor dIn;
  private final Tensor saveMean;
  private final Tensor saveInvstd;
  /** Eval mode: the batch norm as a per-channel scale and shift, folded into the conv's epilogue. */
  private final Tensor foldScale;
  private final Tensor foldShift;
  private final List<Tensor> owned = new ArrayList<>();
  /** Where op times go (null: not profiling). */
  StepProfile profile;

  /** The unit's tensors by role, looked up once. */
  private record Params(Tensor weight, Tensor bias, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
      Tensor dWeight, Tensor dBias, Tensor dGamma, Tensor dBeta) {}

  /**
   * @param gradSlots where du and dL/dx live ({@link SharedBuffers}); dx is only computed with a
   *     second slot (the stem passes one slot: nothing needs the image's gradient)
   * @param transientOut whether y may live in the shared forward slot: only when y is read by the
   *     next op of the same block and never by backward (a BatchNorm or plain conv without a
   *     following conv); a weight-normalized conv's backward reads its y, so it always keeps it
   * @param inShape the conv's input shape (with a CReLU input: the 2C channels the conv sees)
   * @param creluIn x is the previous unit's C-channel pre-activation (its {@code creluOut})
   * @param creluOut store u and leave the CReLU to the next conv (BatchNorm + CReLU only)
   */
  ConvUnit(Engine engine, ResNetSpec.ConvSpec cs, Norm norm, Act act, int[] inShape, Parameters params,
      Parameters grads, SharedBuffers buffers, boolean transientOut, boolean creluIn, boolean creluOut,
      SharedBuffers.Slot... gradSlots) {
    if ((creluIn || creluOut) && norm != Norm.BATCHNORM) {
      throw new IllegalArgumentException("only BatchNorm units pass a CReLU input on: " + norm);
    }
    if (creluOut && (act != Act.CRELU || transientOut)) {
      throw new IllegalArgumentException("creluOut needs a CReLU unit whose output is kept");
    }
    this.engine = engine;
    this.creluIn = creluIn;
    this.creluOut = creluOut;
    this.norm = norm;
    this.act = act;
    this.name = cs.name();
    this.cs = cs;
    Conv2d geometry = new Conv2d(cs.inChannels(), cs.outChannels(), cs.kernel(), cs.stride(), cs.pad());
    int[] convOut = geometry.outputShape(inShape);
    int[] actOut = {convOut[0], creluOut ? convOut[1] : act.outputChannels(convOut[1]), convOut[2], convOut[3]};
    String n = cs.name();
    switch (norm) {
      case BATCHNORM -> {
        conv = geometry;
        bn = new BatchNorm2d(cs.outChannels(), act);
        bnForward = creluOut ? new BatchNorm2d(cs.outChannels(), Act.NONE) : bn;
        wn = null;
        String b = cs.normName();
        p = new Params(params.get(n + ".weight"), null, params.get(b + ".weight"), params.get(b + ".bias"),
            params.get(b + ".running_mean"), params.get(b + ".running_var"), grads.get(n + ".weight"), null,
            grads.get(b + ".weight"), grads.get(b + ".bias"));
      }
      case PLAIN, PLAIN_NOBIAS -> {
        conv = geometry;
        bn = null;
        bnForward = null;
        wn = null;
        boolean bias = norm == Norm.PLAIN;
        p = new Params(params.get(n + ".weight"), bias ? params.get(n + ".bias") : null, null, null, null, null,
            grads.get(n + ".weight"), bias ? grads.get(n + ".bias") : null, null, null);
      }
      default -> {
        conv = null;
        bn = null;
        bnForward = null;
        WeightNormConv2d.Kind kind = switch (norm) {
          case NORMPROP -> WeightNormConv2d.Kind.NORMPROP;
          case NORMPROP2 -> WeightNormConv2d.Kind.NORMPROP2;
          default -> WeightNormConv2d.Kind.NORMPROP3;
        };
        wn = new WeightNormConv2d(geometry, kind, act);
        p = new Params(params.get(n + ".weight_v"), null, params.get(n + ".weight_g"), params.get(n + ".bias"), null,
            null, grads.get(n + ".weight_v"), null, wn.learnsGamma() ? grads.get(n + ".weight_g") : null,
            grads.get(n + ".bias"));
      }
    }
    out = transientOut && wn == null ? buffers.view(SharedBuffers.Slot.FORWARD, actOut) : own(Tensor.empty(engine, actOut));
    boolean keepsPre = norm == Norm.BATCHNORM || (conv != null && act != Act.NONE);
    pre = keepsPre ? own(Tensor.empty(engine, convOut)) : null;
    boolean plainLinear = conv != null && bn == null && act == Act.NONE;  // backward reads dOut itself
    du = plainLinear ? null : buffers.view(gradSlots[0], convOut);
    // with a CReLU input, dL/dx is the gradient of the C-channel pre-activation the unit reads
    int[] dxShape = creluIn ? new int[] {inShape[0], inShape[1] / 2, inShape[2], inShape[3]} : inShape;
    dIn = gradSlots.length > 1 ? buffers.view(gradSlots[1], dxShape) : null;
    saveMean = bn != null ? own(Tensor.empty(engine, cs.outChannels())) : null;
    saveInvstd = bn != null ? own(Tensor.empty(engine, cs.outChannels())) : null;
    foldScale = bn != null ? own(Tensor.empty(engine, cs.outChannels())) : null;
    foldShift = bn != null ? own(Tensor.empty(engine, cs.outChannels())) : null;
  }

  /** Multiply-adds x 2 of the forward conv (backward-data and backward-filter cost the same each). */
  final long forwardFlops() {
    int[] y = du != null ? du.shape() : out.shape();
    return 2L * y[0] * y[1] * y[2] * y[3] * cs.inChannels() * cs.kernel() * cs.kernel();
  }

  private Tensor own(Tensor t) {
    owned.add(t);
    return t;
  }

  /** y = act(N(conv(x))) into {@link #out}. */
  Tensor forward(Tensor x, boolean training) {
    long t = StepProfile.start(profile);
    switch (norm) {
      case BATCHNORM -> {
        if (!training && !engine.usesCudnnConvs()) {
          // The inference batch norm is a per-channel affine map: folded into the conv's epilogue
          // with the activation, no pass of its own (and pre is not written). Not where the user
          // asked for cuDNN's convs: an epilogue conv is always resnorm's own.
          bn.inferenceAffine(engine, p.gamma(), p.beta(), p.runningMean(), p.runningVar(), foldScale, foldShift);
          t = lap(Op.NORM_FORWARD, t);
          if (creluIn) {
            conv.forwardCreluInputFused(engine, x, p.weight(), foldScale, foldShift, bnForward.act(), 1f, 0f, out);
          } else {
            conv.forwardFused(engine, x, p.weight(), foldScale, foldShift, bnForward.act(), 1f, 0f, out);
          }
          lap(Op.CONV_FORWARD, t);
          return out;
        }
        if (creluIn) {
          conv.forwardCreluInput(engine, x, p.weight(), null, pre);
        } else {
          conv.forward(engine, x, p.weight(), null, pre);
        }
        t = lap(Op.CONV_FORWARD, t);
        if (training) {
          bnForward.forwardTraining(engine, pre, p.gamma(), p.beta(), p.runningMean(), p.runningVar(), saveMean,
              saveInvstd, out);
        } else {
          bnForward.forwardInference(engine, pre, p.gamma(), p.beta(), p.runningMean(), p.runningVar(), out);
        }
        lap(Op.NORM_FORWARD, t);
      }
      case PLAIN, PLAIN_NOBIAS -> {
        if (act == Act.NONE) {
          conv.forward(engine, x, p.weight(), p.bias(), out);
          lap(Op.CONV_FORWARD, t);
        } else {
          conv.forward(engine, x, p.weight(), p.bias(), pre);
          t = lap(Op.CONV_FORWARD, t);
          if (act == Act.RELU) {
            Activation.relu(engine, pre, out);
          } else {
            Activation.crelu(engine, pre, out);
          }
          lap(Op.ACTIVATION, t);
        }
      }
      default -> {
        wn.forward(engine, x, p.weight(), p.gamma(), p.beta(), out);
        lap(Op.WNCONV_FORWARD, t);
      }
    }
    return out;
  }

  /** Whether {@link #forwardTrainingAddRelu} applies: a BatchNorm unit without activation (a block's last). */
  boolean addsResidual() {
    return norm == Norm.BATCHNORM && act == Act.NONE;
  }

  /**
   * The training forward of a block's last unit with the block's shortcut added and its ReLU:
   * blockOut = relu(BN(conv(x)) + residual), in the batch norm's normalize pass ({@link #out} is
   * not written; backward reads only pre and the saved statistics, as after {@link #forward}).
   */
  void forwardTrainingAddRelu(Tensor x, Tensor residual, Tensor blockOut) {
    long t = StepProfile.start(profile);
    if (creluIn) {
      conv.forwardCreluInput(engine, x, p.weight(), null, pre);
    } else {
      conv.forward(engine, x, p.weight(), null, pre);
    }
    t = lap(Op.CONV_FORWARD, t);
    bn.forwardTrainingAddRelu(engine, pre, p.gamma(), p.beta(), p.runningMean(), p.runningVar(), saveMean, saveInvstd,
        residual, blockOut);
    lap(Op.NORM_FORWARD, t);
  }

  /** Books the time since t0 to op; returns the new start time. */
  private long lap(Op op, long t0) {
    StepProfile.stop(profile, op, t0);
    return StepProfile.start(profile);
  }

  /**
   * Parameter gradients (overwritten) and, unless this is the stem, dL/dx into {@link #dIn},
   * from dOut = dL/dy. x is the input the forward pass saw. dOut may be overwritten.
   */
  Tensor backward(Tensor x, Tensor dOut) {
    long t = StepProfile.start(profile);
    switch (norm) {
      case BATCHNORM -> {
        // creluOut: dOut is already dL/du (the next conv folded the CReLU's gradient onto u)
        BatchNorm2d bnBackward = creluOut ? bnForward : bn;
        bnBackward.backward(engine, pre, p.gamma(), p.beta(), saveMean, saveInvstd, dOut, du, p.dGamma(),
            p.dBeta());
        lap(Op.NORM_BACKWARD, t);
        convBackward(x, du);
      }
      case PLAIN, PLAIN_NOBIAS -> {
        switch (act) {
          case NONE -> convBackward(x, dOut);
          case RELU -> {
            Activation.reluBackward(engine, out, dOut, du);
            lap(Op.ACTIVATION, t);
            convBackward(x, du);
          }
          default -> {
            Activation.creluBackward(engine, pre, dOut, du);
            lap(Op.ACTIVATION, t);
            convBackward(x, du);
          }
        }
      }
      default -> {
        wn.backward(engine, x, p.weight(), p.gamma(), out, dOut, du, dIn, p.dWeight(), p.dGamma(), p.dBeta());
        lap(Op.WNCONV_BACKWARD, t);
      }
    }
    return dIn;
  }

  private void convBackward(Tensor x, Tensor g) {
    long t = StepProfile.start(profile);
    if (creluIn) {
      conv.backwardFilterCreluInput(engine, x, g, p.dWeight(), p.dBias());
    } else {
      conv.backwardFilter(engine, x, g, p.dWeight(), p.dBias());
    }
    t = lap(Op.CONV_BACKWARD_FILTER, t);
    if (dIn != null) {
      if (creluIn) {
        conv.backwardDataCreluInput(engine, g, p.weight(), x, dIn);
      } else {
        conv.backwardData(engine, g, p.weight(), dIn);
      }
      lap(Op.CONV_BACKWARD_DATA, t);
    }
  }

  @Override
  public void close() {
    owned.forEach(Tensor::close);
    if (conv != null) {
      conv.close();
    }
    if (wn != null) {
      wn.close();
    }
  }

  @Override
  public String toString() {
    return name + " (" + norm.cliName() + ", " + act + ")";
  }
}
