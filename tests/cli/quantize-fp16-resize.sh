# compute=fp16 leaves the inputs a schema fixes as float32 (Resize's scales) float32,
# and the model runs: x [1,1,4,4] resized to [1,1,6,5]
D=tests/data/runtime
$NNPRESS quantize $D/fp16-resize.onnx -o "$TMP/q.onnx" --type fp16 --compute fp16 \
    --data $D/x-1x1x4x4.npy -t 1 -q
$NNPRESS inspect "$TMP/q.onnx" | sed -n '/^ops/,$p'
$NNPRESS run "$TMP/q.onnx" --input $D/x-1x1x4x4.npy -o "$TMP/y" -t 1
