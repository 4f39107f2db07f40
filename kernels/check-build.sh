#!/usr/bin/env bash
# Rebuilds the kernels into a temporary folder and compares them byte for byte with the committed ones in
# kernels/dist: exits non-zero (naming the file) when a source changed without a rebuild, or the build is not
# reproducible.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$here/build.sh" "$tmp" >/dev/null
status=0
for f in kernels.wasm kernels-relaxed.wasm; do
  if ! cmp -s "$tmp/$f" "$here/dist/$f"; then
    echo "kernels/dist/$f differs from a fresh build of kernels/src: run npm run kernels:build and commit it" >&2
    status=1
  fi
done
[ "$status" -eq 0 ] && echo "kernels/dist matches a fresh build"
exit "$status"
