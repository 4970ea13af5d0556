# the figures as JSON (the versions block left out); dynamic mode calibrates nothing
$NNPRESS sensitivity testdata/mlp.onnx --data /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz \
    --labels /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz --samples 100 \
    --mode dynamic -t 2 --json | sed '/"versions"/,$d'
