package org.resnorm.analysis;

/**
 * The paper's Table 1 quantities of the activation after the last ReLU before the classifier
 * (the last residual block's output, before global average pooling), over all its entries
 * (every image, channel and position): the mean, the standard deviation and the non-zero ratio
 * NZR = #{entries != 0} / #entries.
 *
 * <p>{@code std} is the population standard deviation (divides by the number of entries, not
 * by one less). Accumulation is in float64: each added chunk's mean and sum of squared
 * deviations are computed in two passes and merged with Chan et al.'s pairwise formula, so
 * batches can be added one at a time without the cancellation of a sum-of-squares formula.
 * Not thread-safe.
 */
public final class ActivationStats {
  private long count;
  private long nonZero;
  private double mean;
  private double m2;

  /** A snapshot: entries seen, mean, population std and non-zero ratio. */
  public record Summary(long entries, double mean, double std, double nzr) {}

  /** Adds {@code length} entries of {@code values} from {@code offset}. */
  public ActivationStats add(float[] values, int offset, int length) {
    if (offset < 0 || length < 0 || offset + length > values.length) {
      throw new IllegalArgumentException("range [" + offset + ", " + (offset + length) + ") outside an array of "
          + values.length);
    }
    if (length == 0) {
      return this;
    }
    double sum = 0;
    long nz = 0;
    for (int i = offset; i < offset + length; i++) {
      sum += values[i];
      nz += values[i] != 0f ? 1 : 0;
    }
    double chunkMean = sum / length;
    double chunkM2 = 0;
    for (int i = offset; i < offset + length; i++) {
      double d = values[i] - chunkMean;
      chunkM2 += d * d;
    }
    long total = count + length;
    double delta = chunkMean - mean;
    mean += delta * length / total;
    m2 += chunkM2 + delta * delta * ((double) count * length / total);
    count = total;
    nonZero += nz;
    return this;
  }

  /** Adds every entry of {@code values}. */
  public ActivationStats add(float[] values) {
    return add(values, 0, values.length);
  }

  /** The statistics so far (NaN for mean, std and NZR before any entry). */
  public Summary summary() {
    if (count == 0) {
      return new Summary(0, Double.NaN, Double.NaN, Double.NaN);
    }
    return new Summary(count, mean, Math.sqrt(Math.max(0, m2 / count)), (double) nonZero / count);
  }
}
