/*
 * resnorm C API: execution context, status codes, aligned memory, build info.
 *
 * Every kernel takes an rn_context: it owns the thread pool and the scratch
 * workspace, so kernels never allocate per call and no mutable state is global.
 * One context may be shared by several threads: each call holds the context's
 * lock for its duration (calls on one context run one after another).
 *
 * Shapes are checked by the caller (the Java layer throws before any native
 * call); the C entry points re-check cheap invariants and return
 * RN_STATUS_BAD_ARGUMENT rather than touch memory they were not given.
 */
#ifndef RESNORM_CONTEXT_H
#define RESNORM_CONTEXT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(RN_BUILDING_LIBRARY)
#define RN_API __attribute__((visibility("default")))
#else
#define RN_API
#endif

typedef enum rn_status {
  RN_STATUS_OK = 0,
  RN_STATUS_BAD_ARGUMENT = 1,   /* null pointer, non-positive size, inconsistent shape */
  RN_STATUS_OUT_OF_MEMORY = 2,  /* workspace or buffer allocation failed */
  RN_STATUS_UNSUPPORTED = 3,    /* requested ISA / algorithm not available here */
  RN_STATUS_INTERNAL = 4
} rn_status;

/* Instruction-set levels of the CPU kernels, chosen at run time. */
typedef enum rn_isa {
  RN_ISA_GENERIC = 0, /* portable x86-64 (SSE2) */
  RN_ISA_AVX2 = 1,    /* AVX2 + FMA */
  RN_ISA_AVX512 = 2   /* AVX-512 F/VL/BW/DQ + FMA */
} rn_isa;

typedef struct rn_context rn_context;

/* Highest ISA level this CPU (and OS) supports. */
RN_API int rn_cpu_best_isa(void);
/* Name of an ISA level ("generic", "avx2", "avx512"), or "unknown". */
RN_API const char* rn_isa_name(int isa);
/* Number of logical CPUs the process may run on (sched affinity). */
RN_API int rn_cpu_count(void);

/* Creates a context with num_threads threads (<= 0: rn_cpu_count()) using the
 * best ISA. Returns NULL when out of memory or threads cannot start. */
RN_API rn_context* rn_context_create(int num_threads);
RN_API void rn_context_destroy(rn_context* ctx);
RN_API int rn_context_num_threads(const rn_context* ctx);
RN_API int rn_context_isa(const rn_context* ctx);
/* Forces an ISA level (testing, benchmarking). RN_STATUS_UNSUPPORTED if the CPU lacks it. */
RN_API int rn_context_set_isa(rn_context* ctx, int isa);
/* An integer for A/B experiments (bench_conv_ab): while a kernel change is being measured against
 * the code it replaces, the kernel may branch on ctx->experiment, so that calls with the two
 * values can alternate in one process. 0 by default; no shipped kernel reads it. */
RN_API int rn_context_set_experiment(rn_context* ctx, int value);
RN_API int rn_context_experiment(const rn_context* ctx);
/* Bytes currently held by the context's scratch workspace (it grows, never shrinks
 * unless rn_context_trim is called). */
RN_API size_t rn_context_workspace_bytes(const rn_context* ctx);
RN_API void rn_context_trim(rn_context* ctx);

/* 64-byte aligned memory for tensors. rn_free(NULL) is a no-op. Blocks of 2 MiB or more ask
 * the kernel for transparent huge pages (madvise) on their 2 MiB-aligned part, unless the
 * environment has RESNORM_HUGE_PAGES=0 (read once, at the first large block). */
RN_API void* rn_alloc(size_t bytes);
RN_API void rn_free(void* p);
/* Bytes (rounded up to 64) and blocks currently allocated by rn_alloc and not yet freed, the
 * context workspaces included: what a leak test watches. */
RN_API int64_t rn_live_bytes(void);
RN_API int64_t rn_live_blocks(void);

/* Version strings: library, OpenBLAS it was built against, compiler. */
RN_API const char* rn_version(void);
RN_API const char* rn_openblas_version(void);
RN_API const char* rn_openblas_corename(void);
RN_API const char* rn_compiler(void);

/* Copy bandwidth helper for benchmarks: copies n floats from src to dst using all
 * of the context's threads. */
RN_API int rn_copy_floats(rn_context* ctx, int64_t n, const float* src, float* dst);

/* Reference point for benchmarks: OpenBLAS sgemm C = A*B (row-major, m x k times
 * k x n), run by OpenBLAS's own threads (num_threads of them). */
RN_API int rn_blas_sgemm_ceiling(int num_threads, int m, int n, int k,
                                 const float* a, const float* b, float* c);

#ifdef __cplusplus
}
#endif
#endif
