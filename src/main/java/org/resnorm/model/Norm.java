package org.resnorm.model;

import java.util.Locale;

/** The normalization N of the paper's blocks (paper-summary.md, "N is one of"). */
public enum Norm {
  /** conv + bias. */
  PLAIN,
  /** conv, no bias. */
  PLAIN_NOBIAS,
  /** conv (no bias), then BatchNorm2d. */
  BATCHNORM,
  /** Weight-normalized conv with NormProp's post-activation re-centering; gamma learned. */
  NORMPROP,
  /** Weight normalization: gamma learned, no post map. */
  NORMPROP2,
  /** NORMPROP2 with gamma fixed (1/1.21). */
  NORMPROP3;

  /** Whether the convs are weight-normalized (the NormProp family). */
  public boolean weightNormalized() {
    return this == NORMPROP || this == NORMPROP2 || this == NORMPROP3;
  }

  /** The command-line spelling: plain, plain-nobias, batchnorm, normprop, normprop2, normprop3. */
  public String cliName() {
    return name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  /** Parses the command-line spelling (case-insensitive). */
  public static Norm parse(String s) {
    for (Norm n : values()) {
      if (n.cliName().equalsIgnoreCase(s == null ? "" : s.trim())) {
        return n;
      }
    }
    throw new IllegalArgumentException("unknown norm '" + s
        + "': expected plain, plain-nobias, batchnorm, normprop, normprop2 or normprop3");
  }
}
