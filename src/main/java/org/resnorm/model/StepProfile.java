package org.resnorm.model;

import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;

/**
 * Wall time per op family of a network's steps, for {@code bench --profile}: where a training
 * step's time goes. The CPU kernels are synchronous, so timing each call on the calling thread
 * is exact. A CUDA engine only queues its kernels, so a profile of one is built with a barrier
 * ({@code new StepProfile(engine::synchronize)}) that runs before every timestamp: each op is
 * then timed from an idle device to its own work done. That serializes what the stream would
 * overlap (the next launch with the running kernel), so the families' times add up to more
 * than an unprofiled step; it shows where device time goes, not how fast a step runs. Off
 * unless a profile is attached with {@link ResNet#profile(StepProfile)}; when off, the
 * executor's cost is one null check per op. Not thread-safe (neither is the network).
 */
public final class StepProfile {
  /** The op families a step is broken into. */
  public enum Op {
    CONV_FORWARD("conv forward"),
    CONV_BACKWARD_DATA("conv backward-data"),
    CONV_BACKWARD_FILTER("conv backward-filter (+bias)"),
    NORM_FORWARD("batchnorm(+act) forward"),
    NORM_BACKWARD("batchnorm(+act) backward"),
    WNCONV_FORWARD("weight-norm conv(+act) forward"),
    WNCONV_BACKWARD("weight-norm conv(+act) backward"),
    ACTIVATION("relu/crelu (standalone) fwd+bwd"),
    RESIDUAL_ADD("residual add(+relu) fwd+bwd"),
    SHORTCUT("shortcut A (+identity norm) fwd+bwd"),
    POOL_FC_LOSS("pooling, linear, loss"),
    SGD("sgd update");

    private final String label;

    Op(String label) {
      this.label = label;
    }

    public String label() {
      return label;
    }
  }

  private final long[] nanos = new long[Op.values().length];
  private final long[] calls = new long[Op.values().length];
  private final Runnable barrier;

  /** A profile of synchronous (CPU) ops. */
  public StepProfile() {
    this(null);
  }

  /**
   * A profile whose timestamps are each taken after {@code barrier} returns (null: none): the
   * engine's synchronize for a CUDA engine, so an op's queued work is booked to that op.
   */
  public StepProfile(Runnable barrier) {
    this.barrier = barrier;
  }

  private long now() {
    if (barrier != null) {
      barrier.run();
    }
    return System.nanoTime();
  }

  /** A timestamp to pass to {@link #stop}. */
  static long start(StepProfile p) {
    return p == null ? 0 : p.now();
  }

  /** Adds the time since {@code t0} to {@code op} (nothing when {@code p} is null). */
  static void stop(StepProfile p, Op op, long t0) {
    if (p != null) {
      p.nanos[op.ordinal()] += p.now() - t0;
      p.calls[op.ordinal()]++;
    }
  }

  public void reset() {
    java.util.Arrays.fill(nanos, 0);
    java.util.Arrays.fill(calls, 0);
  }

  /** Seconds spent per op family (families never called are absent). */
  public Map<Op, Double> seconds() {
    Map<Op, Double> m = new EnumMap<>(Op.class);
    for (Op op : Op.values()) {
      if (calls[op.ordinal()] > 0) {
        m.put(op, nanos[op.ordinal()] * 1e-9);
      }
    }
    return m;
  }

  public long calls(Op op) {
    return calls[op.ordinal()];
  }

  public double totalSeconds() {
    long t = 0;
    for (long n : nanos) {
      t += n;
    }
    return t * 1e-9;
  }

  /** A table: op family, ms per step, share, calls per step, over {@code steps} steps. */
  public String table(int steps) {
    StringBuilder sb = new StringBuilder();
    double total = totalSeconds();
    sb.append(String.format(Locale.ROOT, "%-38s %10s %7s %8s%n", "op family", "ms/step", "share", "calls"));
    for (Map.Entry<Op, Double> e : seconds().entrySet()) {
      sb.append(String.format(Locale.ROOT, "%-38s %10.2f %6.1f%% %8d%n", e.getKey().label(),
          e.getValue() * 1e3 / steps, 100 * e.getValue() / total, calls(e.getKey()) / steps));
    }
    sb.append(String.format(Locale.ROOT, "%-38s %10.2f %6.1f%%%n", "total (timed ops)", total * 1e3 / steps, 100.0));
    return sb.toString();
  }
}
