package org.resnorm.model;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.resnorm.core.Checks;
import org.resnorm.core.DType;
import org.resnorm.core.Engine;
import org.resnorm.core.Tensor;
import org.resnorm.ops.Act;
import org.resnorm.ops.GlobalAvgPool;
import org.resnorm.ops.Linear;
import org.resnorm.ops.MaxPool2d;
import org.resnorm.ops.Sgd;
import org.resnorm.ops.SoftmaxCrossEntropy;

/**
 * A ResNet ready to train and evaluate on batches of one fixed shape: stem conv -> N -> ReLU
 * (CIFAR: 3x3/1; ImageNet: 7x7/2, then a 3x3/2 max pool), the residual blocks (basic, or
 * bottleneck for ImageNet ResNet-50 and deeper, see {@link ResidualBlock}), global average pool,
 * linear, softmax cross-entropy. Every buffer (activations kept for backward, gradients,
 * scratch) is allocated once here; a step allocates nothing. Parameters and BatchNorm running
 * statistics live in {@link #parameters()} under torchvision's names, gradients in
 * {@link #gradients()}.
 *
 * <pre>{@code
 * try (Engine engine = Engine.create();
 *      ResNet net = ResNet.create(engine, ResNetConfig.cifar(20, Norm.BATCHNORM, Act.CRELU, 10), 128, 32, 32, 1);
 *      Sgd sgd = Sgd.paperRecipe(1e-4f)) {
 *   float loss = net.forwardBackward(x, labels);   // x [128, 3, 32, 32], labels I32 [128]
 *   net.step(sgd, 0.1f);
 * }
 * }</pre>
 *
 * <p>Both architectures of {@link ResNetConfig.Arch} run, with every {@link Norm}, ReLU or CReLU,
 * and shortcut A or B where {@link ResNetSpec} allows it. Not thread-safe.
 */
public final class ResNet implements AutoCloseable {
  private final Engine engine;
  private final ResNetSpec spec;
  private final Parameters params;
  private final Parameters grads;
  private final Parameters velocity;
  private final int[] inputShape;
  private final ConvUnit stem;
  /** ImageNet's 3x3/2 max pool after the stem (null for CIFAR). */
  private final MaxPool2d maxPool;
  /** The max pool's output (the first block's input, which its backward reads) and argmax (I32). */
  private final Tensor poolOut;
  private final Tensor poolArgmax;
  /** dL/d(stem output) from the max pool's backward (GRAD_C: its dy is the first block's dx in GRAD_A). */
  private final Tensor dStemOut;
  /** What the first block reads: the max pool's output, or the stem's. */
  private final Tensor blocksIn;
  private final List<ResidualBlock> blocks = new ArrayList<>();
  private final Linear fc;
  private final Tensor pooled;
  private final Tensor logits;
  private final Tensor dLogits;
  private final Tensor dPooled;
  private final Tensor dFeatures;
  private final SharedBuffers buffers;
  /** On a CUDA engine: device copies of a host batch's images and labels (null on the CPU). */
  private final Tensor deviceInput;
  private final Tensor deviceLabels;
  private final Tensor deviceLoss;
  private boolean velocityStarted;
  /** Whether ops across op boundaries are fused (see {@link #create}'s fuseAcrossOps). */
  private final boolean fuseAcrossOps;
  private StepProfile profile;

  private ResNet(Engine engine, ResNetSpec spec, int batch, int height, int width, long seed, boolean fuseAcrossOps) {
    this.engine = engine;
    this.spec = spec;
    this.fuseAcrossOps = fuseAcrossOps;
    ResNetConfig c = spec.config();
    this.inputShape = new int[] {batch, c.inChannels(), height, width};
    this.params = Parameters.initialize(spec, seed, engine);
    this.grads = Parameters.zerosForLearned(spec, engine);
    this.velocity = Parameters.zerosForLearned(spec, engine);
    this.buffers = new SharedBuffers(engine, largestActivation(spec, inputShape));
    // the stem's dOut arrives in GRAD_A (CIFAR: the first block's dx) or GRAD_C (the max pool's dx)
    stem = new ConvUnit(engine, spec.stem(), c.norm(), Act.RELU, inputShape, params, grads, buffers, false, false,
        false, SharedBuffers.Slot.GRAD_B);
    maxPool = stemPool(spec);
    if (maxPool != null) {
      int[] poolShape = maxPool.outputShape(stem.out.shape());
      poolOut = Tensor.empty(engine, poolShape);
      poolArgmax = Tensor.emptyInt(engine, poolShape);
      dStemOut = buffers.view(SharedBuffers.Slot.GRAD_C, stem.out.shape());
      blocksIn = poolOut;
    } else {
      poolOut = poolArgmax = dStemOut = null;
      blocksIn = stem.out;
    }
    int[] shape = blocksIn.shape();
    for (ResNetSpec.BlockSpec b : spec.blocks()) {
      ResidualBlock block = new ResidualBlock(engine, b, c.norm(), c.act(), shape, params, grads, buffers,
          fuseAcrossOps);
      blocks.add(block);
      shape = block.out.shape();
    }
    fc = new Linear(spec.features(), c.classes());
    pooled = Tensor.empty(engine, batch, spec.features());
    logits = Tensor.empty(engine, batch, c.classes());
    dLogits = Tensor.empty(engine, batch, c.classes());
    dPooled = Tensor.empty(engine, batch, spec.features());
    dFeatures = Tensor.empty(engine, shape);
    deviceInput = engine.isCuda() ? Tensor.empty(engine, inputShape) : null;
    deviceLabels = engine.isCuda() ? Tensor.emptyInt(engine, batch) : null;
    deviceLoss = engine.isCuda() ? Tensor.empty(engine, 1) : null;
  }

  /**
   * Labels where this network's kernels read them: the tensor itself (CPU engine, or already on
   * the device), or a copy in the first rows of the network's device label buffer (CUDA; valid
   * until the next call that uses that buffer). For losses over a partial batch's logits.
   */
  public Tensor labelsOnEngine(Tensor labels) {
    if (deviceLabels == null || labels.isOnDevice()) {
      return labels;
    }
    Checks.rank("labels", labels, DType.I32, 1);
    Tensor rows = deviceLabels.slice(0, labels.dim(0));
    rows.copyFrom(labels);
    return rows;
  }

  /** x where this network's kernels read it: itself, or (CUDA, host x) its copy on the device. */
  private Tensor inputOnEngine(Tensor x) {
    if (deviceInput == null || x.isOnDevice()) {
      return x;
    }
    deviceInput.copyFrom(x);
    return deviceInput;
  }


  /**
   * The most floats any transient tensor of the network holds: the size of each
   * {@link SharedBuffers} slab. Every du is a conv's output before its activation, every dx a
   * conv's (or the max pool's, or a block's) input, which is an activation, and the FORWARD slot
   * holds a block's last conv output; so the largest of the stem's and the max pool's outputs and
   * every conv's activated output (CReLU's at twice its channels: every main conv but a block's
   * last) bounds them all. The input image is not among them: nothing computes its gradient.
   */
  static long largestActivation(ResNetSpec spec, int[] inputShape) {
    long n = inputShape[0];
    int factor = spec.config().act() == Act.CRELU ? 2 : 1;
    int[] hw = outSize(spec.stem(), inputShape[2], inputShape[3]);
    long largest = n * spec.stem().outChannels() * hw[0] * hw[1];  // the stem's ReLU keeps its channels
    MaxPool2d pool = stemPool(spec);
    if (pool != null) {
      hw = new int[] {pool.outputSize(hw[0]), pool.outputSize(hw[1])};
      largest = Math.max(largest, n * spec.stem().outChannels() * hw[0] * hw[1]);
    }
    for (ResNetSpec.BlockSpec b : spec.blocks()) {
      int mainConvs = b.projection() ? b.convs().size() - 1 : b.convs().size();
      int[] cur = hw;
      for (int i = 0; i < b.convs().size(); i++) {
        ResNetSpec.ConvSpec cs = b.convs().get(i);
        boolean isProjection = i == mainConvs;  // reads the block's input, like conv1
        int[] o = outSize(cs, isProjection ? hw[0] : cur[0], isProjection ? hw[1] : cur[1]);
        int channels = i < mainConvs - 1 ? factor * cs.outChannels() : cs.outChannels();
        largest = Math.max(largest, n * channels * o[0] * o[1]);
        if (!isProjection) {
          cur = o;
        }
      }
      hw = cur;
    }
    return largest;
  }

  /** ImageNet's max pool after the stem: 3x3, stride 2, pad 1 (torchvision); null for CIFAR. */
  private static MaxPool2d stemPool(ResNetSpec spec) {
    return spec.config().arch() == ResNetConfig.Arch.IMAGENET ? new MaxPool2d(3, 2, 1) : null;
  }

  private static int[] outSize(ResNetSpec.ConvSpec cs, int h, int w) {
    return new int[] {(h + 2 * cs.pad() - cs.kernel()) / cs.stride() + 1,
        (w + 2 * cs.pad() - cs.kernel()) / cs.stride() + 1};
  }

  /**
   * Builds the network for input batches [batch, inChannels, height, width], parameters
   * initialized from {@code seed} (the paper's recipe: He for BatchNorm models, Xavier otherwise).
   * Any positive height and width survive the downsampling: the 3x3/1 CIFAR stem keeps the size,
   * and ImageNet's 7x7/2 stem (pad 3), 3x3/2 max pool (pad 1), stride-2 3x3 convs (pad 1) and
   * 1x1/2 projections each map n to ceil(n/2), so a side shrinks to 1 pixel but never to 0 (224
   * gives 7x7 features, 32 gives 1x1).
   */
  public static ResNet create(Engine engine, ResNetConfig config, int batch, int height, int width, long seed) {
    return create(engine, config, batch, height, width, seed, true);
  }

  /**
   * {@link #create}; {@code fuseAcrossOps} false runs every op on its own: each BatchNorm+CReLU
   * stores its 2C output even where the next conv could form the CReLU itself, and the residual
   * addition + ReLU is a pass of its own (tests compare the two executions, which agree bit for bit).
   */
  static ResNet create(Engine engine, ResNetConfig config, int batch, int height, int width, long seed,
      boolean fuseAcrossOps) {
    Checks.engine(engine);
    if (config == null) {
      throw new IllegalArgumentException("config must not be null");
    }
    Checks.positive("batch", batch);
    if (height <= 0 || width <= 0) {
      throw new IllegalArgumentException("input height and width must be positive, got " + height + "x" + width);
    }
    if (batch < 2 && config.norm() == Norm.BATCHNORM) {
      throw new IllegalArgumentException("training batch norm needs a batch of at least 2, got " + batch);
    }
    return new ResNet(engine, ResNetSpec.of(config), batch, height, width, seed, fuseAcrossOps);
  }

  /** How many BatchNorm+CReLU outputs the next conv forms from the pre-activation (none stored as 2C). */
  int creluInConvCount() {
    return blocks.stream().mapToInt(ResidualBlock::creluInConvCount).sum();
  }

  public ResNetSpec spec() {
    return spec;
  }

  /** The input shape the network was built for. */
  public int[] inputShape() {
    return inputShape.clone();
  }

  /** The number of residual blocks. */
  public int blockCount() {
    return blocks.size();
  }

  /**
   * x_l, the input of residual block {@code i} (for block 0 the stem's output, after the max
   * pool in ImageNet networks) of the last
   * forward pass: a view of the network's own buffer, valid until the next forward; do not close
   * or modify it. For analysis (the paper's block delta, Fig. 2).
   */
  public Tensor blockInput(int i) {
    Checks.index("block", i, blocks.size());
    return i == 0 ? blocksIn : blocks.get(i - 1).out;
  }

  /**
   * x_{l+1} = relu(x_l' + F(x_l)), the output of residual block {@code i} of the last forward
   * pass (the last block's is the activation before the classifier's pooling, the paper's
   * Table 1): a view valid until the next forward; do not close or modify it.
   */
  public Tensor blockOutput(int i) {
    Checks.index("block", i, blocks.size());
    return blocks.get(i).out;
  }

  /** Parameters and BatchNorm running statistics by name (owned by the network). */
  public Parameters parameters() {
    return params;
  }

  /**
   * The SGD momentum buffers by parameter name (learned parameters only; meaningful once
   * {@link #stepsTaken()} > 0).
   */
  public Parameters momentumBuffers() {
    return velocity;
  }

  /** Whether {@link #step} has run (the momentum buffers hold state). */
  public boolean stepsTaken() {
    return velocityStarted;
  }

  /**
   * Puts back the initial parameters and buffers {@code seed} gives (as {@link #create} did) and
   * clears the optimizer state: a fresh start without reallocating.
   */
  public void reinitialize(long seed) {
    try (Parameters init = Parameters.initialize(spec, seed)) {
      for (Map.Entry<String, Tensor> e : params.all().entrySet()) {
        e.getValue().copyFrom(init.get(e.getKey()));
      }
    }
    for (Tensor v : velocity.all().values()) {
      v.fill(0f);
    }
    velocityStarted = false;
  }

  /** After loading a checkpoint: whether the momentum buffers hold state (see {@link ResNetCheckpoint}). */
  void restoreStepsTaken(boolean taken) {
    velocityStarted = taken;
  }

  /** dL/d(parameter) of the last {@link #forwardBackward}, by name (learned parameters only). */
  public Parameters gradients() {
    return grads;
  }

  /**
   * Times every op of the following forward / backward / step calls into {@code p} (null:
   * stop profiling). See {@link StepProfile}.
   */
  public void profile(StepProfile p) {
    profile = p;
    stem.profile = p;
    blocks.forEach(b -> b.profile(p));
  }

  /** Conv FLOPs (2 x multiply-adds) of one forward pass over a batch. */
  public long forwardConvFlops() {
    long f = stem.forwardFlops();
    for (ResidualBlock b : blocks) {
      f += b.forwardFlops();
    }
    return f;
  }

  /**
   * Conv FLOPs of one training step: forward, backward-filter and backward-data of every conv
   * (the stem has no backward-data). The other ops are memory-bound and add under 1 %.
   */
  public long trainingConvFlops() {
    long f = 2 * stem.forwardFlops();
    for (ResidualBlock b : blocks) {
      f += b.trainingFlops();
    }
    return f;
  }

  /** Logits [batch, classes] for x; training mode uses (and updates) batch statistics. */
  public Tensor forward(Tensor x, boolean training) {
    Checks.floatTensor("x", x, inputShape);
    return forwardOnEngine(inputOnEngine(x), training);
  }

  private Tensor forwardOnEngine(Tensor x, boolean training) {
    Tensor h = stem.forward(x, training);
    if (maxPool != null) {
      long t = StepProfile.start(profile);
      maxPool.forward(engine, h, poolOut, training ? poolArgmax : null);  // only backward reads the argmax
      StepProfile.stop(profile, StepProfile.Op.POOL_FC_LOSS, t);
      h = poolOut;
    }
    for (ResidualBlock b : blocks) {
      h = b.forward(h, training);
    }
    long t = StepProfile.start(profile);
    GlobalAvgPool.forward(engine, h, pooled);
    fc.forward(engine, pooled, params.get("fc.weight"), params.get("fc.bias"), logits);
    StepProfile.stop(profile, StepProfile.Op.POOL_FC_LOSS, t);
    return logits;
  }

  /**
   * One training forward and backward pass: returns the mean cross-entropy loss and leaves every
   * parameter's gradient in {@link #gradients()} (no weight decay: the optimizer adds it).
   */
  public float forwardBackward(Tensor x, Tensor labels) {
    checkLabels(labels);
    Checks.floatTensor("x", x, inputShape);
    x = inputOnEngine(x);
    labels = labelsOnEngine(labels);
    forwardOnEngine(x, true);
    long t = StepProfile.start(profile);
    float loss = SoftmaxCrossEntropy.loss(engine, logits, labels);
    backwardOnEngine(x, labels, t);
    return loss;
  }

  /**
   * CUDA: copies a batch into the device tensors {@link #forwardBackwardStaged} reads (outside
   * any graph recording: the copy waits for the device).
   */
  public void stage(Tensor x, Tensor labels) {
    if (deviceInput == null) {
      throw new IllegalStateException("staging is for networks on a CUDA engine; call forwardBackward");
    }
    checkLabels(labels);
    Checks.floatTensor("x", x, inputShape);
    deviceInput.copyFrom(x);
    deviceLabels.copyFrom(labels);
  }

  /**
   * {@link #forwardBackward} on the batch last {@link #stage}d, enqueue-only: the loss stays on the
   * device ({@link #stagedLoss}) and nothing waits for the device, so a CUDA graph can record it
   * together with {@link #step} ({@link Engine#record}). Labels out of range are reported by the
   * engine's next synchronize.
   */
  public void forwardBackwardStaged() {
    if (deviceInput == null) {
      throw new IllegalStateException("staging is for networks on a CUDA engine; call forwardBackward");
    }
    forwardOnEngine(deviceInput, true);
    long t = StepProfile.start(profile);
    SoftmaxCrossEntropy.lossInto(engine, logits, deviceLabels, deviceLoss);
    backwardOnEngine(deviceInput, deviceLabels, t);
  }

  /** The loss of the last {@link #forwardBackwardStaged} (waits for the device). */
  public float stagedLoss() {
    if (deviceLoss == null) {
      throw new IllegalStateException("staging is for networks on a CUDA engine");
    }
    engine.synchronize();
    return deviceLoss.get(0);
  }

  /**
   * Backward from the logits of the last training forward of x (both where the kernels read);
   * t: when the loss's profile span started (the head's backward books to the same span).
   */
  private void backwardOnEngine(Tensor x, Tensor labels, long t) {
    SoftmaxCrossEntropy.backwardQueued(engine, logits, labels, 1f, dLogits);
    fc.backwardWeight(engine, pooled, dLogits, grads.get("fc.weight"), grads.get("fc.bias"));
    fc.backwardData(engine, dLogits, params.get("fc.weight"), dPooled);
    GlobalAvgPool.backward(engine, dPooled, dFeatures);
    StepProfile.stop(profile, StepProfile.Op.POOL_FC_LOSS, t);
    Tensor d = dFeatures;
    boolean dIsSum = false;
    for (int i = blocks.size() - 1; i >= 0; i--) {
      Tensor in = i == 0 ? blocksIn : blocks.get(i - 1).out;
      // a block's input from a block below: its dL/dx goes on through that block's add + ReLU
      // in the same pass as the sum of its two paths (ResidualBlock#backward)
      boolean sumForBelow = fuseAcrossOps && i > 0;
      d = blocks.get(i).backward(in, d, dIsSum, sumForBelow);
      dIsSum = sumForBelow;
    }
    if (maxPool != null) {
      t = StepProfile.start(profile);
      maxPool.backward(engine, poolArgmax, d, dStemOut);
      StepProfile.stop(profile, StepProfile.Op.POOL_FC_LOSS, t);
      d = dStemOut;
    }
    stem.backward(x, d);
  }

  /** Mean loss and top-k correct counts of x in eval mode (running statistics). */
  public long[] evaluate(Tensor x, Tensor labels, int... ks) {
    checkLabels(labels);
    forward(x, false);
    labels = labelsOnEngine(labels);
    long[] correct = new long[ks.length];
    for (int i = 0; i < ks.length; i++) {
      correct[i] = SoftmaxCrossEntropy.topkCorrect(engine, logits, labels, Math.min(ks[i], spec.config().classes()));
    }
    return correct;
  }

  /** Rows of the last forward pass whose label is among the k largest logits. */
  public long correct(Tensor labels, int k) {
    checkLabels(labels);
    labels = labelsOnEngine(labels);
    return SoftmaxCrossEntropy.topkCorrect(engine, logits, labels, Math.min(k, spec.config().classes()));
  }

  /** The loss of the logits of the last forward pass. */
  public float loss(Tensor labels) {
    checkLabels(labels);
    labels = labelsOnEngine(labels);
    return SoftmaxCrossEntropy.loss(engine, logits, labels);
  }

  /** One fused SGD update of every learned parameter with the gradients of the last backward. */
  public void step(Sgd sgd, float lr) {
    long t = StepProfile.start(profile);
    for (Map.Entry<String, Tensor> g : grads.all().entrySet()) {
      sgd.step(engine, lr, params.get(g.getKey()), g.getValue(), velocity.get(g.getKey()), !velocityStarted);
    }
    velocityStarted = true;
    StepProfile.stop(profile, StepProfile.Op.SGD, t);
  }

  private void checkLabels(Tensor labels) {
    Checks.rank("labels", labels, DType.I32, 1);
    if (labels.dim(0) != inputShape[0]) {
      throw new IllegalArgumentException("labels must be [" + inputShape[0] + "], got " + labels.shapeString());
    }
  }

  @Override
  public void close() {
    stem.close();
    blocks.forEach(ResidualBlock::close);
    for (Tensor t : new Tensor[] {pooled, logits, dLogits, dPooled, dFeatures, poolOut, poolArgmax, deviceInput,
        deviceLabels, deviceLoss}) {
      if (t != null) {
        t.close();
      }
    }
    buffers.close();
    params.close();
    grads.close();
    velocity.close();
  }

  @Override
  public String toString() {
    return spec.config() + ", batch " + inputShape[0];
  }
}
