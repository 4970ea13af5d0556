# compute=fp16: the converted model is run on the --data samples again, and an output
# that becomes inf or NaN there fails the pass (exit 1, nothing written); here 1 / (x - c)
# with x and c the same float16, though apart (and the result in range) in float32
D=tests/data/runtime
$NNPRESS quantize $D/fp16-cancel.onnx -o "$TMP/q.onnx" --type fp16 --compute fp16 \
    --data $D/x-cancel.npy -t 1
rc=$?
test ! -e "$TMP/q.onnx" || echo "an output file was left behind"
exit $rc
