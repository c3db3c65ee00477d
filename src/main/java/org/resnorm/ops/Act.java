package org.resnorm.ops;

import org.resnorm.bind.ResnormNative;

/** The activation fused after a normalization (the paper's ReLU and CReLU variants). */
public enum Act {
  /** No activation: y = u. */
  NONE(ResnormNative.RN_ACT_NONE),
  /** y = max(u, 0). */
  RELU(ResnormNative.RN_ACT_RELU),
  /** Concatenated ReLU: y = [max(u, 0), max(-u, 0)] along channels (C -> 2C). */
  CRELU(ResnormNative.RN_ACT_CRELU);

  /** The native {@code RN_ACT_*} code. */
  public final int code;

  Act(int code) {
    this.code = code;
  }

  /** The model activation named on a command line: {@code relu} or {@code crelu} (any case). */
  public static Act parse(String name) {
    return switch (name == null ? "" : name.toLowerCase(java.util.Locale.ROOT)) {
      case "relu" -> RELU;
      case "crelu" -> CRELU;
      default -> throw new IllegalArgumentException("unknown act '" + name + "': expected relu or crelu");
    };
  }

  /** Output channels for {@code channels} input channels (twice as many for CReLU). */
  public int outputChannels(int channels) {
    return this == CRELU ? Math.multiplyExact(2, channels) : channels;
  }
}
