package org.resnorm.ops;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.LongPointer;
import org.resnorm.bind.CudaNative;
import org.resnorm.bind.ResnormNative;
import org.resnorm.core.Checks;
import org.resnorm.core.DType;
import org.resnorm.core.Engine;
import org.resnorm.core.NativeStatus;
import org.resnorm.core.Tensor;

/**
 * Softmax cross-entropy over classes with mean reduction over the batch, its gradient, and
 * top-k counts. logits [N, classes] float32, labels [N] int32 in [0, classes).
 */
public final class SoftmaxCrossEntropy {
  private SoftmaxCrossEntropy() {}

  /** Mean loss {@code -(1/N) sum_i log softmax(logits_i)[label_i]} (NaN if a logit is NaN). */
  public static float loss(Engine engine, Tensor logits, Tensor labels) {
    Checks.engine(engine);
    int[] nc = check(logits, labels);
    if (engine.isCuda()) {  // the loss is written to device memory (the engine's scratch), then read back
      return engine.withScratch(out -> {
        NativeStatus.check(CudaNative.rn_cuda_softmax_xent_forward(engine.cudaHandle(), nc[0], nc[1],
            engine.ptr(logits), engine.intPtr(labels), new FloatPointer(engine.intPtr(out))), "softmax_xent forward");
        engine.synchronize();
        return Float.intBitsToFloat(out.getInt(0));
      });
    }
    float[] out = new float[1];
    NativeStatus.check(ResnormNative.rn_softmax_xent_forward(engine.handle(), nc[0], nc[1], engine.ptr(logits),
        engine.intPtr(labels), out), "softmax_xent forward");
    return out[0];
  }

  /** dlogits = scale * d(loss)/d(logits) = scale * (softmax - onehot) / N (overwritten). */
  public static void backward(Engine engine, Tensor logits, Tensor labels, float scale, Tensor dlogits) {
    Checks.engine(engine);
    check(logits, labels);
    backwardQueued(engine, logits, labels, scale, dlogits);
  }

  /**
   * The loss into {@code out} (a 1-element float tensor where the engine's kernels write), without
   * reading anything back: on a CUDA engine nothing here waits for the device, so a CUDA graph can
   * record it. The labels' values are checked by the kernel instead of here: one out of range is
   * reported by the engine's next {@link Engine#synchronize} (CUDA), or at once (CPU).
   */
  public static void lossInto(Engine engine, Tensor logits, Tensor labels, Tensor out) {
    Checks.engine(engine);
    int[] nc = checkShapes(logits, labels);
    Checks.floatTensor("out", out, 1);
    if (engine.isCuda()) {
      NativeStatus.check(CudaNative.rn_cuda_softmax_xent_forward(engine.cudaHandle(), nc[0], nc[1],
          engine.ptr(logits), engine.intPtr(labels), engine.ptr(out)), "softmax_xent forward");
    } else {
      float[] loss = new float[1];
      NativeStatus.check(ResnormNative.rn_softmax_xent_forward(engine.handle(), nc[0], nc[1], engine.ptr(logits),
          engine.intPtr(labels), loss), "softmax_xent forward");
      out.copyFrom(loss);
    }
  }

  /** {@link #backward} that leaves the labels' values to the kernel, as {@link #lossInto}. */
  public static void backwardQueued(Engine engine, Tensor logits, Tensor labels, float scale, Tensor dlogits) {
    Checks.engine(engine);
    int[] nc = checkShapes(logits, labels);
    Checks.finite("scale", scale);
    Checks.floatTensor("dlogits", dlogits, nc[0], nc[1]);
    Checks.noOverlap("dlogits", dlogits, new String[] {"labels"}, labels);
    // dlogits may be logits itself (the kernel reads each row before writing it); any
    // other partial overlap would be a bug in the caller.
    if (dlogits != logits && dlogits.overlaps(logits)) {
      throw new IllegalArgumentException("dlogits partially overlaps logits: pass the same tensor or a separate one");
    }
    NativeStatus.check(engine.isCuda()
        ? CudaNative.rn_cuda_softmax_xent_backward(engine.cudaHandle(), nc[0], nc[1], engine.ptr(logits),
        engine.intPtr(labels), scale, engine.ptr(dlogits))
        : ResnormNative.rn_softmax_xent_backward(engine.handle(), nc[0], nc[1], engine.ptr(logits),
        engine.intPtr(labels), scale, engine.ptr(dlogits)), "softmax_xent backward");
  }

  /**
   * Rows whose label is among the k largest logits (ties favour the label; rows with a NaN
   * logit never count).
   */
  public static long topkCorrect(Engine engine, Tensor logits, Tensor labels, int k) {
    Checks.engine(engine);
    int[] nc = check(logits, labels);
    Checks.positive("k", k);
    if (engine.isCuda()) {  // an int64 count in the engine's two scratch words, read back
      return engine.withScratch(out -> {
        NativeStatus.check(CudaNative.rn_cuda_topk_correct(engine.cudaHandle(), nc[0], nc[1], engine.ptr(logits),
            engine.intPtr(labels), k, new LongPointer(engine.intPtr(out))), "topk");
        engine.synchronize();
        int[] words = out.toIntArray();  // little-endian
        return (words[0] & 0xffffffffL) | ((long) words[1] << 32);
      });
    }
    long[] out = new long[1];
    NativeStatus.check(ResnormNative.rn_topk_correct(engine.handle(), nc[0], nc[1], engine.ptr(logits),
        engine.intPtr(labels), k, out), "topk");
    return out[0];
  }

  /** Validates shapes; returns {N, classes}. */
  private static int[] checkShapes(Tensor logits, Tensor labels) {
    Checks.rank("logits", logits, DType.F32, 2);
    int n = logits.dim(0);
    Checks.intTensor("labels", labels, n);
    return new int[] {n, logits.dim(1)};
  }

  /** Validates shapes and every label (read back from a device); returns {N, classes}. */
  private static int[] check(Tensor logits, Tensor labels) {
    int[] nc = checkShapes(logits, labels);
    int classes = nc[1];
    int[] values = labels.toIntArray();
    for (int i = 0; i < values.length; i++) {
      if (values[i] < 0 || values[i] >= classes) {
        throw new IllegalArgumentException("label " + values[i] + " at index " + i + " is out of range [0, " + classes
            + ")");
      }
    }
    return nc;
  }
}
