package org.resnorm.core;

import org.resnorm.bind.ResnormNative;

/** Turns {@code rn_status} codes into Java exceptions. */
public final class NativeStatus {
  /**
   * {@code -Dresnorm.strictArgs=true} (the build's test runs set it): arguments that pass the Java
   * checks but not the native ones mean a Java check is missing, and that fails as an
   * {@link AssertionError} instead of the {@link IllegalArgumentException} a test of the Java
   * check expects. So every "rejects bad input" test proves the rejection happened in Java,
   * before the native call.
   */
  private static final boolean STRICT_ARGS = Boolean.getBoolean("resnorm.strictArgs");

  private NativeStatus() {}

  /**
   * The exception for arguments the native code rejected after the Java checks passed them: an
   * {@link IllegalArgumentException}, or under {@code resnorm.strictArgs} an {@link AssertionError}.
   */
  public static IllegalArgumentException nativeRejection(String message) {
    if (STRICT_ARGS) {
      throw new AssertionError(message + " (resnorm.strictArgs: a Java argument check is missing)");
    }
    return new IllegalArgumentException(message);
  }

  /** Throws if {@code status} is not {@code RN_STATUS_OK}; {@code what} names the call. */
  public static void check(int status, String what) {
    switch (status) {
      case ResnormNative.RN_STATUS_OK:
        return;
      case ResnormNative.RN_STATUS_BAD_ARGUMENT:
        // Java validates before every call, so reaching this is a bug on our side.
        throw nativeRejection(what + ": native code rejected the arguments");
      case ResnormNative.RN_STATUS_OUT_OF_MEMORY:
        throw new OutOfMemoryError(what + ": native allocation failed");
      case ResnormNative.RN_STATUS_UNSUPPORTED:
        throw new UnsupportedOperationException(what + ": not supported on this machine or shape");
      default:
        throw new ResnormException(what + ": native error (status " + status + ")");
    }
  }
}
