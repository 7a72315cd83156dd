#!/usr/bin/env bash
# cifar-dist GPU check: benches the webgpu backend on this machine's GPU (1, 2 and 4 workers
# sharing it), one wasm worker on its CPU, and the same network in PyTorch on CUDA when python3
# can import torch; prints a table and writes the figures as JSON.
#
#   ./run.sh [--out FILE.json] [bench options: --batch 256 --configs webgpu:1,wasm:1 --windows 3 ...]
#
# Needs: x86-64 Linux with glibc, tar with xz (or python3) to unpack, and for the GPU a Vulkan
# driver (NVIDIA: the driver's nvidia_icd.json). No network, no Node.js: both are inside.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=${CIFAR_DIST_PACK_DIR:-$here/unpacked}

if [ ! -x "$work/node" ] || [ "$here/payload.tar.xz" -nt "$work/node" ]; then
  rm -rf "$work" && mkdir -p "$work"
  if ! tar -xJf "$here/payload.tar.xz" -C "$work" 2>/dev/null; then
    python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$here/payload.tar.xz" "$work"
  fi
  touch "$work/node"
fi

# The Vulkan loader: the system's when it has one, else the one shipped here (Debian's libvulkan1).
if ! { ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1 '; }; then
  export LD_LIBRARY_PATH="$work/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
# NVIDIA's driver libraries and Vulkan ICD where containers mount them.
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
  if [ -d "$d" ]; then export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d"; fi
done
if [ -z "${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}" ]; then
  for f in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json \
           /usr/share/vulkan/icd.d/nvidia_icd.json /usr/local/share/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$f" ]; then export VK_ICD_FILENAMES="$f"; break; fi
  done
fi
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
export CIFAR_DIST_WORKER_BUNDLE="$work/app/worker.mjs"
echo "cifar-dist GPU check: node $("$work/node" --version), VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-<loader default>}" >&2

args=("$@")
case " $* " in *" --out "*) ;; *) args+=(--out "$PWD/gpu-bench.json") ;; esac
exec "$work/node" "$work/app/bench-gpu.mjs" --peer-script "$work/app/peer_torch.py" "${args[@]}"
