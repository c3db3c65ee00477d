#!/usr/bin/env bash
# Whole-network throughput of the CIFAR ResNets (docs/PERFORMANCE.md, "Whole networks"):
# `bench` for ResNet-20/56/110 x {batchnorm, normprop2} x {relu, crelu}, batch 128, on random
# data, printed as one markdown table with the sgemm ceiling measured in each run.
# Usage: scripts/bench-networks.sh [threads] [steps]   (run it on a quiet machine)
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
steps=${2:-6}
jar=target/resnorm.jar
[ -f "$jar" ] || { echo "build first: mvn -B -q package -DskipTests" >&2; exit 1; }
echo "| depth | norm | act | train img/s (median / min / max) | conv GFLOP/s (% of sgemm) | infer img/s | peak RSS MiB | sgemm GFLOP/s |"
echo "|---|---|---|---|---|---|---|---|"
for depth in 20 56 110; do
  for norm in batchnorm normprop2; do
    for act in relu crelu; do
      out=$(java -jar "$jar" bench --depth "$depth" --norm "$norm" --act "$act" --batch 128 --steps "$steps" \
        --warmup 2 --threads "$threads")
      sgemm=$(sed -n 's/.*sgemm ceiling (2048^3, same threads) \([0-9.]*\) GFLOP\/s.*/\1/p' <<<"$out")
      train=$(sed -n 's/^training: *\([0-9.]* \/ [0-9.]* \/ [0-9.]*\) img\/s.*/\1/p' <<<"$out")
      flops=$(sed -n 's/.* \([0-9.]*\) GFLOP\/s at the median (\([0-9]*\) % of sgemm).*/\1 (\2 %)/p' <<<"$out")
      infer=$(sed -n 's/^inference: *\([0-9.]*\) \/.*/\1/p' <<<"$out")
      rss=$(sed -n 's/^memory: peak resident \([0-9.]*\) MiB.*/\1/p' <<<"$out")
      echo "| $depth | $norm | $act | $train | $flops | $infer | $rss | $sgemm |"
    done
  done
done
