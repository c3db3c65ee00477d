package org.resnorm.ops;

import org.resnorm.bind.ResnormNative;

/** Convolution algorithm. Every one computes the same function; they differ in speed. */
public enum ConvAlgo {
  /** The fastest available for the shape and direction. */
  AUTO(ResnormNative.RN_CONV_ALGO_AUTO),
  /** im2col (direct for 1x1) + GEMM: every shape; the reference path. */
  IM2COL(ResnormNative.RN_CONV_ALGO_IM2COL),
  /** Winograd F(4x4,3x3): 3x3 kernels with stride 1 only (float32 error ~2e-6 relative). */
  WINOGRAD(ResnormNative.RN_CONV_ALGO_WINOGRAD),
  /** Direct convolution on channel-blocked data, with a register-blocked micro-kernel: every shape. */
  DIRECT(ResnormNative.RN_CONV_ALGO_DIRECT);

  final int code;

  ConvAlgo(int code) {
    this.code = code;
  }

  /** Whether this algorithm handles a kernel of that size and stride (all but WINOGRAD: every shape). */
  public boolean appliesTo(int kernelH, int kernelW, int strideH, int strideW) {
    return this != WINOGRAD || (kernelH == 3 && kernelW == 3 && strideH == 1 && strideW == 1);
  }

  static ConvAlgo of(int code) {
    for (ConvAlgo a : values()) {
      if (a.code == code) {
        return a;
      }
    }
    throw new IllegalStateException("unknown conv algo code " + code);
  }

  /** Parses "auto", "im2col", "winograd" or "direct" (case-insensitive). */
  public static ConvAlgo parse(String name) {
    for (ConvAlgo a : values()) {
      if (a.name().equalsIgnoreCase(name)) {
        return a;
      }
    }
    throw new IllegalArgumentException("unknown conv algorithm '" + name + "': expected auto, im2col, winograd or direct");
  }
}
