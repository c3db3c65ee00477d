# Sourced by scripts/gpu-check.sh and scripts/gpu-java-bench.sh: where libcudnn.so.9 is on
# a device machine. Sets
#   cudnn_lib   the library: $RESNORM_CUDNN_LIB, else the pip package nvidia-cudnn (the one
#               PyTorch brings), else the first libcudnn.so.9* under /usr and /opt; "" if none;
#   cudnn_from  how it was found;
#   cudnn_ld    cuDNN's own dependencies (cuBLAS and friends) from the same pip install, for
#               the dynamic linker: every nvidia/*/lib beside nvidia/cudnn/lib ("" if none).
cudnn_lib=${RESNORM_CUDNN_LIB:-}
cudnn_from="RESNORM_CUDNN_LIB"
if [[ -n "$cudnn_lib" && ! -e "$cudnn_lib" ]]; then
  echo "RESNORM_CUDNN_LIB=$cudnn_lib does not exist: looking elsewhere" >&2
  cudnn_lib=""
fi
if [[ -z "$cudnn_lib" ]]; then
  # nvidia.cudnn may be a namespace package (no __init__.py: __file__ is None).
  cudnn_lib=$(python3 -c 'import os, nvidia.cudnn as m; d = os.path.dirname(m.__file__) if getattr(m, "__file__", None) else list(m.__path__)[0]; print(os.path.join(d, "lib", "libcudnn.so.9"))' 2>/dev/null)
  cudnn_from="pip package nvidia-cudnn"
  [[ -n "$cudnn_lib" && -e "$cudnn_lib" ]] || cudnn_lib=""
fi
if [[ -z "$cudnn_lib" ]]; then
  cudnn_lib=$(timeout 120 find /usr /opt -name 'libcudnn.so.9*' 2>/dev/null | sort | head -1)
  cudnn_from="find /usr /opt"
fi
cudnn_ld=""
if [[ -n "$cudnn_lib" ]]; then
  cudnn_ld=$(python3 -c 'import os, nvidia; print(":".join(sorted({os.path.join(b, s, "lib") for b in nvidia.__path__ for s in os.listdir(b) if os.path.isdir(os.path.join(b, s, "lib"))})))' 2>/dev/null)
fi
