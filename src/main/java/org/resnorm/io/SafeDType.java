package org.resnorm.io;

import org.resnorm.core.DType;

/**
 * The element types of the safetensors format, with their header spelling ({@link #name()}) and
 * size. Every type is recognised when a file is read, so offsets of any tensor can be validated;
 * element access ({@link SafeTensorsFile#data}, {@link SafeTensorsFile#tensor}...) supports
 * {@link #F32}, {@link #F64}, {@link #I32} and {@link #I64} ({@link #isSupported()}).
 */
public enum SafeDType {
  BOOL(1, false),
  U8(1, false),
  I8(1, false),
  F8_E5M2(1, false),
  F8_E4M3(1, false),
  I16(2, false),
  U16(2, false),
  F16(2, false),
  BF16(2, false),
  I32(4, true),
  U32(4, false),
  F32(4, true),
  F64(8, true),
  I64(8, true),
  U64(8, false);

  private final int bytes;
  private final boolean supported;

  SafeDType(int bytes, boolean supported) {
    this.bytes = bytes;
    this.supported = supported;
  }

  /** Bytes per element. */
  public int bytes() {
    return bytes;
  }

  /** Whether resnorm can read and write elements of this type (F32, F64, I32, I64). */
  public boolean isSupported() {
    return supported;
  }

  /** The type with this header spelling ("F32"...), or null if there is none. */
  public static SafeDType fromHeader(String s) {
    for (SafeDType t : values()) {
      if (t.name().equals(s)) {
        return t;
      }
    }
    return null;
  }

  /** The safetensors type of a core tensor type. */
  public static SafeDType of(DType d) {
    switch (d) {
      case F32:
        return F32;
      case I32:
        return I32;
      default:
        throw new IllegalArgumentException("no safetensors type for " + d);
    }
  }
}
