#!/bin/sh
# Install what nnpress needs to build and test, on Debian, as root. Idempotent:
# packages already present are not asked for again, so a second run is quick.
set -eu

# build: protobuf-c (with the ONNX schema from libonnx-dev), OpenBLAS, zstd, zlib, jansson
# tests: Criterion, scdoc + mandoc + man-db for the man pages, Node.js + npm for ONNX Runtime,
#        Fashion-MNIST and ONNX's node tests as reference data
PKGS="build-essential pkg-config libprotobuf-c-dev protobuf-c-compiler libonnx-dev
      libopenblas-dev libzstd-dev zlib1g-dev libjansson-dev libcriterion-dev
      scdoc mandoc man-db nodejs npm dataset-fashion-mnist libonnx-testdata"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# node and npm may come from elsewhere than Debian (a newer image); then leave them be
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    missing=$(echo "$missing" | tr ' ' '\n' | grep -vx -e nodejs -e npm | tr '\n' ' ')
fi
if [ -n "$(echo "$missing" | tr -d ' ')" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "deps: missing Debian packages:$missing (run 'make deps' as root)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
fi

# ONNX Runtime for Node.js, the live reference. Its install script downloads GPU
# files from outside the npm registry; the CPU build works without it.
here=$(dirname "$0")/ort
if [ ! -f "$here/node_modules/onnxruntime-node/package.json" ]; then
    (cd "$here" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
echo "deps: all present"
