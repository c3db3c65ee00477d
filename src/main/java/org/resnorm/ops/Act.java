package org.resnorm.ops;

import org.resnorm.bind.ResnormNative;

/**
 * The activations the fused ops apply ({@code rn_activation}). CReLU(u) = [max(u, 0), max(-u, 0)]
 * along the channel axis: its output has twice the channels of its input.
 */
public enum Act {
  NONE(ResnormNative.RN_ACT_NONE),
  RELU(ResnormNative.RN_ACT_RELU),
  CRELU(ResnormNative.RN_ACT_CRELU);

  /** The native {@code RN_ACT_*} value. */
  public final int code;

  Act(int code) {
    this.code = code;
  }

  /** Channels of the activation's output for {@code channels} input channels. */
  public int outChannels(int channels) {
    return this == CRELU ? 2 * channels : channels;
  }
}
