package org.resnorm.core;

import org.bytedeco.javacpp.Pointer;
import org.resnorm.bind.CudaNative;

/**
 * One CUDA context (a device, its stream, pool and workspace) as seen from Java: device memory
 * for {@link Tensor}s, and the copies between it and the host. Owned by a CUDA {@link Engine}.
 *
 * <p>Lifetime: device tensors may outlive the engine that made them (a Java object graph does
 * not close in order), so the context is destroyed only when the engine is closed and the last
 * device buffer has been freed; freeing a buffer after that point is still safe.
 */
final class CudaDevice {
  private final CudaNative.rn_cuda_context ctx;
  private final int index;
  private final String name;
  private long liveBuffers;
  private boolean closeRequested;
  private boolean destroyed;

  private CudaDevice(CudaNative.rn_cuda_context ctx, int index, String name) {
    this.ctx = ctx;
    this.index = index;
    this.name = name;
  }

  /** A context on device {@code index}; a clear error when CUDA cannot be used here. */
  static CudaDevice open(int index) {
    CudaSupport.Status s = CudaSupport.status();
    if (!s.usable()) {
      throw new IllegalStateException("CUDA " + s.message());
    }
    if (index < 0 || index >= s.devices()) {
      throw new IllegalArgumentException("CUDA device " + index + " does not exist (" + s.devices() + " device(s))");
    }
    CudaNative.rn_cuda_context c = new CudaNative.rn_cuda_context();
    NativeStatus.check(CudaNative.rn_cuda_context_create(index, c), "CUDA context on device " + index);
    return new CudaDevice(c, index, CudaNative.rn_cuda_context_device_name(c).getString());
  }

  int index() {
    return index;
  }

  String name() {
    return name;
  }

  /** The native context (for the op classes); throws once destroyed. */
  synchronized CudaNative.rn_cuda_context handle() {
    if (destroyed || closeRequested) {
      throw new IllegalStateException("CUDA engine is closed");
    }
    return ctx;
  }

  /** Device memory of {@code bytes} (>= 1); freed with {@link #free}. */
  synchronized long malloc(long bytes) {
    Pointer p = new Pointer();
    NativeStatus.check(CudaNative.rn_cuda_malloc(handle(), Math.max(bytes, 1), p), "CUDA allocation of " + bytes
        + " bytes on " + name);
    liveBuffers++;
    return p.address();
  }

  synchronized void free(long address) {
    if (destroyed) {
      return;  // the context (and with it every allocation) is gone already
    }
    CudaNative.rn_cuda_free(ctx, new AddressPointer(address));
    liveBuffers--;
    if (closeRequested && liveBuffers == 0) {
      destroy();
    }
  }

  synchronized void upload(long dst, Pointer src, long bytes) {
    NativeStatus.check(CudaNative.rn_cuda_copy_to_device(handle(), new AddressPointer(dst), src, bytes),
        "copy to " + name);
  }

  synchronized void download(Pointer dst, long src, long bytes) {
    NativeStatus.check(CudaNative.rn_cuda_copy_to_host(handle(), dst, new AddressPointer(src), bytes),
        "copy from " + name + " (an earlier kernel may have failed)");
  }

  synchronized void zero(long dst, long bytes) {
    NativeStatus.check(CudaNative.rn_cuda_memset(handle(), new AddressPointer(dst), 0, bytes), "memset on " + name);
  }

  /** Waits for every queued op; reports an execution or recorded argument error. */
  void synchronize() {
    NativeStatus.check(CudaNative.rn_cuda_synchronize(handle()), "CUDA ops on " + name);
  }

  /** Closes when the last buffer is freed (now, if none is live). */
  synchronized void close() {
    if (closeRequested) {
      return;
    }
    closeRequested = true;
    if (liveBuffers == 0) {
      destroy();
    }
  }

  synchronized boolean isClosed() {
    return closeRequested;
  }

  private void destroy() {
    destroyed = true;
    CudaNative.rn_cuda_context_destroy(ctx);
  }

  /** A Pointer at a given address (JavaCPP's address field is protected). */
  static final class AddressPointer extends Pointer {
    AddressPointer(long address) {
      super((Pointer) null);
      this.address = address;
    }
  }
}
