# option combinations compute=fp16 refuses, each a usage error (exit 2), nothing written
m=testdata/lenet5.onnx
$NNPRESS quantize $m -o "$TMP/q.onnx" --compute fp16
echo "int8 with compute=fp16: $?"
$NNPRESS quantize $m -o "$TMP/q.onnx" --type fp16 --keep_io 0
echo "keep_io=0 without compute=fp16: $?"
$NNPRESS quantize $m -o "$TMP/q.onnx" --type fp16 --compute fp16 --ops Conv
echo "ops= with compute=fp16: $?"
test ! -e "$TMP/q.onnx" || echo "an output file was left behind"
# without --data: converted, and said that no scan was made
$NNPRESS quantize $m -o "$TMP/q.onnx" --type fp16 --compute fp16 2>&1 | sed -n 1p
