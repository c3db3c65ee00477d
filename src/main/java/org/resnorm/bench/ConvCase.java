package org.resnorm.bench;

import java.util.List;

/**
 * The convolution shapes the benchmarks measure: the 3x3 convs of CIFAR ResNet-110 (widths
 * 16-32-64), the CReLU variant's conv2 (2C -> C input channels), and the stride-2 stage
 * transitions. Shared by {@code bench-kernels} and the JMH benchmarks in {@code jmh/}.
 */
public record ConvCase(String name, int c, int k, int hw, int stride) {
  public static final List<ConvCase> RESNET110 = List.of(
      new ConvCase("3x3 16->16 @32x32", 16, 16, 32, 1),
      new ConvCase("3x3 32->32 @16x16", 32, 32, 16, 1),
      new ConvCase("3x3 64->64 @8x8", 64, 64, 8, 1),
      new ConvCase("CReLU 3x3 32->16 @32x32", 32, 16, 32, 1),
      new ConvCase("CReLU 3x3 64->32 @16x16", 64, 32, 16, 1),
      new ConvCase("CReLU 3x3 128->64 @8x8", 128, 64, 8, 1),
      new ConvCase("3x3/2 16->32 @32x32", 16, 32, 32, 2),
      new ConvCase("3x3/2 32->64 @16x16", 32, 64, 16, 2));

  /** Looks a case up by its index in {@link #RESNET110} or by its exact name. */
  public static ConvCase find(String key) {
    for (int i = 0; i < RESNET110.size(); i++) {
      if (RESNET110.get(i).name().equals(key) || Integer.toString(i).equals(key)) {
        return RESNET110.get(i);
      }
    }
    throw new IllegalArgumentException("unknown conv case '" + key + "'");
  }

  /** Output height/width (3x3 kernel, padding 1). */
  public int outHw() {
    return (hw + 2 - 3) / stride + 1;
  }

  /** Direct FLOPs of one direction at batch n: 2*N*K*C*R*S*P*Q (also for Winograd). */
  public long flops(int n) {
    return 2L * n * k * c * 9 * outHw() * outHw();
  }
}
