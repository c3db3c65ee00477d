package org.resnorm.core;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.resnorm.bind.CudaNative;
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
  private final ResnormNative.rn_context ctx;  // null for a CUDA engine
  private final CudaDevice cuda;               // null for a CPU engine
  private Tensor scratch;                      // CUDA: two device words for results read back (withScratch)
  private boolean closed;

  private Engine(CudaDevice cuda) {
    this.ctx = null;
    this.cuda = cuda;
  }

  private Engine(int threads) {
    ResnormNative.load();
    ResnormNative.rn_context c = ResnormNative.rn_context_create(threads);
    if (c == null || c.isNull()) {
      throw new OutOfMemoryError("could not create a resnorm context with " + threads + " threads");
    }
    this.ctx = c;
    this.cuda = null;
  }

  /**
   * An engine on CUDA device {@code device}: the same op classes then run the CUDA library's
   * kernels on device tensors ({@link Tensor#empty(Engine, int...)}), queued on the device's
   * stream. Throws IllegalStateException with the reason when CUDA cannot be used here (library
   * not built, no driver, no device; see {@link CudaSupport}).
   */
  public static Engine cuda(int device) {
    ResnormNative.load();
    return new Engine(CudaDevice.open(device));
  }

  /** Whether this engine runs the CUDA library (its tensors live in device memory). */
  public boolean isCuda() {
    return cuda != null;
  }

  /** "cpu", or "cuda:N (device name)". */
  public String deviceName() {
    return cuda == null ? "cpu" : "cuda:" + cuda.index() + " (" + cuda.name() + ")";
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

  /** Number of threads of this engine's pool (0 for a CUDA engine). */
  public int threads() {
    return cuda != null ? 0 : ResnormNative.rn_context_num_threads(handle());
  }

  /** The ISA level the kernels run with (CPU engines). */
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
    if (cuda != null) {
      // a CPU kernel handed device pointers would read garbage or crash: refuse
      throw new IllegalStateException("this operation runs on the CPU only; the engine is " + deviceName());
    }
    return ctx;
  }

  /** The CUDA context (CUDA engines); throws IllegalStateException once closed. For the op classes. */
  public synchronized CudaNative.rn_cuda_context cudaHandle() {
    if (closed) {
      throw new IllegalStateException("engine is closed");
    }
    if (cuda == null) {
      throw new IllegalStateException("not a CUDA engine");
    }
    return cuda.handle();
  }

  /** The device whose memory this engine's tensors live in (null: host memory). */
  CudaDevice cudaDevice() {
    return cuda;
  }

  /**
   * The pointer an op passes for {@code t} (null for null), after checking that {@code t} lives
   * where this engine's kernels read (host memory for a CPU engine, this engine's device for a
   * CUDA one). For the op classes.
   */
  public FloatPointer ptr(Tensor t) {
    return t == null ? null : checkPlace(t).floatPointer();
  }

  /** {@link #ptr} for int tensors. */
  public IntPointer intPtr(Tensor t) {
    return t == null ? null : checkPlace(t).intPointer();
  }

  private Tensor checkPlace(Tensor t) {
    if (t.device() != cuda) {
      throw new IllegalArgumentException("tensor " + t.shapeString() + " is in " + t.placeName()
          + " memory but the engine runs on " + deviceName() + ": copy it there first");
    }
    return t;
  }

  /**
   * Records the CUDA work {@code body} enqueues into a graph instead of running it (see
   * {@link CudaGraph}). Nothing in the body may wait for the device: reading a tensor back, a
   * host-to-device copy or {@link #synchronize} fails the recording. Throws
   * UnsupportedOperationException where the CUDA runtime cannot record (the host emulation), and
   * IllegalStateException on a CPU engine.
   */
  public CudaGraph record(Runnable body) {
    CudaNative.rn_cuda_context c = cudaHandle();
    int st = CudaNative.rn_cuda_graph_begin(c);
    if (st == ResnormNative.RN_STATUS_UNSUPPORTED) {
      throw new UnsupportedOperationException("the CUDA runtime of " + deviceName() + " cannot record graphs");
    }
    NativeStatus.check(st, "begin recording a CUDA graph");
    CudaNative.rn_cuda_graph g = new CudaNative.rn_cuda_graph();
    try {
      body.run();
    } catch (RuntimeException | Error e) {
      CudaNative.rn_cuda_graph_end(c, g);  // ends the recording; the partial graph is dropped
      if (!g.isNull()) {
        CudaNative.rn_cuda_graph_destroy(g);
      }
      throw e;
    }
    NativeStatus.check(CudaNative.rn_cuda_graph_end(c, g), "record a CUDA graph (did the body wait for the device?)");
    return new CudaGraph(this, g);
  }

  /**
   * CUDA engines: run the plain convolutions (forward, backward-data, backward-filter) with
   * cuDNN's fastest algorithm per shape ({@code cudnn}) or resnorm's kernels ({@code native}, the
   * default); the fused, CReLU-input and weight-normalized convs stay resnorm's (so with cuDNN, the
   * network's eval mode keeps its batch norms as passes of their own instead of folding them into
   * resnorm's epilogue convs). cuDNN 9 is
   * loaded at run time ({@code RESNORM_CUDNN_LIB}, else libcudnn.so.9): where it cannot be, this
   * throws IllegalStateException with the reason.
   */
  public Engine convImpl(String impl) {
    CudaNative.rn_cuda_context c = cudaHandle();
    if ("native".equals(impl)) {
      NativeStatus.check(CudaNative.rn_cuda_context_set_conv_impl(c, CudaNative.RN_CUDA_CONV_IMPL_NATIVE),
          "native convs");
      return this;
    }
    if (!"cudnn".equals(impl)) {
      throw new IllegalArgumentException("unknown conv implementation '" + impl + "': expected native or cudnn");
    }
    if (CudaNative.rn_cudnn_load(null) != ResnormNative.RN_STATUS_OK) {
      throw new IllegalStateException("cuDNN cannot be loaded: " + CudaNative.rn_cudnn_error().getString());
    }
    NativeStatus.check(CudaNative.rn_cuda_context_set_conv_impl(c, CudaNative.RN_CUDA_CONV_IMPL_CUDNN),
        "cuDNN convs");
    return this;
  }

  /** Whether this is a CUDA engine whose plain convs run through cuDNN ({@link #convImpl}). */
  public boolean usesCudnnConvs() {
    return isCuda() && CudaNative.rn_cuda_context_conv_impl(cudaHandle()) == CudaNative.RN_CUDA_CONV_IMPL_CUDNN;
  }

  /**
   * For the op classes: runs {@code body} with two int32 words of this CUDA engine's device memory
   * (a scalar result the op reads back: a loss, a count), allocated once per engine instead of
   * per call; one caller at a time.
   */
  public synchronized <T> T withScratch(java.util.function.Function<Tensor, T> body) {
    if (scratch == null) {
      scratch = Tensor.emptyInt(this, 2);
    }
    return body.apply(scratch);
  }

  /** Waits for the queued ops (CUDA) and reports their errors; a no-op on the CPU. */
  public void synchronize() {
    if (cuda != null) {
      Checks.engine(this);
      cuda.synchronize();
    }
  }

  public synchronized boolean isClosed() {
    return closed;
  }

  @Override
  public synchronized void close() {
    if (!closed) {
      closed = true;
      if (cuda != null) {
        if (scratch != null) {
          scratch.close();
        }
        cuda.close();
      } else {
        ResnormNative.rn_context_destroy(ctx);
      }
    }
  }

  /** Library version. */
  public static String version() {
    ResnormNative.load();
    return ResnormNative.rn_version();
  }
}
