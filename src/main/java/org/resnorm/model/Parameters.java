package org.resnorm.model;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.resnorm.core.Engine;
import org.resnorm.core.Tensor;

/**
 * The named tensors of a model (parameters and buffers, {@link ResNetSpec#params()}), allocated
 * once and initialized from a seed: the same seed gives bit-identical values. Owns the tensors;
 * close it to free them.
 */
public final class Parameters implements AutoCloseable {
  private final Map<String, Tensor> tensors = new LinkedHashMap<>();
  private final Map<String, ParamSpec> specs = new LinkedHashMap<>();

  private Parameters() {}

  /** Allocates every tensor of the spec and initializes it (see {@link Init}) from {@code seed}. */
  public static Parameters initialize(ResNetSpec spec, long seed) {
    return initialize(spec, seed, null);
  }

  /**
   * As {@link #initialize(ResNetSpec, long)}, with the tensors where {@code engine}'s kernels
   * read (device memory for a CUDA engine; null: host). The values are made on the host and
   * copied over, so they are the same bits on every engine.
   */
  public static Parameters initialize(ResNetSpec spec, long seed, Engine engine) {
    Parameters p = new Parameters();
    try {
      // One stream per tensor, split in a fixed order: a tensor's values depend only on the
      // seed and its position, not on how other tensors were drawn.
      SplittableRandom root = new SplittableRandom(seed);
      for (ParamSpec s : spec.params()) {
        SplittableRandom rng = root.split();
        p.specs.put(s.name(), s);
        Tensor t = engine == null ? Tensor.empty(s.shape()) : Tensor.empty(engine, s.shape());
        p.tensors.put(s.name(), t);
        t.copyFrom(values(s, rng));
      }
      return p;
    } catch (RuntimeException e) {
      p.close();
      throw e;
    }
  }

  /**
   * Zero tensors shaped like the spec's learned parameters (their gradients, or optimizer state
   * such as momentum buffers), under the same names.
   */
  public static Parameters zerosForLearned(ResNetSpec spec) {
    return zerosForLearned(spec, null);
  }

  /** As {@link #zerosForLearned(ResNetSpec)}, where {@code engine}'s kernels read (null: host). */
  public static Parameters zerosForLearned(ResNetSpec spec, Engine engine) {
    Parameters p = new Parameters();
    try {
      for (ParamSpec s : spec.params()) {
        if (s.learned()) {
          p.specs.put(s.name(), s);
          p.tensors.put(s.name(), engine == null ? Tensor.zeros(s.shape()) : Tensor.zeros(engine, s.shape()));
        }
      }
      return p;
    } catch (RuntimeException e) {
      p.close();
      throw e;
    }
  }

  /** The initial values of one tensor. */
  static float[] values(ParamSpec s, SplittableRandom rng) {
    int[] shape = s.shape();
    float[] v = new float[Math.toIntExact(s.numel())];
    switch (s.init()) {
      case ONES -> java.util.Arrays.fill(v, 1f);
      case ZEROS -> { }
      case NORMPROP_GAMMA -> java.util.Arrays.fill(v, (float) (1 / 1.21));
      case HE -> gaussian(v, rng, Math.sqrt(2.0 / (receptive(shape) * shape[0])));
      case XAVIER -> gaussian(v, rng, Math.sqrt(2.0 / (fanIn(shape) + (double) receptive(shape) * shape[0])));
      case LINEAR_DEFAULT -> {
        double bound = 1 / Math.sqrt(fanIn(shape));
        for (int i = 0; i < v.length; i++) {
          v[i] = (float) ((rng.nextDouble() * 2 - 1) * bound);
        }
      }
    }
    return v;
  }

  /** kh * kw of a conv weight [K, C, kh, kw] (1 for a matrix). */
  private static long receptive(int[] shape) {
    return shape.length == 4 ? (long) shape[2] * shape[3] : 1;
  }

  /** Inputs per output: C * kh * kw, or the columns of a matrix. */
  private static double fanIn(int[] shape) {
    return shape.length == 4 ? (double) shape[1] * shape[2] * shape[3] : shape[shape.length - 1];
  }

  private static void gaussian(float[] v, SplittableRandom rng, double std) {
    for (int i = 0; i < v.length; i += 2) {
      // Box-Muller: two independent normals per pair of uniforms
      double r = Math.sqrt(-2 * Math.log(1 - rng.nextDouble()));
      double t = 2 * Math.PI * rng.nextDouble();
      v[i] = (float) (std * r * Math.cos(t));
      if (i + 1 < v.length) {
        v[i + 1] = (float) (std * r * Math.sin(t));
      }
    }
  }

  /** The tensor called {@code name}; throws with the known names' count if there is none. */
  public Tensor get(String name) {
    Tensor t = tensors.get(name);
    if (t == null) {
      throw new IllegalArgumentException("no tensor '" + name + "' (the model has " + tensors.size() + ")");
    }
    return t;
  }

  public ParamSpec spec(String name) {
    get(name);
    return specs.get(name);
  }

  /** Every tensor by name, in the spec's order. */
  public Map<String, Tensor> all() {
    return Collections.unmodifiableMap(tensors);
  }

  @Override
  public void close() {
    for (Tensor t : tensors.values()) {
      t.close();
    }
  }
}
