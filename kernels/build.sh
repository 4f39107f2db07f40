#!/usr/bin/env bash
# Builds the WebAssembly kernels with Debian's clang-19 + wasm-ld-19: one plain SIMD128 module and one with
# relaxed-SIMD paths. Compile and link are separate steps so that no wasm-opt on PATH rewrites the output;
# sources are passed in a fixed order with no paths or dates embedded, so the bytes are reproducible.
# Usage: kernels/build.sh [OUT_DIR]   (default kernels/dist)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/dist}"
CLANG="${CLANG:-clang-19}"
WASM_LD="${WASM_LD:-wasm-ld-19}"
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
sources=(runtime f32_gemm qs8_gemm qs4_gemm lut4_gemm pq_gemm binary_gemm f32_spmm f32_conv f32_dwconv f32_pointwise qs8_pointwise f32_activation f32_recurrent f32_quantize compress)

build() { # name, extra flags...
  local name="$1"; shift
  local objects=()
  for s in "${sources[@]}"; do
    (cd "$here/src" && "$CLANG" --target=wasm32 -msimd128 "$@" -O3 -ffreestanding -fno-builtin -nostdlib \
      -fno-ident -ffile-prefix-map="$here/src"=. -c "$s.c" -o "$tmp/$name-$s.o")
    objects+=("$tmp/$name-$s.o")
  done
  "$WASM_LD" --no-entry --export-dynamic --strip-all --initial-memory=131072 --max-memory=2147483648 \
    -z stack-size=65536 -o "$out/$name.wasm" "${objects[@]}"
}

build kernels
build kernels-relaxed -mrelaxed-simd -DRELAXED
ls -l "$out"/kernels.wasm "$out"/kernels-relaxed.wasm | awk '{print $5, $9}'
