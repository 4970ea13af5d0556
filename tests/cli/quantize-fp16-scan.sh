# compute=fp16: the scan over --data keeps in float32 the nodes whose values leave
# float16's range (with headroom), names them on stderr and in the report's
# "kept_float"; the model runs without inf on that data
D=tests/data/runtime
$NNPRESS quantize $D/fp16-overflow.onnx -o "$TMP/q.onnx" --type fp16 --compute fp16 \
    --data $D/x-4x8.npy -r "$TMP/r.json" -t 1 2>&1 | sed -n '1,/^pass/p' | sed 's/: [0-9.]* s / /'
sed -n '/"kept_float"/,/^      \]/p' "$TMP/r.json"
$NNPRESS inspect "$TMP/q.onnx" | sed -n '/^inputs/,/^ops/p'
# y [4,4] float32 after its 128-byte .npy header
$NNPRESS run "$TMP/q.onnx" --input $D/x-4x8.npy -o "$TMP/y" -t 1 >/dev/null &&
    od -v -A n -t f4 -j 128 "$TMP/y/y.npy" | tr -s ' ' | sort | uniq -c
