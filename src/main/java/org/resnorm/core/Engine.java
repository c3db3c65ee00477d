package org.resnorm.core;

import org.resnorm.bind.ResnormNative;

/**
 * The CPU execution engine: owns the native thread pool and scratch workspace that every
 * kernel call runs on. Create one per process (or per independent workload) and close it when
 * done; closing frees its threads and workspace.
 *
 * <p>Threading policy: resnorm runs its parallel loops on this engine's own pool. OpenBLAS is
 * pinned to one thread (process-wide) and called from inside the pool's jobs, so exactly one
 * set of worker threads competes for the cores. The number of threads defaults to the CPUs this
 * process may use; override with {@link #create(int)}, the system property {@code
 * resnorm.threads} or the environment variable {@code RESNORM_THREADS}.
 *
 * <p>An engine may be shared by several Java threads: native calls on one engine run one after
 * another (each holds the engine's lock). Do not close it while another thread still uses it.
 */
public final class Engine implements AutoCloseable {
  private final ResnormNative.rn_context ctx;
  private boolean closed;

  private Engine(int threads) {
    ResnormNative.load();
    ResnormNative.rn_context c = ResnormNative.rn_context_create(threads);
    if (c == null || c.isNull()) {
      throw new OutOfMemoryError("could not create a resnorm context with " + threads + " threads");
    }
    this.ctx = c;
  }

  /** An engine with the default thread count and the best ISA (or {@code resnorm.isa}/{@code RESNORM_ISA}). */
  public static Engine create() {
    return create(defaultThreads());
  }

  /** An engine with {@code threads} threads (>= 1) and the default ISA. */
  public static Engine create(int threads) {
    if (threads < 1) {
      throw new IllegalArgumentException("threads must be >= 1, got " + threads);
    }
    Engine e = new Engine(threads);
    String isa = setting("resnorm.isa", "RESNORM_ISA");
    if (isa != null && !isa.isBlank()) {
      try {
        e.isa(Isa.parse(isa.trim()));
      } catch (RuntimeException ex) {
        e.close();
        throw ex;
      }
    }
    return e;
  }

  /** Threads used when none are given: resnorm.threads / RESNORM_THREADS, else all usable CPUs. */
  public static int defaultThreads() {
    String s = setting("resnorm.threads", "RESNORM_THREADS");
    if (s != null && !s.isBlank()) {
      try {
        int n = Integer.parseInt(s.trim());
        if (n >= 1) {
          return n;
        }
      } catch (NumberFormatException ignored) {
        // fall through to the error below
      }
      throw new IllegalArgumentException("resnorm.threads / RESNORM_THREADS must be a positive integer, got '" + s + "'");
    }
    ResnormNative.load();
    return ResnormNative.rn_cpu_count();
  }

  private static String setting(String property, String env) {
    String v = System.getProperty(property);
    return v != null ? v : System.getenv(env);
  }

  /** Number of threads of this engine's pool. */
  public int threads() {
    return ResnormNative.rn_context_num_threads(handle());
  }

  /** The ISA level the kernels run with. */
  public Isa isa() {
    return Isa.of(ResnormNative.rn_context_isa(handle()));
  }

  /** Forces an ISA level (for tests and benchmarks); throws if this CPU lacks it. */
  public Engine isa(Isa isa) {
    if (isa == null) {
      throw new IllegalArgumentException("isa must not be null");
    }
    if (!isa.supported()) {
      throw new UnsupportedOperationException("this CPU does not support " + isa + " (best: " + Isa.best() + ")");
    }
    NativeStatus.check(ResnormNative.rn_context_set_isa(handle(), isa.code), "set ISA");
    return this;
  }

  /** Bytes held by the scratch workspace (grows to the largest kernel need, reused after). */
  public long workspaceBytes() {
    return ResnormNative.rn_context_workspace_bytes(handle());
  }

  /** Frees the scratch workspace (it is re-allocated on the next kernel that needs it). */
  public void trimWorkspace() {
    ResnormNative.rn_context_trim(handle());
  }

  /** The native context; throws IllegalStateException once closed. For the op classes. */
  public synchronized ResnormNative.rn_context handle() {
    if (closed) {
      throw new IllegalStateException("engine is closed");
    }
    return ctx;
  }

  public synchronized boolean isClosed() {
    return closed;
  }

  @Override
  public synchronized void close() {
    if (!closed) {
      closed = true;
      ResnormNative.rn_context_destroy(ctx);
    }
  }

  /** Library version. */
  public static String version() {
    ResnormNative.load();
    return ResnormNative.rn_version();
  }
}
