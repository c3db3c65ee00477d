#!/usr/bin/env bash
# The Java executor on a GPU machine: `bench --device cuda` for ResNet-110 BN+CReLU at batch
# 128, eager with a per-op-family profile, then replayed from a CUDA graph, then with cuDNN's
# convs (--conv-impl cudnn) where cuDNN loads. scripts/gpu-check.sh times the native kernels
# and steps; this times the Java graph executor driving them.
#
# It runs apart from gpu-check.sh because of the device tool's 64 MiB limit on what travels:
# gpu-check.sh needs target/openblas (41 MB) for its CMake build, this one a jar and a Java
# runtime (the device machine has no JDK), each ~20-35 MB. Prepare here:
#   mvn -B -q -Dresnorm.cuda=ON -Dresnorm.cuda.arch=90 -DskipTests -DskipCtest package
#   jlink --add-modules java.base,java.logging,java.management,jdk.unsupported --strip-debug \
#     --no-man-pages --no-header-files --compress=2 --output .jre     # ~35 MB
#   echo /.jre/ >> .git/info/exclude
# then run(command="scripts/gpu-java-bench.sh", carry=["target/resnorm.jar", ".jre"]).
# Writes java-bench.md under $OUT (or /tmp/gpu-check). Exits non-zero when a bench fails,
# 2 when the jar or a Java runtime is missing.
set -uo pipefail
out=${OUT:-/tmp/gpu-check}
mkdir -p "$out"
cd "$(dirname "$0")/.."
if [[ -x .jre/bin/java ]]; then
  java=.jre/bin/java
elif command -v java >/dev/null 2>&1; then
  java=java
else
  echo "gpu-java-bench: no Java runtime: carry a jlinked one as .jre (see this script's header)" >&2
  exit 2
fi
# (grep without -q: -q ends the pipe early, and pipefail then counts unzip's broken pipe)
if [[ ! -f target/resnorm.jar ]] || ! unzip -l target/resnorm.jar 2>/dev/null | grep libjniCudaNative >/dev/null; then
  echo "gpu-java-bench: target/resnorm.jar missing or built without -Dresnorm.cuda=ON" >&2
  exit 2
fi
source scripts/find-cudnn.sh
if [[ -n "$cudnn_lib" ]]; then
  export RESNORM_CUDNN_LIB="$cudnn_lib"
  [[ -n "$cudnn_ld" ]] && export LD_LIBRARY_PATH="$cudnn_ld${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
bench=("$java" -jar target/resnorm.jar bench --device cuda --depth 110 --act crelu --steps 5 --warmup 2)
status=0
md="$out/java-bench.md"
{
  echo "### Java executor, bench --device cuda ($(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null || echo 'no GPU'))"
  echo
  echo "$("$java" -version 2>&1 | head -1); cuDNN: ${cudnn_lib:-not found}"
  echo
  echo "Eager (one op launch per Java call); the profile synchronizes the device around every op:"
  echo '```'
  timeout 150 "${bench[@]}" --profile 2>&1 | tail -24 || status=1
  echo '```'
  echo "One training step recorded as a CUDA graph and replayed:"
  echo '```'
  timeout 100 "${bench[@]}" --graph 2>&1 | tail -8 || status=1
  echo '```'
  if [[ -n "$cudnn_lib" ]]; then
    echo "The same with cuDNN's convs:"
    echo '```'
    timeout 100 "${bench[@]}" --graph --conv-impl cudnn 2>&1 | tail -8 || status=1
    echo '```'
  fi
} >"$md"  # (no pipe: a pipe would run the block in a subshell and lose status)
cat "$md"
exit $status
