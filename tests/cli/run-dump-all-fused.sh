# with fusion (the default) --dump-all writes what is stored and names the fused nodes,
# whose inner values it cannot write; the output is the same bits as without fusion
set -e
D=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
$NNPRESS run testdata/resnet.onnx --input $D -b 2500 -o "$TMP/f" --dump-all
$NNPRESS run testdata/resnet.onnx --input $D -b 2500 -o "$TMP/u" --no-fuse -q
cmp "$TMP/f/logits.npy" "$TMP/u/logits.npy" && echo "logits: the same bytes with and without fusion"
