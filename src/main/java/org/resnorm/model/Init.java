package org.resnorm.model;

/** How a parameter starts (paper-summary.md: MSR/He for BatchNorm models, Xavier for the others). */
public enum Init {
  /** Normal, std sqrt(2 / (kh * kw * Cout)) (fb.resnet.torch's MSR init for convs). */
  HE,
  /** Normal, std sqrt(2 / (fan_in + fan_out)) with fan = channels * kh * kw (Glorot). */
  XAVIER,
  /** Uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) (Torch's and PyTorch's default for the linear layer). */
  LINEAR_DEFAULT,
  ONES,
  ZEROS,
  /** NormProp's gamma: 1 / 1.21. */
  NORMPROP_GAMMA
}
