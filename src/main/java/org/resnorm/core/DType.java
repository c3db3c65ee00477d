package org.resnorm.core;

/** Element type of a {@link Tensor}. */
public enum DType {
  /** 32-bit IEEE float: activations, weights, gradients. */
  F32,
  /** 32-bit signed int: class labels. */
  I32;

  /** Bytes per element (both types are 4 bytes). */
  public int bytes() {
    return 4;
  }
}
