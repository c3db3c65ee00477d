package org.resnorm.model;

/** The residual shortcut where a block changes shape (paper-summary.md, "Networks"). */
public enum Shortcut {
  /** Strided identity with zero channels appended (fb.resnet.torch's CIFAR default): no parameters. */
  A,
  /** 1x1 conv (stride s) + N. */
  B;

  public static Shortcut parse(String s) {
    if (s != null && (s.trim().equalsIgnoreCase("A") || s.trim().equalsIgnoreCase("B"))) {
      return valueOf(s.trim().toUpperCase(java.util.Locale.ROOT));
    }
    throw new IllegalArgumentException("unknown shortcut '" + s + "': expected A or B");
  }
}
