# Instruction-set variants of the CPU kernels.
#
# Every file named in RESNORM_ISA_KERNEL_SOURCES is compiled once per ISA level
# into its own object library, with that level's flags and with RN_ISA_NS set to
# the namespace the kernels are put in (rn::generic, rn::avx2, rn::avx512).
# At run time the dispatcher (cpu/isa.cpp) picks the best level the CPU has, or
# the one the caller asks for. Nothing ships compiled for the build machine's own
# CPU (no native -march flag).
#
# Rule for kernel files (ODR): they compile the same inline code with different
# flags, so a non-inlined template shared with other files (std::vector,
# std::function, std::sort...) could be merged by the linker and run AVX-512
# code on a machine without it. Kernel files therefore use only intrinsics,
# plain C and helpers inside their own RN_ISA_NS namespace.

set(RESNORM_ISA_LEVELS generic avx2 avx512)
set(RESNORM_ISA_FLAGS_generic "")
set(RESNORM_ISA_FLAGS_avx2    -mavx2 -mfma)
set(RESNORM_ISA_FLAGS_avx512  -mavx2 -mfma -mavx512f -mavx512vl -mavx512bw -mavx512dq
    # GCC 12 warns about its own avx512fintrin.h reduction helpers (false positive)
    -Wno-uninitialized -Wno-maybe-uninitialized)

function(resnorm_add_isa_kernels target)
  set(objects)
  foreach(level IN LISTS RESNORM_ISA_LEVELS)
    set(obj ${target}_${level})
    add_library(${obj} OBJECT ${ARGN})
    target_include_directories(${obj} PRIVATE ${RESNORM_NATIVE_DIR}/include ${RESNORM_NATIVE_DIR}/cpu)
    target_compile_definitions(${obj} PRIVATE RN_ISA_NS=${level} RN_ISA_LEVEL_${level}=1)
    target_compile_options(${obj} PRIVATE ${RESNORM_ISA_FLAGS_${level}})
    set_target_properties(${obj} PROPERTIES POSITION_INDEPENDENT_CODE ON)
    list(APPEND objects $<TARGET_OBJECTS:${obj}>)
  endforeach()
  target_sources(${target} PRIVATE ${objects})
endfunction()
