package org.resnorm.core;

import org.resnorm.bind.CudaNative;

/**
 * Work recorded once on a CUDA engine ({@link Engine#record}) and replayed with one launch: the
 * same kernels on the same device pointers with the same host-side arguments (shapes, the SGD
 * learning rate) as when recorded. Record a training step after one eager step (the workspace
 * then has its final size), copy each new batch into the tensors the step reads, and
 * {@link #launch} it. Close it before its engine.
 */
public final class CudaGraph implements AutoCloseable {
  private final Engine engine;
  private CudaNative.rn_cuda_graph graph;

  CudaGraph(Engine engine, CudaNative.rn_cuda_graph graph) {
    this.engine = engine;
    this.graph = graph;
  }

  /**
   * Enqueues the recorded work on the engine's stream (returns before it is done). Throws
   * IllegalArgumentException for a graph that is no longer {@link #isValid valid}.
   */
  public void launch() {
    if (graph == null) {
      throw new IllegalStateException("graph is closed");
    }
    NativeStatus.check(CudaNative.rn_cuda_graph_launch(engine.cudaHandle(), graph), "CUDA graph launch");
  }

  /**
   * Whether {@link #launch} can run it: false once the engine's workspace was reallocated after
   * recording (a larger request outside the graph); record the work again then.
   */
  public boolean isValid() {
    return graph != null && CudaNative.rn_cuda_graph_valid(engine.cudaHandle(), graph) == 1;
  }

  /** Kernels and copies recorded. */
  public long nodes() {
    return graph == null ? 0 : CudaNative.rn_cuda_graph_nodes(graph);
  }

  @Override
  public void close() {
    if (graph != null) {
      CudaNative.rn_cuda_graph_destroy(graph);
      graph = null;
    }
  }
}
