# every value of LeNet-5 on the first 64 test images, in two pieces, every node on its own
set -e
node -e '
const fs = require("fs"), zlib = require("zlib");
const idx = zlib.gunzipSync(fs.readFileSync(process.argv[1]));
const head = Buffer.from(idx.subarray(0, 16));
head.writeUInt32BE(64, 4);
fs.writeFileSync(process.argv[2], Buffer.concat([head, idx.subarray(16, 16 + 64 * 784)]));
' /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz "$TMP/64-images-idx3-ubyte"
$NNPRESS run testdata/lenet5.onnx --input "$TMP/64-images-idx3-ubyte" -b 40 -o "$TMP/d" --dump-all --no-fuse
ls "$TMP/d" | sort
node tests/cli/npy.mjs "$TMP/d/_conv1_Conv_output_0.npy"
node tests/cli/npy.mjs "$TMP/d/_Flatten_output_0.npy"
