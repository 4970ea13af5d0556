# every node the quantize pass would quantize in the transformer, quantized alone and ranked
# by the SQNR of the logits against the float model's (top-1 drop with --labels), on the
# first 300 test images, which also calibrate (the nodes it cannot quantize on stderr)
D=/usr/share/datasets/fashion-mnist
$NNPRESS sensitivity testdata/transformer.onnx --data $D/t10k-images-idx3-ubyte.gz \
    --labels $D/t10k-labels-idx1-ubyte.gz --samples 300 -t 2
