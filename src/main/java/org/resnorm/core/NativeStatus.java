package org.resnorm.core;

import org.resnorm.bind.ResnormNative;

/** Turns {@code rn_status} codes into Java exceptions. */
public final class NativeStatus {
  private NativeStatus() {}

  /** Throws if {@code status} is not {@code RN_STATUS_OK}; {@code what} names the call. */
  public static void check(int status, String what) {
    switch (status) {
      case ResnormNative.RN_STATUS_OK:
        return;
      case ResnormNative.RN_STATUS_BAD_ARGUMENT:
        // Java validates before every call, so reaching this is a bug on our side.
        throw new IllegalArgumentException(what + ": native code rejected the arguments");
      case ResnormNative.RN_STATUS_OUT_OF_MEMORY:
        throw new OutOfMemoryError(what + ": native allocation failed");
      case ResnormNative.RN_STATUS_UNSUPPORTED:
        throw new UnsupportedOperationException(what + ": not supported on this machine or shape");
      default:
        throw new ResnormException(what + ": native error (status " + status + ")");
    }
  }
}
