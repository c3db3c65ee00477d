package org.resnorm.analysis;

import java.util.Arrays;

/**
 * The paper's per-block delta (Fig. 2): how far a residual block moves its input,
 *
 * <pre>
 *   delta_l(image) = 1/(H W) * sum_{i,j} || x_l'(:, i, j) - x_{l+1}(:, i, j) ||_2
 * </pre>
 *
 * the L2 norm over channels at each spatial position (i, j) of the block's output grid, averaged
 * over the positions; a network's value for block l is the mean of that over the analysed images.
 *
 * <p>{@code x_l'} is the block input {@code x_l} itself where the block keeps the shape. Where it
 * changes the shape (stride 2 and/or more channels) the two cannot be subtracted, and we compare
 * with {@code x_l} mapped by the parameter-free identity of shortcut A (fb.resnet.torch, the
 * paper's CIFAR networks): the strided subsample {@code x[:, :, ::s, ::s]} with zero channels
 * appended after the input's channels ({@link #shortcutA}). This is our choice where the paper
 * is silent; it is used for every model, also where the network's own shortcut is a projection
 * (shortcut B) or carries NormProp's identity BatchNorm, so that delta always measures the
 * residual branch against the same parameter-free reference. The appended channels make
 * delta at a reshaping block include the full norm of the output's new channels.
 *
 * <p>Computed in float64 from float32 activations; stateless and thread-safe.
 */
public final class Delta {
  private Delta() {}

  /**
   * Shortcut A's identity map of one NCHW tensor {@code x} of {@code shape = [N, C, H, W]}:
   * {@code out[n, c, i, j] = x[n, c, i*stride, j*stride]} for {@code c < C}, 0 for
   * {@code C <= c < outChannels}; the output is [N, outChannels, ceil(H/stride), ceil(W/stride)]
   * (what a 3x3 conv with padding 1 and that stride gives). With stride 1 and the same channels
   * it is a copy.
   */
  public static float[] shortcutA(float[] x, int[] shape, int outChannels, int stride) {
    checkShape("x", x, shape);
    if (stride < 1) {
      throw new IllegalArgumentException("stride must be >= 1, got " + stride);
    }
    int n = shape[0];
    int c = shape[1];
    int h = shape[2];
    int w = shape[3];
    if (outChannels < c) {
      throw new IllegalArgumentException("shortcut A cannot drop channels: " + c + " -> " + outChannels);
    }
    int oh = (h + stride - 1) / stride;
    int ow = (w + stride - 1) / stride;
    float[] out = new float[Math.multiplyExact(Math.multiplyExact(n, outChannels), oh * ow)];
    for (int img = 0; img < n; img++) {
      for (int ch = 0; ch < c; ch++) {
        int src = (img * c + ch) * h * w;
        int dst = (img * outChannels + ch) * oh * ow;
        for (int i = 0; i < oh; i++) {
          for (int j = 0; j < ow; j++) {
            out[dst + i * ow + j] = x[src + i * stride * w + j * stride];
          }
        }
      }
    }
    return out;
  }

  /** The output shape of {@link #shortcutA} for an input of {@code shape}. */
  public static int[] shortcutAShape(int[] shape, int outChannels, int stride) {
    return new int[] {shape[0], outChannels, (shape[2] + stride - 1) / stride, (shape[3] + stride - 1) / stride};
  }

  /**
   * delta of every image: {@code in} = x_l [N, C, H, W], {@code out} = x_{l+1} [N, C', H', W'],
   * {@code stride} the block's stride; where the shapes differ, {@code in} goes through
   * {@link #shortcutA} first, which must then give exactly out's shape.
   */
  public static double[] perImage(float[] in, int[] inShape, float[] out, int[] outShape, int stride) {
    checkShape("in", in, inShape);
    checkShape("out", out, outShape);
    float[] ref = in;
    if (!Arrays.equals(inShape, outShape) || stride != 1) {
      int[] mapped = shortcutAShape(inShape, outShape[1], stride);
      if (!Arrays.equals(mapped, outShape)) {
        throw new IllegalArgumentException("block input " + Arrays.toString(inShape) + " with stride " + stride
            + " maps to " + Arrays.toString(mapped) + " under shortcut A, not to the output's "
            + Arrays.toString(outShape));
      }
      ref = shortcutA(in, inShape, outShape[1], stride);
    }
    int n = outShape[0];
    int c = outShape[1];
    int hw = outShape[2] * outShape[3];
    double[] result = new double[n];
    double[] sq = new double[hw];
    for (int img = 0; img < n; img++) {
      Arrays.fill(sq, 0);
      for (int ch = 0; ch < c; ch++) {
        int base = (img * c + ch) * hw;
        for (int p = 0; p < hw; p++) {
          double d = (double) out[base + p] - ref[base + p];
          sq[p] += d * d;
        }
      }
      double sum = 0;
      for (int p = 0; p < hw; p++) {
        sum += Math.sqrt(sq[p]);
      }
      result[img] = sum / hw;
    }
    return result;
  }

  private static void checkShape(String what, float[] x, int[] shape) {
    if (x == null || shape == null || shape.length != 4) {
      throw new IllegalArgumentException(what + " must be an NCHW array with a 4-d shape");
    }
    long count = 1;
    for (int d : shape) {
      if (d <= 0) {
        throw new IllegalArgumentException(what + " has a non-positive dimension: " + Arrays.toString(shape));
      }
      count *= d;
    }
    if (count != x.length) {
      throw new IllegalArgumentException(what + " has " + x.length + " values, shape " + Arrays.toString(shape)
          + " needs " + count);
    }
  }
}
