#!/bin/sh
# nnpress's runtime against ONNX Runtime, on every testdata model and the full
# Fashion-MNIST test set (10,000 images):
#  - `nnpress run` and ONNX Runtime give the same argmax for every image, and
#    outputs within 1e-4 of each other relative to the largest |output|;
#  - `nnpress eval` prints exactly the accuracy testdata/models.tsv records.
# Both with the planner's fusion (a Conv's Add and activation in its epilogue) and
# without (--no-fuse): one line per model and mode, then "agree: N passed, N failed".
set -u
: "${NNPRESS:?set NNPRESS to the nnpress binary}"
DATA=/usr/share/datasets/fashion-mnist
IMAGES=$DATA/t10k-images-idx3-ubyte.gz
LABELS=$DATA/t10k-labels-idx1-ubyte.gz
RTOL=1e-4
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
passed=0
failed=0
if [ ! -d tests/ort/node_modules/onnxruntime-node ]; then
    echo "agree: onnxruntime-node is not installed (run 'make deps')"
    echo "agree: 0 passed, 1 failed"
    exit 1
fi

for fuse in "" --no-fuse; do
for m in testdata/*.onnx; do
    name=$(basename "$m" .onnx)${fuse:+ $fuse}
    ok=1
    # the first output file `run` reports: "DIR/logits.npy float32 [10000,10]"
    # (one thread, as ONNX Runtime runs here: deterministic, and no waiting on a busy core)
    if out=$("$NNPRESS" run "$m" --input "$IMAGES" -o "$T/$(basename "$m" .onnx)" --batch 1000 \
        -t 1 $fuse 2>&1); then
        npy=$(printf '%s\n' "$out" | head -1 | cut -d' ' -f1)
        if ! ort=$(node tests/ort/agree.mjs "$m" "$npy" --images "$IMAGES" --rtol $RTOL 2>&1); then
            ok=0
        fi
    else
        ort="nnpress run failed: $out"
        ok=0
    fi
    # exactly what models.tsv records (columns: model ... correct accuracy)
    want=$(awk -F'\t' -v n="$(basename "$m" .onnx)" \
        '$1 == n { printf "top-1  %s%% (%s/10000)", $6, $5 }' testdata/models.tsv)
    if got=$("$NNPRESS" eval "$m" --data "$IMAGES" --labels "$LABELS" --threads 1 $fuse 2>&1); then
        got=$(printf '%s\n' "$got" | grep '^top-1')
    fi
    if [ -z "$want" ] || [ "$got" != "$want" ]; then
        ok=0
        acc="eval: got '$got', models.tsv says '$want'"
    else
        acc="$got as recorded"
    fi
    if [ $ok = 1 ]; then
        passed=$((passed + 1))
        echo "ok   $name: ORT $ort; $acc"
    else
        failed=$((failed + 1))
        echo "FAIL $name: ORT $ort; $acc"
    fi
done
done

echo "agree: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
