# a row of the table is what `quantize --only NODE` writes with the same samples: the SQNR
# nnpress eval measures for that model against the float one is the table's
D=/usr/share/datasets/fashion-mnist
printf '\000\000\010\003\000\000\000\310\000\000\000\034\000\000\000\034' >"$TMP/x.idx"
gzip -dc $D/t10k-images-idx3-ubyte.gz | tail -c +17 | head -c 156800 >>"$TMP/x.idx"
$NNPRESS sensitivity testdata/transformer.onnx --data "$TMP/x.idx" --samples 200 -t 2 2>/dev/null |
    awk '$2 == "/blocks.0/fc2/MatMul" { print "sensitivity:", $4, "dB" }'
$NNPRESS quantize testdata/transformer.onnx -o "$TMP/q.onnx" --data "$TMP/x.idx" \
    --calib_samples 200 --only /blocks.0/fc2/MatMul -q -t 2 || exit 9
$NNPRESS eval "$TMP/q.onnx" --data "$TMP/x.idx" --reference testdata/transformer.onnx -t 2 |
    sed -n 's/.*SQNR \([0-9.]*\) dB.*/eval --reference: \1 dB/p'
$NNPRESS inspect "$TMP/q.onnx" | grep '^ops'
