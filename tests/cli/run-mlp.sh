# outputs of the MLP on the 10,000 test images, whole and in pieces of 3,000
set -e
$NNPRESS run testdata/mlp.onnx --input /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz -o "$TMP/whole"
$NNPRESS run testdata/mlp.onnx -i input=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz -o "$TMP/pieces" -b 3000 -t 1
node tests/cli/npy.mjs "$TMP/whole/logits.npy" --argmax
node tests/cli/npy.mjs "$TMP/pieces/logits.npy" --argmax
