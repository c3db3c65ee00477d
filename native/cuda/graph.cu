// CUDA graphs: a training step recorded once (stream capture on the context's stream)
// and replayed with one launch per step, which removes the per-kernel launch cost of
// the ~1000 kernels of a ResNet-110 step (see cuda.h for the contract).
#include "cuda_impl.cuh"

struct rn_cuda_graph {
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  const rn_cuda_context* owner = nullptr;
  size_t nodes = 0;
  // The workspace block the recorded kernels point into, by the context's count of
  // reallocations: a later one (a bigger request outside the graph) frees that block, and
  // launching would then touch freed memory (or a new block that only has its address).
  uint64_t workspace_generation = 0;
};

using rn::cuda::guarded;

extern "C" {

RN_API int rn_cuda_graph_begin(rn_cuda_context* ctx) {
  return guarded(ctx, [&] {
    if (ctx->recording) return int(RN_STATUS_BAD_ARGUMENT);  // already recording
    // Thread-local mode: an unsafe call (a synchronize, a blocking copy) from this thread
    // ends the recording with an error instead of silently running outside the graph.
    RN_CUDA_TRY(cudaStreamBeginCapture(ctx->stream, cudaStreamCaptureModeThreadLocal));
    ctx->recording = true;
    return int(RN_STATUS_OK);
  });
}

RN_API int rn_cuda_graph_end(rn_cuda_context* ctx, rn_cuda_graph** out) {
  if (out != nullptr) *out = nullptr;
  return guarded(ctx, [&] {
    if (!ctx->recording) return int(RN_STATUS_BAD_ARGUMENT);
    ctx->recording = false;
    cudaGraph_t graph = nullptr;
    cudaError_t e = cudaStreamEndCapture(ctx->stream, &graph);
    (void)cudaGetLastError();  // an invalidated capture leaves its error behind
    if (e != cudaSuccess || graph == nullptr) {
      if (graph != nullptr) cudaGraphDestroy(graph);
      return e == cudaSuccess ? int(RN_STATUS_INTERNAL) : rn::cuda::status_of(e);
    }
    if (out == nullptr) {  // recording discarded
      cudaGraphDestroy(graph);
      return int(RN_STATUS_BAD_ARGUMENT);
    }
    cudaGraphExec_t exec = nullptr;
    e = cudaGraphInstantiate(&exec, graph, 0);
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      cudaGraphDestroy(graph);
      return rn::cuda::status_of(e);
    }
    auto* g = new rn_cuda_graph;
    g->graph = graph;
    g->exec = exec;
    g->owner = ctx;
    g->workspace_generation = ctx->workspace_generation;
    size_t nodes = 0;
    if (cudaGraphGetNodes(graph, nullptr, &nodes) == cudaSuccess) g->nodes = nodes;
    (void)cudaGetLastError();
    *out = g;
    return int(RN_STATUS_OK);
  });
}

RN_API int rn_cuda_graph_launch(rn_cuda_context* ctx, const rn_cuda_graph* graph) {
  if (graph == nullptr || graph->owner != ctx) return RN_STATUS_BAD_ARGUMENT;
  return guarded(ctx, [&] {
    if (ctx->recording) return int(RN_STATUS_BAD_ARGUMENT);
    // stale (the workspace was reallocated after recording): record again
    if (graph->workspace_generation != ctx->workspace_generation) return int(RN_STATUS_BAD_ARGUMENT);
    RN_CUDA_TRY(cudaGraphLaunch(graph->exec, ctx->stream));
    return int(RN_STATUS_OK);
  });
}

RN_API size_t rn_cuda_graph_nodes(const rn_cuda_graph* graph) { return graph ? graph->nodes : 0; }

RN_API int rn_cuda_graph_valid(const rn_cuda_context* ctx, const rn_cuda_graph* graph) {
  return ctx != nullptr && graph != nullptr && graph->owner == ctx && graph->workspace_generation == ctx->workspace_generation ? 1 : 0;
}

RN_API void rn_cuda_graph_destroy(rn_cuda_graph* graph) {
  if (graph == nullptr) return;
  if (graph->exec) cudaGraphExecDestroy(graph->exec);
  if (graph->graph) cudaGraphDestroy(graph->graph);
  delete graph;
}

RN_API int rn_cuda_graph_recording(const rn_cuda_context* ctx) { return ctx && ctx->recording ? 1 : 0; }

}  // extern "C"
