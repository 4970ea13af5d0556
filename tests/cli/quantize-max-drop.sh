# max_accuracy_drop=0.3 with ranges clipped hard (percentile=90: every node quantized loses
# more than 0.3 points): the most sensitive nodes are kept in float32 one at a time until
# the drop measured on the samples is at most 0.3 points, and `nnpress eval` of the model
# written finds the same drop on the same samples (the first 500 test images)
D=/usr/share/datasets/fashion-mnist
# IDX files of the first 500 images and labels: the header (magic, count[, 28, 28]), then them
printf '\000\000\010\003\000\000\001\364\000\000\000\034\000\000\000\034' >"$TMP/x.idx"
gzip -dc $D/t10k-images-idx3-ubyte.gz | tail -c +17 | head -c 392000 >>"$TMP/x.idx"
printf '\000\000\010\001\000\000\001\364' >"$TMP/y.idx"
gzip -dc $D/t10k-labels-idx1-ubyte.gz | tail -c +9 | head -c 500 >>"$TMP/y.idx"
$NNPRESS quantize testdata/transformer.onnx -o "$TMP/q.onnx" --data "$TMP/x.idx" \
    --labels "$TMP/y.idx" --calib percentile --percentile 90 --calib_samples 500 \
    --max_accuracy_drop 0.3 -t 2 2>&1 >/dev/null | grep -v "is computed, not a constant"
fp=$($NNPRESS eval testdata/transformer.onnx --data "$TMP/x.idx" --labels "$TMP/y.idx" |
    awk '/^top-1/ { print $2 }')
q=$($NNPRESS eval "$TMP/q.onnx" --data "$TMP/x.idx" --labels "$TMP/y.idx" |
    awk '/^top-1/ { print $2 }')
awk -v f="${fp%\%}" -v q="${q%\%}" 'BEGIN {
    d = f - q
    printf "eval: float %s%%, quantized %s%%: drop %.2f points %s 0.3\n", f, q, d,
        d <= 0.3 + 1e-9 ? "<=" : "> (FAILED)"
    exit d <= 0.3 + 1e-9 ? 0 : 1
}'
