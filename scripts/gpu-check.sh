#!/usr/bin/env bash
# GPU machine check (run by the device tool from the repository root, with
# target/openblas carried over from a Maven build here; nothing can be downloaded
# there), in well under 8 minutes (179 s on an H200 on 2026-11-28):
#   1. builds native/ with CMake + nvcc, CUDA backend on, for sm_90 (RESNORM_CUDA_ARCH
#      overrides: "80;90" for both);
#   2. runs the native tests (ctest): the CPU kernels against float64 references and
#      every CUDA kernel against the CPU kernel (native/tests/test_cuda_*.cpp). With a
#      GPU present RESNORM_REQUIRE_CUDA=1 is set, so a CUDA test that cannot reach the
#      device fails instead of skipping, and the host emulation runs of those tests
#      (label "emulated") are neither built nor run;
#   3. runs the CUDA kernel benchmark (native/bench/bench_cuda.cu) at the ResNet-110
#      batch-128 shapes: ms, GFLOP/s, GB/s per op against the card's copy bandwidth, and
#      each conv beside cuDNN's fastest algorithm; then, where ncu is installed, the hardware
#      counters of three of its GEMMs (bench_cuda --only ROW under ncu);
#   4. times whole ResNet-110 training steps (batch 128, BN+ReLU / BN+CReLU, FP32 / TF32,
#      each op separate and with the Java executor's fusions across ops (the add + ReLU
#      in the block's last BN; the CReLU formed by the next conv), and FP32 with cuDNN's
#      convs where cuDNN loads): resnorm eager and as one CUDA graph
#      (native/bench/bench_resnet_cuda.cu), and the same network in PyTorch eager
#      (scripts/pytorch_resnet_step.py), side by side;
#   5. where a Java runtime and a jar built with -Dresnorm.cuda=ON are there, the Java executor
#      (scripts/gpu-java-bench.sh: bench --device cuda for ResNet-110 BN+CReLU, --profile, then
#      --graph). The device machines have no JDK, and a jar plus a runtime do not fit beside
#      target/openblas in one call: run scripts/gpu-java-bench.sh in a call of its own.
# cuDNN is optional: libresnorm_cuda loads it at run time (no headers at build time) as
# the conv reference and baseline. Before the tests the script looks for libcudnn.so.9
# ($RESNORM_CUDNN_LIB, else a pip nvidia-cudnn package such as the one PyTorch brings, else
# /usr and /opt), exports RESNORM_CUDNN_LIB and, when found, RESNORM_REQUIRE_CUDNN=1 (the
# cuDNN comparison test then fails instead of skipping); not finding it fails nothing.
# Results go under $OUT (or /tmp/gpu-check), at most 8 files (what the device tool brings
# back): machine.txt, build.log (configure + build), ctest.log, gpu-bench.md (every
# benchmark table), bench.log (the benchmarks' stderr), ncu.txt, summary.txt. Exits non-zero when
# the build, ctest, bench_cuda or bench_resnet_cuda failed (2: target/openblas missing); a
# failed PyTorch baseline or Java bench is reported, not counted. Without a GPU it says so
# loudly, builds with the host emulation, runs the CPU tests and the emulated CUDA tests
# (the device CUDA tests report "skipped") and skips the benchmarks.
set -uo pipefail
t0=$SECONDS
out=${OUT:-/tmp/gpu-check}
mkdir -p "$out"
arch=${RESNORM_CUDA_ARCH:-90}
openblas=$(find "$PWD/target/openblas" -type d -path '*org/bytedeco/openblas/linux-x86_64' 2>/dev/null | head -1)
if [[ -z "$openblas" ]]; then
  echo "target/openblas missing: run 'mvn -B -q package -DskipTests' here first and carry target/openblas" >&2
  exit 2
fi
gpu=no
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then gpu=yes; fi
{
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv,noheader \
    2>/dev/null || echo "nvidia-smi: no GPU"
  nvcc --version | tail -2
  lscpu | grep -E 'Model name|^CPU\(s\)' | cut -c1-200
  # the Java side (bench --device cuda) needs a JDK there and a jar built with -Dresnorm.cuda=ON
  if command -v java >/dev/null 2>&1; then java -version 2>&1 | head -1; else echo "java: none on this machine"; fi
} 2>&1 | tee "$out/machine.txt"

# cuDNN: where it is, for the tests and the benchmark (they only run with it there).
source "$(dirname "$0")/find-cudnn.sh"
if [[ -n "$cudnn_lib" ]]; then
  export RESNORM_CUDNN_LIB="$cudnn_lib" RESNORM_REQUIRE_CUDNN=1
  {
    echo "cuDNN: $cudnn_lib (found via $cudnn_from)"
    ls "$(dirname "$cudnn_lib")" 2>/dev/null | grep -E '^libcudnn' | tr '\n' ' '
    echo
    if command -v nm >/dev/null 2>&1; then
      echo "cuDNN shim exports $(nm -D --defined-only "$cudnn_lib" 2>/dev/null | grep -c ' cudnn') cudnn* symbols;" \
        "cudnnConvolutionForward there: $(nm -D --defined-only "$cudnn_lib" 2>/dev/null | grep -cw cudnnConvolutionForward)"
    fi
    [[ -n "$cudnn_ld" ]] && echo "cuDNN dependency path (LD_LIBRARY_PATH for ctest and bench): $cudnn_ld"
  } 2>&1 | tee -a "$out/machine.txt"
else
  unset RESNORM_REQUIRE_CUDNN
  echo "cuDNN: not found (no \$RESNORM_CUDNN_LIB, no pip nvidia-cudnn, nothing under /usr /opt): the cuDNN comparison is skipped" |
    tee -a "$out/machine.txt"
fi
run_env=(env)
[[ -n "$cudnn_ld" ]] && run_env+=("LD_LIBRARY_PATH=$cudnn_ld${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")

if [[ $gpu == no ]]; then
  echo "=================================================================="
  echo "gpu-check: NO GPU VISIBLE (nvidia-smi lists none): building and running"
  echo "the CPU tests and the host-emulated CUDA tests; the device CUDA tests"
  echo "will say 'skipped: no CUDA device'."
  echo "=================================================================="
fi

build=${RESNORM_GPU_BUILD:-/tmp/resnorm-gpu-build}
status=0
emulation=ON
if [[ $gpu == yes ]]; then emulation=OFF; fi  # the host emulation is for machines without a GPU
cmake -S native -B "$build" -DRESNORM_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$arch" -DRESNORM_CUDA_EMULATION=$emulation \
  -DOPENBLAS_JAR_DIR="$openblas" -DCMAKE_BUILD_TYPE=Release >"$out/build.log" 2>&1 || status=1
grep -E 'backends|CUDA|Error' "$out/build.log" || true
if [[ $status -eq 0 ]]; then
  cmake --build "$build" -j"$(nproc)" >>"$out/build.log" 2>&1 || status=1
  tail -3 "$out/build.log"
fi
echo "gpu-check: configure + build $((SECONDS - t0)) s, status $status"
if [[ $status -ne 0 ]]; then
  echo "gpu-check: BUILD FAILED (see $out/build.log)" | tee "$out/summary.txt"
  tail -40 "$out/build.log" 2>/dev/null
  exit 1
fi
cat "$build/backends.txt" | tee -a "$out/machine.txt"

# Tests: a GPU machine must run the CUDA tests, not skip them; there the host
# emulation of the CUDA kernels (label "emulated", for machines without a GPU) is not
# built (RESNORM_CUDA_EMULATION=OFF) nor run.
ctest_args=(--test-dir "$build" --output-on-failure --timeout 240 -j 6)
if [[ $gpu == yes ]]; then
  export RESNORM_REQUIRE_CUDA=1
  ctest_args+=(-LE emulated)
fi
t1=$SECONDS
"${run_env[@]}" ctest "${ctest_args[@]}" >"$out/ctest.log" 2>&1
test_status=$?
tail -25 "$out/ctest.log"
echo "gpu-check: ctest $((SECONDS - t1)) s, status $test_status"

# Benchmark (6 s on an H200; limited to 170 s).
bench_status=0
if [[ $gpu == yes ]]; then
  t2=$SECONDS
  "${run_env[@]}" timeout 170 "$build/bench_cuda" "$out/gpu-bench.md" 2>"$out/bench.log"
  bench_status=$?
  if [[ $bench_status -eq 0 ]]; then
    cat "$out/gpu-bench.md"
  else
    echo "gpu-check: bench_cuda FAILED (status $bench_status)"
    tail -20 "$out/bench.log"
  fi
  echo "gpu-check: bench $((SECONDS - t2)) s"

  # Hardware counters (ncu, where installed) of the GEMMs that take most of a ResNet-110 step:
  # occupancy, waves, issue slots, stall reasons, in ncu.txt (~20 s).
  if command -v ncu >/dev/null 2>&1; then
    t4=$SECONDS
    for row in "bwd-filter+bias fp32 16->16" "fwd fp32 32->32" "bwd-data fp32 64->64"; do
      echo "=== ncu: $row" >>"$out/ncu.txt"
      "${run_env[@]}" timeout 60 ncu --section SpeedOfLight --section Occupancy --section LaunchStats \
        --section WarpStateStats -k regex:gemm_ -c 1 "$build/bench_cuda" --quick --only "$row" >>"$out/ncu.txt" 2>&1
    done
    grep -E '^===|Duration|Achieved Occupancy|Waves Per SM|Issue Slots Busy' "$out/ncu.txt"
    echo "gpu-check: ncu $((SECONDS - t4)) s"
  fi

  # Whole training steps: resnorm (eager, graph) and PyTorch eager on the same card.
  t3=$SECONDS
  results=$(mktemp)
  "${run_env[@]}" timeout 170 "$build/bench_resnet_cuda" >"$results" 2>>"$out/bench.log"
  step_status=$?
  if [[ $step_status -ne 0 ]]; then
    echo "gpu-check: bench_resnet_cuda FAILED (status $step_status)"
    bench_status=1
  fi
  grep -v '^RESULT' "$results" | tee -a "$out/gpu-bench.md"
  echo | tee -a "$out/gpu-bench.md"
  torch_out=$(mktemp)
  PYTHONUNBUFFERED=1 timeout 130 python3 scripts/pytorch_resnet_step.py >"$torch_out" 2>>"$out/bench.log" ||
    echo "gpu-check: the PyTorch baseline failed (see bench.log)" | tee -a "$out/gpu-bench.md"
  grep -v '^RESULT' "$torch_out" | tee -a "$out/gpu-bench.md"
  cat "$torch_out" >>"$results"
  # Side by side: the issue's target is resnorm's graph step >= 2x PyTorch eager.
  {
    echo
    echo "| network | math | PyTorch eager ms | resnorm eager ms | resnorm graph ms | PyTorch / resnorm graph |"
    echo "|---|---|---|---|---|---|"
    awk -F'\t' '$1 == "RESULT" {
        key = $3 "|" $4
        if (!(key in seen)) { seen[key] = 1; order[n++] = key }
        ms[$2 "|" $5 "|" key] = $6
      }
      END {
        for (i = 0; i < n; i++) {
          k = order[i]; split(k, part, "|")
          # the resnorm variants ("FP32 (add+ReLU in BN)", ...) against the PyTorch row of that math
          split(part[2], math_word, " ")
          pt = ms["pytorch|eager|" part[1] "|" math_word[1]]; re = ms["resnorm|eager|" k]; rg = ms["resnorm|graph|" k]
          ratio = (pt != "" && rg != "" && rg > 0) ? sprintf("%.2fx", pt / rg) : "-"
          printf "| %s | %s | %s | %s | %s | %s |\n", part[1], part[2], pt == "" ? "-" : pt,
            re == "" ? "-" : re, rg == "" ? "-" : rg, ratio
        }
      }' "$results"
  } | tee -a "$out/gpu-bench.md"
  rm -f "$results" "$torch_out"
  echo "gpu-check: whole-step benchmarks $((SECONDS - t3)) s"

  # The Java executor on the GPU, where a Java runtime (a JDK, or a carried .jre) and a
  # CUDA-built jar are here; usually they are not (the 64 MiB carry limit), and
  # scripts/gpu-java-bench.sh runs it in a call of its own.
  if { [[ -x .jre/bin/java ]] || command -v java >/dev/null 2>&1; } && [[ -f target/resnorm.jar ]] &&
    unzip -l target/resnorm.jar 2>/dev/null | grep libjniCudaNative >/dev/null; then
    echo | tee -a "$out/gpu-bench.md"
    scripts/gpu-java-bench.sh | tee -a "$out/gpu-bench.md" || echo "gpu-check: the Java bench failed"
  else
    echo "gpu-check: Java bench skipped (no Java runtime or no CUDA-built target/resnorm.jar here:" \
      "see scripts/gpu-java-bench.sh)"
  fi
else
  echo "gpu-check: no GPU: benchmark skipped" | tee "$out/gpu-bench.md"
fi

{
  echo "gpu: $gpu, arch: $arch, total $((SECONDS - t0)) s"
  echo "cuDNN: ${cudnn_lib:-not found}"
  echo "ctest status: $test_status"
  grep -E 'tests passed|tests failed|\(Failed\)|\(Skipped\)|\*\*\*Failed|Not Run' "$out/ctest.log" || true
  echo "bench status: $bench_status"
  grep -E "^cuDNN|0.8x cuDNN" "$out/gpu-bench.md" 2>/dev/null || true
} | tee "$out/summary.txt"
[[ $test_status -eq 0 && $bench_status -eq 0 ]]
