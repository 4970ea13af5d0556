# a BatchNormalization with constant statistics runs in the epilogue of the Conv before
# it, with the Relu after: the same bytes as each node on its own, weights in
# initializers or in Constant nodes
set -e
D=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
for m in lenet5_bn lenet5_bn_const; do
    $NNPRESS run testdata/$m.onnx --input $D -b 1000 -o "$TMP/f-$m" -q
    $NNPRESS run testdata/$m.onnx --input $D -b 1000 -o "$TMP/u-$m" --no-fuse -q
    cmp "$TMP/f-$m/logits.npy" "$TMP/u-$m/logits.npy" && echo "$m: the same bytes with and without fusion"
done
$NNPRESS bench testdata/lenet5_bn.onnx --warmup 0 --duration 0 --json -q > "$TMP/b.json"
node -e 'console.log("fused: " + JSON.parse(require("fs").readFileSync(process.argv[1])).fused.join(", "))' "$TMP/b.json"
