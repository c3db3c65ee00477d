package org.resnorm.model;

import org.resnorm.core.Engine;
import org.resnorm.core.Tensor;

/**
 * The network's transient tensors, planned once by liveness: a few slabs, each as large as the
 * network's largest activation, of which the units take views in the shape they need. Only what
 * backward reads (conv inputs, BatchNorm inputs, block outputs) is kept per layer; everything
 * that dies within one block's forward or backward lives here and is overwritten by the next
 * block. Package-private: the executor owns the plan.
 *
 * <p>Backward of one basic block, with dOut arriving in {@link Slot#GRAD_A} (the block above
 * wrote its dL/dx there):
 * <pre>
 *   dSum = addReluBackward(out, dOut)           -> GRAD_B   (lives to the end of the block)
 *   conv2: du -> GRAD_A (dOut is dead), dx      -> GRAD_C
 *   conv1: du -> GRAD_A (conv2's du is dead), dx -> GRAD_D
 *   shortcut (option A / projection) dx         -> GRAD_C (conv1 has read it)
 *   block dx = GRAD_D + (GRAD_B or GRAD_C)      -> GRAD_A (for the block below)
 * </pre>
 * When the block below is a residual block too (fused execution), the last line is instead
 * {@code (GRAD_D + (GRAD_B or GRAD_C)) * [x > 0] -> GRAD_B}: the block below's dSum, passed back
 * through its add + ReLU already (in place over this block's dSum for an identity shortcut, where
 * the two are the same memory; over the dead dSum otherwise), and the block below starts there.
 * A bottleneck block has one conv more, so the main path's dx alternates once more and the
 * main path's and the shortcut's dx trade places:
 * <pre>
 *   dSum = addReluBackward(out, dOut)            -> GRAD_B   (lives to the end of the block)
 *   conv3: du -> GRAD_A (dOut is dead), dx       -> GRAD_C
 *   conv2: du -> GRAD_A, dx                      -> GRAD_D
 *   conv1: du -> GRAD_A, dx                      -> GRAD_C (conv2 has read conv3's dx)
 *   shortcut (option A / projection) dx          -> GRAD_D (conv1 has read conv2's dx)
 *   block dx = GRAD_C + (GRAD_B or GRAD_D)       -> GRAD_A (for the block below)
 * </pre>
 * In general (see {@link ResidualBlock}): every main conv's du goes to GRAD_A; counted from the
 * top, even convs write dx to GRAD_C, odd ones to GRAD_D; the shortcut takes whichever of the two
 * conv1 did not. A projection's du also goes to GRAD_A (conv1's is dead; a plain linear conv has
 * none and reads dSum from GRAD_B directly).
 *
 * <p>The stem's du goes to GRAD_B. Its dOut arrives in GRAD_A (CIFAR: the first block's dx) or,
 * for ImageNet, in GRAD_C: the max pool's backward reads the first block's dx from GRAD_A and
 * scatters into GRAD_C. A kernel never gets the same slab as input and output, except an
 * elementwise one exactly in place (the same view as input and output: the fused sum above).
 * {@link Slot#FORWARD} holds forward values that only the next op of the same block reads (the
 * last main conv's normalized output, read by the residual addition).
 */
final class SharedBuffers implements AutoCloseable {
  enum Slot {
    GRAD_A,
    GRAD_B,
    GRAD_C,
    GRAD_D,
    FORWARD
  }

  private final Tensor[] slabs = new Tensor[Slot.values().length];
  private final long capacity;

  /** Allocates every slab with room for {@code capacity} floats, where {@code engine}'s kernels read. */
  SharedBuffers(Engine engine, long capacity) {
    this.capacity = capacity;
    try {
      for (int i = 0; i < slabs.length; i++) {
        slabs[i] = Tensor.empty(engine, Math.toIntExact(capacity));
      }
    } catch (RuntimeException | Error e) {
      close();
      throw e;
    }
  }

  /** A view of the slab's first numel(shape) floats in that shape (not owned: do not free it). */
  Tensor view(Slot slot, int[] shape) {
    long n = 1;
    for (int d : shape) {
      n *= d;
    }
    if (n > capacity) {
      throw new IllegalStateException("buffer plan too small: " + slot + " holds " + capacity + " floats, "
          + java.util.Arrays.toString(shape) + " needs " + n);
    }
    return slabs[slot.ordinal()].slice(0, (int) n).view(shape);
  }

  /** Bytes held by all slabs. */
  long bytes() {
    return 4L * capacity * slabs.length;
  }

  @Override
  public void close() {
    for (Tensor t : slabs) {
      if (t != null) {
        t.close();
      }
    }
  }
}
