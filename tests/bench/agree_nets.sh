#!/bin/sh
# nnpress's runtime against ONNX Runtime on the benchmark's torchvision networks,
# so that `make bench` never times a runtime that computes something else:
#
#   NNPRESS=build/nnpress sh tests/bench/agree_nets.sh MODEL.onnx...
#
# For each model (one input [batch,3,224,224]), at batch 1 and 8: a fixed random
# input (agree_net.mjs input, seed 0) goes through `nnpress run` on 1 and on 2
# threads and through ONNX Runtime (agree_net.mjs compare, one thread); the
# first outputs must agree within 1e-4 relative to the largest |ORT output|.
# NNPRESS_RUN_FLAGS (word-split) is added to every `nnpress run`, after the
# flags given here, to check other configurations (say, fusion turned off).
# One line per check, then "agree-nets: N passed, N failed"; exit 1 on a failure.
set -u
: "${NNPRESS:?set NNPRESS to the nnpress binary}"
RTOL=1e-4
FLAGS=${NNPRESS_RUN_FLAGS:-}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
passed=0
failed=0
if [ $# = 0 ]; then
    echo "agree-nets: give the models to check" >&2
    exit 2
fi
if [ ! -d tests/ort/node_modules/onnxruntime-node ]; then
    echo "agree-nets: onnxruntime-node is not installed (run 'make deps')" >&2
    exit 1
fi
for batch in 1 8; do
    if ! err=$(node tests/bench/agree_net.mjs input "$T/input$batch.npy" \
        --shape "$batch,3,224,224" --seed 0 2>&1); then
        echo "agree-nets: cannot write the input: $err" >&2
        exit 1
    fi
done

echo "agree-nets: nnpress run flags: -t N${FLAGS:+ $FLAGS}"
for m in "$@"; do
    name=$(basename "$m" .onnx)
    for batch in 1 8; do
        for threads in 1 2; do
            what="$name batch $batch, $threads thread$([ "$threads" = 1 ] || echo s)"
            out=$T/$name.$batch.$threads
            # the first output file `run` reports: "DIR/logits.npy float32 [8,1000]"
            # shellcheck disable=SC2086
            if res=$("$NNPRESS" run "$m" --input "$T/input$batch.npy" -o "$out" -t "$threads" \
                $FLAGS 2>&1); then
                npy=$(printf '%s\n' "$res" | head -1 | cut -d' ' -f1)
                # nothing printed (-q in NNPRESS_RUN_FLAGS): the model's only output file
                if [ ! -f "$npy" ]; then
                    n_npy=0
                    for f in "$out"/*.npy; do
                        [ -f "$f" ] && n_npy=$((n_npy + 1)) && only=$f
                    done
                    [ $n_npy = 1 ] && npy=$only
                fi
                if [ ! -f "$npy" ]; then
                    res="nnpress run did not say which file holds the first output"
                    ok=0
                elif res=$(node tests/bench/agree_net.mjs compare "$m" "$T/input$batch.npy" \
                    "$npy" --rtol $RTOL 2>&1); then
                    ok=1
                else
                    ok=0
                fi
            else
                res="nnpress run failed: $(printf '%s\n' "$res" | head -1)"
                ok=0
            fi
            if [ $ok = 1 ]; then
                passed=$((passed + 1))
                echo "ok   $what: $res"
            else
                failed=$((failed + 1))
                echo "FAIL $what: $res"
            fi
            rm -rf "$out"
        done
    done
done

echo "agree-nets: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
