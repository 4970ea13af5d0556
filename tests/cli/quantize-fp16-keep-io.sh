# compute=fp16 with keep_io=0: the graph's input and output are float16 too, and
# `nnpress run` feeds a float32 file to it rounded to float16 (without --data: no scan)
$NNPRESS quantize testdata/lenet5.onnx -o "$TMP/q.onnx" --type fp16 --compute fp16 \
    --keep_io 0 -q
$NNPRESS inspect "$TMP/q.onnx" | sed -n '/^inputs/,/^ops/p'
$NNPRESS run "$TMP/q.onnx" --input /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz \
    -o "$TMP/y" --batch 1000 -t 1
