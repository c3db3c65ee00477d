package org.resnorm.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.resnorm.core.Engine;
import org.resnorm.core.Tensor;
import org.resnorm.io.SafeDType;
import org.resnorm.io.SafeTensors;
import org.resnorm.io.SafeTensorsFile;
import org.resnorm.io.TensorData;
import org.resnorm.model.Norm;
import org.resnorm.model.ResNet;
import org.resnorm.model.ResNetCheckpoint;
import org.resnorm.model.ResNetConfig;
import org.resnorm.model.Shortcut;
import org.resnorm.ops.Act;
import org.resnorm.ops.Sgd;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code check-step}: exactly one training step (train mode, no augmentation) from given
 * weights on a given batch, writing the loss, every gradient and every updated tensor, so one
 * step can be compared with another framework's (e.g. PyTorch with the same weights).
 *
 * <p>Output names: {@code loss} (F32 scalar); {@code grad.<name>} for every learned parameter,
 * dL/dparam of the mean cross-entropy <em>before</em> weight decay (what PyTorch's
 * {@code param.grad} holds after {@code loss.backward()}); every parameter and BatchNorm running
 * statistic after the step under its own name ({@code weight_g} as {@code [K, 1, 1, 1]});
 * {@code <bn>.num_batches_tracked} (the input's + 1, or 1); {@code momentum_buffer.<name>}
 * after the step. The update is PyTorch's {@code SGD(lr, momentum, dampening=0, weight_decay,
 * nesterov)}: coupled weight decay, and on the first step (no momentum buffers in the weights
 * file) the buffer starts as the gradient.
 */
@Command(name = "check-step", mixinStandardHelpOptions = true,
    description = "Run one training step from given weights on a given batch; write loss, gradients and new weights.")
final class CheckStepCommand implements Callable<Integer> {
  @Option(names = "--arch", description = "cifar (default) or imagenet (give --widths 64,128,256,512 and --shortcut B "
      + "for torchvision's).")
  String arch = "cifar";

  @Option(names = "--depth", required = true, description = "Depth (CIFAR: 6n+2).")
  int depth;

  @Option(names = "--widths", split = ",", description = "Stage widths (default 16,32,64).")
  int[] widths = {16, 32, 64};

  @Option(names = "--norm", required = true, description = "plain, plain-nobias, batchnorm, normprop, normprop2, normprop3.")
  String norm;

  @Option(names = "--act", required = true, description = "relu or crelu.")
  String act;

  @Option(names = "--shortcut", description = "A (default) or B.")
  String shortcut = "A";

  @Option(names = "--weights", required = true, description = "safetensors with every parameter and buffer "
      + "(docs/CHECKPOINTS.md names; momentum_buffer.* optional).")
  Path weights;

  @Option(names = "--batch", required = true, description = "safetensors with x (F32 [N,C,H,W]) and y (I64 or I32 [N]).")
  Path batchFile;

  @Option(names = "--lr", description = "Learning rate (default ${DEFAULT-VALUE}).")
  float lr = 0.1f;

  @Option(names = "--momentum", description = "Momentum (default ${DEFAULT-VALUE}).")
  float momentum = 0.9f;

  @Option(names = "--nesterov", negatable = true, defaultValue = "true", fallbackValue = "true",
      description = "Nesterov momentum (default on; --no-nesterov).")
  boolean nesterov = true;

  @Option(names = "--wd", description = "Weight decay (default ${DEFAULT-VALUE}).")
  float wd = 1e-4f;

  @Option(names = "--threads", description = "Engine threads (default: all CPUs).")
  Integer threads;

  @Option(names = "--out", required = true, description = "Output safetensors (written atomically).")
  Path out;

  @Override
  public Integer call() throws IOException {
    boolean imagenet = ResNetConfig.Arch.parse(arch) == ResNetConfig.Arch.IMAGENET;
    if (!(lr > 0) || !(momentum >= 0) || !(wd >= 0)) {
      throw new IllegalArgumentException("need --lr > 0, --momentum >= 0, --wd >= 0");
    }
    try (SafeTensorsFile w = SafeTensors.read(weights); SafeTensorsFile b = SafeTensors.read(batchFile)) {
      if (!b.contains("x") || !b.contains("y")) {
        throw new IllegalArgumentException(batchFile + ": needs tensors 'x' [N,C,H,W] and 'y' [N], has " + b.names());
      }
      long[] xs = b.shape("x");
      long[] ys = b.shape("y");
      if (xs.length != 4 || ys.length != 1 || ys[0] != xs[0] || xs[0] < 1) {
        throw new IllegalArgumentException(batchFile + ": x must be [N,C,H,W] and y [N] with the same N, got x "
            + java.util.Arrays.toString(xs) + " and y " + java.util.Arrays.toString(ys));
      }
      if (!w.contains("fc.weight")) {
        throw new IllegalArgumentException(weights + ": no fc.weight");
      }
      int n = Math.toIntExact(xs[0]);
      int classes = Math.toIntExact(w.shape("fc.weight")[0]);
      ResNetConfig config = new ResNetConfig(imagenet ? ResNetConfig.Arch.IMAGENET : ResNetConfig.Arch.CIFAR, depth,
          widths, Norm.parse(norm), Act.parse(act), Shortcut.parse(shortcut), Math.toIntExact(xs[1]), classes);
      int[] labels = labels(b, n, classes);
      try (Engine engine = threads == null ? Engine.create() : Engine.create(threads);
          ResNet net = ResNet.create(engine, config, n, Math.toIntExact(xs[2]), Math.toIntExact(xs[3]), 0);
          Sgd sgd = new Sgd(momentum, 0f, wd, nesterov);
          Tensor x = b.floatTensor("x");
          Tensor y = Tensor.ofInts(labels, n)) {
        ResNetCheckpoint.load(net, w, true);
        long tracked = w.contains("bn1.num_batches_tracked") && w.dtype("bn1.num_batches_tracked") == SafeDType.I64
            ? w.data("bn1.num_batches_tracked").longs()[0] : 0;
        float loss = net.forwardBackward(x, y);
        if (!Float.isFinite(loss)) {
          throw new IllegalStateException("the loss is " + loss + " on this batch: nothing written");
        }
        SafeTensors.Writer o = SafeTensors.writer().rejectNonFinite(true);
        o.add("loss", TensorData.scalar(loss));
        for (Map.Entry<String, Tensor> g : net.gradients().all().entrySet()) {
          o.add("grad." + g.getKey(), ResNetCheckpoint.stored(g.getKey(), g.getValue()));
        }
        net.step(sgd, lr);
        for (Map.Entry<String, Tensor> p : net.parameters().all().entrySet()) {
          String name = p.getKey();
          o.add(name, ResNetCheckpoint.stored(name, p.getValue()));
          if (name.endsWith(".running_var")) {
            o.add(name.substring(0, name.length() - ".running_var".length()) + ".num_batches_tracked",
                TensorData.scalar(tracked + 1));
          }
        }
        for (Map.Entry<String, Tensor> v : net.momentumBuffers().all().entrySet()) {
          o.add(ResNetCheckpoint.MOMENTUM_PREFIX + v.getKey(), ResNetCheckpoint.stored(v.getKey(), v.getValue()));
        }
        o.metadata("format", ResNetCheckpoint.FORMAT).metadata("config", config.toString())
            .metadata("lr", Float.toString(lr)).metadata("momentum", Float.toString(momentum))
            .metadata("nesterov", Boolean.toString(nesterov)).metadata("weight_decay", Float.toString(wd));
        o.write(out);
        System.out.printf(Locale.ROOT, "%s, batch %d: loss %.6f; wrote %d tensors to %s%n", config, n, loss,
            o.names().size(), out);
      }
    }
    return 0;
  }

  private int[] labels(SafeTensorsFile b, int n, int classes) throws IOException {
    SafeDType type = b.dtype("y");
    int[] labels = new int[n];
    if (type == SafeDType.I64) {
      long[] v = b.data("y").longs();
      for (int i = 0; i < n; i++) {
        labels[i] = checkLabel(v[i], i, classes);
      }
    } else if (type == SafeDType.I32) {
      int[] v = b.data("y").ints();
      for (int i = 0; i < n; i++) {
        labels[i] = checkLabel(v[i], i, classes);
      }
    } else {
      throw new IllegalArgumentException(batchFile + ": y must be I64 or I32, is " + type);
    }
    return labels;
  }

  private int checkLabel(long v, int i, int classes) {
    if (v < 0 || v >= classes) {
      throw new IllegalArgumentException(batchFile + ": label y[" + i + "] = " + v + " is out of range 0.."
          + (classes - 1));
    }
    return (int) v;
  }
}
