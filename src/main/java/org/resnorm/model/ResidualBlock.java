package org.resnorm.model;

import java.util.ArrayList;
import java.util.List;
import org.resnorm.core.Engine;
import org.resnorm.core.Tensor;
import org.resnorm.model.SharedBuffers.Slot;
import org.resnorm.model.StepProfile.Op;
import org.resnorm.ops.Act;
import org.resnorm.ops.Activation;
import org.resnorm.ops.BatchNorm2d;
import org.resnorm.ops.Conv2d;
import org.resnorm.ops.ShortcutA;

/**
 * A residual block: the main path of convs, plus the shortcut, then ReLU (fused with the
 * addition). Basic block (paper Fig. 1a): conv1 3x3 -> N -> act (ReLU, or CReLU: C -> 2C) ->
 * conv2 3x3 -> N. Bottleneck (Fig. 1b, torchvision's Bottleneck): conv1 1x1 -> N -> act ->
 * conv2 3x3 (the block's stride) -> N -> act -> conv3 1x1 (4x the width) -> N; with CReLU the
 * first two convs' outputs double ({@link ResNetSpec} gives conv2 and conv3 the doubled inputs).
 * Every main conv but the last is followed by act; NormProp's post map rides on that act (a
 * bottleneck's conv1 and conv2), never on the last conv. Shortcut: identity; option A (strided
 * identity with zero channels appended; NormProp models put a BatchNorm on the subsampled
 * identity, paper footnote 2); or option B (1x1 conv + N). Package-private.
 */
final class ResidualBlock implements AutoCloseable {
  private final Engine engine;
  /** The main path, conv1 first: two convs (basic) or three (bottleneck). */
  private final List<ConvUnit> main = new ArrayList<>();
  private final ConvUnit projection;
  private final ShortcutA subsample;
  private final ShortcutA pad;
  private final BatchNorm2d identityNorm;
  private final Tensor[] identityNormParams;  // gamma, beta, running mean, running var, dgamma, dbeta
  /** Block output relu(main + shortcut) [N, K, P, Q]. */
  final Tensor out;
  private final Tensor shortcut;   // option A output (or the identity's N input chain)
  private final Tensor sub;        // option A with identity norm: subsampled x, then its normalization
  private final Tensor subNorm;
  private final Tensor subMean;    // the identity norm's saved batch statistics
  private final Tensor subInvstd;
  private final Tensor dSum;       // dL/d(main + shortcut)
  private final Tensor dShortcutIn;
  private final Tensor dSub;
  /** dL/dx [N, C, H, W] (the shared GRAD_A slot: valid until the block below runs backward). */
  final Tensor dIn;
  /**
   * dL/dx passed back through the block below's add + ReLU, x being that block's output: the block
   * below's dSum, in the GRAD_B slot where that block keeps it ({@link #backward}'s sumForBelow).
   */
  private final Tensor dSumBelow;
  private final List<Tensor> owned = new ArrayList<>();
  private StepProfile profile;
  private int creluInConvCount;
  private final boolean fuseAcrossOps;

  /**
   * Buffers that die within the block come from {@code buffers}; see {@link SharedBuffers} for the
   * plan. {@code fuseAcrossOps}: let a conv form its input's CReLU where {@link #defersCrelu} says it
   * pays, and (training) let the last batch norm add the shortcut and apply the block's ReLU. Both
   * compute the same floats as the separate ops (ResNetTest compares the two executions bit for bit).
   */
  ResidualBlock(Engine engine, ResNetSpec.BlockSpec b, Norm norm, Act act, int[] inShape, Parameters params,
      Parameters grads, SharedBuffers buffers, boolean fuseAcrossOps) {
    this.engine = engine;
    this.fuseAcrossOps = fuseAcrossOps;
    int mainConvs = b.projection() ? b.convs().size() - 1 : b.convs().size();
    int[] shape = inShape;
    boolean creluIn = false;
    for (int i = 0; i < mainConvs; i++) {
      boolean last = i == mainConvs - 1;
      // Backward runs the convs top down, each reading its dOut from one of GRAD_C / GRAD_D and
      // writing its dx to the other (the top conv reads dSum from GRAD_B): counted from the top,
      // even convs write GRAD_C, odd ones GRAD_D. Only the last conv's output may be transient:
      // the others' outputs are the next conv's input, which its backward reads.
      Slot dx = (mainConvs - 1 - i) % 2 == 0 ? Slot.GRAD_C : Slot.GRAD_D;
      ResNetSpec.ConvSpec cs = b.convs().get(i);
      int[] convOut;
      try (Conv2d g = geometry(cs)) {
        convOut = g.outputShape(shape);
      }
      int[] actOut = {convOut[0], (last ? Act.NONE : act).outputChannels(convOut[1]), convOut[2], convOut[3]};
      boolean creluOut = fuseAcrossOps && !last && defersCrelu(engine, norm, act, b.convs().get(i + 1), actOut);
      ConvUnit u = new ConvUnit(engine, cs, norm, last ? Act.NONE : act, shape, params, grads, buffers, last,
          creluIn, creluOut, Slot.GRAD_A, dx);
      main.add(u);
      shape = actOut;  // the next conv's input as it sees it (2C with a CReLU, stored or not)
      creluIn = creluOut;
      creluInConvCount += creluOut ? 1 : 0;
    }
    // conv1's dx (the main path's dL/dx) is still live when the shortcut's dx is written: the
    // shortcut takes the other of GRAD_C / GRAD_D (GRAD_C for a basic block, GRAD_D for a bottleneck)
    Slot shortcutDx = (mainConvs - 1) % 2 == 0 ? Slot.GRAD_D : Slot.GRAD_C;
    int[] outShape = shape;
    out = own(Tensor.empty(engine, outShape));
    dSum = buffers.view(Slot.GRAD_B, outShape);
    dIn = buffers.view(Slot.GRAD_A, inShape);
    dSumBelow = buffers.view(Slot.GRAD_B, inShape);
    if (b.projection()) {
      // its output is read with the last conv's (which may be in the FORWARD slot), so it keeps its own
      projection = new ConvUnit(engine, b.convs().get(mainConvs), norm, Act.NONE, inShape, params, grads, buffers,
          false, false, false, Slot.GRAD_A, shortcutDx);
      subsample = null;
      pad = null;
      identityNorm = null;
      identityNormParams = null;
      shortcut = null;
      sub = subNorm = subMean = subInvstd = dShortcutIn = dSub = null;
    } else if (b.reshapes()) {
      projection = null;
      if (b.identityNorm() != null) {
        // subsample (no new channels), BatchNorm over the input channels, then append zeros
        subsample = new ShortcutA(b.inChannels(), b.inChannels(), b.stride());
        pad = new ShortcutA(b.inChannels(), b.outChannels(), 1);
        identityNorm = new BatchNorm2d(b.inChannels(), Act.NONE);
        String n = b.identityNorm();
        identityNormParams = new Tensor[] {params.get(n + ".weight"), params.get(n + ".bias"),
            params.get(n + ".running_mean"), params.get(n + ".running_var"), grads.get(n + ".weight"),
            grads.get(n + ".bias")};
        int[] subShape = subsample.outputShape(inShape);
        sub = own(Tensor.empty(engine, subShape));
        subNorm = own(Tensor.empty(engine, subShape));
        subMean = own(Tensor.empty(engine, b.inChannels()));
        subInvstd = own(Tensor.empty(engine, b.inChannels()));
        dSub = own(Tensor.empty(engine, subShape));
      } else {
        subsample = new ShortcutA(b.inChannels(), b.outChannels(), b.stride());
        pad = null;
        identityNorm = null;
        identityNormParams = null;
        sub = subNorm = subMean = subInvstd = dSub = null;
      }
      shortcut = own(Tensor.empty(engine, outShape));  // read with the last conv's output, which may be in FORWARD
      dShortcutIn = buffers.view(shortcutDx, inShape);
    } else {
      projection = null;
      subsample = pad = null;
      identityNorm = null;
      identityNormParams = null;
      shortcut = sub = subNorm = subMean = subInvstd = dShortcutIn = dSub = null;
    }
  }

  private static Conv2d geometry(ResNetSpec.ConvSpec cs) {
    return new Conv2d(cs.inChannels(), cs.outChannels(), cs.kernel(), cs.stride(), cs.pad());
  }

  /**
   * Whether a BatchNorm+CReLU unit stores its pre-activation and leaves the CReLU to the next conv
   * (whose input, as it sees it, is {@code nextIn}): on the CPU where that conv forms the CReLU in its
   * Winograd pack, which measured faster than storing the 2C tensor and halves those activations
   * (docs/ARCHITECTURE.md). The CUDA backend keeps the 2C tensor: its cuDNN route needs it, and the
   * choice there awaits a GPU measurement.
   */
  private static boolean defersCrelu(Engine engine, Norm norm, Act act, ResNetSpec.ConvSpec next, int[] nextIn) {
    if (norm != Norm.BATCHNORM || act != Act.CRELU || engine.isCuda()) {
      return false;
    }
    try (Conv2d conv = geometry(next)) {
      return conv.creluInputInPack(nextIn);
    }
  }

  /** How many of the main path's CReLUs the next conv forms itself. */
  int creluInConvCount() {
    return creluInConvCount;
  }

  /** Conv FLOPs of one training step: forward, backward-data and backward-filter of every conv. */
  long trainingFlops() {
    return 3 * forwardFlops();
  }

  long forwardFlops() {
    long f = projection == null ? 0 : projection.forwardFlops();
    for (ConvUnit u : main) {
      f += u.forwardFlops();
    }
    return f;
  }

  /** Profiles this block's ops into p (null: stop). */
  void profile(StepProfile p) {
    profile = p;
    main.forEach(u -> u.profile = p);
    if (projection != null) {
      projection.profile = p;
    }
  }

  private Tensor own(Tensor t) {
    owned.add(t);
    return t;
  }

  Tensor forward(Tensor x, boolean training) {
    // The shortcut first (it does not depend on the main path), so that in training the last
    // unit's batch norm can add it and apply the block's ReLU in its own pass.
    Tensor skip = shortcut(x, training);
    Tensor h = x;
    int lastUnit = main.size() - 1;
    for (int i = 0; i < lastUnit; i++) {
      h = main.get(i).forward(h, training);
    }
    ConvUnit last = main.get(lastUnit);
    if (training && fuseAcrossOps && last.addsResidual()) {
      last.forwardTrainingAddRelu(h, skip, out);
      return out;
    }
    h = last.forward(h, training);
    long t = StepProfile.start(profile);
    Activation.addRelu(engine, h, skip, out);
    lap(Op.RESIDUAL_ADD, t, true);
    return out;
  }

  /** The shortcut branch's output for block input x (x itself for an identity shortcut). */
  private Tensor shortcut(Tensor x, boolean training) {
    Tensor skip;
    long t = StepProfile.start(profile);
    if (projection != null) {
      skip = projection.forward(x, training);
      t = StepProfile.start(profile);  // the projection's convs booked themselves
    } else if (subsample == null) {
      skip = x;
    } else if (identityNorm == null) {
      subsample.forward(engine, x, shortcut);
      skip = shortcut;
    } else {
      subsample.forward(engine, x, sub);
      Tensor[] q = identityNormParams;
      if (training) {
        identityNorm.forwardTraining(engine, sub, q[0], q[1], q[2], q[3], subMean, subInvstd, subNorm);
      } else {
        identityNorm.forwardInference(engine, sub, q[0], q[1], q[2], q[3], subNorm);
      }
      pad.forward(engine, subNorm, shortcut);
      skip = shortcut;
    }
    lap(Op.SHORTCUT, t, skip != x && projection == null);
    return skip;
  }

  /** Books the time since t0 to op when {@code book}; returns the new start time. */
  private long lap(Op op, long t0, boolean book) {
    if (book) {
      StepProfile.stop(profile, op, t0);
    }
    return StepProfile.start(profile);
  }

  /**
   * dL/dx into {@link #dIn} from dOut; x is the block's forward input. dOut is overwritten when
   * it is the block above's {@link #dIn} (both are the GRAD_A slot).
   */
  Tensor backward(Tensor x, Tensor dOut) {
    return backward(x, dOut, false, false);
  }

  /**
   * The block's backward. {@code dOutIsSum}: dOut is already dL/d(main + shortcut), passed back
   * through this block's add + ReLU by the block above (it is then this block's dSum, in GRAD_B).
   * {@code sumForBelow}: x is the output of a residual block below, so the main path's and the
   * shortcut's dL/dx are summed and passed back through that block's ReLU in one pass
   * ({@link Activation#reluBackwardSum}, the same floats as the add and the block below's
   * add + ReLU backward), into GRAD_B, which is then returned: the block below's dSum. Otherwise
   * dL/dx goes to {@link #dIn}.
   */
  Tensor backward(Tensor x, Tensor dOut, boolean dOutIsSum, boolean sumForBelow) {
    long t;
    if (dOutIsSum) {
      if (!dOut.overlaps(dSum) || dOut.numel() != dSum.numel()) {
        throw new IllegalStateException("a block's summed gradient must arrive in its GRAD_B slot");
      }
    } else {
      t = StepProfile.start(profile);
      Activation.addReluBackward(engine, out, dOut, dSum, null);  // both summands get dSum
      lap(Op.RESIDUAL_ADD, t, true);
    }
    Tensor dMain = dSum;
    for (int i = main.size() - 1; i >= 0; i--) {
      dMain = main.get(i).backward(i == 0 ? x : main.get(i - 1).out, dMain);
    }
    // dSum (GRAD_B) is read by the identity's sum below, or dead once the shortcut's backward has
    // read it, so the sum for the block below may overwrite it.
    Tensor dSkip;
    if (projection != null) {
      dSkip = projection.backward(x, dSum);
    } else if (subsample == null) {
      dSkip = dSum;
    } else {
      t = StepProfile.start(profile);
      if (identityNorm == null) {
        subsample.backward(engine, dSum, dShortcutIn);
      } else {
        pad.backward(engine, dSum, dSub);
        Tensor[] q = identityNormParams;
        identityNorm.backward(engine, sub, q[0], q[1], subMean, subInvstd, dSub, subNorm, q[4], q[5]);
        subsample.backward(engine, subNorm, dShortcutIn);  // subNorm now holds dL/d(sub)
      }
      lap(Op.SHORTCUT, t, true);
      dSkip = dShortcutIn;
    }
    t = StepProfile.start(profile);
    Tensor result;
    if (sumForBelow) {
      Activation.reluBackwardSum(engine, x, dMain, dSkip, dSumBelow);
      result = dSumBelow;
    } else {
      Activation.add(engine, dMain, dSkip, dIn);
      result = dIn;
    }
    lap(Op.RESIDUAL_ADD, t, true);
    return result;
  }

  @Override
  public void close() {
    owned.forEach(Tensor::close);
    main.forEach(ConvUnit::close);
    if (projection != null) {
      projection.close();
    }
  }
}
