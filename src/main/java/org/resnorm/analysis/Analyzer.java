package org.resnorm.analysis;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.resnorm.core.Tensor;
import org.resnorm.data.Dataset;
import org.resnorm.model.ResNet;
import org.resnorm.model.ResNetSpec;

/**
 * Measures an {@link Analysis} of a network on the first images of a dataset, in eval mode
 * (BatchNorm running statistics, so every image's activations are independent of the others in
 * its batch). The images are fed in their dataset order, in batches of the network's batch size;
 * a last partial batch is padded with zeros and only its real rows are counted.
 *
 * <pre>{@code
 * try (Engine engine = Engine.create(); ResNet net = ResNet.create(engine, config, 100, 32, 32, 0)) {
 *   ResNetCheckpoint.load(net, file, false);
 *   Analysis a = Analyzer.analyze("batchnorm crelu", net, testSet, 500);
 * }
 * }</pre>
 */
public final class Analyzer {
  private Analyzer() {}

  /**
   * Delta of every block and the last activation's statistics over the first {@code samples}
   * images of {@code data} (all of them when it has fewer), and the coherence of every conv.
   * Runs forward passes on {@code net} (its last-forward buffers are overwritten).
   */
  public static Analysis analyze(String label, ResNet net, Dataset data, int samples) {
    if (samples < 1) {
      throw new IllegalArgumentException("samples must be >= 1, got " + samples);
    }
    int[] shape = net.inputShape();
    if (data.channels() != shape[1] || data.height() != shape[2] || data.width() != shape[3]) {
      throw new IllegalArgumentException("the network takes " + shape[1] + "x" + shape[2] + "x" + shape[3]
          + " images; " + data + " has " + data.channels() + "x" + data.height() + "x" + data.width());
    }
    int images = Math.min(samples, data.size());
    int batch = shape[0];
    int per = data.imageSize();
    int blocks = net.blockCount();
    double[] deltaSum = new double[blocks];
    int[][] inShapes = new int[blocks][];
    int[][] outShapes = new int[blocks][];
    ActivationStats last = new ActivationStats();
    float[] staging = new float[batch * per];
    try (Tensor x = Tensor.zeros(shape)) {
      for (int start = 0; start < images; start += batch) {
        int k = Math.min(batch, images - start);
        Arrays.fill(staging, 0f);
        System.arraycopy(data.images(), start * per, staging, 0, k * per);
        x.copyFrom(staging);
        net.forward(x, false);
        float[] in = rows(net.blockInput(0), k);
        int[] inShape = shapeOf(net.blockInput(0), k);
        for (int b = 0; b < blocks; b++) {
          Tensor o = net.blockOutput(b);
          float[] out = rows(o, k);
          int[] outShape = shapeOf(o, k);
          int stride = net.spec().blocks().get(b).stride();
          for (double d : Delta.perImage(in, inShape, out, outShape, stride)) {
            deltaSum[b] += d;
          }
          inShapes[b] = Arrays.copyOfRange(inShape, 1, 4);
          outShapes[b] = Arrays.copyOfRange(outShape, 1, 4);
          in = out;
          inShape = outShape;
        }
        last.add(in);
      }
    }
    List<Analysis.BlockDelta> deltas = new ArrayList<>();
    for (int b = 0; b < blocks; b++) {
      ResNetSpec.BlockSpec bs = net.spec().blocks().get(b);
      boolean reshapes = bs.stride() != 1 || !Arrays.equals(inShapes[b], outShapes[b]);
      deltas.add(new Analysis.BlockDelta(b, bs.prefix(), inShapes[b], outShapes[b], bs.stride(), reshapes,
          deltaSum[b] / images));
    }
    return new Analysis(label, net.spec().config(), images, deltas, last.summary(), coherence(net));
  }

  /**
   * The coherence of every conv of {@code net}'s current parameters, in forward order: the
   * stem, then each block's convs ({@code weight}, or {@code weight_v} where weight-normalized).
   */
  public static List<Analysis.ConvCoherence> coherence(ResNet net) {
    ResNetSpec spec = net.spec();
    List<ResNetSpec.ConvSpec> convs = new ArrayList<>();
    convs.add(spec.stem());
    for (ResNetSpec.BlockSpec b : spec.blocks()) {
      convs.addAll(b.convs());
    }
    List<Analysis.ConvCoherence> result = new ArrayList<>();
    for (ResNetSpec.ConvSpec c : convs) {
      String name = c.name() + (spec.config().norm().weightNormalized() ? ".weight_v" : ".weight");
      Tensor w = net.parameters().get(name);
      int[] s = w.shape();
      int fanIn = s[1] * s[2] * s[3];
      result.add(new Analysis.ConvCoherence(c.name(), name, s[0], fanIn, Coherence.mu(w.toFloatArray(), s)));
    }
    return result;
  }

  /** The first k rows of t as a new array. */
  private static float[] rows(Tensor t, int k) {
    if (k == t.dim(0)) {
      return t.toFloatArray();
    }
    try (Tensor v = t.slice(0, k)) {
      return v.toFloatArray();
    }
  }

  private static int[] shapeOf(Tensor t, int k) {
    int[] s = t.shape();
    s[0] = k;
    return s;
  }
}
