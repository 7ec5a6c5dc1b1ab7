#!/usr/bin/env bash
# Cross-build everything for linux/arm64 (GH200 nodes): the assembly-free
# kernel paths and the cgo parts (LMDB, the CUDA loader) must compile there.
# Needs aarch64 C and C++ cross compilers for cgo (Debian:
# gcc-aarch64-linux-gnu and g++-aarch64-linux-gnu, which .ci/run installs); without one, only the cgo-free packages are built
# and the script says so.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
cc=${ARM64_CC:-aarch64-linux-gnu-gcc}
cxx=${ARM64_CXX:-aarch64-linux-gnu-g++}  # the emulated GPU (pkg/cuda/emu_*.cc) is C++
if command -v "$cc" >/dev/null 2>&1 && command -v "$cxx" >/dev/null 2>&1; then
  CGO_ENABLED=1 CC="$cc" CXX="$cxx" GOARCH=arm64 "$GO" build ./... 2>&1 | { grep -v -e 'mdb\.c' -e '^ *|' -e '^ *[0-9]* |' -e 'In function' -e '^\s*\^' -e '^# github.com/bmatsuo' || true; }
  exit "${PIPESTATUS[0]}"
fi
echo "arm64-build: $cc or $cxx not found: building only the cgo-free packages for arm64 (install gcc-aarch64-linux-gnu and g++-aarch64-linux-gnu for the full check)" >&2
CGO_ENABLED=0 GOARCH=arm64 "$GO" build ./pkg/gemm ./pkg/conv ./pkg/vmath ./pkg/tensor ./pkg/backend/... ./pkg/ag ./pkg/rng
