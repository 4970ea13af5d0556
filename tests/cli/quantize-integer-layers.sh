# a QDQ model's quantized layers run as integer operators (the fused list names each
# with the nodes it took: its input's DequantizeLinear, a BatchNormalization, the
# Relu, the QuantizeLinear); --no-fuse runs the QDQ nodes as written; both agree with
# the float model on nearly every test image
D=/usr/share/datasets/fashion-mnist
$NNPRESS quantize testdata/lenet5_bn.onnx -o "$TMP/q.onnx" --calib_samples 200 \
    --data $D/train-images-idx3-ubyte.gz -q
$NNPRESS bench "$TMP/q.onnx" --duration 0.05 --warmup 0 --json -q 2>/dev/null |
    sed -n '/"fused": \[/,/\]/p' | sed -n 's/^ *"\(.*\)",\{0,1\}$/\1/p'
for f in "" --no-fuse; do
    a=$($NNPRESS eval "$TMP/q.onnx" $f --data $D/t10k-images-idx3-ubyte.gz \
        --reference testdata/lenet5_bn.onnx --json | sed -n 's/^ *"agreement": \([0-9.]*\),*$/\1/p' |
        head -n 1)
    echo "${f:-fused}: $(echo "$a" | awk '{ print ($1 >= 0.99 ? "argmax agreement >= 99%" : "argmax agreement " $1) }')"
done
