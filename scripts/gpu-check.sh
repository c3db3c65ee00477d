#!/usr/bin/env bash
# GPU machine check (run by the device tool from the repository root, with
# target/openblas carried over from a Maven build here; nothing can be downloaded
# there), in well under 8 minutes:
#   1. builds native/ with CMake + nvcc, CUDA backend on, for sm_90 (RESNORM_CUDA_ARCH
#      overrides: "80;90" for both);
#   2. runs the native tests (ctest): the CPU kernels against float64 references and
#      every CUDA kernel against the CPU kernel (native/tests/test_cuda_*.cpp). With a
#      GPU present RESNORM_REQUIRE_CUDA=1 is set, so a CUDA test that cannot reach the
#      device fails instead of skipping, and the host emulation runs of those tests
#      (label "emulated") are neither built nor run;
#   3. runs the CUDA kernel benchmark (native/bench/bench_cuda.cu) at the ResNet-110
#      batch-128 shapes: ms, GFLOP/s, GB/s per op against the card's copy bandwidth;
#   4. times whole ResNet-110 training steps (batch 128, BN+ReLU / BN+CReLU, FP32 / TF32):
#      resnorm eager and as one CUDA graph (native/bench/bench_resnet_cuda.cu), and the
#      same network in PyTorch eager (scripts/pytorch_resnet_step.py), side by side.
# Results go under $OUT (or /tmp/gpu-check), at most 8 files (what the device tool brings
# back): machine.txt, build.log (configure + build), ctest.log, gpu-bench.md (every
# benchmark table), bench.log (the benchmarks' stderr), summary.txt. Exits non-zero when
# the build, a test or a benchmark failed. Without a GPU it says so loudly, builds, runs the CPU tests
# (the CUDA tests report "skipped") and skips the benchmark.
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
} 2>&1 | tee "$out/machine.txt"
if [[ $gpu == no ]]; then
  echo "=================================================================="
  echo "gpu-check: NO GPU VISIBLE (nvidia-smi lists none): building and running"
  echo "the CPU tests only; the CUDA tests will say 'skipped: no CUDA device'."
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
ctest_args=(--test-dir "$build" --output-on-failure --timeout 240)
if [[ $gpu == yes ]]; then
  export RESNORM_REQUIRE_CUDA=1
  ctest_args+=(-LE emulated)
fi
t1=$SECONDS
ctest "${ctest_args[@]}" >"$out/ctest.log" 2>&1
test_status=$?
tail -25 "$out/ctest.log"
echo "gpu-check: ctest $((SECONDS - t1)) s, status $test_status"

# Benchmark (about a minute on an H100).
bench_status=0
if [[ $gpu == yes ]]; then
  t2=$SECONDS
  timeout 240 "$build/bench_cuda" "$out/gpu-bench.md" 2>"$out/bench.log"
  bench_status=$?
  if [[ $bench_status -eq 0 ]]; then
    cat "$out/gpu-bench.md"
  else
    echo "gpu-check: bench_cuda FAILED (status $bench_status)"
    tail -20 "$out/bench.log"
  fi
  echo "gpu-check: bench $((SECONDS - t2)) s"

  # Whole training steps: resnorm (eager, graph) and PyTorch eager on the same card.
  t3=$SECONDS
  results=$(mktemp)
  timeout 200 "$build/bench_resnet_cuda" >"$results" 2>>"$out/bench.log"
  step_status=$?
  if [[ $step_status -ne 0 ]]; then
    echo "gpu-check: bench_resnet_cuda FAILED (status $step_status)"
    bench_status=1
  fi
  grep -v '^RESULT' "$results" | tee -a "$out/gpu-bench.md"
  echo | tee -a "$out/gpu-bench.md"
  torch_out=$(mktemp)
  PYTHONUNBUFFERED=1 timeout 200 python3 scripts/pytorch_resnet_step.py >"$torch_out" 2>>"$out/bench.log" ||
    echo "gpu-check: the PyTorch baseline failed (see bench.log)" | tee -a "$out/gpu-bench.md"
  grep -v '^RESULT' "$torch_out" | tee -a "$out/gpu-bench.md"
  cat "$torch_out" >>"$results"
  # Side by side: the target is resnorm's graph step >= 2x PyTorch eager.
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
          pt = ms["pytorch|eager|" k]; re = ms["resnorm|eager|" k]; rg = ms["resnorm|graph|" k]
          ratio = (pt != "" && rg != "" && rg > 0) ? sprintf("%.2fx", pt / rg) : "-"
          printf "| %s | %s | %s | %s | %s | %s |\n", part[1], part[2], pt == "" ? "-" : pt,
            re == "" ? "-" : re, rg == "" ? "-" : rg, ratio
        }
      }' "$results"
  } | tee -a "$out/gpu-bench.md"
  rm -f "$results" "$torch_out"
  echo "gpu-check: whole-step benchmarks $((SECONDS - t3)) s"
else
  echo "gpu-check: no GPU: benchmark skipped" | tee "$out/gpu-bench.md"
fi

{
  echo "gpu: $gpu, arch: $arch, total $((SECONDS - t0)) s"
  echo "ctest status: $test_status"
  grep -E 'tests passed|tests failed|\(Failed\)|\(Skipped\)|\*\*\*Failed|Not Run' "$out/ctest.log" || true
  echo "bench status: $bench_status"
} | tee "$out/summary.txt"
[[ $test_status -eq 0 && $bench_status -eq 0 ]]
