#!/usr/bin/env bash
# cifar-dist GPU check: benches the webgpu backend on this machine's GPU (1, 2 and 4 workers
# sharing it), one wasm worker on its CPU, and the same network in PyTorch on CUDA when python3
# can import torch; prints a table and writes the figures as JSON (gpu-bench.json, or --out FILE).
#
#   ./run.sh [--out FILE.json] [bench options: --batch 256 --configs webgpu:1,wasm:1 --windows 3 ...]
#
# Needs: x86-64 Linux, tar with xz (or python3) to unpack; for the webgpu rows glibc 2.34 and
# libstdc++ with GLIBCXX_3.4.30 (Dawn's dawn.node: Debian 12, Ubuntu 22.04 and later) and a Vulkan
# driver (NVIDIA: the driver's nvidia_icd.json). No network, no Node.js: both are inside.
# CIFAR_DIST_PACK_DIR: where to unpack (default ./unpacked beside this script, else a temp folder).
set -euo pipefail
if [ "$(uname -m)" != x86_64 ]; then
  echo "run.sh: this folder holds x86-64 Linux binaries; this machine is $(uname -s) $(uname -m)" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
marker=.cifar-dist-gpu-pack-unpacked
if [ -n "${CIFAR_DIST_PACK_DIR:-}" ]; then
  work=$CIFAR_DIST_PACK_DIR
elif [ -w "$here" ]; then
  work=$here/unpacked
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/cifar-dist-gpu-pack.XXXXXX")
fi

if [ ! -f "$work/$marker" ] || [ "$here/payload.tar.xz" -nt "$work/$marker" ]; then
  # Only a folder this script unpacked (it holds the marker) is ever emptied.
  if [ -e "$work" ] && [ -n "$(ls -A "$work" 2>/dev/null)" ] && [ ! -f "$work/$marker" ]; then
    echo "run.sh: $work is not empty and was not unpacked by this script; set CIFAR_DIST_PACK_DIR to an empty folder" >&2
    exit 2
  fi
  rm -rf "$work" && mkdir -p "$work"
  if ! tar -xJf "$here/payload.tar.xz" -C "$work" 2>/dev/null; then
    python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$here/payload.tar.xz" "$work"
  fi
  touch "$work/$marker"
fi

# The path of a shared library as the dynamic linker's cache lists it ('' when absent). No grep -q:
# it would exit at the first match and kill ldconfig with SIGPIPE, which pipefail reports.
system_lib() {
  local ldconfig
  ldconfig=$(command -v ldconfig || echo /sbin/ldconfig)
  { "$ldconfig" -p 2>/dev/null || true; } | awk -v lib="$1" '$1 == lib && /x86-64/ { print $NF; exit }'
}
prepend_lib() { export LD_LIBRARY_PATH="$1${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; }

# The Vulkan loader: the system's when it has one, else Debian's libvulkan1 shipped here.
if [ -z "$(system_lib libvulkan.so.1)" ]; then prepend_lib "$work/lib"; fi
# What Dawn's dawn.node needs of the C libraries (objdump -T): glibc 2.34, libstdc++ GLIBCXX_3.4.30.
glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{ print $2 }')
if [ -n "$glibc" ] && [ "$(printf '%s\n' 2.34 "$glibc" | sort -V | head -n1)" != 2.34 ]; then
  echo "run.sh: glibc $glibc is older than 2.34, which Dawn's dawn.node needs: the webgpu rows will fail (wasm and PyTorch still run)" >&2
fi
cxx=$(system_lib libstdc++.so.6)
if [ -n "$cxx" ] && ! grep -a GLIBCXX_3.4.30 "$cxx" >/dev/null 2>&1; then
  echo "run.sh: $cxx lacks GLIBCXX_3.4.30 (GCC 12's C++ runtime), which Dawn's dawn.node needs: the webgpu rows will fail (wasm and PyTorch still run)" >&2
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
echo "cifar-dist GPU check: node $("$work/node" --version), glibc ${glibc:-?}, VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-<loader default>}, LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}" >&2

args=("$@")
case " $* " in *" --out "* | *" --out="*) ;; *) args+=(--out "$PWD/gpu-bench.json") ;; esac
# The PyTorch peer: the first python3 on PATH when it imports torch (a venv, conda), else the bench's default.
case " $* " in
  *" --python "* | *" --python="* | *" --no-peer "*) ;;
  *) if command -v python3 >/dev/null && python3 -c 'import torch' >/dev/null 2>&1; then args+=(--python "$(command -v python3)"); fi ;;
esac
exec "$work/node" "$work/app/bench-gpu.mjs" --peer-script "$work/app/peer_torch.py" "${args[@]}"
