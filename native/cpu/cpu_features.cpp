// CPU feature detection for run-time kernel dispatch.
#include <sched.h>
#include <unistd.h>

#include "resnorm/context.h"

extern "C" {

int rn_cpu_best_isa(void) {
#if defined(__x86_64__)
  // __builtin_cpu_supports also checks that the OS saves the wider registers.
  __builtin_cpu_init();
  bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
  if (avx512) return RN_ISA_AVX512;
  if (avx2) return RN_ISA_AVX2;
#endif
  return RN_ISA_GENERIC;
}

const char* rn_isa_name(int isa) {
  switch (isa) {
    case RN_ISA_GENERIC: return "generic";
    case RN_ISA_AVX2: return "avx2";
    case RN_ISA_AVX512: return "avx512";
    default: return "unknown";
  }
}

int rn_cpu_count(void) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

}  // extern "C"
