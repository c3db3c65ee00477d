package org.resnorm.core;

import org.resnorm.bind.ResnormNative;

/** Instruction-set level of the CPU kernels; the best one the CPU has is chosen at run time. */
public enum Isa {
  /** Portable x86-64 code (SSE2): runs anywhere. */
  GENERIC(ResnormNative.RN_ISA_GENERIC),
  /** AVX2 + FMA. */
  AVX2(ResnormNative.RN_ISA_AVX2),
  /** AVX-512 F/VL/BW/DQ + FMA. */
  AVX512(ResnormNative.RN_ISA_AVX512);

  final int code;

  Isa(int code) {
    this.code = code;
  }

  /** The best level this CPU supports. */
  public static Isa best() {
    return of(ResnormNative.rn_cpu_best_isa());
  }

  /** Whether this CPU can run kernels of this level. */
  public boolean supported() {
    return code <= ResnormNative.rn_cpu_best_isa();
  }

  static Isa of(int code) {
    for (Isa isa : values()) {
      if (isa.code == code) {
        return isa;
      }
    }
    throw new IllegalStateException("unknown ISA code " + code);
  }

  /** Parses "generic", "avx2" or "avx512" (case-insensitive). */
  public static Isa parse(String name) {
    for (Isa isa : values()) {
      if (isa.name().equalsIgnoreCase(name)) {
        return isa;
      }
    }
    throw new IllegalArgumentException("unknown ISA '" + name + "': expected generic, avx2 or avx512");
  }
}
