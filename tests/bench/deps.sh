#!/bin/sh
# What `make bench` needs beyond `make deps` (tests/deps.sh): Debian's python3-onnx
# and python3-numpy, to make the weight-bound MLP (make_mlp.py), and python3-torch
# and python3-torchvision, to export resnet18 and mobilenet_v2 (make_torchvision.py).
# Idempotent: nothing is asked for when all are installed.
set -eu
missing=""
for p in python3-onnx python3-numpy python3-torch python3-torchvision; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "bench-deps: missing Debian packages:$missing (run 'make bench' as root)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
