#!/bin/sh
# The seeds of fuzz target NAME besides its own corpus (tests/fuzz/corpus/NAME): one
# path a line, files or folders (their regular files). `make fuzz` starts from them,
# and `make check` replays them (tests/fuzz/replay.sh), so that a fuzzer's corpus
# needs to keep only what they do not cover already.
#   sh tests/fuzz/seeds.sh run
set -eu
# ONNX's node tests (Debian's libonnx-testdata, from make deps): one model per folder
NODE=/usr/share/libonnx-testdata/data/node
case ${1:?usage: seeds.sh NAME} in
onnx) printf '%s\n' tests/corpus tests/data/onnx testdata/lenet5_bn.onnx testdata/transformer.onnx ;;
npy | idx) printf '%s\n' tests/data tests/corpus ;;
pipeline) ;;
run)
    ls testdata/*.onnx
    if [ -d "$NODE" ]; then ls "$NODE"/*/model.onnx; fi
    ;;
*)
    echo "seeds.sh: no fuzz target '$1'" >&2
    exit 1
    ;;
esac
