#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks to build resnorm and run its main job:
# CMake, a C++17 compiler and make, and the Fashion-MNIST dataset (Debian package
# dataset-fashion-mnist, into /usr/share/datasets/fashion-mnist). JDK 17+ and Maven are
# expected; the script says so if missing. Idempotent and quick when everything is present.
# Uses sudo when not root.
set -euo pipefail

need=()
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
[ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || need+=(dataset-fashion-mnist)

if ((${#need[@]})); then
  echo "setup: installing ${need[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "setup: need root or sudo to apt-get install ${need[*]}" >&2
      exit 1
    fi
    SUDO="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

for tool in java mvn; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "setup: '$tool' not found: install JDK 17+ and Maven 3.8+ (e.g. apt-get install openjdk-17-jdk maven)" >&2
    exit 1
  fi
done
java_major=$(java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')
if [ "${java_major%%.*}" -lt 17 ] 2>/dev/null; then
  echo "setup: JDK 17 or newer needed, found $java_major" >&2
  exit 1
fi
echo "setup: ok ($(cmake --version | head -n 1), $(g++ --version | head -n 1), java $java_major)"
