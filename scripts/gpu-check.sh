#!/usr/bin/env bash
# GPU machine check (run by the device tool from the repository root, with
# target/openblas carried over from a Maven build here; nothing can be downloaded
# there): builds native/ with CMake + nvcc (CUDA backend on), runs the native tests
# (ctest), and reports the card. The CUDA kernels, their CUDA-vs-CPU tests and the
# GPU benchmarks are added here by the CUDA issue.
set -euo pipefail
out=${OUT:-/tmp/gpu-check}
mkdir -p "$out"
openblas=$(find "$PWD/target/openblas" -type d -path '*org/bytedeco/openblas/linux-x86_64' | head -1)
if [[ -z "$openblas" ]]; then
  echo "target/openblas missing: run 'mvn -B -q package -DskipTests' here first and carry target/openblas" >&2
  exit 2
fi
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "nvidia-smi: no GPU"
  nvcc --version | tail -2
  lscpu | grep -E 'Model name|^CPU\(s\)|Flags' | cut -c1-200
} 2>&1 | tee "$out/machine.txt"
build=/tmp/resnorm-gpu-build
cmake -S native -B "$build" -DRESNORM_CUDA=ON -DOPENBLAS_JAR_DIR="$openblas" -DCMAKE_BUILD_TYPE=Release \
  2>&1 | tee "$out/configure.log" | grep -E 'backends|CUDA|Error' || true
cmake --build "$build" -j"$(nproc)" 2>&1 | tail -3 | tee "$out/build.log"
cat "$build/backends.txt" | tee -a "$out/machine.txt"
ctest --test-dir "$build" --output-on-failure 2>&1 | tee "$out/ctest.log" | tail -15
